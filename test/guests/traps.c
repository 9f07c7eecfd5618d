/*
 * Trap reflection from inside (issue 4 item 4). `test=handled` (default):
 * the domain handles its own page fault (mapping a fresh frame at the
 * faulting address and retrying), #UD, #DE and #GP (skipping the
 * instruction), checks the hypercall errors of HC_SET_TRAP_TABLE and
 * HC_IRET, and prints "traps: ok". `test=unhandled`: only #PF is handled and
 * a #UD must still kill the domain. `test=badstack`: a fault with the stack
 * pointer on an unmapped page cannot be delivered and kills the domain.
 */
#include <string.h>

#include "gk/gk.h"
#include "gk/mm.h"
#include "gk/trap.h"

#define FAULT_VA 0x50000000ull
static int failures;
static volatile unsigned pf_count, ud_count, de_count, gp_count;

static void expect(const char *what, int64_t got, int64_t want)
{
    gk_printf("traps: %s -> %lld%s\n", what, (long long)got, got == want ? "" : " FAILED");
    failures += got != want;
}

static void on_pf(struct hv_bounce_frame *f)
{
    uint64_t addr = gk_trap_fault_addr();
    pf_count++;
    if ((addr & ~0xfffull) != FAULT_VA)
        gk_panic("traps: unexpected page fault at %#llx (rip %#llx)", (unsigned long long)addr,
                 (unsigned long long)f->rip);
    uint64_t pfn = gk_pfn_alloc();
    if (gk_map_frame(FAULT_VA, gk_p2m(pfn), GK_PTE_RWDATA) != HV_OK)
        gk_panic("traps: could not map the faulting page");
    /* Return: the faulting store runs again and succeeds. */
}

static void skip2(struct hv_bounce_frame *f, volatile unsigned *count)
{
    (*count)++;
    f->rip += 2;
}
static void on_ud(struct hv_bounce_frame *f)
{
    skip2(f, &ud_count);
}
static void on_de(struct hv_bounce_frame *f)
{
    skip2(f, &de_count);
}
static void on_gp(struct hv_bounce_frame *f)
{
    gp_count++;
    f->rip += 1; /* cli */
}

static void handled(void)
{
    expect("set #PF handler", gk_trap_set(14, on_pf), HV_OK);
    expect("set #UD handler", gk_trap_set(6, on_ud), HV_OK);
    expect("set #DE handler", gk_trap_set(0, on_de), HV_OK);
    expect("set #GP handler", gk_trap_set(13, on_gp), HV_OK);

    volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)FAULT_VA;
    *p = 0x1234;
    expect("page fault handled, store retried", (int64_t)(*p == 0x1234 && pf_count == 1), 1);

    uint64_t rbx = 0x5151;
    __asm__ volatile("ud2" : "+b"(rbx));
    expect("#UD handled, registers intact", (int64_t)(ud_count == 1 && rbx == 0x5151), 1);
    __asm__ volatile("xorl %%ecx, %%ecx\n\tdivl %%ecx" ::"a"(7), "d"(0) : "rcx");
    expect("#DE handled", de_count, 1);
    __asm__ volatile("cli");
    expect("#GP handled", gp_count, 1);

    /* Bad trap tables change nothing. */
    struct hv_trap_entry t[33];
    memset(t, 0, sizeof(t));
    t[0].vector = 2;
    t[0].handler = 0x400000;
    expect("trap table with NMI", gk_hc_set_trap_table(t, 1), HV_EINVAL);
    t[0].vector = 8;
    expect("trap table with #DF", gk_hc_set_trap_table(t, 1), HV_EINVAL);
    t[0].vector = 32;
    expect("trap table with vector 32", gk_hc_set_trap_table(t, 1), HV_EINVAL);
    t[0].vector = 14;
    t[0].handler = 0xffff800000000000ull;
    expect("handler in the hypervisor's half", gk_hc_set_trap_table(t, 1), HV_EINVAL);
    expect("33 entries", gk_hc_set_trap_table(t, 33), HV_E2BIG);
    expect("table pointer into the hypervisor",
           gk_hc_set_trap_table((const struct hv_trap_entry *)(uintptr_t)0xffffffff80200000ull, 1),
           HV_EFAULT);
    /* ... and the handlers registered before still work. */
    __asm__ volatile("ud2");
    expect("#UD still handled after refused tables", ud_count, 2);

    /* HC_IRET with bad frames returns an error to the caller. */
    expect("iret with an unmapped frame",
           gk_hc_iret((const struct hv_bounce_frame *)(uintptr_t)0x7ffffff00000ull), HV_EFAULT);
    struct hv_bounce_frame bad;
    memset(&bad, 0, sizeof(bad));
    bad.rip = 0xffff800000001000ull;
    bad.rsp = 0x400000;
    expect("iret to the hypervisor's half", gk_hc_iret(&bad), HV_EINVAL);
    bad.rip = 0x400000;
    bad.rsp = 0x8000000000000000ull;
    expect("iret with a non-canonical stack", gk_hc_iret(&bad), HV_EINVAL);

    /* Removing the handlers: count 0. */
    expect("clear the table", gk_hc_set_trap_table(NULL, 0), HV_OK);
}

int main(const struct hv_start_info *si)
{
    char test[16] = "handled";
    gk_cmdline_get("test", test, sizeof(test));
    if (gk_mm_init(si) != HV_OK)
        gk_panic("traps: gk_mm_init failed");

    if (!strcmp(test, "unhandled")) {
        expect("set #PF handler", gk_trap_set(14, on_pf), HV_OK);
        gk_printf("traps: about to execute ud2 with no #UD handler\n");
        __asm__ volatile("ud2");
        gk_printf("traps: survived an unhandled #UD FAILED\n");
        return 1;
    }
    if (!strcmp(test, "badstack")) {
        expect("set #UD handler", gk_trap_set(6, on_ud), HV_OK);
        gk_printf("traps: about to fault with an unmapped stack\n");
        __asm__ volatile("movq $0x7ffffff00000, %%rsp\n\tud2" ::: "memory");
        return 1; /* not reached */
    }
    handled();
    if (failures) {
        gk_printf("traps: %d checks FAILED\n", failures);
        return 1;
    }
    gk_printf("traps: ok\n");
    return 0;
}
