/*
 * Hostile-guest tests of issue 20 (isolation and availability bugs a
 * hostile guest found). One image, roles chosen on the command line; the
 * root is booted with this image as module 0 and again as module 1, from
 * which it builds its children.
 *
 *   root (boot module 0), test=<name>:
 *     vcpus - a 2-VCPU child names VCPUs it does not have in every call
 *             that takes a VCPU number (BIND_VIRQ, BIND_IPI, BIND_VCPU,
 *             TLB_FLUSH_VCPUS, VCPU_START/PIN/INFO/CAP): HV_EINVAL each,
 *             and the same calls with its own VCPUs work, also through a
 *             VCPU capability to a VCPU that never ran (a hypervisor fault
 *             the hypercall fuzzer found).
 *     giveback - issue 20 item 1 on one CPU: map a fresh frame F, write it,
 *             unmap it with HC_MMU_UPDATE (no flush), give it back
 *             (HV_MEMOP_DECREASE): the next write through the old address
 *             must fault (before the fix it went into the free frame).
 *     giveback_smp - the same with the stale translation on another CPU:
 *             VCPU 1 (CPU 1) keeps writing F; VCPU 0 (CPU 0) unmaps it and
 *             gives it back while a child (CPU 2) allocates, checks and
 *             gives back frames as fast as it can. No write VCPU 1 makes
 *             after it saw the DECREASE return may succeed; every frame
 *             the child gets must be all zero.
 *     timer - issue 20 item 2, on 2 CPUs under -icount: VCPU 1, alone on
 *             CPU 1, re-arms its timer 20,000 times alternating deadlines
 *             near ~0 and now + 1 us, cancels it, sleeps 1 ms five times
 *             (each wake-up on time: the timer still works) and makes
 *             10,000 HC_YIELDs, which must take well under a second of
 *             system time (before the fix a lone yield waited for the end
 *             of its slice, 10 ms: 100 s; now it halts at most 50 us). Then a child spinning on CPU 1
 *             next to VCPU 1, which re-arms 2,000 times and yields in a
 *             loop, must keep its half of the CPU.
 *     bounded - issue 12 section 3, on the test image (hv-test.elf, which
 *             times every stretch of hypervisor work: HC_TEST_OP), one
 *             CPU, -icount (one ns = one instruction): the worst a guest
 *             can build, and the longest single hypercall while it is
 *             built and taken apart. A child fills its memory with page
 *             tables (an L4, an L3, L2s and every other frame a full L1)
 *             and pins, unpins, cuts and re-links the tree; the root builds
 *             capability chains hundreds deep across two tables and
 *             revokes them, copies an endpoint capability into every free
 *             slot and closes the port, copies the child's domain
 *             capability into every free slot and destroys the child;
 *             maps 512 device frames through a copy of its MMIO
 *             capability and deletes it (the sweep of its tables in steps).
 *             Prints each operation's longest stretch and the longest of
 *             all, which must stay under BOUNDED_NS.
 *     reap - domains whose last capabilities were in a holder's table die
 *             together when the root destroys the holder; deferred work
 *             tears them down, and every frame must come back (found by
 *             the hypercall fuzzer: the round-robin step skipped domains
 *             and left them DEAD, their frames lost).
 *     cycles - capability cycles: never-started domains that name
 *             themselves, each other (pairs, a ring with a tail, four all
 *             naming all) and their own consoles; the root deletes its
 *             capabilities, or destroys one of them: every frame must come
 *             back. Then a running child naming itself creates a domain
 *             that names the child and itself, and the root lets go of
 *             the child: both go (before the fix every one of them lived
 *             on with its frames).
 *     nostart - every way a never-started domain can fail to be made or
 *             end (creation refused part-way: read-only arguments, a full
 *             domain table, no free frame; destroyed or its last
 *             capability deleted with frames, a VCPU capability, its own
 *             console capability, paused, asked to shut down): nothing is
 *             left behind (the unexplained leak of the fuzzer's campaign 1).
 *   child (built by the root), role=<name>: see each test.
 *
 * Every check prints a line; a failed one contains "FAILED". The root ends
 * with "harden: <test>: ok" and a poweroff, or a panic (root_crash).
 */
#include "gk/builder.h"
#include "gk/cap.h"
#include "gk/console.h"
#include "gk/grant.h"
#include "gk/event.h"
#include "gk/gk.h"
#include "gk/mm.h"
#include "gk/spinlock.h"
#include "gk/time.h"
#include "gk/trap.h"
#include "gk/vcpu.h"
#include "hv/test_op.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHILD_PAGES 512u      /* TABLES_PAGES + 64 for role=tables */
#define TABLES_PAGES 8192u    /* role=tables: 32 MiB, nearly all of it page tables */
#define CHILD_EXTRA_PAGES 16u /* its headroom to allocate (giveback_smp) */
#define CHILD_DOM_SLOT 20u
#define CHILD_CON_SLOT 21u
#define ROOT_SLOT_IN_CHILD 0u /* the root's domain capability in a child */
#define CHILD_SHARED_VA 0x40000000ull
#define STACK_BYTES 16384u
#define GIVE_VA 0x60000000ull  /* where the frame given back is mapped */
#define CHILD_VA 0x60400000ull /* where a child maps the frames it allocates */
#define MARKER 0x5a5a0000deadbeefull
#define FAULTED 0xfa17fa17fa17fa17ull

/* The page the root grants to its child. */
struct shared_page {
    volatile uint64_t stop;   /* root -> child */
    volatile uint64_t rounds; /* child: frames allocated, checked and given back */
    volatile uint64_t bad;    /* child: frames found not all zero (or changed under it) */
    volatile uint64_t last_bad_word;
};
static union {
    struct shared_page p;
    uint8_t bytes[4096];
} shared_page_mem __attribute__((aligned(4096)));
static struct shared_page *page = &shared_page_mem.p;
static uint8_t stacks[4][STACK_BYTES] __attribute__((aligned(16)));

static int failures;
static const char *who = "";

static void check(const char *what, bool ok)
{
    if (!ok)
        failures++;
    gk_printf("harden: %s: %s%s\n", who, ok ? "" : "FAILED ", what);
}

static void expect(const char *what, int64_t got, int64_t want)
{
    if (got != want) {
        failures++;
        gk_printf("harden: %s: FAILED %s: got %lld, want %lld\n", who, what, (long long)got,
                  (long long)want);
    } else {
        gk_printf("harden: %s: %s -> %lld\n", who, what, (long long)got);
    }
}

/* --- the root's children ------------------------------------------------------- */

static const struct hv_start_info *start_info;

static int64_t pin(uint32_t slot, unsigned vcpu, uint64_t mask)
{
    struct hv_domctl_vcpu_pin p = {.dom_slot = slot, .vcpu = vcpu, .cpu_mask = mask};
    return gk_hc_domain_op(HV_DOMCTL_VCPU_PIN, &p);
}

static int64_t vcpu_info(uint32_t slot, unsigned vcpu, struct hv_domctl_vcpu_info *out)
{
    memset(out, 0, sizeof(*out));
    out->dom_slot = slot;
    out->vcpu = vcpu;
    return gk_hc_domain_op(HV_DOMCTL_VCPU_INFO, out);
}

/* Builds a copy of module 0 named `name` with `vcpus` VCPUs and the command
 * line "harden role=<role>", its VCPUs pinned to cpu_mask (0: any CPU), and
 * leaves it paused: child_share_and_start starts it (child_build at once). */
static void child_build_pinned(struct gk_built_domain *d, const char *name, const char *role,
                               unsigned vcpus, uint64_t cpu_mask);

static void child_build(struct gk_built_domain *d, const char *name, const char *role,
                        unsigned vcpus)
{
    child_build_pinned(d, name, role, vcpus, 0);
    if (gk_domain_start(d) != HV_OK)
        gk_panic("harden: FAILED start %s", name);
}

static void child_build_pinned(struct gk_built_domain *d, const char *name, const char *role,
                               unsigned vcpus, uint64_t cpu_mask)
{
    static char cmdline[48];
    snprintf(cmdline, sizeof(cmdline), "harden role=%s", role);
    if (start_info->modules_count < 1)
        gk_panic("harden: FAILED no module to build a child from");
    struct gk_build_spec spec = {
        .name = name,
        .image = (const void *)(uintptr_t)start_info->modules[0].va,
        .image_size = start_info->modules[0].size_bytes,
        .pages = strcmp(role, "tables") == 0 ? TABLES_PAGES + 64 : CHILD_PAGES,
        .vcpus = vcpus,
        .cmdline = cmdline,
        .mem_slot = HV_ROOT_SLOT_MEMORY,
        .max_pages =
            (strcmp(role, "tables") == 0 ? TABLES_PAGES + 64 : CHILD_PAGES) + CHILD_EXTRA_PAGES,
        .dom_slot = CHILD_DOM_SLOT,
        .console_slot = CHILD_CON_SLOT,
        .paused = true,
    };
    const char *detail = NULL;
    int64_t status = 0;
    const char *why = gk_build_domain(&spec, d, &detail, &status);
    if (why)
        gk_panic("harden: FAILED building %s: %s%s%s (%lld)", name, why, detail ? ": " : "",
                 detail ? detail : "", (long long)status);
    if (!cpu_mask)
        return;
    for (unsigned i = 0; i < vcpus; i++)
        if (pin(d->dom_slot, i, cpu_mask) != HV_OK)
            gk_panic("harden: FAILED pin %s's VCPU %u", name, i);
}

/* Grants the child `page` and tells it the reference on its console, then
 * starts it. The child maps it with child_map_page. */
static uint32_t child_share_and_start(struct gk_built_domain *d)
{
    uint32_t ref = 0;
    memset(&shared_page_mem, 0, sizeof(shared_page_mem));
    if (gk_cap_copy(HV_ROOT_SLOT_SELF, d->dom_slot, ROOT_SLOT_IN_CHILD, HV_CAP_R_DOM_GRANT, 0, 0) !=
            HV_OK ||
        gk_grant_page(d->dom_slot, &shared_page_mem, true, &ref) != HV_OK)
        gk_panic("harden: FAILED to share a page with the child");
    char line[32];
    int n = snprintf(line, sizeof(line), "ref=%u\n", ref);
    if (gk_console_write_input(d->console_slot, line, (size_t)n) != n)
        gk_panic("harden: FAILED console input to the child");
    if (!d->started && gk_domain_start(d) != HV_OK)
        gk_panic("harden: FAILED start the child");
    return ref;
}

/* In a child: reads "ref=<r>" from the console and maps the root's page. */
static void child_map_page(void)
{
    char line[32];
    size_t n = 0;
    while (n < sizeof(line) - 1 && (n == 0 || line[n - 1] != '\n')) {
        int64_t got = gk_console_read(line + n, sizeof(line) - 1 - n);
        if (got <= 0)
            gk_panic("harden: child: no reference on the console");
        n += (size_t)got;
    }
    line[n] = 0;
    const char *p = strstr(line, "ref=");
    if (!p || gk_grant_map(ROOT_SLOT_IN_CHILD, (uint32_t)strtoul(p + 4, NULL, 10), CHILD_SHARED_VA,
                           true) != HV_OK)
        gk_panic("harden: child: cannot map the root's page");
    page = (struct shared_page *)(uintptr_t)CHILD_SHARED_VA;
}

/* Destroys the child and ends the grant of the shared page (the child's
 * mapping goes when the hypervisor has torn it down). */
static void child_destroy(struct gk_built_domain *d, uint32_t ref)
{
    expect("destroy the child", gk_domain_destroy(d), HV_OK);
    int64_t rc = HV_EBUSY;
    for (unsigned i = 0; i < 1000 && (rc = gk_grant_end(ref)) == HV_EBUSY; i++)
        gk_sleep_ms(1);
    expect("end the grant of the shared page", rc, HV_OK);
}

/* Waits (sleeping, at most `ms` milliseconds of system time) until the
 * child has shut down; its state and shutdown reason in *info. */
static bool child_wait_shutdown(const struct gk_built_domain *d, unsigned ms,
                                struct hv_domctl_info *info)
{
    for (unsigned i = 0; i < ms; i++) {
        memset(info, 0, sizeof(*info));
        info->dom_slot = d->dom_slot;
        if (gk_hc_domain_op(HV_DOMCTL_INFO, info) != HV_OK)
            return false;
        if (info->state == HV_DOMSTATE_SHUTDOWN)
            return true;
        gk_sleep_ms(1);
    }
    return false;
}

/* --- vcpus: every VCPU number a guest gives is checked (issue 20 item 3) ------- */

static int64_t bind_virq(uint32_t virq, uint32_t vcpu, uint32_t *port)
{
    struct hv_evtchn_bind_virq a = {.virq = virq, .vcpu = vcpu};
    int64_t rc = gk_hc_evtchn_op(HV_EVTCHN_BIND_VIRQ, &a);
    if (port)
        *port = a.port;
    return rc;
}

static int64_t bind_ipi(uint32_t vcpu, uint32_t *port)
{
    struct hv_evtchn_bind_ipi a = {.vcpu = vcpu};
    int64_t rc = gk_hc_evtchn_op(HV_EVTCHN_BIND_IPI, &a);
    if (port)
        *port = a.port;
    return rc;
}

static int64_t bind_vcpu(uint32_t port, uint32_t vcpu)
{
    struct hv_evtchn_port_args a = {.port = port, .vcpu = vcpu};
    return gk_hc_evtchn_op(HV_EVTCHN_BIND_VCPU, &a);
}

static void child_vcpus(void)
{
    unsigned n = gk_vcpu_count();
    expect("my VCPU count", n, 2);
    /* VCPUs 2 and 7 do not exist: every call naming them is HV_EINVAL. */
    static const uint32_t absent[] = {2, 5, 7, 8, 31, 32, 0xffffffffu};
    char what[64];
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
        uint32_t v = absent[i];
        snprintf(what, sizeof(what), "BIND_VIRQ(timer, vcpu %u)", v);
        expect(what, bind_virq(HV_VIRQ_TIMER, v, NULL), HV_EINVAL);
        snprintf(what, sizeof(what), "BIND_VIRQ(debug, vcpu %u)", v);
        expect(what, bind_virq(HV_VIRQ_DEBUG, v, NULL), HV_EINVAL);
        snprintf(what, sizeof(what), "BIND_IPI(vcpu %u)", v);
        expect(what, bind_ipi(v, NULL), HV_EINVAL);
    }
    struct hv_evtchn_alloc_unbound au = {.remote_domain_slot = HV_CAP_SLOT_SELF};
    expect("allocate a loopback port", gk_hc_evtchn_op(HV_EVTCHN_ALLOC_UNBOUND, &au), HV_OK);
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
        snprintf(what, sizeof(what), "BIND_VCPU(port, vcpu %u)", absent[i]);
        expect(what, bind_vcpu(au.port, absent[i]), HV_EINVAL);
    }
    expect("TLB_FLUSH_VCPUS(VCPU 2)", gk_hc_mmuext_op(HV_MMUEXT_TLB_FLUSH_VCPUS, 1u << 2),
           HV_EINVAL);
    expect("TLB_FLUSH_VCPUS(VCPU 7)", gk_hc_mmuext_op(HV_MMUEXT_TLB_FLUSH_VCPUS, 1u << 7),
           HV_EINVAL);
    expect("TLB_FLUSH_VCPUS(VCPUs 0, 1, 5)", gk_hc_mmuext_op(HV_MMUEXT_TLB_FLUSH_VCPUS, 0x23),
           HV_EINVAL);
    struct hv_domctl_vcpu_pin pin = {.dom_slot = HV_CAP_SLOT_SELF, .vcpu = 2, .cpu_mask = 1};
    expect("VCPU_PIN(vcpu 2)", gk_hc_domain_op(HV_DOMCTL_VCPU_PIN, &pin), HV_EINVAL);
    struct hv_domctl_vcpu_info vi = {.dom_slot = HV_CAP_SLOT_SELF, .vcpu = 3};
    expect("VCPU_INFO(vcpu 3)", gk_hc_domain_op(HV_DOMCTL_VCPU_INFO, &vi), HV_EINVAL);
    struct hv_domctl_vcpu_start vs = {
        .dom_slot = HV_CAP_SLOT_SELF, .vcpu = 2, .rip = 0x400000, .rsp = 0x400000};
    expect("VCPU_START(vcpu 2)", gk_hc_domain_op(HV_DOMCTL_VCPU_START, &vs), HV_EINVAL);
    struct hv_domctl_vcpu_cap vc = {
        .dom_slot = HV_CAP_SLOT_SELF, .vcpu = 2, .dst_slot = 100, .rights = HV_CAP_R_VCPU_ALL};
    expect("VCPU_CAP(vcpu 2)", gk_hc_domain_op(HV_DOMCTL_VCPU_CAP, &vc), HV_EINVAL);

    /* The VCPUs it has work. */
    uint32_t port = 0;
    expect("BIND_VIRQ(debug, vcpu 1)", bind_virq(HV_VIRQ_DEBUG, 1, &port), HV_OK);
    expect("BIND_IPI(vcpu 1)", bind_ipi(1, &port), HV_OK);
    expect("BIND_VCPU(port, vcpu 1)", bind_vcpu(au.port, 1), HV_OK);
    expect("TLB_FLUSH_VCPUS(VCPUs 0, 1)", gk_hc_mmuext_op(HV_MMUEXT_TLB_FLUSH_VCPUS, 0x3), HV_OK);
    vi.vcpu = 1;
    expect("VCPU_INFO(vcpu 1)", gk_hc_domain_op(HV_DOMCTL_VCPU_INFO, &vi), HV_OK);

    /* A VCPU capability to VCPU 1, which never ran, in dom_slot: the
     * hypervisor finds its domain (found by the hypercall fuzzer: before
     * the fix a VCPU that never ran had no domain and this was a
     * hypervisor fault). */
    struct hv_domctl_vcpu_cap vc1 = {
        .dom_slot = HV_CAP_SLOT_SELF, .vcpu = 1, .dst_slot = 100, .rights = HV_CAP_R_VCPU_ALL};
    expect("VCPU_CAP(vcpu 1)", gk_hc_domain_op(HV_DOMCTL_VCPU_CAP, &vc1), HV_OK);
    struct hv_domctl_vcpu_info vi1 = {.dom_slot = 100, .vcpu = 1};
    expect("VCPU_INFO(its VCPU capability to vcpu 1, never run)",
           gk_hc_domain_op(HV_DOMCTL_VCPU_INFO, &vi1), HV_OK);
    expect("VCPU 1 is offline", vi1.state, HV_VCPU_OFFLINE);
    struct hv_domctl_vcpu_pin pin1 = {.dom_slot = 100, .vcpu = 1, .cpu_mask = 1};
    expect("VCPU_PIN(its VCPU capability to vcpu 1)", gk_hc_domain_op(HV_DOMCTL_VCPU_PIN, &pin1),
           HV_OK);
    vi1.vcpu = 0;
    expect("VCPU_INFO(its VCPU capability to vcpu 1, naming vcpu 0)",
           gk_hc_domain_op(HV_DOMCTL_VCPU_INFO, &vi1), HV_EPERM);
    if (failures)
        gk_panic("harden: vcpus: %d checks FAILED", failures);
    gk_printf("harden: vcpus: all checks held\n");
    gk_shutdown(HV_SHUTDOWN_POWEROFF);
}

static void test_vcpus(void)
{
    struct gk_built_domain d;
    child_build(&d, "vcpus", "vcpus", 2);
    struct hv_domctl_info info;
    check("the 2-VCPU child ran its checks and shut down", child_wait_shutdown(&d, 5000, &info));
    expect("it powered off (no check failed)", info.shutdown_reason, HV_SHUTDOWN_POWEROFF);
    expect("destroy it", gk_domain_destroy(&d), HV_OK);
}

/* --- reap: domains torn down by deferred work all finish (hypercall fuzzer) ----- */

static uint64_t frames_free_now(void)
{
    static struct hv_host_info host;
    host.slot = HV_ROOT_SLOT_MEMORY;
    if (gk_hc_domain_op(HV_DOMCTL_HOST_INFO, &host) != HV_OK)
        gk_panic("harden: FAILED HV_DOMCTL_HOST_INFO");
    return host.frames_free;
}

/* HV_DOMCTL_CREATE of a domain that is never started, its domain
 * capability in slot and its console capability in slot + 1. */
static int64_t create_unstarted(uint32_t slot, const char *name, uint32_t vcpus, uint64_t max_pages)
{
    struct hv_domctl_create c = {.mem_slot = HV_ROOT_SLOT_MEMORY,
                                 .dom_slot = slot,
                                 .console_slot = slot + 1,
                                 .vcpus = vcpus,
                                 .max_pages = max_pages};
    snprintf(c.name, sizeof(c.name), "%s", name);
    return gk_hc_domain_op(HV_DOMCTL_CREATE, &c);
}

#define REAP_HOLDER_SLOT 40u
#define REAP_DOMAINS 4u

/*
 * A holder domain H has the only capabilities to REAP_DOMAINS domains; the
 * root destroys H, so those domains die together when H's table is
 * cleared, and nobody owes their teardown: deferred work takes their
 * steps, round robin. Found by the hypercall fuzzer (seed
 * 34830356860347): when one of them finished in a step, the round-robin
 * scan skipped the next ones and nothing stepped them again: their frames
 * stayed DEAD for good. Every frame must come back.
 */
static void test_reap(void)
{
    uint64_t before = frames_free_now();
    for (unsigned round = 0; round < 3; round++) {
        expect("create the holder", create_unstarted(REAP_HOLDER_SLOT, "holder", 1, 16), HV_OK);
        for (unsigned i = 0; i < REAP_DOMAINS; i++) {
            uint32_t slot = REAP_HOLDER_SLOT + 2 + 2 * i;
            char name[16];
            snprintf(name, sizeof(name), "reap%u", i);
            expect("create a domain", create_unstarted(slot, name, 1, 16), HV_OK);
            expect("give the holder its capability",
                   gk_cap_copy(slot, REAP_HOLDER_SLOT, 10 + i, HV_CAP_R_DOM_STATE, 0, 0), HV_OK);
            expect("delete the root's", gk_cap_delete(slot), HV_OK);
            expect("delete the root's console capability", gk_cap_delete(slot + 1), HV_OK);
        }
        expect("destroy the holder", gk_domain_destroy_slot(REAP_HOLDER_SLOT), HV_OK);
        unsigned ms = 0;
        while (frames_free_now() != before && ms < 1000) {
            gk_sleep_ms(1);
            ms++;
        }
        gk_printf("harden: reap: round %u: %llu frames free before, %llu after %u ms\n", round,
                  (unsigned long long)before, (unsigned long long)frames_free_now(), ms);
        check("every frame of the domains that died with the holder came back",
              frames_free_now() == before);
    }
}

/* --- cycles: capabilities that name their own holder keep nobody alive --------- */

#define CYC_SLOT 60u /* the root's slots for the domains of a round: 60, 62, ... */
#define CYC_MAX 4u

/* Copies the root's capability in src into slot dst of the domain in
 * holder's table. */
static void cyc_give(uint32_t src, uint32_t holder, uint32_t dst)
{
    expect("copy a capability into a domain's table",
           gk_cap_copy(src, holder, dst, HV_CAP_R_DOM_ALL | HV_CAP_R_GRANT, 0, 0), HV_OK);
}

/* Waits (at most 1 s of system time) until `want` frames are free. */
static bool frames_back(uint64_t want, const char *what)
{
    unsigned ms = 0;
    while (frames_free_now() != want && ms < 1000) {
        gk_sleep_ms(1);
        ms++;
    }
    gk_printf("harden: %s: %s: %llu frames free, %llu wanted, after %u ms\n", who, what,
              (unsigned long long)frames_free_now(), (unsigned long long)want, ms);
    return frames_free_now() == want;
}

/*
 * One round: n never-started domains in the root's slots CYC_SLOT + 2i;
 * edges[i] lists, for domain i, the domains j whose capability it gets
 * (bit j), the console capability of domain i too when `console` (an
 * object it owns). Then the root lets go of all of them, by deleting its
 * capabilities (destroy < 0) or by destroying domain `destroy` and
 * deleting the rest; every frame must come back.
 */
static void cyc_round(const char *what, unsigned n, const uint8_t edges[], bool console,
                      int destroy)
{
    uint64_t before = frames_free_now();
    char name[16];
    for (unsigned i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "cyc%u", i);
        expect("create a domain", create_unstarted(CYC_SLOT + 2 * i, name, 1, 16), HV_OK);
    }
    for (unsigned i = 0; i < n; i++) {
        for (unsigned j = 0; j < n; j++)
            if (edges[i] & (1u << j))
                cyc_give(CYC_SLOT + 2 * j, CYC_SLOT + 2 * i, 10 + j);
        if (console)
            expect("give a domain its own console capability",
                   gk_cap_copy(CYC_SLOT + 2 * i + 1, CYC_SLOT + 2 * i, 20, HV_CAP_R_CON_ALL, 0, 0),
                   HV_OK);
    }
    /* The consoles first: a destroyed domain's go with it. */
    for (unsigned i = 0; i < n; i++)
        expect("delete the root's console capability", gk_cap_delete(CYC_SLOT + 2 * i + 1), HV_OK);
    for (unsigned i = 0; i < n; i++) {
        uint32_t slot = CYC_SLOT + 2 * i;
        if ((int)i == destroy)
            expect("destroy it", gk_domain_destroy_slot(slot), HV_OK);
        else
            expect("delete the root's domain capability", gk_cap_delete(slot), HV_OK);
    }
    check(what, frames_back(before, what));
}

/*
 * A child C (started, running this image, role=cycle) holds a capability
 * to itself and creates a domain G of its own, which it gives a capability
 * to C and to G itself; then the root lets go of C. C and G name each
 * other and themselves, nothing else names them: both must go.
 */
static void cyc_running_child(void)
{
    struct gk_built_domain d;
    child_build_pinned(&d, "cycler", "cycle", 1, 0);
    expect("give the child a capability to itself",
           gk_cap_copy(d.dom_slot, d.dom_slot, 1, HV_CAP_R_DOM_ALL | HV_CAP_R_GRANT, 0, 0), HV_OK);
    expect("give the child memory to create a domain",
           gk_cap_copy(HV_ROOT_SLOT_MEMORY, d.dom_slot, 2, HV_CAP_R_MEM_CREATE_DOMAIN, 0, 0),
           HV_OK);
    uint32_t ref = child_share_and_start(&d);
    for (unsigned ms = 0; page->rounds == 0 && ms < 5000; ms++)
        gk_sleep_ms(1);
    check("the child built its cycle", page->rounds == 1);
    struct hv_domctl_info info;
    expect("its state", gk_domain_info(d.dom_slot, &info), HV_OK);
    uint64_t before = frames_free_now();
    expect("delete the root's console capability", gk_cap_delete(d.console_slot), HV_OK);
    expect("delete the root's capability to the child", gk_cap_delete(d.dom_slot), HV_OK);
    int64_t rc = HV_EBUSY;
    for (unsigned i = 0; i < 1000 && (rc = gk_grant_end(ref)) == HV_EBUSY; i++)
        gk_sleep_ms(1);
    expect("end the grant of the shared page (the child's mapping went with it)", rc, HV_OK);
    /* The child's frames and G's shared-info frame. */
    check("a running child and the domain it made, naming each other, are destroyed",
          frames_back(before + info.pages + 1, "running child and its domain"));
}

static void child_cycle(void)
{
    child_map_page();
    struct hv_domctl_create c = {
        .mem_slot = 2, .dom_slot = 3, .console_slot = 4, .vcpus = 1, .max_pages = 4};
    snprintf(c.name, sizeof(c.name), "cycled");
    expect("create a domain", gk_hc_domain_op(HV_DOMCTL_CREATE, &c), HV_OK);
    expect("give it a capability to me", gk_cap_copy(1, 3, 0, HV_CAP_R_DOM_STATE, 0, 0), HV_OK);
    expect("give it a capability to itself", gk_cap_copy(3, 3, 1, HV_CAP_R_DOM_STATE, 0, 0), HV_OK);
    page->rounds = failures ? 2 : 1;
    for (;;)
        gk_sleep_ms(1000);
}

static void test_cycles(void)
{
    static const uint8_t self[] = {1u << 0};
    static const uint8_t pair[] = {1u << 1, 1u << 0};
    /* A ring of three, the last also naming a fourth that names nothing. */
    static const uint8_t ring[] = {1u << 1, 1u << 2, 1u << 0 | 1u << 3, 0};
    /* Each names itself and every other one. */
    static const uint8_t all[] = {0xf, 0xf, 0xf, 0xf};
    cyc_round("a domain naming itself goes with the last outside capability", 1, self, false, -1);
    cyc_round("... also holding its own console capability", 1, self, true, -1);
    cyc_round("two domains naming each other go", 2, pair, false, -1);
    cyc_round("a ring of three and the domain it names go", 4, ring, true, -1);
    cyc_round("four domains naming each other and themselves go", 4, all, false, -1);
    cyc_round("a domain naming itself goes when destroyed", 1, self, true, 0);
    cyc_round("destroying one of two naming each other takes both", 2, pair, false, 0);
    cyc_round("destroying one of a ring takes the ring", 4, ring, false, 1);
    cyc_running_child();
}

/* --- nostart: every way a never-started domain ends gives its frames back ------ */

/* The root's slots for this test's domains: 180, 182, ... (after the devices'). */
#define NS_SLOT 180u
#define NS_FRAMES_MAX 32768u

static uint32_t ns_taken[NS_FRAMES_MAX];

static int64_t ns_create(uint32_t slot, uint64_t max_pages)
{
    return create_unstarted(slot, "nostart", 2, max_pages);
}

static bool slot_empty(uint32_t slot)
{
    struct hv_cap_info ci;
    return gk_cap_identify(slot, &ci) == HV_OK && ci.type == HV_CAP_NULL;
}

/*
 * The unexplained leak of the hypercall fuzzer's campaign 1 (a domain it
 * created, never started, outlived it with its shared-info frame): every
 * path on which a never-started domain can fail to be made or end, tried
 * directly. Creation refused part-way (its output not writable, no free
 * domain slot, no free frame for its shared info) must leave nothing
 * behind; a never-started domain (with frames assigned, a VCPU capability
 * minted, a console capability copied into it, paused and asked to shut
 * down, both refused or ignored) must give every frame back when destroyed and when its last
 * capability goes; a holder dying with the only capabilities (harden_reap)
 * and capability cycles (test=cycles) are tested on their own.
 */
static void test_nostart(void)
{
    uint64_t before = frames_free_now();

    /* Refused before anything is made: the arguments are read-only. */
    static const struct hv_domctl_create ro = {.mem_slot = HV_ROOT_SLOT_MEMORY,
                                               .dom_slot = NS_SLOT,
                                               .console_slot = NS_SLOT + 1,
                                               .vcpus = 1,
                                               .max_pages = 16,
                                               .name = "readonly"};
    expect("create with read-only arguments",
           gk_hc_domain_op(HV_DOMCTL_CREATE, (void *)(uintptr_t)&ro), HV_EFAULT);
    check("nothing was made", slot_empty(NS_SLOT) && frames_free_now() == before);

    /* No free domain slot: create until the table is full. */
    unsigned made = 0;
    int64_t rc = HV_OK;
    while (made < 37 && (rc = ns_create(NS_SLOT + 2 * made, 4)) == HV_OK)
        made++;
    gk_printf("harden: nostart: %u domains made before the table was full\n", made);
    expect("the create that finds the table full", rc, HV_ENOMEM);
    check("it made nothing", slot_empty(NS_SLOT + 2 * made) && frames_free_now() == before - made);
    for (unsigned i = 0; i < made; i++)
        expect("delete its capability", gk_cap_delete(NS_SLOT + 2 * i), HV_OK);
    check("every one gave its shared-info frame back", frames_back(before, "a full table"));

    /* Every free frame taken: the creator has no headroom left either (the
     * root's limit is all memory; a pool empty with headroom left needs
     * frames outside every quota, a zombie's), so the create is refused
     * before a domain slot is taken. */
    unsigned taken = 0;
    int64_t m;
    while (taken < NS_FRAMES_MAX && (m = gk_hc_memory_op(HV_MEMOP_INCREASE, 0)) >= 0)
        ns_taken[taken++] = (uint32_t)m;
    gk_printf("harden: nostart: took %u frames; %llu free\n", taken,
              (unsigned long long)frames_free_now());
    check("every free frame taken", frames_free_now() == 0);
    expect("create with no free frame", ns_create(NS_SLOT, 4), HV_ENOMEM);
    check("it made nothing", slot_empty(NS_SLOT) && slot_empty(NS_SLOT + 1));
    while (taken)
        if (gk_hc_memory_op(HV_MEMOP_DECREASE, ns_taken[--taken]) != HV_OK)
            gk_panic("harden: FAILED to give frame %#x back", ns_taken[taken]);
    check("every frame is back", frames_back(before, "no free frame"));

    /* Never started, with frames, a VCPU capability, its console capability
     * in its own table, paused, asked to shut down: destroyed (even) and
     * its last capability deleted (odd). */
    for (unsigned round = 0; round < 4; round++) {
        expect("create", ns_create(NS_SLOT, 64), HV_OK);
        struct hv_domctl_frame list[8];
        for (unsigned i = 0; i < 8; i++) {
            int64_t f = gk_hc_memory_op(HV_MEMOP_INCREASE, 0);
            if (f < 0)
                gk_panic("harden: FAILED HV_MEMOP_INCREASE (%lld)", (long long)f);
            list[i] = (struct hv_domctl_frame){.mfn = (uint64_t)f, .pfn = i};
        }
        struct hv_domctl_assign as = {
            .dom_slot = NS_SLOT, .count = 8, .list = (uint64_t)(uintptr_t)list};
        expect("assign it 8 frames", gk_hc_domain_op(HV_DOMCTL_ASSIGN, &as), HV_OK);
        struct hv_domctl_vcpu_cap vc = {
            .dom_slot = NS_SLOT, .vcpu = 1, .dst_slot = NS_SLOT + 2, .rights = HV_CAP_R_VCPU_ALL};
        expect("mint a capability to its VCPU 1", gk_hc_domain_op(HV_DOMCTL_VCPU_CAP, &vc), HV_OK);
        expect("give it its console capability",
               gk_cap_copy(NS_SLOT + 1, NS_SLOT, 5, HV_CAP_R_CON_ALL, 0, 0), HV_OK);
        if (round & 2) {
            expect("pause it (not running: refused)", gk_domain_pause(NS_SLOT), HV_EBUSY);
            struct hv_domctl_shutdown_request sr = {.dom_slot = NS_SLOT,
                                                    .reason = HV_SHUTDOWN_POWEROFF};
            int64_t r = gk_hc_domain_op(HV_DOMCTL_SHUTDOWN_REQUEST, &sr);
            gk_printf("harden: nostart: a shutdown request to it -> %lld\n", (long long)r);
        }
        if (round & 1) {
            expect("delete the console capability", gk_cap_delete(NS_SLOT + 1), HV_OK);
            expect("delete its last capability", gk_cap_delete(NS_SLOT), HV_OK);
        } else {
            expect("destroy it", gk_domain_destroy_slot(NS_SLOT), HV_OK);
        }
        check("its VCPU capability went with it", slot_empty(NS_SLOT + 2));
        check("its frames and its shared-info frame came back",
              frames_back(before, round & 1 ? "last capability deleted" : "destroyed"));
    }
}

/* --- giveback: a frame given back is unreachable at once (issue 20 item 1) ----- */

/* One store that may fault: returns 0, or FAULTED when the #PF handler
 * resumed it at store_fault. */
uint64_t store_may_fault(volatile uint64_t *p, uint64_t v);
void store_fault(void);
__asm__(".text\n"
        ".globl store_may_fault\n"
        "store_may_fault:\n"
        "    movq %rsi, (%rdi)\n"
        "    xorl %eax, %eax\n"
        "    ret\n"
        ".globl store_fault\n"
        "store_fault:\n"
        "    movabsq $0xfa17fa17fa17fa17, %rax\n"
        "    ret\n");

static volatile uint64_t pf_expected, pf_other;

static void on_pf(struct hv_bounce_frame *f)
{
    uint64_t addr = gk_trap_fault_addr();
    if (f->rip == (uint64_t)(uintptr_t)store_may_fault && (addr & ~0xfffull) == GIVE_VA) {
        pf_expected++;
        f->rip = (uint64_t)(uintptr_t)store_fault;
        return;
    }
    pf_other++;
    gk_panic("harden: FAILED unexpected page fault at %#llx, rip %#llx", (unsigned long long)addr,
             (unsigned long long)f->rip);
}

/* A fresh frame mapped writable at GIVE_VA, written once; its mfn. */
static uint64_t give_frame_prepare(void)
{
    int64_t m = gk_hc_memory_op(HV_MEMOP_INCREASE, 0);
    gk_assert(m > 0);
    expect("map a fresh frame F writable", gk_map_frame(GIVE_VA, (uint64_t)m, GK_PTE_RWDATA),
           HV_OK);
    expect("write F through its address",
           (int64_t)store_may_fault((volatile uint64_t *)(uintptr_t)GIVE_VA, MARKER), 0);
    return (uint64_t)m;
}

/* Unmaps F with a plain HC_MMU_UPDATE (no invlpg, no flush: the TLBs keep
 * the translation) and gives it back. */
static void give_frame_back(uint64_t m)
{
    uint64_t l1e = gk_pt_entry_maddr(GIVE_VA, 1);
    gk_assert(l1e != 0);
    expect("unmap F with HC_MMU_UPDATE (no flush)", gk_pt_write(l1e, 0), HV_OK);
    expect("give F back (HV_MEMOP_DECREASE)", gk_hc_memory_op(HV_MEMOP_DECREASE, m), HV_OK);
}

static void test_giveback(void)
{
    expect("#PF handler", gk_trap_set(14, on_pf), HV_OK);
    uint64_t m = give_frame_prepare();
    give_frame_back(m);
    uint64_t r = store_may_fault((volatile uint64_t *)(uintptr_t)GIVE_VA, MARKER + 1);
    if (r != FAULTED)
        gk_printf("harden: giveback: VIOLATION: a write through the old address reached frame "
                  "%#llx after it was given back\n",
                  (unsigned long long)m);
    check("the next write through the old address faults", r == FAULTED && pf_expected == 1);
    check("no other page fault", pf_other == 0);
}

/* VCPU 1, the stale writer: in round r (w_round), writes F through GIVE_VA
 * until it faults, or until it made 1000 writes after it saw VCPU 0's
 * DECREASE return (given_back == r). VCPU 0 sets giving_back = r just
 * before the DECREASE. */
static volatile uint64_t w_round, w_writes, giving_back, given_back, w_stop;
static volatile uint64_t w_done_round, w_early_fault, w_after_writes, w_after_fault;

static void stale_writer(void *arg)
{
    (void)arg;
    volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)GIVE_VA;
    for (uint64_t r = 1; !w_stop; r++) {
        while (w_round < r && !w_stop)
            gk_cpu_relax();
        uint64_t early = 0, after = 0, after_fault = 0;
        for (uint64_t k = 0;; k++) {
            bool going = __atomic_load_n(&giving_back, __ATOMIC_ACQUIRE) == r;
            bool back = __atomic_load_n(&given_back, __ATOMIC_ACQUIRE) == r;
            uint64_t res = store_may_fault(p + (k & 511), MARKER);
            if (res == FAULTED) {
                early = !going; /* flushed by someone else before the DECREASE */
                after_fault = going;
                break;
            }
            if (back && ++after >= 1000)
                break; /* the translation survived the DECREASE */
            if (!going)
                w_writes++;
            gk_cpu_relax();
        }
        w_early_fault = early;
        w_after_writes = after;
        w_after_fault = after_fault;
        __atomic_store_n(&w_done_round, r, __ATOMIC_RELEASE);
    }
}

static void test_giveback_smp(void)
{
    expect("#PF handler", gk_trap_set(14, on_pf), HV_OK);
    expect("pin VCPU 0 to CPU 0", pin(HV_ROOT_SLOT_SELF, 0, 1u << 0), HV_OK);
    expect("pin VCPU 1 to CPU 1", pin(HV_ROOT_SLOT_SELF, 1, 1u << 1), HV_OK);
    struct gk_built_domain d;
    child_build_pinned(&d, "alloc", "alloc", 1, 1u << 2);
    uint32_t ref = child_share_and_start(&d);
    for (unsigned i = 0; i < 5000 && page->rounds < 50; i++)
        gk_sleep_ms(1);
    check("the child allocates on CPU 2", page->rounds >= 50);
    expect("start the writer on VCPU 1",
           gk_vcpu_start(1, stale_writer, NULL, stacks[1], STACK_BYTES), HV_OK);

    /* Rounds: one in which something else flushed CPU 1 before the
     * DECREASE (the child's allocations flush stale CPUs) proves nothing
     * and is repeated. A conclusive round passes when no write the writer
     * began after it saw the DECREASE return succeeded. */
    unsigned conclusive = 0, violations = 0, on_cpu1 = 0;
    uint64_t rounds0 = page->rounds;
    for (uint64_t r = 1; r <= 40 && conclusive < 5; r++) {
        uint64_t m = give_frame_prepare();
        uint64_t writes0 = w_writes;
        __atomic_store_n(&w_round, r, __ATOMIC_RELEASE);
        while (w_writes < writes0 + 5000 && w_done_round < r)
            gk_cpu_relax();
        struct hv_domctl_vcpu_info vi;
        vcpu_info(HV_ROOT_SLOT_SELF, 1, &vi);
        on_cpu1 += vi.cpu == 1 && vi.state == HV_VCPU_RUNNING;
        __atomic_store_n(&giving_back, r, __ATOMIC_RELEASE);
        give_frame_back(m);
        __atomic_store_n(&given_back, r, __ATOMIC_RELEASE);
        while (__atomic_load_n(&w_done_round, __ATOMIC_ACQUIRE) < r)
            gk_cpu_relax();
        if (w_early_fault) {
            gk_printf("harden: giveback_smp: round %llu: CPU 1 was flushed before the DECREASE; "
                      "again\n",
                      (unsigned long long)r);
            continue;
        }
        conclusive++;
        bool ok = w_after_fault && w_after_writes == 0;
        gk_printf("harden: giveback_smp: round %llu: %llu write(s) after the DECREASE returned "
                  "succeeded; %s\n",
                  (unsigned long long)r, (unsigned long long)w_after_writes,
                  w_after_fault ? "then one faulted" : "none faulted");
        if (!ok) {
            violations++;
            gk_printf("harden: giveback_smp: VIOLATION: the writer on another CPU wrote frame "
                      "%#llx after it was given back (stale translation)\n",
                      (unsigned long long)m);
        }
    }
    w_stop = 1;
    __atomic_store_n(&w_round, ~0ull, __ATOMIC_RELEASE);
    check("at least 5 rounds with the stale translation alive at the DECREASE", conclusive >= 5);
    check("the writer ran on CPU 1 in every round", on_cpu1 >= conclusive);
    check("in every round no write after the DECREASE reached the frame", violations == 0);
    /* Let the child allocate a while longer, then stop it. */
    for (unsigned i = 0; i < 5000 && page->rounds < rounds0 + 200; i++)
        gk_sleep_ms(1);
    page->stop = 1;
    struct hv_domctl_info info;
    check("the child stopped", child_wait_shutdown(&d, 5000, &info));
    gk_printf("harden: giveback_smp: the child allocated %llu frames, %llu not all zero\n",
              (unsigned long long)page->rounds, (unsigned long long)page->bad);
    check("every frame the child got was all zero and stayed its own",
          page->rounds >= rounds0 + 200 && page->bad == 0);
    child_destroy(&d, ref);
    check("no other page fault", pf_other == 0);
}

/* Child: allocate a frame, check it is all zero, fill it with a pattern,
 * check the pattern, give it back; until the root says stop. */
static void child_alloc(void)
{
    child_map_page();
    volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)CHILD_VA;
    while (!page->stop) {
        int64_t m = gk_hc_memory_op(HV_MEMOP_INCREASE, 0);
        if (m <= 0)
            gk_panic("harden: alloc: FAILED HV_MEMOP_INCREASE: %lld", (long long)m);
        if (gk_map_frame(CHILD_VA, (uint64_t)m, GK_PTE_RWDATA) != HV_OK)
            gk_panic("harden: alloc: FAILED map a new frame");
        bool bad = false;
        for (unsigned i = 0; i < 512; i++)
            if (p[i] != 0) {
                page->last_bad_word = p[i];
                bad = true;
            }
        for (unsigned i = 0; i < 512; i++)
            p[i] = (uint64_t)m * 512 + i;
        for (unsigned i = 0; i < 512; i++)
            if (p[i] != (uint64_t)m * 512 + i)
                bad = true;
        if (bad)
            page->bad++;
        if (gk_unmap(CHILD_VA) != HV_OK || gk_hc_memory_op(HV_MEMOP_DECREASE, (uint64_t)m) != HV_OK)
            gk_panic("harden: alloc: FAILED give a frame back");
        page->rounds++;
    }
    gk_shutdown(HV_SHUTDOWN_POWEROFF);
}

/* --- timer: absurd deadlines and yields (issue 20 item 2) ---------------------- */

/* The attack: re-arm the timer `rounds` times alternating a deadline near
 * ~0 and one 1 us away, then cancel it. */
static void timer_abuse(unsigned rounds)
{
    for (unsigned i = 0; i < rounds; i++) {
        uint64_t d = (i & 1) ? gk_now_ns() + 1000 : ~0ull - i;
        gk_hc_set_timer(d);
    }
    gk_hc_set_timer(0);
}

#define YIELDS 10000u
static volatile uint64_t t_done, t_yield_ns, t_late_max, t_early, t_rounds, t_stop;

static void abuser_alone(void *arg)
{
    (void)arg;
    gk_events_init_vcpu();
    timer_abuse(20000);
    /* The timer still works: five 1 ms sleeps, each woken on time. */
    uint64_t late_max = 0, early = 0;
    for (unsigned i = 0; i < 5; i++) {
        uint64_t deadline = gk_now_ns() + 1000000;
        gk_sleep_until(deadline);
        uint64_t now = gk_now_ns();
        if (now < deadline)
            early++;
        else if (now - deadline > late_max)
            late_max = now - deadline;
    }
    t_late_max = late_max;
    t_early = early;
    uint64_t t0 = gk_now_ns();
    for (unsigned i = 0; i < YIELDS; i++)
        gk_hc_yield();
    t_yield_ns = gk_now_ns() - t0;
    __atomic_store_n(&t_done, 1, __ATOMIC_RELEASE);
}

static void abuser_next_to_victim(void *arg)
{
    (void)arg;
    while (!t_stop) {
        timer_abuse(2000);
        gk_hc_yield();
        t_rounds++;
    }
}

static uint64_t dom_cpu_ns(uint32_t slot)
{
    struct hv_domctl_info info = {.dom_slot = slot};
    if (gk_hc_domain_op(HV_DOMCTL_INFO, &info) != HV_OK)
        gk_panic("harden: FAILED HV_DOMCTL_INFO");
    return info.cpu_time_ns;
}

static void test_timer(void)
{
    gk_events_init();
    expect("pin VCPU 0 to CPU 0", pin(HV_ROOT_SLOT_SELF, 0, 1u << 0), HV_OK);
    expect("pin VCPU 1 to CPU 1", pin(HV_ROOT_SLOT_SELF, 1, 1u << 1), HV_OK);

    /* 1. Alone on CPU 1. */
    expect("start the abuser on VCPU 1",
           gk_vcpu_start(1, abuser_alone, NULL, stacks[1], STACK_BYTES), HV_OK);
    for (unsigned i = 0; i < 3000 && !__atomic_load_n(&t_done, __ATOMIC_ACQUIRE); i++)
        gk_sleep_ms(1);
    if (!t_done)
        gk_panic("harden: timer: FAILED VCPU 1 did not get through 20,000 re-arms and %u yields "
                 "in 3 s of system time",
                 YIELDS);
    gk_printf("harden: timer: after 20,000 absurd deadlines: 1 ms sleeps woke at most %llu ns "
              "late (%llu early); %u lone yields took %llu ns\n",
              (unsigned long long)t_late_max, (unsigned long long)t_early, YIELDS,
              (unsigned long long)t_yield_ns);
    check("the timer still wakes on time (never early, at most 100 us late)",
          t_early == 0 && t_late_max <= 100000);
    check("10,000 lone yields take less than 1 s of system time", t_yield_ns < 1000000000ull);
    expect("VCPU 1 stopped", gk_vcpu_join(1), HV_OK);

    /* 2. Next to another domain on CPU 1. */
    struct gk_built_domain d;
    child_build_pinned(&d, "victim", "victim", 1, 1u << 1);
    uint32_t ref = child_share_and_start(&d);
    for (unsigned i = 0; i < 1000 && page->rounds == 0; i++)
        gk_sleep_ms(1);
    check("the victim runs", page->rounds != 0);
    expect("start the abuser next to it",
           gk_vcpu_start(1, abuser_next_to_victim, NULL, stacks[1], STACK_BYTES), HV_OK);
    gk_sleep_ms(20);
    uint64_t t0 = gk_now_ns(), v0 = dom_cpu_ns(d.dom_slot), r0 = t_rounds;
    gk_sleep_ms(300);
    uint64_t t1 = gk_now_ns(), v1 = dom_cpu_ns(d.dom_slot), r1 = t_rounds;
    t_stop = 1;
    uint64_t share_pct = (v1 - v0) * 100 / (t1 - t0);
    gk_printf("harden: timer: over %llu us the victim ran %llu us (%llu%% of CPU 1) while the "
              "abuser made %llu rounds of 2,000 re-arms and a yield\n",
              (unsigned long long)((t1 - t0) / 1000), (unsigned long long)((v1 - v0) / 1000),
              (unsigned long long)share_pct, (unsigned long long)(r1 - r0));
    /* Equal weights: half each; the abuser's yields only give more away. */
    check("the victim keeps its half of the CPU (at least 45%)", share_pct >= 45);
    check("the abuser makes progress too", r1 > r0);
    expect("VCPU 1 stopped", gk_vcpu_join(1), HV_OK);
    page->stop = 1;
    struct hv_domctl_info info;
    check("the victim stopped", child_wait_shutdown(&d, 5000, &info));
    child_destroy(&d, ref);
}

/* Child: spin, counting, until told to stop. */
static void child_victim(void)
{
    child_map_page();
    while (!page->stop) {
        for (unsigned i = 0; i < 1000; i++)
            __asm__ volatile("" ::: "memory");
        page->rounds++;
        gk_cpu_relax();
    }
    gk_shutdown(HV_SHUTDOWN_POWEROFF);
}

/* --- bounded: the longest hypercall against the worst case (issue 12 s. 3) ----- */

/* The bound every stretch of hypervisor work must stay under (ns of system
 * time = instructions under -icount shift=0), docs/mm.md "Bounded work". */
#define BOUNDED_NS 200000ull
#define TABLES_SCRATCH_VA 0x50000000ull

static uint64_t worst_ns, worst_nr, worst_arg;

static void stats_reset(void)
{
    struct hv_test_stats st = {.reset = 1};
    if (gk_hypercall3(HC_TEST_OP, HV_TEST_STATS, (uint64_t)(uintptr_t)&st, 0) != HV_OK)
        gk_panic("harden: FAILED HC_TEST_OP (boot the test image, hv-test.elf)");
}

/* Reads (and clears) the figures: prints the longest stretch since the last
 * reset for operation `what`, and keeps the worst of all. */
static void stats_report(const char *what)
{
    struct hv_test_stats st = {.reset = 1};
    if (gk_hypercall3(HC_TEST_OP, HV_TEST_STATS, (uint64_t)(uintptr_t)&st, 0) != HV_OK)
        gk_panic("harden: FAILED HC_TEST_OP");
    gk_printf("harden: bounded: %s: longest stretch %llu ns (hypercall %lld, command %llu) in "
              "%llu hypercall entries\n",
              what, (unsigned long long)st.longest_ns, (long long)st.longest_nr,
              (unsigned long long)st.longest_arg0, (unsigned long long)st.hypercalls);
    if (st.longest_ns > worst_ns) {
        worst_ns = st.longest_ns;
        worst_nr = st.longest_nr;
        worst_arg = st.longest_arg0;
    }
}

/* Child: writes table frame m (not mapped anywhere) with 512 entries,
 * through a writable mapping it drops again. */
static void write_table(uint64_t m, const uint64_t *entries)
{
    volatile uint64_t *w = (volatile uint64_t *)(uintptr_t)TABLES_SCRATCH_VA;
    if (gk_map_frame(TABLES_SCRATCH_VA, m, GK_PTE_RWDATA) != HV_OK)
        gk_panic("harden: tables: FAILED map a frame to fill");
    for (unsigned i = 0; i < 512; i++)
        w[i] = entries[i];
    if (gk_unmap(TABLES_SCRATCH_VA) != HV_OK)
        gk_panic("harden: tables: FAILED unmap a filled frame");
}

static uint64_t table_mfns[TABLES_PAGES];
static uint64_t entries[512];

static int64_t mmu_set(uint64_t table, unsigned index, uint64_t val)
{
    return gk_pt_write((table << 12) | ((uint64_t)index << 3), val);
}

static void child_tables(void)
{
    child_map_page();
    /* The scratch mapping's own tables first, then every free frame. */
    uint64_t d_pfn = gk_pfn_alloc();
    gk_assert(d_pfn != HV_M2P_INVALID);
    uint64_t data = gk_p2m(d_pfn);
    write_table(data, entries); /* zero; creates the scratch L1 */
    unsigned n = 0;
    for (uint64_t pfn; n < TABLES_PAGES && (pfn = gk_pfn_alloc()) != HV_M2P_INVALID;)
        table_mfns[n++] = gk_p2m(pfn);
    /* L4 = [0], L3 = [1], k L2s, then the L1s: every L1 full, each entry
     * mapping the data frame read-only. */
    unsigned k = (n - 2 + 512) / 513, l1s = n - 2 - k;
    gk_printf("harden: tables: %u frames: 1 L4, 1 L3, %u L2s, %u full L1s (%u entries)\n", n, k,
              l1s, l1s * 512);
    const uint64_t tbl = GK_PTE_P | GK_PTE_RW | GK_PTE_US;
    for (unsigned i = 0; i < 512; i++)
        entries[i] = (data << 12) | GK_PTE_RO;
    for (unsigned j = 0; j < l1s; j++)
        write_table(table_mfns[2 + k + j], entries);
    for (unsigned j = 0; j < k; j++) {
        for (unsigned i = 0; i < 512; i++) {
            unsigned l1 = j * 512 + i;
            entries[i] = l1 < l1s ? (table_mfns[2 + k + l1] << 12) | tbl : 0;
        }
        write_table(table_mfns[2 + j], entries);
    }
    memset(entries, 0, sizeof(entries));
    for (unsigned j = 0; j < k; j++)
        entries[j] = (table_mfns[2 + j] << 12) | tbl;
    write_table(table_mfns[1], entries);
    memset(entries, 0, sizeof(entries));
    write_table(table_mfns[0], entries); /* the L4, linked below */
    uint64_t l4 = table_mfns[0], l3 = table_mfns[1];

    stats_reset();
    check("tables: pin the empty L4", gk_hc_mmuext_op(HV_MMUEXT_PIN_L4, l4) == HV_OK);
    check("tables: link the L3 (validates the whole tree)",
          mmu_set(l4, 0, (l3 << 12) | tbl) == HV_OK);
    stats_report("tables: validate the tree (mmu_update)");
    check("tables: unlink the L3 (devalidates the whole tree)", mmu_set(l4, 0, 0) == HV_OK);
    stats_report("tables: devalidate the tree (mmu_update)");
    check("tables: unpin the L4", gk_hc_mmuext_op(HV_MMUEXT_UNPIN, l4) == HV_OK);
    write_table(l4, (uint64_t[512]){[0] = (l3 << 12) | tbl});
    stats_reset();
    check("tables: pin the whole tree", gk_hc_mmuext_op(HV_MMUEXT_PIN_L4, l4) == HV_OK);
    stats_report("tables: validate the tree (pin)");
    check("tables: unpin it", gk_hc_mmuext_op(HV_MMUEXT_UNPIN, l4) == HV_OK);
    stats_report("tables: devalidate the tree (unpin)");
    check("tables: pin it again", gk_hc_mmuext_op(HV_MMUEXT_PIN_L4, l4) == HV_OK);
    stats_report("tables: pin again");
    /* Batches: 512 requests, each releasing (then validating) a full L1. */
    static struct hv_mmu_update reqs[512];
    uint64_t l2 = table_mfns[2], done = 0;
    for (unsigned i = 0; i < 512; i++)
        reqs[i] = (struct hv_mmu_update){.ptr = (l2 << 12) | ((uint64_t)i << 3), .val = 0};
    check("tables: unlink 512 full L1s in one batch",
          gk_hc_mmu_update(reqs, 512, &done) == HV_OK && done == 512);
    stats_report("tables: a batch releasing 512 full L1s");
    for (unsigned i = 0; i < 512; i++)
        reqs[i].val = (table_mfns[2 + k + i] << 12) | tbl;
    check("tables: link them again in one batch",
          gk_hc_mmu_update(reqs, 512, &done) == HV_OK && done == 512);
    stats_report("tables: a batch validating 512 full L1s");
    int64_t info = gk_frame_info(table_mfns[n - 1]);
    check("tables: the last L1 is validated", info >= 0 && (info & 0xff) == HV_FRAME_TYPE_L1);
    if (failures)
        gk_panic("harden: tables: %d checks FAILED", failures);
    page->rounds = 1; /* ready */
    for (;;)
        gk_hc_yield(); /* wait to be destroyed */
}

/* Root: a chain of copies of the capability in slot `from`, each derived
 * from the one before, through root slots [first, last] and then the
 * child's slots [cfirst, clast]. */
static unsigned cap_chain(uint32_t from, uint32_t first, uint32_t last, uint32_t child_slot,
                          uint32_t cfirst, uint32_t clast, uint32_t rights)
{
    unsigned made = 0;
    uint32_t prev = from;
    for (uint32_t s = first; s <= last; s++) {
        struct hv_cap_info ci;
        if (gk_cap_identify(s, &ci) != HV_OK || ci.type != HV_CAP_NULL)
            continue; /* the root's device capabilities (from slot 128) */
        if (gk_cap_copy(prev, HV_CAP_SLOT_SELF, s, rights, 0, 0) != HV_OK)
            gk_panic("harden: FAILED copy into slot %u", s);
        prev = s;
        made++;
    }
    /* The last one in the root's table is the source of the child's part:
     * it needs GRANT to be copied on, and so do the copies. */
    for (uint32_t s = cfirst; s <= clast; s++, made++)
        if (gk_cap_copy(prev, child_slot, s, rights, 0, 0) != HV_OK)
            gk_panic("harden: FAILED copy into the child's slot %u", s);
    return made;
}

#define MMIO_VA 0x58000000ull /* one L1 of device mappings */
#define MMIO_SLOT 230u

/*
 * The removal of an MMIO capability sweeps the holder's L1 tables for the
 * device mappings only it covered (a step a call, the call restarting:
 * before, one call scanned the whole frame table, 1.6 million instructions
 * on 256 MiB). The root maps 512 frames of the PCI hole through a copy of
 * its MMIO capability (a full L1, each entry to be checked against its 256
 * slots), deletes its boot capability (a sweep with nothing to clear), then
 * the copy: every mapping goes with it.
 */
static void bounded_mmio(void)
{
    const uint64_t first = 0xc0000; /* the hole's start: no device there (docs/devices.md) */
    expect(
        "copy 512 frames of the MMIO capability",
        gk_cap_copy(HV_ROOT_SLOT_MMIO, HV_CAP_SLOT_SELF, MMIO_SLOT, HV_CAP_R_MMIO_READ, first, 512),
        HV_OK);
    stats_report("caps: before the MMIO capabilities go");
    expect("delete the boot MMIO capability (the copy covers the frames)",
           gk_cap_delete(HV_ROOT_SLOT_MMIO), HV_OK);
    stats_report("caps: delete an MMIO capability (no device mapping to remove)");
    const uint64_t ro = GK_PTE_RO | GK_PTE_PCD | GK_PTE_PWT;
    unsigned mapped = 0;
    for (uint64_t i = 0; i < 512; i++)
        mapped += gk_map_frame(MMIO_VA + (i << 12), first + i, ro) == HV_OK;
    expect("device frames mapped through the copy", mapped, 512);
    uint64_t e0 = gk_pt_entry_maddr(MMIO_VA, 1), e511 = gk_pt_entry_maddr(MMIO_VA + (511 << 12), 1);
    check("the entries are present", (gk_pt_read(e0) & 1) && (gk_pt_read(e511) & 1));
    stats_reset();
    expect("delete the copy", gk_cap_delete(MMIO_SLOT), HV_OK);
    stats_report("caps: delete an MMIO capability with 512 device mappings in one L1");
    check("every mapping went with it", (gk_pt_read(e0) & 1) == 0 && (gk_pt_read(e511) & 1) == 0);
}

static void test_bounded(void)
{
    stats_reset();
    struct gk_built_domain d;
    child_build_pinned(&d, "tables", "tables", 1, 0);
    uint32_t ref = child_share_and_start(&d);
    stats_report("build a 32 MiB child (gk_build_domain)");
    for (unsigned i = 0; i < 100000 && page->rounds == 0; i++)
        gk_sleep_ms(1);
    check("the child built and exercised its tree", page->rounds == 1);

    /* Capability chains: the root's console capability, about 200 deep in
     * the root's table, then 200 more in the child's; revoking the root's
     * original removes them all. */
    stats_reset();
    uint32_t r = HV_CAP_R_CON_ALL | HV_CAP_R_GRANT;
    unsigned n = cap_chain(HV_ROOT_SLOT_CONSOLE, 30, 229, d.dom_slot, 30, 229, r);
    gk_printf("harden: bounded: a chain of %u copies of the console capability\n", n);
    expect("revoke the chain's root", gk_cap_revoke(HV_ROOT_SLOT_CONSOLE), HV_OK);
    struct hv_cap_info ci;
    gk_cap_identify(229, &ci);
    check("the deepest copy in the root's table went", ci.type == HV_CAP_NULL);
    stats_report("caps: revoke a chain of about 400 copies");

    /* An endpoint capability in about 400 slots; closing the port removes
     * them. */
    uint32_t port = 0;
    expect("allocate a loopback port", gk_evtchn_alloc_unbound(HV_CAP_SLOT_SELF, &port), HV_OK);
    struct hv_evtchn_endpoint ep = {
        .port = port, .dst_slot = 30, .rights = HV_CAP_R_EVT_SEND | HV_CAP_R_GRANT};
    expect("mint an endpoint capability", gk_hc_evtchn_op(HV_EVTCHN_MINT_ENDPOINT, &ep), HV_OK);
    n = cap_chain(30, 31, 229, d.dom_slot, 30, 229, HV_CAP_R_EVT_SEND | HV_CAP_R_GRANT);
    stats_reset();
    struct hv_evtchn_port_args pa = {.port = port};
    expect("close the port", gk_hc_evtchn_op(HV_EVTCHN_CLOSE, &pa), HV_OK);
    gk_cap_identify(229, &ci);
    check("its endpoint capabilities went", ci.type == HV_CAP_NULL);
    stats_report("caps: close a port with about 400 endpoint capabilities");

    /* The child's domain capability in every free slot, then destroy it:
     * its capabilities, its 8,000-table tree and its frames go. */
    for (uint32_t s = 30; s < 250; s++) {
        if (gk_cap_identify(s, &ci) == HV_OK && ci.type == HV_CAP_NULL &&
            gk_cap_copy(d.dom_slot, HV_CAP_SLOT_SELF, s, HV_CAP_R_DOM_STATE, 0, 0) != HV_OK)
            gk_panic("harden: FAILED copy the child's capability into slot %u", s);
    }
    struct hv_host_info hi = {.slot = HV_ROOT_SLOT_MEMORY};
    gk_hc_domain_op(HV_DOMCTL_HOST_INFO, &hi);
    uint64_t free0 = hi.frames_free;
    stats_reset();
    expect("destroy the child", gk_domain_destroy(&d), HV_OK);
    gk_hc_domain_op(HV_DOMCTL_HOST_INFO, &hi); /* its teardown is finished first */
    stats_report("destroy the child (capabilities, page tables, frames)");
    gk_printf("harden: bounded: the destruction gave back %llu frames\n",
              (unsigned long long)(hi.frames_free - free0));
    check("the child's frames came back", hi.frames_free >= free0 + TABLES_PAGES - 64);
    gk_cap_identify(249, &ci);
    check("the copies of its capability went", ci.type == HV_CAP_NULL);
    int64_t rc = HV_EBUSY;
    for (unsigned i = 0; i < 1000 && (rc = gk_grant_end(ref)) == HV_EBUSY; i++)
        gk_sleep_ms(1);
    expect("end the grant of the shared page", rc, HV_OK);

    bounded_mmio();

    gk_printf("harden: bounded: longest single hypercall: %llu instructions (hypercall %lld, "
              "command %llu); bound %llu\n",
              (unsigned long long)worst_ns, (long long)worst_nr, (unsigned long long)worst_arg,
              (unsigned long long)BOUNDED_NS);
    check("every stretch of hypervisor work stayed under the bound", worst_ns < BOUNDED_NS);
}

/* --- main ---------------------------------------------------------------------- */

static void child_main(const char *role)
{
    who = role;
    if (strcmp(role, "vcpus") == 0)
        child_vcpus();
    if (strcmp(role, "alloc") == 0)
        child_alloc();
    if (strcmp(role, "victim") == 0)
        child_victim();
    if (strcmp(role, "tables") == 0)
        child_tables();
    if (strcmp(role, "cycle") == 0)
        child_cycle();
    gk_panic("harden: FAILED unknown role \"%s\"", role);
}

int main(const struct hv_start_info *si)
{
    start_info = si;
    char test[24] = "", role[16] = "";
    if (gk_mm_init(si) != 0)
        gk_panic("harden: gk_mm_init failed");
    if (gk_cmdline_get("role", role, sizeof(role)) > 0)
        child_main(role);
    gk_cmdline_get("test", test, sizeof(test));
    who = test;
    if (strcmp(test, "vcpus") == 0)
        test_vcpus();
    else if (strcmp(test, "giveback") == 0)
        test_giveback();
    else if (strcmp(test, "giveback_smp") == 0)
        test_giveback_smp();
    else if (strcmp(test, "timer") == 0)
        test_timer();
    else if (strcmp(test, "bounded") == 0)
        test_bounded();
    else if (strcmp(test, "reap") == 0)
        test_reap();
    else if (strcmp(test, "cycles") == 0)
        test_cycles();
    else if (strcmp(test, "nostart") == 0)
        test_nostart();
    else
        gk_panic("harden: FAILED unknown test \"%s\"", test);
    if (failures)
        gk_panic("harden: %s: %d checks FAILED", test, failures);
    gk_printf("harden: %s: ok\n", test);
    gk_shutdown(HV_SHUTDOWN_POWEROFF);
}
