/*
 * The hypercall fuzzer (issue 20): a domain that calls every hypercall with
 * random and boundary arguments while its other VCPUs unmap and remap the
 * pages its pointers point into, next to a second domain whose workload
 * checks its own results; afterwards the hypervisor audits itself
 * (HC_TEST_OP HV_TEST_CHECK: the test image, hv-test.elf). One image, three
 * roles:
 *
 *   root (module 0), test=fuzz seed=S calls=N batch=B: builds the workload
 *     and the fuzzer from module 1, gives the fuzzer capabilities (to the
 *     workload and the root, so that grants and channels can succeed; a
 *     memory capability to create domains of its own; harmless I/O ports,
 *     IRQ lines, device frames and a PCI function to read), audits the
 *     hypervisor before and after (and checks that the audit catches an
 *     injected miscount), destroys both, waits for every frame to come back
 *     and reports the longest stretch of hypervisor work during the run
 *     (HV_TEST_STATS). Ends with "fuzz: ok", or "FAILED" and the seed.
 *   role=fuzz (arguments on its console): VCPU 0 makes N hypercalls chosen
 *     by a xorshift generator seeded with S (the same seed gives the same
 *     sequence of choices; the outcome of a call may differ with the other
 *     VCPUs' timing) and has the hypervisor audit itself after every B
 *     calls; VCPUs 1 and 2 unmap, remap read-only or writable, and swap
 *     the arena pages. Prints what every call returned, per hypercall and
 *     command, and powers off.
 *   role=work seed=S: fills 32 frames from a generator, maps and unmaps
 *     them, and checks every round that the memory holds exactly what the
 *     generator says; a mismatch crashes it. Stops when asked.
 *
 * Half of the calls of each multiplexed hypercall get plausible arguments
 * (most fields right, built from what earlier calls returned: its ports,
 * grant references, mapped addresses, capability slots, the domains it
 * created, the tables it built) so that they reach the states behind the
 * first checks; the rest are random words and boundaries. What the fuzzer
 * passes: pointers into its own scratch page, into the arena (racing the
 * remappers), its read-only code, its page tables (mapped read-only), its
 * sandbox (mapped at random), the hypervisor's half, the M2P, unmapped and
 * non-canonical addresses and boundaries; frame numbers of its own frames
 * (data, the sandbox subtree, its real tables), of the workload, free, the
 * hypervisor's, device frames, past the end; capability slots 0..300;
 * ports 0..1100; every command number and some beyond.
 *
 * It avoids only what would end the run by its own doing rather than the
 * hypervisor's: valid HC_SHUTDOWN reasons, a valid HC_SET_CALLBACK, HC_IRET
 * frames that would resume anywhere but right after the call, a new base
 * that could validate (an L4 that does not map the fuzzer), page-table
 * writes outside its sandbox subtree and the arena, stopping its own VCPUs,
 * HV_MEMOP_DECREASE of frames guest-kit uses, and HC_TEST_OP.
 */
#include "gk/builder.h"
#include "gk/cap.h"
#include "gk/console.h"
#include "gk/event.h"
#include "gk/gk.h"
#include "gk/grant.h"
#include "gk/mm.h"
#include "gk/spinlock.h"
#include "gk/time.h"
#include "gk/vcpu.h"
#include "hv/test_op.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_PAGES 1024u
#define FUZZ_EXTRA_PAGES 256u /* headroom: HV_MEMOP_INCREASE and its own domains' quota */
#define WORK_PAGES 512u
#define FUZZ_VCPUS 3u
#define FUZZ_DOM_SLOT 20u
#define FUZZ_CON_SLOT 21u
#define WORK_DOM_SLOT 22u
#define WORK_CON_SLOT 23u
/* The fuzzer's capabilities (slots of its table), given by the root. */
#define WORK_SLOT_IN_FUZZ 5u  /* the workload (GRANT, EVTCHN, STATE) */
#define ROOT_SLOT_IN_FUZZ 6u  /* the root (same), which grants it a page (rref=) */
#define MEM_SLOT_IN_FUZZ 7u   /* memory, CREATE_DOMAIN: domains of its own */
#define IO_SLOT_IN_FUZZ 8u    /* I/O ports IO_BASE.. (COM4: no device behind them) */
#define IRQ_SLOT_IN_FUZZ 9u   /* IRQ lines IRQ_BASE.. (no device on them) */
#define MMIO_SLOT_IN_FUZZ 10u /* frames MMIO_BASE.. (the PCI hole below the BARs) */
#define PCI_SLOT_IN_FUZZ 11u  /* the first PCI function, configuration reads only */
#define IO_BASE 0x2e8u
#define IO_PORTS 8u
#define IRQ_BASE 5u
#define IRQ_LINES 3u
#define MMIO_BASE 0xc0000ull
#define MMIO_FRAMES 16u
#define SLOT_FREE_FIRST 30u /* slots 30..99: copies, endpoints, children */
#define SLOT_FREE_COUNT 70u
#define STACK_BYTES 16384u
#define ARENA_VA 0x60000000ull
#define ARENA_PAGES 16u
#define SANDBOX_SLOT 200u /* L4 slot of the sandbox subtree */
#define SANDBOX_VA ((uint64_t)SANDBOX_SLOT << 39)
#define POOL_MAX 64u
#define PROGRESS_EVERY 10000u

static int failures;
static uint64_t audits_done;

/* --- the generator ----------------------------------------------------------- */

static uint64_t rng;

static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
}

static uint64_t pick(uint64_t n)
{
    return n ? rnd() % n : 0;
}

static const uint64_t boundaries[] = {0,
                                      1,
                                      2,
                                      3,
                                      7,
                                      8,
                                      15,
                                      16,
                                      31,
                                      32,
                                      63,
                                      64,
                                      127,
                                      128,
                                      255,
                                      256,
                                      257,
                                      511,
                                      512,
                                      513,
                                      1023,
                                      1024,
                                      1025,
                                      4095,
                                      4096,
                                      4097,
                                      0x7fff,
                                      0x8000,
                                      0xffff,
                                      0x10000,
                                      0x7fffffff,
                                      0x80000000,
                                      0xffffffff,
                                      0x100000000,
                                      0x7fffffffffff,
                                      0x800000000000,
                                      0xffff800000000000,
                                      0x7fffffffffffffff,
                                      0x8000000000000000,
                                      0xfffffffffffff000,
                                      0xfffffffffffffffe,
                                      ~0ull};

static uint64_t boundary(void)
{
    return boundaries[pick(sizeof(boundaries) / sizeof(boundaries[0]))];
}

/* --- what earlier calls returned ------------------------------------------------ */

/* The last values of a kind of handle (ports, grant references, ...) that
 * a call returned: later calls name them (or stale ones) half the time. */
#define RECALL_MAX 16u
struct recall {
    uint64_t v[RECALL_MAX];
    unsigned n, next;
};
static struct recall ports, refs, mapped_vas, slots, children, given;

static void remember(struct recall *r, uint64_t v)
{
    r->v[r->next] = v;
    r->next = (r->next + 1) % RECALL_MAX;
    if (r->n < RECALL_MAX)
        r->n++;
}

static uint64_t recall(const struct recall *r, uint64_t otherwise)
{
    return r->n && pick(2) ? r->v[pick(r->n)] : otherwise;
}

/* --- statistics: what every call returned ----------------------------------------- */

#define STAT_CMDS 17u /* commands 0..15, 16: any other */
#define STAT_RCS 14u  /* 0: success (>= 0), 1..12: -status, 13: other */
static uint32_t stat[HC_COUNT + 1][STAT_CMDS][STAT_RCS]; /* [HC_COUNT]: unknown numbers */
static uint64_t hypercalls_made;

static bool multiplexed(uint64_t nr)
{
    return nr == HC_MMUEXT_OP || nr == HC_MEMORY_OP || nr == HC_CAP_OP || nr == HC_EVTCHN_OP ||
           nr == HC_GRANT_OP || nr == HC_DOMAIN_OP || nr == HC_CONSOLE_OP || nr == HC_PCI_OP;
}

static void stat_call(uint64_t nr, uint64_t a0, int64_t rc)
{
    unsigned n = nr < HC_COUNT ? (unsigned)nr : HC_COUNT;
    unsigned c = multiplexed(nr) ? (a0 < 16 ? (unsigned)a0 : 16) : 0;
    unsigned r = rc >= 0 ? 0 : rc >= -12 ? (unsigned)-rc : 13;
    stat[n][c][r]++;
    hypercalls_made++;
}

static const char *const rc_names[STAT_RCS] = {"ok",     "EPERM",  "ENOENT",  "EINVAL", "EFAULT",
                                               "ENOMEM", "EBUSY",  "ENOSYS",  "EAGAIN", "EEXIST",
                                               "E2BIG",  "ERANGE", "ENOTSUP", "other"};

static void stat_print(void)
{
    for (unsigned n = 0; n <= HC_COUNT; n++)
        for (unsigned c = 0; c < STAT_CMDS; c++) {
            char line[200];
            int len = 0;
            uint64_t total = 0;
            for (unsigned r = 0; r < STAT_RCS; r++)
                if (stat[n][c][r]) {
                    total += stat[n][c][r];
                    len += snprintf(line + len, sizeof(line) - (size_t)len, " %s %u", rc_names[r],
                                    stat[n][c][r]);
                    if (len >= (int)sizeof(line))
                        len = (int)sizeof(line) - 1;
                }
            if (total == 0)
                continue;
            if (n == HC_COUNT)
                gk_printf("fuzz: unknown numbers: %llu calls:%s\n", (unsigned long long)total,
                          line);
            else if (multiplexed(n))
                gk_printf("fuzz: hypercall %u command %s%u: %llu calls:%s\n", n,
                          c == 16 ? ">=" : "", c, (unsigned long long)total, line);
            else
                gk_printf("fuzz: hypercall %u: %llu calls:%s\n", n, (unsigned long long)total,
                          line);
        }
}

/* Every hypercall of the fuzzing VCPU goes through here (counted). */
static int64_t hcall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
    int64_t ret;
    register uint64_t r10 __asm__("r10") = a3;
    __asm__ volatile("syscall"
                     : "=a"(ret), "+r"(r10)
                     : "a"(nr), "D"(a0), "S"(a1), "d"(a2)
                     : "rcx", "r11", "memory");
    stat_call(nr, a0, ret);
    return ret;
}

/* --- the fuzzer's world -------------------------------------------------------- */

/* Two pages of struct arguments, then a guard page unmapped at set-up (a
 * pointer near the end crosses into it, never into the fuzzer's globals). */
static uint8_t scratch[3 * 4096] __attribute__((aligned(4096)));
static uint8_t vstacks[FUZZ_VCPUS][STACK_BYTES] __attribute__((aligned(16)));
static uint64_t arena_mfn[ARENA_PAGES];
static uint64_t pool[POOL_MAX]; /* frames from HV_MEMOP_INCREASE, its own to give back */
static unsigned pool_count;
static uint64_t sandbox[3]; /* L3, L2, L1 of the sandbox subtree */
static uint64_t own_l4, own_l1, own_data, work_l4, m2p_entries;
static const uint64_t *own_l4_ptr; /* its L4, mapped read-only */
/* Frames of its initial layout (code, data, stacks, tables; not the
 * scratch pages): never handed out at random, so that a legitimate
 * operation on them (an M2P update, a grant copy into them, a page-table
 * write) cannot end the fuzzer by its own doing. Bit per mfn. */
static uint64_t protected_bits[(1u << 22) / 64];
static uint32_t root_ref; /* the root's grant to the fuzzer */
static volatile uint64_t stop_remappers;

static bool is_protected(uint64_t m)
{
    return m < (1u << 22) && (protected_bits[m / 64] >> (m % 64)) & 1;
}

static void pool_remove(uint64_t m)
{
    for (unsigned i = 0; i < pool_count; i++)
        if (pool[i] == m) {
            pool[i] = pool[--pool_count];
            return;
        }
}

static uint64_t any_mfn_raw(void);

static uint64_t any_mfn(void)
{
    uint64_t m = any_mfn_raw();
    if (is_protected(m) && m != own_l4 && m != own_l1) /* those two on purpose only */
        return pool_count ? pool[pick(pool_count)] : own_data;
    return m;
}

static uint64_t any_mfn_raw(void)
{
    switch (pick(15)) {
    case 0: return pool_count ? pool[pick(pool_count)] : own_data;
    case 1:
    case 2: return sandbox[pick(3)];
    case 3: return own_l4;
    case 4: return own_l1;
    case 5: return own_data;
    case 6: return arena_mfn[pick(ARENA_PAGES)];
    case 7: return work_l4 + pick(64);      /* the workload's frames, around its L4 */
    case 8: return pick(m2p_entries);       /* anything: mostly free or another's */
    case 9: return pick(256);               /* the first MiB: the hypervisor's */
    case 10: return 0xfd000 + pick(0x2000); /* device frames (the PCI hole) */
    case 11: return 0xfec00 + pick(0x300);  /* I/O APIC, local APIC */
    case 12: return m2p_entries + pick(16); /* just past the table */
    case 13: return recall(&given, MMIO_BASE + pick(MMIO_FRAMES + 2)); /* others', devices */
    default: return boundary();
    }
}

static uint64_t any_pte(void)
{
    uint64_t flags = rnd() & 0xfff;
    if (pick(3))
        flags |= GK_PTE_P | GK_PTE_US;
    if (pick(2))
        flags &= ~(GK_PTE_PS | GK_PTE_G);
    if (pick(4) == 0)
        flags |= GK_PTE_NX;
    if (pick(8) == 0)
        flags |= rnd() & GK_PTE_AVAIL_HIGH;
    if (pick(16) == 0)
        return rnd(); /* bits anywhere, reserved ones included */
    /* Never its real tables: an entry of the sandbox pointing at one would
     * make it part of the sandbox, where anything goes. */
    uint64_t m = any_mfn();
    if (m == own_l4 || m == own_l1)
        m = pool_count ? pool[pick(pool_count)] : own_data;
    return ((m << 12) & GK_PTE_ADDR_MASK) | flags;
}

static uint64_t any_va(void)
{
    switch (pick(8)) {
    case 0:
    case 1:
    case 2: return SANDBOX_VA + (pick(3 * 512) << 12); /* the sandbox (and beyond its L1) */
    case 3: return ARENA_VA + (pick(ARENA_PAGES) << 12);
    case 4: return 0xffff800000000000ull + ((rnd() & 0x7fffffffffffull) & ~0xfffull);
    case 5: return rnd() & ~0xfffull;
    case 6: return SANDBOX_VA + pick(1 << 21); /* unaligned too */
    default: return boundary();
    }
}

/* A pointer argument: see the top of the file. */
static uint64_t any_ptr(void)
{
    switch (pick(15)) {
    case 0:
    case 1:
    case 2:
    case 3: return (uint64_t)(uintptr_t)scratch + pick(4096);
    case 4:
    case 5: return ARENA_VA + pick(ARENA_PAGES * 4096);
    case 6: return (uint64_t)(uintptr_t)&rnd + 1 + pick(4095);   /* code: read-only, never a page */
    case 7: return (uint64_t)(uintptr_t)own_l4_ptr + pick(4096); /* a table */
    case 8: return HV_M2P_VA + pick(1 << 20);
    case 9: return 0xffff800000000000ull + (rnd() & 0x7fffffffffffull);
    case 10: return 0x100000000000ull + (rnd() & 0xfffffffffffull); /* unmapped */
    case 11: return HV_GUEST_VA_LIMIT + (rnd() & 0xffffffffull);    /* non-canonical */
    case 12: return (uint64_t)(uintptr_t)scratch + 8192 - pick(64); /* crossing the end */
    case 13: return SANDBOX_VA + pick(1 << 21); /* whatever the sandbox maps now */
    default: return boundary();
    }
}

/* A word for a struct field: every kind of value a field may take. */
static uint64_t any_word(void)
{
    switch (pick(10)) {
    case 0: return pick(300);  /* a capability slot */
    case 1: return pick(1100); /* a port */
    case 2: return pick(16);   /* a command, a vcpu, a virq */
    case 3: return any_mfn();
    case 4: return any_ptr();
    case 5: return HV_CAP_SLOT_SELF;
    case 6: return any_pte();
    case 7: return pick(2) ? 0 : rnd() & 0xffffffffull;
    case 8: return (pick(300) << 32) | pick(1100); /* two 32-bit fields */
    default: return boundary();
    }
}

/* Random struct contents in the scratch page. */
static void fill_scratch(void)
{
    uint64_t *w = (uint64_t *)(void *)scratch;
    for (unsigned i = 0; i < 64; i++)
        w[i] = any_word();
    if (pick(4) == 0) /* and sometimes a name-like string */
        memcpy(scratch + 8 * pick(8), "fuzzed\0domain\0", 14);
}

/* A frame of its own that may be granted, copied to or mapped. */
static uint64_t own_frame(void)
{
    switch (pick(4)) {
    case 0: return pool_count ? pool[pick(pool_count)] : own_data;
    case 1: return arena_mfn[pick(ARENA_PAGES)];
    case 2: return own_data;
    default: return sandbox[pick(3)];
    }
}

/* A frame that may become a page table: unmapped, its own. */
static uint64_t table_candidate(void)
{
    return pool_count && pick(4) ? pool[pick(pool_count)] : sandbox[pick(3)];
}

/* Its level if m is a table of its own (HV_MEMOP_FRAME_INFO), else 0. */
static unsigned table_level(uint64_t m)
{
    int64_t info = hcall(HC_MEMORY_OP, HV_MEMOP_FRAME_INFO, m, 0, 0);
    unsigned t = info >= 0 ? HV_FRAME_INFO_TYPE((uint64_t)info) : 0;
    return t >= HV_FRAME_TYPE_L1 && t <= HV_FRAME_TYPE_L4 ? t : 0;
}

/* A plausible entry for a table of `level`: a frame of its own that could
 * take the part below (any of its frames for a leaf, sometimes a device
 * frame of its MMIO capability), read-only or writable, sometimes absent. */
static uint64_t plausible_pte(unsigned level)
{
    if (pick(6) == 0)
        return 0;
    uint64_t m = level == 1 ? own_frame() : table_candidate();
    uint64_t flags = GK_PTE_P | GK_PTE_US | (pick(3) ? GK_PTE_RW : 0);
    if (level == 1) {
        if (pick(4) == 0)
            flags |= GK_PTE_NX;
        if (pick(8) == 0)
            m = MMIO_BASE + pick(MMIO_FRAMES + 2);
    }
    if (pick(24) == 0)
        flags |= pick(2) ? GK_PTE_PS : GK_PTE_G;
    return (m << 12) | flags;
}

static uint32_t any_domain_slot(void)
{
    static const uint32_t slots_[] = {WORK_SLOT_IN_FUZZ, ROOT_SLOT_IN_FUZZ, HV_CAP_SLOT_SELF};
    return pick(3) ? slots_[pick(3)] : (uint32_t)recall(&children, slots_[pick(3)]);
}

static uint32_t free_slot(void)
{
    return SLOT_FREE_FIRST + (uint32_t)pick(SLOT_FREE_COUNT);
}

/* A capability slot it may hold something in. */
static uint32_t held_slot(void)
{
    static const uint32_t given_[] = {WORK_SLOT_IN_FUZZ, ROOT_SLOT_IN_FUZZ, MEM_SLOT_IN_FUZZ,
                                      IO_SLOT_IN_FUZZ,   IRQ_SLOT_IN_FUZZ,  MMIO_SLOT_IN_FUZZ,
                                      PCI_SLOT_IN_FUZZ};
    return pick(2) ? given_[pick(7)] : (uint32_t)recall(&slots, free_slot());
}

/* mmu_update requests. Plausible ones (most): entries of one of its tables
 * (the sandbox's, or pool frames that became tables), sometimes a run of
 * consecutive entries mapping one frame (full L1s: long validations, and
 * continuations once linked); the rest anywhere (refused), its hypervisor
 * slots, and M2P updates of pool frames. */
static void fill_requests(unsigned n)
{
    struct hv_mmu_update *r = (struct hv_mmu_update *)(void *)scratch;
    uint64_t table = table_candidate();
    unsigned level = table_level(table);
    bool run = pick(4) == 0;
    unsigned first = (unsigned)pick(512);
    uint64_t run_val = level ? plausible_pte(level) : 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t ptr;
        if (level && (run || pick(3))) {
            unsigned index = run ? (first + i) % 512 : (unsigned)pick(512);
            r[i].ptr = (table << 12) | ((uint64_t)index << 3);
            r[i].val = run ? run_val : plausible_pte(level);
            continue;
        }
        switch (pick(8)) {
        case 0:
        case 1: ptr = (sandbox[pick(3)] << 12) | (pick(512) << 3); break;
        case 2: {
            /* Anywhere, but never an entry of its own real tables (that
             * would unmap the fuzzer itself): only their M2P entries. */
            uint64_t m = any_mfn();
            if (m == own_l4 || m == own_l1)
                m = sandbox[pick(3)];
            ptr = m << 12 | (pick(512) << 3) | pick(4);
            break;
        }
        case 3:
            ptr = ((pool_count ? pool[pick(pool_count)] : any_mfn()) << 12) | HV_MMU_CMD_M2P;
            break;
        case 4: ptr = (own_l4 << 12) | (256ull + pick(256)) << 3; break; /* hypervisor slots */
        default: ptr = rnd(); break;
        }
        r[i].ptr = ptr;
        r[i].val = (ptr & 3) == HV_MMU_CMD_M2P ? (pick(2) ? pick(1u << 20) : rnd()) : any_pte();
    }
}

static void seg(struct hv_grant_copy_seg *g)
{
    *g = (struct hv_grant_copy_seg){.offset = (uint16_t)pick(4200)};
    if (pick(2)) {
        g->domain_slot = pick(3) ? ROOT_SLOT_IN_FUZZ : any_domain_slot();
        g->ref = (uint32_t)(pick(3) ? root_ref : recall(&refs, pick(8)));
        g->seg_flags = HV_GRANT_SEG_REF;
    } else {
        g->mfn = own_frame();
    }
}

/* Plausible arguments for HC_DOMAIN_OP: mostly on the domains it created. */
static void plausible_domctl(uint64_t cmd, void *a)
{
    uint32_t dom = any_domain_slot();
    switch (cmd) {
    case HV_DOMCTL_CREATE: {
        struct hv_domctl_create *c = a;
        *c = (struct hv_domctl_create){
            .mem_slot = pick(8) ? MEM_SLOT_IN_FUZZ : held_slot(),
            .dom_slot = free_slot(),
            .console_slot = free_slot(),
            .vcpus = pick(8) ? 1 + (uint32_t)pick(3) : (uint32_t)boundary(),
            .max_pages = pick(8) ? 1 + pick(64) : boundary(),
        };
        snprintf(c->name, sizeof(c->name), "fz%llu", (unsigned long long)pick(1000));
        break;
    }
    case HV_DOMCTL_ASSIGN: {
        /* Up to 8 of its pool frames (the list in the second scratch page). */
        struct hv_domctl_frame *list = (void *)(scratch + 4096);
        uint32_t count = 1 + (uint32_t)pick(8);
        for (uint32_t i = 0; i < count; i++)
            list[i] = (struct hv_domctl_frame){.mfn = pick(8) ? table_candidate() : any_mfn(),
                                               .pfn = pick(8) ? pick(64) : boundary()};
        *(struct hv_domctl_assign *)a =
            (struct hv_domctl_assign){.dom_slot = dom,
                                      .count = pick(8) ? count : (uint32_t)boundary(),
                                      .list = pick(8) ? (uint64_t)(uintptr_t)list : any_ptr(),
                                      .done = pick(8) ? 0 : pick(10)};
        break;
    }
    case HV_DOMCTL_SET_BASE:
        *(struct hv_domctl_set_base *)a =
            (struct hv_domctl_set_base){.dom_slot = dom, .l4_mfn = recall(&given, any_mfn())};
        break;
    case HV_DOMCTL_VCPU_START:
    case HV_DOMCTL_VCPU_STOP: {
        static const uint64_t rips[] = {0x400000, 0x1000, 0, 0x7ffffffff000};
        struct hv_domctl_vcpu_start *v = a;
        *v = (struct hv_domctl_vcpu_start){.dom_slot = dom,
                                           .vcpu = (uint32_t)pick(4),
                                           .rip = pick(4) ? rips[pick(4)] : boundary(),
                                           .rsp = pick(2) ? 0x800000 : boundary(),
                                           .arg = rnd()};
        if (cmd == HV_DOMCTL_VCPU_STOP && pick(4))
            v->rip = v->rsp = v->arg = 0;
        break;
    }
    default: {
        /* dom_slot first in every other domctl struct, then small numbers
         * (a VCPU, a CPU, a reason, a weight) or anything. */
        uint32_t *w = a;
        w[0] = dom;
        for (unsigned i = 1; i < 8; i++)
            w[i] = pick(2) ? (uint32_t)pick(4) : (uint32_t)any_word();
        if (cmd == HV_DOMCTL_VCPU_CAP)
            w[2] = free_slot();
        break;
    }
    }
    /* Never stop its own VCPUs: a stop of its own carries a rip (refused). */
    if (cmd == HV_DOMCTL_VCPU_STOP && ((uint32_t *)a)[0] == HV_CAP_SLOT_SELF)
        ((struct hv_domctl_vcpu_start *)a)->rip |= 1;
}

/* Plausible arguments (most fields right, one maybe not) for the calls
 * whose interesting states need them. */
static void fill_plausible(uint64_t nr, uint64_t cmd)
{
    memset(scratch, 0, 256);
    void *a = scratch;
    if (nr == HC_GRANT_OP) {
        switch (cmd) {
        case HV_GRANT_SET:
            *(struct hv_grant_set_args *)a = (struct hv_grant_set_args){
                .mfn = own_frame(), .grantee_slot = any_domain_slot(), .flags = (uint32_t)pick(2)};
            break;
        case HV_GRANT_END:
        case HV_GRANT_STATUS:
            ((struct hv_grant_status_args *)a)->ref = (uint32_t)recall(&refs, pick(10));
            break;
        case HV_GRANT_QUERY:
            *(struct hv_grant_query_args *)a = (struct hv_grant_query_args){
                .granter_slot = pick(2) ? ROOT_SLOT_IN_FUZZ : any_domain_slot(),
                .ref = (uint32_t)(pick(3) ? root_ref : recall(&refs, pick(8)))};
            break;
        case HV_GRANT_COPY: {
            struct hv_grant_copy_args *c = a;
            seg(&c->src);
            seg(&c->dst);
            c->len = (uint32_t)(pick(4) ? pick(4097) : boundary());
            break;
        }
        case HV_GRANT_MAP:
            *(struct hv_grant_map_args *)a = (struct hv_grant_map_args){
                .va = SANDBOX_VA + (pick(600) << 12),
                .granter_slot = pick(2) ? ROOT_SLOT_IN_FUZZ : any_domain_slot(),
                .ref = (uint32_t)(pick(2) ? root_ref : recall(&refs, pick(8))),
                .flags = (uint32_t)pick(2)};
            break;
        default: /* UNMAP */
            ((struct hv_grant_map_args *)a)->va =
                recall(&mapped_vas, SANDBOX_VA + (pick(600) << 12));
            break;
        }
    } else if (nr == HC_EVTCHN_OP) {
        uint32_t *w = a;
        uint32_t port = (uint32_t)recall(&ports, pick(40));
        switch (cmd) {
        case HV_EVTCHN_ALLOC_UNBOUND: w[0] = any_domain_slot(); break;
        case HV_EVTCHN_BIND_INTERDOMAIN:
            w[0] = any_domain_slot();
            w[1] = pick(2) ? port : (uint32_t)pick(40);
            break;
        case HV_EVTCHN_BIND_VIRQ:
            w[0] = (uint32_t)pick(8);
            w[1] = (uint32_t)pick(4);
            break;
        case HV_EVTCHN_BIND_IPI: w[0] = (uint32_t)pick(4); break;
        case HV_EVTCHN_BIND_PIRQ:
            w[0] = pick(4) ? IRQ_SLOT_IN_FUZZ : held_slot();
            w[1] = IRQ_BASE - 1 + (uint32_t)pick(IRQ_LINES + 2);
            break;
        case HV_EVTCHN_MINT_ENDPOINT:
            w[0] = port;
            w[1] = free_slot();
            w[2] = (uint32_t)pick(8) << 1 | (pick(2) ? HV_CAP_R_GRANT : 0);
            break;
        case HV_EVTCHN_NOTIFY: w[0] = held_slot(); break;
        default: /* the port commands */
            w[0] = port;
            w[1] = cmd == HV_EVTCHN_BIND_VCPU ? (uint32_t)pick(4) : 0;
            break;
        }
    } else if (nr == HC_CAP_OP) {
        if (cmd == HV_CAP_COPY) {
            /* What the source holds (HV_CAP_IDENTIFY), then most of the
             * time a subset of its rights and a part of its range. */
            uint32_t src = held_slot();
            struct hv_cap_identify_args id = {.slot = src};
            hcall(HC_CAP_OP, HV_CAP_IDENTIFY, (uint64_t)(uintptr_t)&id, 0, 0);
            uint64_t base = 0, count = 0;
            if (id.info.count) {
                base = id.info.base + pick(id.info.count);
                count = 1 + pick(id.info.base + id.info.count - base);
            }
            *(struct hv_cap_copy_args *)a = (struct hv_cap_copy_args){
                .src_slot = src,
                .dst_domain_slot = pick(4) ? HV_CAP_SLOT_SELF : any_domain_slot(),
                .dst_slot = free_slot(),
                .rights = pick(4) ? id.info.rights & (uint32_t)rnd() : (uint32_t)rnd(),
                .base = pick(8) ? base : boundary(),
                .count = pick(8) ? count : boundary()};
        } else {
            ((uint32_t *)a)[0] = held_slot();
        }
    } else if (nr == HC_DOMAIN_OP) {
        plausible_domctl(cmd, a);
    } else if (nr == HC_IOPORT_OP) {
        static const uint8_t sizes[] = {1, 2, 4, 3};
        *(struct hv_ioport_args *)a =
            (struct hv_ioport_args){.slot = pick(4) ? IO_SLOT_IN_FUZZ : held_slot(),
                                    .port = (uint16_t)(IO_BASE - 2 + pick(IO_PORTS + 4)),
                                    .size = sizes[pick(4)],
                                    .write = (uint8_t)pick(2),
                                    .value = (uint32_t)rnd()};
    } else if (nr == HC_PCI_OP) {
        static const uint8_t sizes[] = {1, 2, 4, 3};
        uint32_t *w = a;
        w[0] = pick(4) ? PCI_SLOT_IN_FUZZ : held_slot();
        if (cmd <= HV_PCI_CONFIG_WRITE) {
            struct hv_pci_config_args *c = a;
            c->offset = (uint16_t)pick(260);
            c->size = sizes[pick(4)];
            c->value = (uint32_t)rnd();
        } else if (cmd != HV_PCI_INFO) {
            w[1] = (uint32_t)pick(3);
            w[2] = (uint32_t)pick(4);
        }
    } else if (nr == HC_CONSOLE_OP) {
        *(struct hv_console_args *)a =
            (struct hv_console_args){.con_slot = pick(2) ? HV_CAP_SLOT_SELF : held_slot(),
                                     .buf = any_ptr(),
                                     .len = pick(4) ? pick(5000) : boundary()};
    }
}

/* What a successful plausible call created, remembered for later calls. */
static void harvest(uint64_t nr, uint64_t cmd)
{
    const uint32_t *w = (const void *)scratch;
    if (nr == HC_EVTCHN_OP) {
        switch (cmd) {
        case HV_EVTCHN_ALLOC_UNBOUND:
        case HV_EVTCHN_BIND_IPI: remember(&ports, w[1]); break;
        case HV_EVTCHN_BIND_INTERDOMAIN:
        case HV_EVTCHN_BIND_VIRQ:
        case HV_EVTCHN_BIND_PIRQ: remember(&ports, w[2]); break;
        case HV_EVTCHN_MINT_ENDPOINT: remember(&slots, w[1]); break;
        default: break;
        }
    } else if (nr == HC_GRANT_OP) {
        if (cmd == HV_GRANT_SET)
            remember(&refs, ((const struct hv_grant_set_args *)(const void *)scratch)->ref);
        if (cmd == HV_GRANT_MAP)
            remember(&mapped_vas, ((const struct hv_grant_map_args *)(const void *)scratch)->va);
    } else if (nr == HC_CAP_OP && cmd == HV_CAP_COPY) {
        const struct hv_cap_copy_args *c = (const void *)scratch;
        if (c->dst_domain_slot == HV_CAP_SLOT_SELF)
            remember(&slots, c->dst_slot);
    } else if (nr == HC_DOMAIN_OP) {
        if (cmd == HV_DOMCTL_CREATE)
            remember(&children, ((const struct hv_domctl_create *)(const void *)scratch)->dom_slot);
        if (cmd == HV_DOMCTL_VCPU_CAP)
            remember(&slots, w[2]);
        if (cmd == HV_DOMCTL_ASSIGN) {
            /* Those frames are the child's now. */
            const struct hv_domctl_assign *as = (const void *)scratch;
            const struct hv_domctl_frame *list = (const void *)(scratch + 4096);
            for (uint32_t i = 0; i < as->count && i < 8; i++) {
                pool_remove(list[i].mfn);
                remember(&given, list[i].mfn);
            }
        }
    }
}

/*
 * HC_IRET: a frame that resumes right after the call (rip = the next
 * instruction, rsp = the current one) with random flags and registers, or
 * one the hypervisor must refuse (rip or rsp outside guest space, the frame
 * crossing into the guard page, pointers it cannot read). A resumed frame
 * must come back with rax, and the flags masked as docs/abi.md says
 * (arithmetic flags and DF from the frame, IF set, nothing else).
 */
static int64_t fuzz_iret(void)
{
    struct hv_bounce_frame *f = (void *)(scratch + 8 * pick(4096 / 8));
    bool crosses = pick(16) == 0;
    if (crosses)
        f = (void *)(scratch + 8192 - 8 * (1 + pick(9)));
    uint64_t va = (uint64_t)(uintptr_t)f;
    int kind = (int)pick(8); /* 0..4 resumes, 5 bad rip, 6 bad rsp, 7 a bad pointer */
    if (kind == 7) {
        static const uint64_t bad[] = {0, 0xffff800000000000ull, 0x100000000000ull,
                                       HV_GUEST_VA_LIMIT, ~0ull};
        va = pick(2) ? bad[pick(5)] : 0xffff800000000000ull + (rnd() & 0x7fffffffffffull);
        f = NULL;
    }
    uint64_t rax = rnd() & 0x7fffffffffffffffull; /* never mistaken for a status */
    uint64_t flags_in = rnd();
    if (f && !crosses) {
        *f = (struct hv_bounce_frame){.vector = rnd(),
                                      .error_code = rnd(),
                                      .rflags = flags_in,
                                      .rax = rax,
                                      .rcx = rnd(),
                                      .r11 = rnd(),
                                      .rdi = rnd(),
                                      .reserved = rnd()};
        if (kind == 5)
            f->rip = pick(2) ? HV_GUEST_VA_LIMIT + pick(1u << 20) : 0xffff800000000000ull;
        if (kind == 6)
            f->rsp = pick(2) ? HV_GUEST_VA_LIMIT + pick(1u << 20) : ~0ull;
    }
    int64_t ret;
    uint64_t flags_out, rdi = va;
    bool fill = f && !crosses && kind < 7;
    __asm__ volatile("test %[fill], %[fill]\n\t"
                     "jz 1f\n\t"
                     "lea 2f(%%rip), %%rax\n\t"
                     "cmpq $0, 16(%[f])\n\t" /* rip preset (kind 5): keep it */
                     "jne 3f\n\t"
                     "mov %%rax, 16(%[f])\n\t"
                     "3: cmpq $0, 32(%[f])\n\t"
                     "jne 1f\n\t"
                     "mov %%rsp, 32(%[f])\n\t"
                     "1: mov %[nr], %%eax\n\t"
                     "syscall\n\t"
                     "2: pushfq\n\t"
                     "popq %[fl]\n\t"
                     "cld\n\t"
                     : "=&a"(ret), "+D"(rdi), [fl] "=&r"(flags_out)
                     : [fill] "r"((uint64_t)fill), [f] "r"(f), [nr] "i"(HC_IRET)
                     : "rcx", "r11", "memory", "cc");
    stat_call(HC_IRET, 0, ret);
    bool refused = kind >= 5 || crosses;
    if (!refused && (ret != (int64_t)rax || (flags_out & ~0xcd5ull) != 0x202 ||
                     (flags_out & 0xcd5) != (flags_in & 0xcd5))) {
        gk_printf("fuzz: FAILED HC_IRET resumed with rax %#llx (frame %#llx), flags %#llx "
                  "(frame %#llx)\n",
                  (unsigned long long)ret, (unsigned long long)rax, (unsigned long long)flags_out,
                  (unsigned long long)flags_in);
        failures++;
    }
    if (refused && ret != HV_EFAULT && ret != HV_EINVAL) {
        gk_printf("fuzz: FAILED HC_IRET of a bad frame (kind %d) returned %lld\n", kind,
                  (long long)ret);
        failures++;
    }
    return ret;
}

/* One fuzzed hypercall (sometimes preceded by the queries its arguments
 * needed, counted as calls too). */
static void fuzz_one(void)
{
    uint64_t nr, a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    bool plausible = false;
    for (;;) {
        nr = pick(22);
        /* Rare: either gives the CPU away (to the other VCPUs, the
         * workload, the root) for up to a slice. */
        if ((nr == HC_YIELD || nr == HC_BLOCK) && pick(32))
            continue;
        break;
    }
    switch (nr) {
    case HC_CONSOLE_WRITE: /* never text of its own into the log */
        a0 = pick(2) ? any_ptr() | 0xffff800000000000ull : HV_GUEST_VA_LIMIT + pick(4096);
        a1 = pick(2) ? pick(5000) : boundary();
        break;
    case HC_YIELD: break;
    case HC_BLOCK: gk_hc_set_timer(gk_now_ns() + 1000 + pick(50000)); break;
    case HC_SHUTDOWN: a0 = pick(2) ? 3 + pick(100) : (boundary() | 4); break; /* never valid */
    case HC_MMU_UPDATE: {
        unsigned n = pick(4) ? 1 + (unsigned)pick(16) : 1 + (unsigned)pick(256);
        fill_requests(n);
        a0 = pick(8) ? (uint64_t)(uintptr_t)scratch : any_ptr();
        a1 = pick(8) ? n : boundary();
        a2 = pick(2) ? (uint64_t)(uintptr_t)scratch + 4096 + 8 * pick(8) : any_ptr();
        a3 = pick(8) ? 0 : boundary();
        break;
    }
    case HC_MMUEXT_OP:
        a0 = pick(12);
        if (a0 == HV_MMUEXT_INVLPG_LOCAL)
            a1 = any_va();
        else if (a0 == HV_MMUEXT_TLB_FLUSH_VCPUS)
            a1 = any_word();
        else if (a0 <= HV_MMUEXT_UNPIN && pick(2))
            a1 = table_candidate(); /* pins and unpins of its tables */
        else
            a1 = any_mfn();
        if (a0 == HV_MMUEXT_NEW_BASEPTR && a1 != own_l4) /* never a base that does not map us */
            a1 = pick(2) ? work_l4 : m2p_entries + pick(1000);
        break;
    case HC_UPDATE_VA_MAPPING:
        a0 = any_va();
        if (a0 >= ARENA_VA && a0 < ARENA_VA + ARENA_PAGES * 4096ull)
            a1 = pick(2) ? (arena_mfn[pick(ARENA_PAGES)] << 12) | GK_PTE_RWDATA : any_pte();
        else
            a1 = pick(2) ? plausible_pte(1) : any_pte();
        a2 = pick(4) ? pick(3) : boundary();
        break;
    case HC_MEMORY_OP:
        /* A frame of its own given back is harmless: after the set-up
         * guest-kit maps no new frame, and frames in use are refused. */
        a0 = pick(8);
        a1 = a0 == HV_MEMOP_DECREASE && pool_count && pick(2) ? pool[pick(pool_count)] : any_mfn();
        break;
    case HC_SET_TRAP_TABLE:
        fill_scratch();
        a0 = any_ptr();
        a1 = pick(4) ? pick(300) : boundary();
        break;
    case HC_IRET: fuzz_iret(); return;
    case HC_CAP_OP:
    case HC_EVTCHN_OP:
    case HC_GRANT_OP:
    case HC_DOMAIN_OP:
    case HC_CONSOLE_OP:
    case HC_PCI_OP:
    case HC_IOPORT_OP:
        a0 = pick(4) ? pick(nr == HC_DOMAIN_OP ? 17 : 14) : boundary();
        plausible = (a0 < 16 || nr == HC_IOPORT_OP) && pick(2);
        if (plausible)
            fill_plausible(nr, a0);
        else
            fill_scratch();
        a1 = pick(8) ? (uint64_t)(uintptr_t)scratch : any_ptr();
        if (nr == HC_IOPORT_OP) { /* its one argument is the struct */
            a0 = a1;
            a1 = 0;
        }
        if (nr == HC_DOMAIN_OP && a0 == HV_DOMCTL_VCPU_STOP) {
            /* Never its own VCPUs (it may name them through SELF or a VCPU
             * capability it minted): a stop with a rip is refused. Its
             * struct in the scratch page, where the rip is set. */
            a1 = (uint64_t)(uintptr_t)scratch;
            ((struct hv_domctl_vcpu_start *)(void *)scratch)->rip |= 1;
        }
        break;
    case HC_SET_CALLBACK: a0 = pick(2) ? rnd() | HV_GUEST_VA_LIMIT : ~0ull; break; /* refused */
    case HC_SET_TIMER: a0 = pick(3) ? gk_now_ns() + pick(100000) : boundary(); break;
    default:
        nr = pick(2) ? 19 + pick(44) : 64 + (rnd() >> pick(64)); /* unknown numbers */
        if (nr == HC_TEST_OP)
            nr = 62;
        break;
    }
    int64_t rc = hcall(nr, a0, a1, a2, a3);
    if (rc >= 0 && plausible && a1 == (uint64_t)(uintptr_t)scratch)
        harvest(nr, a0);
    if (nr == HC_DOMAIN_OP && a0 == HV_DOMCTL_SCHED_SET && rc == HV_OK) {
        /* Its own weight or cap may have changed: a 1% cap would only make
         * the run slow. Back to the defaults. */
        struct hv_domctl_sched sched = {.dom_slot = HV_CAP_SLOT_SELF, .weight = 256};
        hcall(HC_DOMAIN_OP, HV_DOMCTL_SCHED_SET, (uint64_t)(uintptr_t)&sched, 0, 0);
    }
    if (nr == HC_DOMAIN_OP && a0 == HV_DOMCTL_VCPU_PIN && rc == HV_OK) {
        /* Its VCPUs may be pinned together now: unpin them. */
        for (uint32_t v = 0; v < FUZZ_VCPUS; v++) {
            struct hv_domctl_vcpu_pin pin = {.dom_slot = HV_CAP_SLOT_SELF, .vcpu = v};
            hcall(HC_DOMAIN_OP, HV_DOMCTL_VCPU_PIN, (uint64_t)(uintptr_t)&pin, 0, 0);
        }
    }
    if (nr == HC_MEMORY_OP && a0 == HV_MEMOP_INCREASE && rc > 0 && pool_count < POOL_MAX)
        pool[pool_count++] = (uint64_t)rc;
    if (nr == HC_MEMORY_OP && a0 == HV_MEMOP_DECREASE && rc == HV_OK)
        pool_remove(a1);
}
/* VCPUs 1 and 2: unmap, remap read-only or writable, and swap arena pages. */
static void remapper(void *arg)
{
    uint64_t x = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull + rng;
    while (!stop_remappers) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        unsigned i = (unsigned)(x % ARENA_PAGES);
        uint64_t va = ARENA_VA + (uint64_t)i * 4096;
        uint64_t m = arena_mfn[(x >> 8) % 4 ? i : (x >> 16) % ARENA_PAGES];
        uint64_t val;
        switch ((x >> 24) % 4) {
        case 0: val = 0; break;
        case 1: val = (m << 12) | GK_PTE_RO; break;
        default: val = (m << 12) | GK_PTE_RWDATA; break;
        }
        gk_hc_update_va_mapping(va, val, (x >> 32) % 2 ? HV_UVM_INVLPG : 0);
        if ((x >> 40) % 64 == 0)
            gk_hc_mmuext_op(HV_MMUEXT_TLB_FLUSH_VCPUS, (1u << FUZZ_VCPUS) - 1);
        /* Bursts of 8, then a nap of 20..80 us: the fuzzing VCPU keeps most
         * of the time (under -icount every CPU shares one host thread). */
        if ((x >> 48) % 8 == 0) {
            gk_hc_set_timer(gk_now_ns() + 20000 + (x >> 52) % 60000);
            gk_hc_block();
        }
        gk_cpu_relax();
    }
}

static void fuzz_setup(const struct hv_start_info *si)
{
    m2p_entries = si->m2p_entries;
    own_l4 = gk_mm_base_mfn();
    own_data = gk_layout_va_to_mfn((uint64_t)(uintptr_t)scratch);
    own_l1 = gk_pte_mfn(gk_pt_read(gk_pt_entry_maddr((uint64_t)(uintptr_t)scratch, 2)));
    own_l4_ptr = gk_pt_table_ptr(own_l4);
    gk_assert(own_l4_ptr != NULL);
    for (uint64_t pfn = 0; pfn < si->first_free_pfn; pfn++) {
        uint64_t m = gk_p2m(pfn);
        if (m < (1u << 22))
            protected_bits[m / 64] |= 1ull << (m % 64);
    }
    for (unsigned i = 0; i < 2; i++) { /* the scratch pages may be scribbled on */
        uint64_t m = gk_layout_va_to_mfn((uint64_t)(uintptr_t)scratch + i * 4096ull);
        protected_bits[m / 64] &= ~(1ull << (m % 64));
    }
    if (gk_unmap((uint64_t)(uintptr_t)scratch + 8192) != HV_OK)
        gk_panic("fuzz: FAILED unmap the guard page");
    for (unsigned i = 0; i < ARENA_PAGES; i++) {
        uint64_t pfn = gk_pfn_alloc();
        gk_assert(pfn != HV_M2P_INVALID);
        arena_mfn[i] = gk_p2m(pfn);
        if (gk_map_frame(ARENA_VA + i * 4096ull, arena_mfn[i], GK_PTE_RWDATA) != HV_OK)
            gk_panic("fuzz: FAILED map the arena");
    }
    /* The sandbox: L4[SANDBOX_SLOT] -> L3 -> L2 -> L1, fuzzed freely. */
    for (unsigned i = 0; i < 3; i++) {
        uint64_t pfn = gk_pfn_alloc();
        gk_assert(pfn != HV_M2P_INVALID);
        sandbox[i] = gk_p2m(pfn); /* fresh frames are zero, unmapped */
    }
    const uint64_t tbl = GK_PTE_P | GK_PTE_RW | GK_PTE_US;
    if (gk_pt_write((sandbox[1] << 12), 0) != HV_EINVAL) /* not a table yet */
        gk_panic("fuzz: FAILED a plain frame took an update");
    if (gk_pt_write((own_l4 << 12) | (SANDBOX_SLOT << 3), (sandbox[0] << 12) | tbl) != HV_OK ||
        gk_pt_write((sandbox[0] << 12), (sandbox[1] << 12) | tbl) != HV_OK ||
        gk_pt_write((sandbox[1] << 12), (sandbox[2] << 12) | tbl) != HV_OK)
        gk_panic("fuzz: FAILED build the sandbox");
}

/* The value of " key=" in line (decimal or 0x...), or def. */
static uint64_t arg_u64(const char *line, const char *key, uint64_t def)
{
    char pat[16];
    snprintf(pat, sizeof(pat), "%s=", key);
    for (const char *p = line; (p = strstr(p, pat)) != NULL; p++)
        if (p == line || p[-1] == ' ')
            return strtoull(p + strlen(pat), NULL, 0);
    return def;
}

/* After each batch of calls: the hypervisor audits its own state (frame
 * counts and types, owners and the pool, grants, capabilities) while the
 * remappers and the workload keep running; a difference is a failure, with
 * the seed and the call count that reproduce it. */
static void batch_audit(uint64_t done, uint64_t seed)
{
    static struct hv_test_check c;
    memset(&c, 0, sizeof(c));
    int64_t rc = gk_hypercall3(HC_TEST_OP, HV_TEST_CHECK, (uint64_t)(uintptr_t)&c, 0);
    audits_done++;
    if (rc != HV_OK || c.errors) {
        gk_printf("fuzz: FAILED the hypervisor's invariants after %llu calls (seed %llu): %lld, "
                  "%u differences; first: %s\n",
                  (unsigned long long)done, (unsigned long long)seed, (long long)rc, c.errors,
                  c.first);
        failures++;
    }
}

static void role_fuzz(const struct hv_start_info *si)
{
    /* Its arguments come on the console: the root knows the reference of
     * the page it grants only once the fuzzer exists. */
    static char line[160];
    size_t n = 0;
    while (n < sizeof(line) - 1 && (n == 0 || line[n - 1] != '\n')) {
        int64_t got = gk_console_read(line + n, sizeof(line) - 1 - n);
        if (got <= 0)
            gk_panic("fuzz: FAILED no arguments on the console");
        n += (size_t)got;
    }
    line[n] = 0;
    uint64_t seed = arg_u64(line, "seed", 1), calls = arg_u64(line, "calls", 100000);
    uint64_t batch = arg_u64(line, "batch", 10000);
    work_l4 = arg_u64(line, "wl4", 0);
    root_ref = (uint32_t)arg_u64(line, "rref", 0);
    rng = seed ? seed : 1;
    if (gk_events_init() != HV_OK)
        gk_panic("fuzz: FAILED events");
    fuzz_setup(si);
    for (unsigned v = 1; v < FUZZ_VCPUS; v++)
        if (gk_vcpu_start(v, remapper, (void *)(uintptr_t)v, vstacks[v], STACK_BYTES) != HV_OK)
            gk_panic("fuzz: FAILED start remapper VCPU %u", v);
    gk_printf("fuzz: seed %llu, %llu calls, sandbox L3 %#llx, arena at %#llx\n",
              (unsigned long long)seed, (unsigned long long)calls, (unsigned long long)sandbox[0],
              (unsigned long long)ARENA_VA);
    for (uint64_t i = 1; i <= calls; i++) {
        fuzz_one();
        if (i % PROGRESS_EVERY == 0)
            gk_printf("fuzz: %llu calls (seed %llu)\n", (unsigned long long)i,
                      (unsigned long long)seed);
        if (batch && (i % batch == 0 || i == calls))
            batch_audit(i, seed);
    }
    stop_remappers = 1;
    for (unsigned v = 1; v < FUZZ_VCPUS; v++)
        gk_vcpu_join(v);
    stat_print();
    gk_printf("fuzz: done: %llu calls (seed %llu), %llu hypercalls with the queries they "
              "needed, %llu audits, %d failed checks\n",
              (unsigned long long)calls, (unsigned long long)seed,
              (unsigned long long)hypercalls_made, (unsigned long long)audits_done, failures);
    if (failures)
        gk_panic("fuzz: FAILED %d checks (seed %llu)", failures, (unsigned long long)seed);
    gk_shutdown(HV_SHUTDOWN_POWEROFF);
}

/* --- the workload ----------------------------------------------------------- */

#define WORK_FRAMES 32u
#define WORK_VA 0x70000000ull

static void role_work(void)
{
    char buf[24];
    uint64_t seed = 7;
    if (gk_cmdline_get("seed", buf, sizeof(buf)) > 0)
        seed = strtoull(buf, NULL, 0) ^ 0x5bd1e995ull;
    if (gk_events_init() != HV_OK)
        gk_panic("work: FAILED events");
    uint64_t mfns[WORK_FRAMES];
    for (unsigned i = 0; i < WORK_FRAMES; i++) {
        uint64_t pfn = gk_pfn_alloc();
        gk_assert(pfn != HV_M2P_INVALID);
        mfns[i] = gk_p2m(pfn);
    }
    volatile uint64_t *mem = (volatile uint64_t *)(uintptr_t)WORK_VA;
    for (uint64_t round = 1;; round++) {
        rng = seed + round;
        uint64_t sum_w = 0, sum_r = 0;
        for (unsigned i = 0; i < WORK_FRAMES; i++)
            if (gk_map_frame(WORK_VA + i * 4096ull, mfns[(i + round) % WORK_FRAMES],
                             GK_PTE_RWDATA) != HV_OK)
                gk_panic("work: FAILED map round %llu", (unsigned long long)round);
        for (unsigned i = 0; i < WORK_FRAMES * 512; i++) {
            uint64_t v = rnd();
            mem[i] = v;
            sum_w = sum_w * 31 + v;
        }
        gk_hc_yield();
        for (unsigned i = 0; i < WORK_FRAMES * 512; i++)
            sum_r = sum_r * 31 + mem[i];
        if (sum_r != sum_w)
            gk_panic("work: FAILED round %llu: memory does not hold what was written",
                     (unsigned long long)round);
        for (unsigned i = 0; i < WORK_FRAMES; i++)
            if (gk_unmap(WORK_VA + i * 4096ull) != HV_OK)
                gk_panic("work: FAILED unmap round %llu", (unsigned long long)round);
        if (round % 64 == 0)
            gk_printf("work: %llu rounds checked\n", (unsigned long long)round);
        gk_shutdown_poll(); /* the root's request ends the domain here */
        gk_sleep_ms(1);     /* a light load: the fuzzer keeps most of the time */
    }
}

/* --- the root ---------------------------------------------------------------- */

static const struct hv_start_info *start_info;

static void build(struct gk_built_domain *d, const char *name, const char *cmdline, uint64_t pages,
                  unsigned vcpus, uint32_t dom_slot, uint32_t con_slot)
{
    struct gk_build_spec spec = {
        .name = name,
        .image = (const void *)(uintptr_t)start_info->modules[0].va,
        .image_size = start_info->modules[0].size_bytes,
        .pages = pages,
        .max_pages = pages + FUZZ_EXTRA_PAGES,
        .vcpus = vcpus,
        .cmdline = cmdline,
        .mem_slot = HV_ROOT_SLOT_MEMORY,
        .dom_slot = dom_slot,
        .console_slot = con_slot,
        .paused = true,
    };
    const char *detail = NULL;
    int64_t status = 0;
    const char *why = gk_build_domain(&spec, d, &detail, &status);
    if (why)
        gk_panic("fuzz: FAILED building %s: %s%s%s (%lld)", name, why, detail ? ": " : "",
                 detail ? detail : "", (long long)status);
}

static uint64_t seed_g;
static uint8_t granted_page[4096] __attribute__((aligned(4096)));

static struct hv_test_check audit(const char *when)
{
    struct hv_test_check c;
    memset(&c, 0, sizeof(c));
    int64_t rc = gk_hypercall3(HC_TEST_OP, HV_TEST_CHECK, (uint64_t)(uintptr_t)&c, 0);
    if (rc != HV_OK)
        gk_panic("fuzz: FAILED HC_TEST_OP (%lld): boot the test image, hv-test.elf", (long long)rc);
    gk_printf("fuzz: audit %s: %u differences in %llu frames and %llu capabilities, %llu "
              "frames free%s%s\n",
              when, c.errors, (unsigned long long)c.frames_checked,
              (unsigned long long)c.caps_checked, (unsigned long long)c.frames_free,
              c.errors ? "; first: " : "", c.errors ? c.first : "");
    if (c.errors) {
        failures++;
        gk_printf("fuzz: FAILED the hypervisor's invariants (seed %llu)\n",
                  (unsigned long long)seed_g);
    }
    return c;
}

/* The pool's free frames (HV_DOMCTL_HOST_INFO; the audit's figure is lower
 * by the frames it borrows while it runs). */
static uint64_t frames_free_now(void)
{
    static struct hv_host_info host;
    host.slot = HV_ROOT_SLOT_MEMORY;
    if (gk_hc_domain_op(HV_DOMCTL_HOST_INFO, &host) != HV_OK)
        gk_panic("fuzz: FAILED HV_DOMCTL_HOST_INFO");
    return host.frames_free;
}

static uint32_t dom_state(uint32_t slot, uint32_t *reason)
{
    struct hv_domctl_info info = {.dom_slot = slot};
    if (gk_hc_domain_op(HV_DOMCTL_INFO, &info) != HV_OK)
        return ~0u;
    *reason = info.shutdown_reason;
    return info.state;
}

static void test_fuzz(void)
{
    char buf[24];
    uint64_t calls = 100000, batch = 10000;
    seed_g = 1;
    if (gk_cmdline_get("seed", buf, sizeof(buf)) > 0)
        seed_g = strtoull(buf, NULL, 0);
    if (gk_cmdline_get("calls", buf, sizeof(buf)) > 0)
        calls = strtoull(buf, NULL, 0);
    if (gk_cmdline_get("batch", buf, sizeof(buf)) > 0)
        batch = strtoull(buf, NULL, 0);
    gk_printf("fuzz: seed %llu, %llu calls, an audit after every %llu\n",
              (unsigned long long)seed_g, (unsigned long long)calls, (unsigned long long)batch);
    uint64_t free_before = frames_free_now();
    struct hv_test_check before = audit("before");
    /* The audit's own test: one reference too many on one of the root's
     * frames must be reported, exactly once. */
    struct hv_test_check probe = {.inject = 1};
    if (gk_hypercall3(HC_TEST_OP, HV_TEST_CHECK, (uint64_t)(uintptr_t)&probe, 0) != HV_OK ||
        probe.errors != 1) {
        gk_printf("fuzz: FAILED the audit missed a reference nobody holds (%u differences)\n",
                  probe.errors);
        failures++;
    } else {
        gk_printf("fuzz: the audit reports a reference nobody holds: %s\n", probe.first);
    }

    static char work_cmd[64], fuzz_cmd[128];
    snprintf(work_cmd, sizeof(work_cmd), "fuzz role=work seed=%llu", (unsigned long long)seed_g);
    struct gk_built_domain w, f;
    build(&w, "work", work_cmd, WORK_PAGES, 1, WORK_DOM_SLOT, WORK_CON_SLOT);
    /* The fuzzer is built knowing the workload's L4 and the reference of
     * a page the root grants it (so that grant maps, copies and queries
     * can succeed); it may grant to both and open channels to both. */
    build(&f, "fuzz", "fuzz role=fuzz", FUZZ_PAGES, FUZZ_VCPUS, FUZZ_DOM_SLOT, FUZZ_CON_SLOT);
    uint32_t rref = 0;
    if (gk_grant_page(FUZZ_DOM_SLOT, granted_page, true, &rref) != HV_OK)
        gk_panic("fuzz: FAILED grant the fuzzer a page");
    const uint32_t r = HV_CAP_R_DOM_GRANT | HV_CAP_R_DOM_EVTCHN | HV_CAP_R_DOM_STATE;
    if (gk_cap_copy(WORK_DOM_SLOT, FUZZ_DOM_SLOT, WORK_SLOT_IN_FUZZ, r, 0, 0) != HV_OK ||
        gk_cap_copy(HV_ROOT_SLOT_SELF, FUZZ_DOM_SLOT, ROOT_SLOT_IN_FUZZ, r, 0, 0) != HV_OK ||
        gk_cap_copy(HV_ROOT_SLOT_MEMORY, FUZZ_DOM_SLOT, MEM_SLOT_IN_FUZZ,
                    HV_CAP_R_MEM_CREATE_DOMAIN | HV_CAP_R_GRANT, 0, 0) != HV_OK ||
        gk_cap_copy(HV_ROOT_SLOT_IOPORT, FUZZ_DOM_SLOT, IO_SLOT_IN_FUZZ,
                    HV_CAP_R_IO_ALL | HV_CAP_R_GRANT, IO_BASE, IO_PORTS) != HV_OK ||
        gk_cap_copy(HV_ROOT_SLOT_IRQ, FUZZ_DOM_SLOT, IRQ_SLOT_IN_FUZZ,
                    HV_CAP_R_IRQ_ALL | HV_CAP_R_GRANT, IRQ_BASE, IRQ_LINES) != HV_OK ||
        gk_cap_copy(HV_ROOT_SLOT_MMIO, FUZZ_DOM_SLOT, MMIO_SLOT_IN_FUZZ,
                    HV_CAP_R_MMIO_ALL | HV_CAP_R_GRANT, MMIO_BASE, MMIO_FRAMES) != HV_OK ||
        gk_cap_copy(HV_ROOT_SLOT_DEVICE_FIRST, FUZZ_DOM_SLOT, PCI_SLOT_IN_FUZZ,
                    HV_CAP_R_PCI_CONFIG_READ | HV_CAP_R_GRANT, 0, 0) != HV_OK)
        gk_panic("fuzz: FAILED give the fuzzer its capabilities");
    snprintf(fuzz_cmd, sizeof(fuzz_cmd), "seed=%llu calls=%llu batch=%llu wl4=%llu rref=%u",
             (unsigned long long)seed_g, (unsigned long long)calls, (unsigned long long)batch,
             (unsigned long long)w.l4_mfn, rref);
    if (gk_console_write_input(FUZZ_CON_SLOT, fuzz_cmd, strlen(fuzz_cmd)) < 0 ||
        gk_console_write_input(FUZZ_CON_SLOT, "\n", 1) != 1)
        gk_panic("fuzz: FAILED tell the fuzzer its arguments");
    /* The longest stretch of hypervisor work from here to the end of the
     * run (HC_TEST_OP's own audits excluded). */
    struct hv_test_stats ts = {.reset = 1};
    if (gk_hypercall3(HC_TEST_OP, HV_TEST_STATS, (uint64_t)(uintptr_t)&ts, 0) != HV_OK)
        gk_panic("fuzz: FAILED HV_TEST_STATS");
    if (gk_domain_start(&w) != HV_OK || gk_domain_start(&f) != HV_OK)
        gk_panic("fuzz: FAILED start the domains");

    uint32_t reason = 0, st;
    for (;;) {
        st = dom_state(f.dom_slot, &reason);
        if (st == HV_DOMSTATE_SHUTDOWN || st == ~0u)
            break;
        if (dom_state(w.dom_slot, &reason) == HV_DOMSTATE_SHUTDOWN) {
            gk_printf("fuzz: FAILED the workload stopped during the run (reason %u, seed %llu)\n",
                      reason, (unsigned long long)seed_g);
            failures++;
            break;
        }
        /* Its VCPU 0 makes the calls: offline, the run would never end. */
        struct hv_domctl_vcpu_info vi = {.dom_slot = f.dom_slot, .vcpu = 0};
        if (gk_hc_domain_op(HV_DOMCTL_VCPU_INFO, &vi) == HV_OK && vi.state == HV_VCPU_OFFLINE &&
            dom_state(f.dom_slot, &reason) == HV_DOMSTATE_RUNNING) {
            gk_printf("fuzz: FAILED the fuzzer's VCPU 0 went offline (seed %llu)\n",
                      (unsigned long long)seed_g);
            failures++;
            break;
        }
        gk_sleep_ms(10);
    }
    ts = (struct hv_test_stats){.reset = 1};
    if (gk_hypercall3(HC_TEST_OP, HV_TEST_STATS, (uint64_t)(uintptr_t)&ts, 0) != HV_OK)
        gk_panic("fuzz: FAILED HV_TEST_STATS");
    gk_printf("fuzz: longest stretch of hypervisor work during the run: %llu ns (hypercall %lld, "
              "command %llu), %llu hypercalls (seed %llu)\n",
              (unsigned long long)ts.longest_ns, (long long)ts.longest_nr,
              (unsigned long long)ts.longest_arg0, (unsigned long long)ts.hypercalls,
              (unsigned long long)seed_g);
    st = dom_state(f.dom_slot, &reason);
    if (st != HV_DOMSTATE_SHUTDOWN || reason != HV_SHUTDOWN_POWEROFF) {
        gk_printf("fuzz: FAILED the fuzzer died (state %u, reason %u, seed %llu)\n", st, reason,
                  (unsigned long long)seed_g);
        failures++;
    }
    /* The workload: asked to stop, it ends after its current round. */
    struct hv_domctl_shutdown_request sr = {.dom_slot = WORK_DOM_SLOT,
                                            .reason = HV_SHUTDOWN_POWEROFF};
    gk_hc_domain_op(HV_DOMCTL_SHUTDOWN_REQUEST, &sr);
    for (unsigned i = 0; i < 10000 && dom_state(w.dom_slot, &reason) != HV_DOMSTATE_SHUTDOWN; i++)
        gk_sleep_ms(1);
    if (dom_state(w.dom_slot, &reason) != HV_DOMSTATE_SHUTDOWN || reason != HV_SHUTDOWN_POWEROFF) {
        gk_printf("fuzz: FAILED the workload did not end cleanly (reason %u, seed %llu)\n", reason,
                  (unsigned long long)seed_g);
        failures++;
    }
    audit("with both stopped");
    if (gk_domain_destroy(&f) != HV_OK || gk_domain_destroy(&w) != HV_OK)
        gk_panic("fuzz: FAILED destroy the domains");
    int64_t rc = HV_EBUSY;
    for (unsigned i = 0; i < 1000 && (rc = gk_grant_end(rref)) == HV_EBUSY; i++)
        gk_sleep_ms(1);
    if (rc != HV_OK) {
        gk_printf("fuzz: FAILED end the grant to the fuzzer (%lld, seed %llu)\n", (long long)rc,
                  (unsigned long long)seed_g);
        failures++;
    }
    /* The fuzzer's own domains die with it (their last capability was in
     * its table), torn down in bounded steps: wait until every frame is
     * back (at most 2 s of system time), then audit. */
    unsigned waited = 0;
    while (frames_free_now() != free_before && waited < 2000) {
        gk_sleep_ms(1);
        waited++;
    }
    gk_printf("fuzz: %llu frames free after %u ms (%llu before the run)\n",
              (unsigned long long)frames_free_now(), waited, (unsigned long long)free_before);
    struct hv_test_check after = audit("after destroying both");
    gk_printf("fuzz: seed %llu: %llu calls; free frames %llu before, %llu after\n",
              (unsigned long long)seed_g, (unsigned long long)calls,
              (unsigned long long)before.frames_free, (unsigned long long)after.frames_free);
    if (after.frames_free != before.frames_free || frames_free_now() != free_before) {
        gk_printf("fuzz: FAILED frames lost (seed %llu)\n", (unsigned long long)seed_g);
        failures++;
    }
}

int main(const struct hv_start_info *si)
{
    start_info = si;
    char role[16] = "";
    if (gk_mm_init(si) != 0)
        gk_panic("fuzz: gk_mm_init failed");
    if (gk_cmdline_get("role", role, sizeof(role)) > 0) {
        if (strcmp(role, "fuzz") == 0)
            role_fuzz(si);
        if (strcmp(role, "work") == 0)
            role_work();
        gk_panic("fuzz: FAILED unknown role \"%s\"", role);
    }
    if (si->modules_count < 1)
        gk_panic("fuzz: FAILED no module to build the domains from");
    test_fuzz();
    if (failures)
        gk_panic("fuzz: %d checks FAILED (seed %llu)", failures, (unsigned long long)seed_g);
    gk_printf("fuzz: ok\n");
    gk_shutdown(HV_SHUTDOWN_POWEROFF);
}
