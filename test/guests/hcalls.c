/*
 * A root domain that calls the hypercall interface with bad arguments and
 * checks the exact status of each, then checks registers survive a
 * hypercall. Prints "hcalls: ok" and powers off when everything held;
 * otherwise reports what failed and crashes.
 */
#include "gk/gk.h"

static int failures;

static void expect(const char *what, int64_t got, int64_t want)
{
    if (got != want) {
        gk_printf("hcalls: FAILED %s: got %lld, want %lld\n", what, (long long)got,
                  (long long)want);
        failures++;
    } else {
        gk_printf("hcalls: %s -> %lld\n", what, (long long)got);
    }
}

/* Sets callee-visible registers to known values, makes a hypercall and
 * checks they came back; returns the number of registers that changed. */
static int registers_preserved(void)
{
    uint64_t out[10];
    __asm__ volatile("pushq %%rbp\n\t" /* the frame pointer: saved around the test */
                     "pushq %%rdi\n\t"
                     "movq $0x1111, %%rbx\n\t"
                     "movq $0x2222, %%rbp\n\t"
                     "movq $0x3333, %%r12\n\t"
                     "movq $0x4444, %%r13\n\t"
                     "movq $0x5555, %%r14\n\t"
                     "movq $0x6666, %%r15\n\t"
                     "movq $0x7777, %%r8\n\t"
                     "movq $0x8888, %%r9\n\t"
                     "movq $0x9999, %%r10\n\t"
                     "movq $0xaaaa, %%rdx\n\t"
                     "movq $1, %%rax\n\t" /* HC_YIELD */
                     "syscall\n\t"
                     "movq (%%rsp), %%rdi\n\t"
                     "movq %%rbx, 0(%%rdi)\n\t"
                     "movq %%rbp, 8(%%rdi)\n\t"
                     "movq %%r12, 16(%%rdi)\n\t"
                     "movq %%r13, 24(%%rdi)\n\t"
                     "movq %%r14, 32(%%rdi)\n\t"
                     "movq %%r15, 40(%%rdi)\n\t"
                     "movq %%r8, 48(%%rdi)\n\t"
                     "movq %%r9, 56(%%rdi)\n\t"
                     "movq %%r10, 64(%%rdi)\n\t"
                     "movq %%rdx, 72(%%rdi)\n\t"
                     "popq %%rdi\n\t"
                     "popq %%rbp\n\t"
                     :
                     : "D"(out)
                     : "rax", "rbx", "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11", "r12", "r13",
                       "r14", "r15", "memory");
    static const uint64_t want[10] = {0x1111, 0x2222, 0x3333, 0x4444, 0x5555,
                                      0x6666, 0x7777, 0x8888, 0x9999, 0xaaaa};
    int changed = 0;
    for (int i = 0; i < 10; i++)
        changed += out[i] != want[i];
    return changed;
}

int main(const struct hv_start_info *si)
{
    (void)si;
    expect("unknown hypercall 9999", gk_hypercall3(9999, 0, 0, 0), HV_ENOSYS);
    expect("unknown hypercall HC_COUNT", gk_hypercall3(HC_COUNT, 0, 0, 0), HV_ENOSYS);
    expect("unknown hypercall 2^64-1", gk_hypercall3(~0ull, 0, 0, 0), HV_ENOSYS);
    expect("console_write(NULL, 8)", gk_hc_console_write(NULL, 8), HV_EFAULT);
    expect("console_write(direct map, 8)",
           gk_hc_console_write((const char *)(uintptr_t)0xffff800000000000ull, 8), HV_EFAULT);
    expect("console_write(hypervisor image, 8)",
           gk_hc_console_write((const char *)(uintptr_t)0xffffffff80200000ull, 8), HV_EFAULT);
    expect("console_write(unmapped, 8)",
           gk_hc_console_write((const char *)(uintptr_t)0x7ffffff00000ull, 8), HV_EFAULT);
    expect("console_write(crossing the guest limit, 16)",
           gk_hc_console_write((const char *)(uintptr_t)0x7ffffffffff8ull, 16), HV_EFAULT);
    expect("console_write(wrapping, 16)", gk_hc_console_write((const char *)(uintptr_t)~7ull, 16),
           HV_EFAULT);
    expect("console_write(ok, 0)", gk_hc_console_write("x", 0), 0);
    expect("console_write(\"ok\\n\", 3)", gk_hc_console_write("ok\n", 3), 3);
    expect("shutdown(99)", gk_hc_shutdown((enum hv_shutdown_reason)99), HV_EINVAL);
    expect("yield", gk_hc_yield(), HV_OK);
    expect("registers changed by a hypercall", registers_preserved(), 0);

    if (failures) {
        gk_printf("hcalls: %d checks failed\n", failures);
        return 1;
    }
    gk_printf("hcalls: ok\n");
    return 0;
}
