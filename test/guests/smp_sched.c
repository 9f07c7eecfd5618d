/*
 * SMP scheduling tests and figures (issue 8, docs/sched.md "Tests and
 * figures"). One image, several roles chosen on the command line:
 *
 *   root (boot module 0), test=<name>:
 *     spread  - its own 4 VCPUs spin; HV_DOMCTL_VCPU_INFO must show them
 *               running at the same time on 4 distinct CPUs, every counter
 *               and run time advancing.
 *     steal   - VCPUs 1..3 pinned to CPU 1 (queued there), then allowed on
 *               CPUs 1..3: the idle CPUs must take them (cpu, migrations).
 *     weights - two copies of this image (module 1), 4 spinning VCPUs each,
 *               weights 256 and 512: their own progress counters must be
 *               in the ratio 1:2 within 10%.
 *     gang    - a gang domain (gang=1, or gang=0 as the negative control)
 *               of 4 VCPUs recording when they run (TSC windows) next to a
 *               4-VCPU CPU-bound domain: whenever one member ran, the
 *               others must have run too; the other domain must progress.
 *     gangcap - the same gang capped at 50% of one CPU: it must run (at
 *               least 3/4 of its cap), within its cap, and together.
 *     yield   - figure: two one-VCPU domains on one CPU yielding to each
 *               other: instructions per context switch.
 *     fpu     - two one-VCPU domains on one CPU, each with its own pattern
 *               in the XMM registers, MXCSR and x87 control word, yielding
 *               to each other: the state must survive every switch.
 *     lhp     - figure: a 4-VCPU domain handing a spinlock around next to
 *               a 4-VCPU CPU-bound domain, gang on and off: handoffs per
 *               million instructions.
 *   child (built by the root), role=spin|gang|lock|yield|fpu: reads "ref=<r>"
 *     from its console input, maps the root's granted page and works on it.
 *
 * Spin loops execute `pause` now and then: under -icount QEMU runs all CPUs
 * on one thread and `pause` hands it to the next CPU, so the CPUs
 * interleave finely and TSC samples of different CPUs are comparable. Every check
 * prints "smp: ... FAILED ..." and the root ends with "smp: <test>: ok" or
 * a panic.
 */
#include "gk/builder.h"
#include "gk/gk.h"
#include "gk/mm.h"
#include "gk/spinlock.h"
#include "gk/time.h"
#include "gk/vcpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHILD_PAGES 512u
#define CHILD_SHARED_VA 0x40000000ull
#define ROOT_SLOT_IN_CHILD 0u
#define STACK_BYTES 16384u
#define WIN_MAX 60u
#define NVCPU 4u
/* Spin loops execute `pause` every 64 iterations: often enough for the
 * CPUs to interleave finely under -icount (a `pause` hands QEMU's one thread
 * to the next CPU), rarely enough that the exits do not dominate. */
#define RELAX_EVERY 63u

/* The page the root grants to a child (and uses itself for its own VCPUs). */
struct smp_page {
    volatile uint64_t stop;    /* root -> child: stop working */
    volatile uint64_t started; /* VCPUs that reached their loop */
    volatile uint64_t gap;     /* gang: a TSC gap longer than this ends a window */
    volatile uint64_t done;    /* gang: VCPUs that closed their windows */
    volatile uint64_t count[8];
    volatile uint32_t nwin[NVCPU];
    uint8_t pad[128 - 32 - 64 - 16];
    struct {
        uint64_t start, end;
    } win[NVCPU][WIN_MAX];
};
_Static_assert(sizeof(struct smp_page) <= 4096, "smp page fits a page");

static uint8_t stacks[GK_VCPU_MAX][STACK_BYTES] __attribute__((aligned(16)));
static int failures;

static void check(const char *what, bool ok)
{
    if (!ok)
        failures++;
    gk_printf("smp: %s%s\n", ok ? "" : "FAILED ", what);
}

static uint64_t rdtsc(void)
{
    return __builtin_ia32_rdtsc();
}

/* --- the workers (children, and the root's own VCPUs) ------------------------ */

static struct smp_page *page;
static struct gk_spinlock lock = GK_SPINLOCK_INIT;
static volatile uint64_t protected_value; /* under lock */

static void spin_worker(void)
{
    unsigned id = gk_vcpu_id();
    __atomic_fetch_add(&page->started, 1, __ATOMIC_SEQ_CST);
    while (!page->stop) {
        if ((++page->count[id] & RELAX_EVERY) == 0)
            gk_cpu_relax();
    }
}

/* Records [start, end] windows of TSC values during which this VCPU ran
 * without a gap longer than page->gap. */
static void gang_worker(void)
{
    unsigned id = gk_vcpu_id();
    uint64_t gap = page->gap;
    __atomic_fetch_add(&page->started, 1, __ATOMIC_SEQ_CST);
    uint64_t last = rdtsc(), start = last;
    unsigned n = 0;
    while (!page->stop && n < WIN_MAX - 1) {
        uint64_t t = rdtsc();
        if (t - last > gap) {
            page->win[id][n].start = start;
            page->win[id][n].end = last;
            n++;
            start = t;
        }
        last = t;
        if ((++page->count[id] & RELAX_EVERY) == 0)
            gk_cpu_relax();
    }
    page->win[id][n].start = start;
    page->win[id][n].end = last;
    page->nwin[id] = n + 1;
    __atomic_fetch_add(&page->done, 1, __ATOMIC_SEQ_CST);
    for (;;)
        gk_hc_yield(); /* wait to be destroyed */
}

/* A lock handed around in VCPU order (a FIFO hand-off, as with a ticket
 * lock): VCPU id waits (with pause) until the turn is its own, takes the
 * spinlock, runs a short critical section, counts one hand-off and passes
 * the turn to the next VCPU. A VCPU descheduled while it holds the turn, or
 * while the turn comes to it, stalls all the others: the lock-holder (and
 * lock-waiter) preemption that gang scheduling avoids. */
static volatile uint32_t turn;

static void lock_worker(void)
{
    unsigned id = gk_vcpu_id(), n = gk_vcpu_count();
    __atomic_fetch_add(&page->started, 1, __ATOMIC_SEQ_CST);
    while (!page->stop) {
        while (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) != id) {
            if (page->stop)
                return;
            gk_cpu_relax();
        }
        gk_spin_lock(&lock);
        for (unsigned k = 0; k < 20; k++)
            protected_value++;
        gk_spin_unlock(&lock);
        page->count[id]++;
        __atomic_store_n(&turn, (id + 1) % n, __ATOMIC_RELEASE);
        for (volatile unsigned k = 0; k < 20; k++)
            ; /* work outside the lock */
    }
}

static void yield_worker(void)
{
    unsigned id = gk_vcpu_id();
    __atomic_fetch_add(&page->started, 1, __ATOMIC_SEQ_CST);
    while (!page->stop) {
        page->count[id]++;
        gk_hc_yield();
    }
}

/* fpu: every XMM register, MXCSR and the x87 control word hold a pattern of
 * this domain's own; after every yield (a switch to the other domain on the
 * same CPU, which holds a different pattern) they must be unchanged.
 * count[0] counts rounds, count[7] mismatches. The compiler never uses
 * these registers (-mgeneral-regs-only), so only a context switch can. */
static void fpu_load(const uint64_t pat[32], uint32_t mxcsr, uint16_t fcw)
{
    __asm__ volatile("movdqu 0(%0), %%xmm0\n movdqu 16(%0), %%xmm1\n"
                     "movdqu 32(%0), %%xmm2\n movdqu 48(%0), %%xmm3\n"
                     "movdqu 64(%0), %%xmm4\n movdqu 80(%0), %%xmm5\n"
                     "movdqu 96(%0), %%xmm6\n movdqu 112(%0), %%xmm7\n"
                     "movdqu 128(%0), %%xmm8\n movdqu 144(%0), %%xmm9\n"
                     "movdqu 160(%0), %%xmm10\n movdqu 176(%0), %%xmm11\n"
                     "movdqu 192(%0), %%xmm12\n movdqu 208(%0), %%xmm13\n"
                     "movdqu 224(%0), %%xmm14\n movdqu 240(%0), %%xmm15\n"
                     "ldmxcsr %1\n fldcw %2"
                     :
                     : "r"(pat), "m"(mxcsr), "m"(fcw)
                     : "memory");
}

static void fpu_read(uint64_t out[32], uint32_t *mxcsr, uint16_t *fcw)
{
    __asm__ volatile("movdqu %%xmm0, 0(%[p])\n movdqu %%xmm1, 16(%[p])\n"
                     "movdqu %%xmm2, 32(%[p])\n movdqu %%xmm3, 48(%[p])\n"
                     "movdqu %%xmm4, 64(%[p])\n movdqu %%xmm5, 80(%[p])\n"
                     "movdqu %%xmm6, 96(%[p])\n movdqu %%xmm7, 112(%[p])\n"
                     "movdqu %%xmm8, 128(%[p])\n movdqu %%xmm9, 144(%[p])\n"
                     "movdqu %%xmm10, 160(%[p])\n movdqu %%xmm11, 176(%[p])\n"
                     "movdqu %%xmm12, 192(%[p])\n movdqu %%xmm13, 208(%[p])\n"
                     "movdqu %%xmm14, 224(%[p])\n movdqu %%xmm15, 240(%[p])\n"
                     "stmxcsr %[m]\n fnstcw %[c]"
                     : [m] "=m"(*mxcsr), [c] "=m"(*fcw)
                     : [p] "r"(out)
                     : "memory");
}

static void fpu_worker(void)
{
    uint64_t pat[32], got[32], seed = rdtsc() | 1;
    for (unsigned i = 0; i < 32; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        pat[i] = seed;
    }
    /* MXCSR: rounding mode and masks from the seed (bits 7..14), valid. */
    uint32_t mxcsr = 0x0080u | (uint32_t)((seed >> 3) & 0x7f00u), m2 = 0;
    uint16_t fcw = (uint16_t)(0x0040u | ((seed >> 20) & 0x0c3fu)), c2 = 0;
    fpu_load(pat, mxcsr, fcw);
    __atomic_fetch_add(&page->started, 1, __ATOMIC_SEQ_CST);
    while (!page->stop) {
        gk_hc_yield();
        fpu_read(got, &m2, &c2);
        if (memcmp(got, pat, sizeof(pat)) != 0 || m2 != mxcsr || (c2 & 0x1f3f) != (fcw & 0x1f3f)) {
            page->count[7]++;
            fpu_load(pat, mxcsr, fcw); /* count each clobbering once */
        }
        page->count[0]++;
    }
}

static void (*worker_fn)(void);

static void secondary(void *arg)
{
    (void)arg;
    worker_fn();
}

/* Starts VCPUs 1..n-1 on worker_fn. */
static void start_secondaries(unsigned n)
{
    for (unsigned id = 1; id < n; id++) {
        int64_t rc = gk_vcpu_start(id, secondary, NULL, stacks[id], STACK_BYTES);
        if (rc != HV_OK)
            gk_panic("smp: FAILED start VCPU %u (%lld)", id, (long long)rc);
    }
}

/* role=echo: every event from the root is sent back by the handler. */
static void echo(uint32_t port, void *arg)
{
    (void)arg;
    gk_evtchn_send(port);
}

static int echo_child(const char *line)
{
    const char *p = strstr(line, "port=");
    if (!p)
        gk_panic("smp: child: no port in \"%s\"", line);
    uint32_t port = 0;
    if (gk_evtchn_bind_interdomain(ROOT_SLOT_IN_CHILD, (uint32_t)strtoul(p + 5, NULL, 10), &port) !=
        HV_OK)
        gk_panic("smp: child: cannot bind the root's port");
    gk_evtchn_bind_handler(port, echo, NULL);
    gk_evtchn_unmask(port);
    page->started = 1;
    gk_evtchn_send(port); /* ready */
    for (;;) {
        gk_events_disable();
        gk_block(); /* the handler runs on the way out */
    }
}

static int child(const char *role)
{
    char line[64];
    size_t n = 0;
    while (n < sizeof(line) - 1 && (n == 0 || line[n - 1] != '\n')) {
        int64_t got = gk_console_read(line + n, sizeof(line) - 1 - n);
        if (got <= 0)
            gk_panic("smp: child: no instructions on the console");
        n += (size_t)got;
    }
    line[n] = 0;
    const char *p = strstr(line, "ref=");
    if (!p)
        gk_panic("smp: child: no ref in \"%s\"", line);
    uint32_t ref = (uint32_t)strtoul(p + 4, NULL, 10);
    if (gk_grant_map(ROOT_SLOT_IN_CHILD, ref, CHILD_SHARED_VA, true) != HV_OK)
        gk_panic("smp: child: cannot map the shared page");
    page = (struct smp_page *)(uintptr_t)CHILD_SHARED_VA;
    if (strcmp(role, "echo") == 0)
        return echo_child(line);
    if (strcmp(role, "spin") == 0)
        worker_fn = spin_worker;
    else if (strcmp(role, "gang") == 0)
        worker_fn = gang_worker;
    else if (strcmp(role, "lock") == 0)
        worker_fn = lock_worker;
    else if (strcmp(role, "yield") == 0)
        worker_fn = yield_worker;
    else if (strcmp(role, "fpu") == 0)
        worker_fn = fpu_worker;
    else
        gk_panic("smp: child: unknown role %s", role);
    start_secondaries(gk_vcpu_count());
    worker_fn();
    for (;;)
        gk_hc_yield(); /* stopped: wait to be destroyed */
}

/* --- the root: helpers ------------------------------------------------------- */

static const struct hv_start_info *start_info;
static uint32_t weight_b = 512; /* weights: the second domain's weight (command line wb=) */
static uint64_t tsc_hz;

struct kid {
    struct gk_built_domain d;
    struct smp_page *page;
    uint32_t ref, port;
    unsigned vcpus;
};

/* One page each (struct smp_page is smaller than a page). */
static union {
    struct smp_page p;
    uint8_t bytes[4096];
} kid_pages[4] __attribute__((aligned(4096)));

/* Builds a copy of module 1 as child `index` with `vcpus` VCPUs and the
 * given role and scheduling parameters, grants it kid_pages[index] and
 * starts it (its VCPU 0; it starts the others itself). */
static int64_t pin(uint32_t slot, unsigned vcpu, uint64_t mask);

static void kid_build_cap(struct kid *k, unsigned index, const char *role, unsigned vcpus,
                          uint32_t weight, uint32_t cap_pct, uint32_t gang, uint64_t pin_mask)
{
    static char names[4][16], cmdlines[4][48];
    snprintf(names[index], sizeof(names[index]), "%s%u", role, index);
    snprintf(cmdlines[index], sizeof(cmdlines[index]), "smp role=%s", role);
    memset(&kid_pages[index], 0, sizeof(kid_pages[index]));
    struct gk_build_spec spec = {
        .name = names[index],
        .image = (const void *)(uintptr_t)start_info->modules[0].va,
        .image_size = start_info->modules[0].size_bytes,
        .pages = CHILD_PAGES,
        .vcpus = vcpus,
        .cmdline = cmdlines[index],
        .mem_slot = HV_ROOT_SLOT_MEMORY,
        .dom_slot = 20 + 2 * index,
        .console_slot = 21 + 2 * index,
        .paused = true,
    };
    const char *detail = NULL;
    int64_t status = 0;
    const char *why = gk_build_domain(&spec, &k->d, &detail, &status);
    if (why)
        gk_panic("smp: building %s: %s%s%s (%lld)", names[index], why, detail ? ": " : "",
                 detail ? detail : "", (long long)status);
    k->page = &kid_pages[index].p;
    k->vcpus = vcpus;
    int64_t rc_copy = gk_cap_copy(HV_ROOT_SLOT_SELF, k->d.dom_slot, ROOT_SLOT_IN_CHILD,
                                  HV_CAP_R_DOM_GRANT | HV_CAP_R_DOM_EVTCHN, 0, 0);
    int64_t rc_grant = gk_grant_page(k->d.dom_slot, k->page, true, &k->ref);
    if (rc_copy != HV_OK || rc_grant != HV_OK)
        gk_panic("smp: FAILED to give %s its page (cap copy %lld, grant %lld)", names[index],
                 (long long)rc_copy, (long long)rc_grant);
    struct hv_domctl_sched s = {
        .dom_slot = k->d.dom_slot, .weight = weight, .cap_pct = cap_pct, .gang = gang};
    int64_t rc = gk_hc_domain_op(HV_DOMCTL_SCHED_SET, &s);
    if (rc != HV_OK)
        gk_panic("smp: FAILED SCHED_SET weight %u gang %u on %s: %lld", weight, gang, names[index],
                 (long long)rc);
    struct hv_domctl_sched g = {.dom_slot = k->d.dom_slot};
    rc = gk_hc_domain_op(HV_DOMCTL_SCHED_GET, &g);
    if (rc != HV_OK || g.weight != weight || g.cap_pct != cap_pct || g.gang != gang)
        gk_panic("smp: FAILED SCHED_GET on %s", names[index]);
    k->port = 0;
    if (strcmp(role, "echo") == 0 && gk_evtchn_alloc_unbound(k->d.dom_slot, &k->port) != HV_OK)
        gk_panic("smp: FAILED allocate a port for %s", names[index]);
    if (pin_mask)
        for (unsigned i = 0; i < vcpus; i++)
            if (pin(k->d.dom_slot, i, pin_mask) != HV_OK)
                gk_panic("smp: FAILED pin %s", names[index]);
    char line[48];
    int n = snprintf(line, sizeof(line), "ref=%u port=%u\n", k->ref, k->port);
    if (gk_console_write_input(k->d.console_slot, line, (size_t)n) != n)
        gk_panic("smp: FAILED console input to %s", names[index]);
    if (gk_domain_start(&k->d) != HV_OK)
        gk_panic("smp: FAILED start %s", names[index]);
}

static void kid_build(struct kid *k, unsigned index, const char *role, unsigned vcpus,
                      uint32_t weight, uint32_t gang, uint64_t pin_mask)
{
    kid_build_cap(k, index, role, vcpus, weight, 0, gang, pin_mask);
}

static void kid_wait_started(struct kid *k)
{
    uint64_t t0 = gk_now_ns();
    while (k->page->started < k->vcpus) {
        if (gk_now_ns() - t0 > 5 * GK_NS_PER_SEC)
            gk_panic("smp: FAILED child VCPUs did not start (%llu of %u)",
                     (unsigned long long)k->page->started, k->vcpus);
        gk_sleep_ms(1);
    }
}

static void kid_destroy(struct kid *k)
{
    k->page->stop = 1;
    if (gk_domain_destroy(&k->d) != HV_OK)
        gk_panic("smp: FAILED destroy child");
    /* The child's mapping goes when the hypervisor has reaped it. */
    int64_t rc = HV_EBUSY;
    for (unsigned i = 0; i < 1000 && (rc = gk_grant_end(k->ref)) == HV_EBUSY; i++)
        gk_sleep_ms(1);
    if (rc != HV_OK)
        gk_panic("smp: FAILED end the child's grant (%lld)", (long long)rc);
}

static uint64_t kid_total(const struct kid *k)
{
    uint64_t s = 0;
    for (unsigned i = 0; i < k->vcpus; i++)
        s += k->page->count[i];
    return s;
}

static int64_t vcpu_info(uint32_t slot, unsigned vcpu, struct hv_domctl_vcpu_info *out)
{
    memset(out, 0, sizeof(*out));
    out->dom_slot = slot;
    out->vcpu = vcpu;
    return gk_hc_domain_op(HV_DOMCTL_VCPU_INFO, out);
}

static uint64_t kid_run_ns(const struct kid *k)
{
    uint64_t s = 0;
    struct hv_domctl_vcpu_info vi;
    for (unsigned i = 0; i < k->vcpus; i++)
        if (vcpu_info(k->d.dom_slot, i, &vi) == HV_OK)
            s += vi.run_ns;
    return s;
}

static int64_t pin(uint32_t slot, unsigned vcpu, uint64_t mask)
{
    struct hv_domctl_vcpu_pin p = {.dom_slot = slot, .vcpu = vcpu, .cpu_mask = mask};
    return gk_hc_domain_op(HV_DOMCTL_VCPU_PIN, &p);
}

static unsigned host_cpus(void)
{
    static struct hv_host_info hi;
    memset(&hi, 0, sizeof(hi));
    hi.slot = HV_ROOT_SLOT_MEMORY;
    if (gk_hc_domain_op(HV_DOMCTL_HOST_INFO, &hi) != HV_OK)
        gk_panic("smp: FAILED HOST_INFO");
    return hi.cpus;
}

/* --- test 1: a 4-VCPU guest runs on all CPUs ----------------------------------- */

static struct smp_page self_page;

static void test_spread(void)
{
    page = &self_page;
    worker_fn = spin_worker;
    start_secondaries(NVCPU);
    while (self_page.started < NVCPU - 1)
        gk_cpu_relax();
    uint64_t c0[NVCPU];
    for (unsigned i = 0; i < NVCPU; i++)
        c0[i] = self_page.count[i];
    unsigned seen_mask = 0, all_running = 0, bad = 0, samples = 0;
    uint64_t t0 = gk_now_ns();
    while (gk_now_ns() - t0 < 300 * GK_NS_PER_MS) {
        struct hv_domctl_vcpu_info vi[NVCPU];
        unsigned running = 0, mask = 0;
        for (unsigned i = 0; i < NVCPU; i++) {
            if (vcpu_info(HV_ROOT_SLOT_SELF, i, &vi[i]) != HV_OK)
                gk_panic("smp: FAILED VCPU_INFO on myself");
            if (vi[i].state == HV_VCPU_RUNNING && vi[i].cpu < 32) {
                running++;
                mask |= 1u << vi[i].cpu;
                seen_mask |= 1u << vi[i].cpu;
            }
        }
        samples++;
        self_page.count[0]++;
        if (running == NVCPU) {
            all_running++;
            if (__builtin_popcount(mask) != NVCPU)
                bad++;
        }
    }
    /* Read the statistics before the VCPUs stop (a stopped VCPU has none). */
    struct hv_domctl_vcpu_info vi;
    bool advanced = true;
    for (unsigned i = 0; i < NVCPU; i++) {
        vcpu_info(HV_ROOT_SLOT_SELF, i, &vi);
        gk_printf("smp: spread: VCPU %u: count +%llu, cpu %u, run %llu us, wait %llu us, "
                  "%llu migrations\n",
                  i, (unsigned long long)(self_page.count[i] - c0[i]), vi.cpu,
                  (unsigned long long)(vi.run_ns / 1000), (unsigned long long)(vi.wait_ns / 1000),
                  (unsigned long long)vi.migrations);
        advanced = advanced && self_page.count[i] > c0[i] && vi.run_ns > 0;
    }
    self_page.stop = 1;
    gk_printf("smp: spread: %u samples, %u with all 4 VCPUs running, CPUs seen running 0x%x\n",
              samples, all_running, seen_mask);
    check("spread: every VCPU's counter and run time advanced", advanced);
    check("spread: all 4 VCPUs were seen running at the same time", all_running > 0);
    check("spread: running VCPUs were always on distinct CPUs", bad == 0);
    check("spread: the VCPUs ran on all 4 CPUs", seen_mask == 0xf);
}

/* --- test 3: an idle CPU picks up work from a loaded one ------------------------ */

static void test_steal(void)
{
    page = &self_page;
    worker_fn = spin_worker;
    check("steal: pin VCPU 0 to CPU 0", pin(HV_ROOT_SLOT_SELF, 0, 1) == HV_OK);
    for (unsigned i = 1; i < NVCPU; i++)
        if (pin(HV_ROOT_SLOT_SELF, i, 1u << 1) != HV_OK)
            gk_panic("smp: FAILED pin VCPU %u before its start", i);
    start_secondaries(NVCPU);
    /* Loaded: all three on CPU 1, two of them waiting. */
    uint64_t t0 = gk_now_ns();
    bool loaded = false;
    struct hv_domctl_vcpu_info vi[NVCPU];
    while (!loaded && gk_now_ns() - t0 < 2 * GK_NS_PER_SEC) {
        unsigned on1 = 0, waiting = 0;
        for (unsigned i = 1; i < NVCPU; i++) {
            vcpu_info(HV_ROOT_SLOT_SELF, i, &vi[i]);
            on1 += vi[i].cpu == 1;
            waiting += vi[i].state == HV_VCPU_RUNNABLE;
        }
        loaded = on1 == 3 && waiting == 2 && self_page.started == 3;
    }
    check("steal: VCPUs 1..3 queued on CPU 1 (one running, two waiting)", loaded);
    uint64_t mig0 = 0;
    for (unsigned i = 1; i < NVCPU; i++) {
        vcpu_info(HV_ROOT_SLOT_SELF, i, &vi[i]);
        mig0 += vi[i].migrations;
    }
    /* Allowed on CPUs 1..3: the idle CPUs 2 and 3 must take two of them. */
    for (unsigned i = 1; i < NVCPU; i++)
        if (pin(HV_ROOT_SLOT_SELF, i, 0xe) != HV_OK)
            gk_panic("smp: FAILED widen VCPU %u's affinity", i);
    uint64_t t1 = gk_now_ns(), took = 0;
    bool spread = false;
    while (!spread && gk_now_ns() - t1 < 2 * GK_NS_PER_SEC) {
        unsigned mask = 0, running = 0;
        for (unsigned i = 1; i < NVCPU; i++) {
            vcpu_info(HV_ROOT_SLOT_SELF, i, &vi[i]);
            if (vi[i].state == HV_VCPU_RUNNING && vi[i].cpu < 32) {
                running++;
                mask |= 1u << vi[i].cpu;
            }
        }
        spread = running == 3 && mask == 0xe;
        took = gk_now_ns() - t1;
    }
    uint64_t mig1 = 0;
    for (unsigned i = 1; i < NVCPU; i++) {
        mig1 += vi[i].migrations;
        gk_printf("smp: steal: VCPU %u: %s on CPU %u, %llu migrations\n", i,
                  vi[i].state == HV_VCPU_RUNNING ? "running" : "not running", vi[i].cpu,
                  (unsigned long long)vi[i].migrations);
    }
    gk_printf("smp: steal: spread over CPUs 1..3 %llu us after the affinity change, "
              "migrations %llu -> %llu\n",
              (unsigned long long)(took / 1000), (unsigned long long)mig0,
              (unsigned long long)mig1);
    check("steal: the idle CPUs 2 and 3 took the waiting VCPUs", spread);
    check("steal: at least two migrations were counted", mig1 >= mig0 + 2);
    self_page.stop = 1;
}

/* --- test 2: weights ------------------------------------------------------------ */

static void test_weights(void)
{
    struct kid a, b;
    kid_build(&a, 0, "spin", NVCPU, 256, 0, 0);
    kid_build(&b, 1, "spin", NVCPU, weight_b, 0, 0);
    kid_wait_started(&a);
    kid_wait_started(&b);
    gk_sleep_ms(100); /* settle */
    uint64_t a0 = kid_total(&a), b0 = kid_total(&b);
    uint64_t ra0 = kid_run_ns(&a), rb0 = kid_run_ns(&b);
    gk_sleep_ms(600);
    uint64_t a1 = kid_total(&a), b1 = kid_total(&b);
    uint64_t ra1 = kid_run_ns(&a), rb1 = kid_run_ns(&b);
    uint64_t da = a1 - a0, db = b1 - b0;
    /* ratio * 1000, integer only */
    uint64_t ratio = da ? db * 1000 / da : 0;
    uint64_t run_ratio = ra1 - ra0 ? (rb1 - rb0) * 1000 / (ra1 - ra0) : 0;
    gk_printf("smp: weights: progress weight 256: %llu, weight 512: %llu, ratio %llu.%03llu "
              "(run time ratio %llu.%03llu)\n",
              (unsigned long long)da, (unsigned long long)db, (unsigned long long)(ratio / 1000),
              (unsigned long long)(ratio % 1000), (unsigned long long)(run_ratio / 1000),
              (unsigned long long)(run_ratio % 1000));
    check("weights: progress ratio within 10% of 2 (1.800 .. 2.200)",
          ratio >= 1800 && ratio <= 2200);
    kid_destroy(&a);
    kid_destroy(&b);
}

/* --- test 5: gang ---------------------------------------------------------------- */

/* Time VCPU i of p ran while VCPU j did not (TSC ticks), and i's total. */
static void gang_exclusive(const struct smp_page *p, unsigned i, unsigned j, uint64_t *excl,
                           uint64_t *total)
{
    *excl = *total = 0;
    for (unsigned a = 0; a < p->nwin[i] && a < WIN_MAX; a++) {
        uint64_t s = p->win[i][a].start, e = p->win[i][a].end, overlap = 0;
        for (unsigned b = 0; b < p->nwin[j] && b < WIN_MAX; b++) {
            uint64_t s2 = p->win[j][b].start, e2 = p->win[j][b].end;
            uint64_t lo = s > s2 ? s : s2, hi = e < e2 ? e : e2;
            if (hi > lo)
                overlap += hi - lo;
        }
        *total += e - s;
        *excl += (e - s) - (overlap < e - s ? overlap : e - s);
    }
}

static void test_gang(unsigned gang, uint32_t cap_pct)
{
    struct kid g, h;
    const char *mode = !gang ? "no gang" : cap_pct ? "capped gang" : "gang";
    kid_build_cap(&g, 0, "gang", NVCPU, 256, cap_pct, gang, 0);
    g.page->gap = tsc_hz / 20000; /* 50 us */
    kid_build(&h, 1, "spin", NVCPU, 256, 0, 0);
    kid_wait_started(&g);
    kid_wait_started(&h);
    uint64_t h0 = kid_total(&h), g0 = kid_total(&g), gr0 = kid_run_ns(&g);
    uint64_t w0 = gk_now_ns();
    gk_sleep_ms(300);
    uint64_t gr1 = kid_run_ns(&g), w1 = gk_now_ns();
    g.page->stop = 1;
    uint64_t t0 = gk_now_ns();
    while (g.page->done < NVCPU && gk_now_ns() - t0 < GK_NS_PER_SEC)
        gk_sleep_ms(1);
    uint64_t h1 = kid_total(&h), g1 = kid_total(&g);
    check("gang: every member closed its windows", g.page->done == NVCPU);
    uint64_t worst_excl = 0, worst_total = 1;
    unsigned windows = 0, fewest = WIN_MAX;
    for (unsigned i = 0; i < NVCPU; i++) {
        windows += g.page->nwin[i];
        if (g.page->nwin[i] < fewest)
            fewest = g.page->nwin[i];
        for (unsigned j = 0; j < NVCPU; j++) {
            if (i == j)
                continue;
            uint64_t excl, total;
            gang_exclusive(g.page, i, j, &excl, &total);
            if (total && excl * 1000 / total >= worst_excl * 1000 / worst_total) {
                worst_excl = excl;
                worst_total = total;
            }
        }
    }
    uint64_t permille = worst_excl * 1000 / worst_total;
    gk_printf("smp: gang (%s): %u run windows in all; worst pair: %llu.%llu%% of a member's "
              "run time without the other (%llu us of %llu us)\n",
              mode, windows, (unsigned long long)(permille / 10),
              (unsigned long long)(permille % 10),
              (unsigned long long)(worst_excl * 1000000 / tsc_hz),
              (unsigned long long)(worst_total * 1000000 / tsc_hz));
    gk_printf("smp: gang (%s): progress: gang domain %llu, CPU-bound domain %llu\n", mode,
              (unsigned long long)(g1 - g0), (unsigned long long)(h1 - h0));
    /* Members must have been descheduled and rescheduled several times for
     * the test to mean anything; the other domain must not starve. */
    bool together = permille <= 20;
    if (cap_pct) {
        /* The gang's CPU time over the 300 ms, in percent of one CPU. */
        uint64_t pct = (gr1 - gr0) * 100 / (w1 - w0);
        gk_printf("smp: gang (%s): %llu%% of a CPU with a cap of %u%%\n", mode,
                  (unsigned long long)pct, cap_pct);
        check("gang: the capped gang ran (at least 3/4 of its cap) and the cap held (+5%)",
              pct * 4 >= cap_pct * 3 && pct <= cap_pct + 5);
    }
    if (gang) {
        check("gang: the members were descheduled at least 3 times each", fewest >= 4);
        check("gang: members ran together (under 2% of run time apart)", together);
        check("gang: the CPU-bound domain progressed (at least 1/4 of the gang's progress)",
              (h1 - h0) * 4 >= (g1 - g0));
    } else {
        gk_printf("smp: gang (no gang): the check %s\n",
                  together ? "does not detect it (members happened to run together)"
                           : "detects it: VCPUs NOT co-scheduled");
    }
    kid_destroy(&g);
    kid_destroy(&h);
}

/* --- yield: does HC_YIELD give the CPU to the other domain? ---------------------
 *
 * Two one-VCPU domains pinned to CPU 3 call HC_YIELD in a loop. Each yield
 * should switch to the other one, so their counts stay equal and large.
 * Before sched_vcpu_yield existed the policy picked the yielder again (its
 * virtual time was still the smallest) and the CPU idled to the end of the
 * slice: about one yield per 5 ms. This test caught it. */
static void test_yield(void)
{
    check("yield: pin myself to CPU 0", pin(HV_ROOT_SLOT_SELF, 0, 1) == HV_OK);
    struct kid a, b;
    kid_build(&a, 0, "yield", 1, 256, 0, 1u << 3);
    kid_build(&b, 1, "yield", 1, 256, 0, 1u << 3);
    kid_wait_started(&a);
    kid_wait_started(&b);
    gk_sleep_ms(20);
    uint64_t a0 = kid_total(&a), b0 = kid_total(&b), t0 = rdtsc();
    uint64_t r0 = kid_run_ns(&a) + kid_run_ns(&b);
    gk_sleep_ms(50);
    uint64_t a1 = kid_total(&a), b1 = kid_total(&b), t1 = rdtsc();
    uint64_t r1 = kid_run_ns(&a) + kid_run_ns(&b);
    uint64_t da = a1 - a0, db = b1 - b0, n = da + db;
    /* Both always runnable on CPU 3: it should be busy all the time. */
    gk_printf("smp: yield: CPU 3 ran them for %llu us of %llu us\n",
              (unsigned long long)((r1 - r0) / 1000),
              (unsigned long long)((t1 - t0) * 1000000 / tsc_hz));
    gk_printf("smp: yield: %llu and %llu yields in %llu TSC ticks (%llu per yield)\n",
              (unsigned long long)da, (unsigned long long)db, (unsigned long long)(t1 - t0),
              (unsigned long long)((t1 - t0) / (n ? n : 1)));
    uint64_t diff = da > db ? da - db : db - da;
    check("yield: each yield switched to the other domain (over 1000 yields, counts within 1%)",
          n > 1000 && diff * 100 <= n);
    kid_destroy(&a);
    kid_destroy(&b);
}

/* --- fpu: is each domain's FPU/SSE state its own? ----------------------------
 *
 * Two one-VCPU domains pinned to CPU 3 each keep their own pattern in all 16
 * XMM registers, MXCSR and the x87 control word, and yield to each other:
 * after every switch back their registers must be unchanged. Without the
 * FXSAVE/FXRSTOR switch each sees the other's values. */
static void test_fpu(void)
{
    check("fpu: pin myself to CPU 0", pin(HV_ROOT_SLOT_SELF, 0, 1) == HV_OK);
    struct kid a, b;
    kid_build(&a, 0, "fpu", 1, 256, 0, 1u << 3);
    kid_build(&b, 1, "fpu", 1, 256, 0, 1u << 3);
    kid_wait_started(&a);
    kid_wait_started(&b);
    gk_sleep_ms(100);
    a.page->stop = 1;
    b.page->stop = 1;
    gk_sleep_ms(5);
    uint64_t ra = a.page->count[0], rb = b.page->count[0];
    uint64_t ba = a.page->count[7], bb = b.page->count[7];
    gk_printf("smp: fpu: %llu and %llu rounds, %llu and %llu with clobbered FPU/SSE state\n",
              (unsigned long long)ra, (unsigned long long)rb, (unsigned long long)ba,
              (unsigned long long)bb);
    check("fpu: both domains switched back and forth (over 500 rounds each)", ra > 500 && rb > 500);
    check("fpu: every XMM register, MXCSR and the x87 control word survived every switch",
          ba == 0 && bb == 0);
    kid_destroy(&a);
    kid_destroy(&b);
}

/* --- figure: context switch ------------------------------------------------------ *
 *
 * The root and a one-VCPU echo domain, both pinned to CPU 3, bounce an
 * event: the root sends and blocks, the echo domain runs, its handler sends
 * back, it blocks, the root runs. A round trip is two context switches
 * between the domains, each with an event send, a block and an upcall. */
static volatile uint64_t echoes;

static void count_echo(uint32_t port, void *arg)
{
    (void)port;
    (void)arg;
    echoes++;
}

static void echo_round_trip(uint32_t port)
{
    uint64_t want = echoes + 1;
    gk_evtchn_send(port);
    bool was = gk_events_disable();
    while (echoes < want) {
        gk_block();
        gk_events_disable();
    }
    gk_events_restore(was);
}

static void figure_switch(void)
{
    enum { WARM = 100, N = 2000 };
    check("switch: pin myself to CPU 3", pin(HV_ROOT_SLOT_SELF, 0, 1u << 3) == HV_OK);
    gk_hc_yield(); /* move there */
    struct kid e;
    kid_build(&e, 0, "echo", 1, 256, 0, 1u << 3);
    gk_evtchn_bind_handler(e.port, count_echo, NULL);
    gk_evtchn_unmask(e.port);
    bool was = gk_events_disable();
    while (echoes == 0) { /* the echo domain's "ready" */
        gk_block();
        gk_events_disable();
    }
    gk_events_restore(was);
    for (unsigned i = 0; i < WARM; i++)
        echo_round_trip(e.port);
    uint64_t t0 = rdtsc();
    for (unsigned i = 0; i < N; i++)
        echo_round_trip(e.port);
    uint64_t t1 = rdtsc();
    struct hv_domctl_vcpu_info me, other;
    vcpu_info(HV_ROOT_SLOT_SELF, 0, &me);
    vcpu_info(e.d.dom_slot, 0, &other);
    check("switch: both domains ran on CPU 3", me.cpu == 3 && other.cpu == 3);
    check("switch: every event came back", echoes == 1 + WARM + N);
    uint64_t rt = (t1 - t0) / N;
    gk_printf("smp: figure: context switch between two domains on one CPU (event ping-pong: "
              "send, block, switch, upcall): %llu instructions per round trip, %llu per switch\n",
              (unsigned long long)rt, (unsigned long long)(rt / 2));
    kid_destroy(&e);
}

/* --- figure: lock-holder preemption ---------------------------------------------- */

static uint64_t lhp_run(unsigned gang)
{
    struct kid l, h;
    kid_build(&l, 0, "lock", NVCPU, 256, gang, 0);
    kid_build(&h, 1, "spin", NVCPU, 256, 0, 0);
    kid_wait_started(&l);
    kid_wait_started(&h);
    gk_sleep_ms(50);
    uint64_t l0 = kid_total(&l), h0 = kid_total(&h), t0 = rdtsc();
    gk_sleep_ms(300);
    uint64_t l1 = kid_total(&l), h1 = kid_total(&h), t1 = rdtsc();
    uint64_t per_m = (l1 - l0) * 100000000 / (t1 - t0); /* per million, x100 */
    gk_printf("smp: lhp: gang %s: %llu handoffs in %llu TSC ticks; CPU-bound domain %llu\n",
              gang ? "on" : "off", (unsigned long long)(l1 - l0), (unsigned long long)(t1 - t0),
              (unsigned long long)(h1 - h0));
    check("lhp: both domains progressed", l1 > l0 && h1 > h0);
    kid_destroy(&l);
    kid_destroy(&h);
    return per_m;
}

static void figure_lhp(void)
{
    uint64_t on = lhp_run(1), off = lhp_run(0);
    gk_printf("smp: figure: lock-holder preemption (4-VCPU lock hand-off next to a 4-VCPU "
              "CPU-bound domain): gang on %llu.%02llu, gang off %llu.%02llu hand-offs per "
              "million instructions\n",
              (unsigned long long)(on / 100), (unsigned long long)(on % 100),
              (unsigned long long)(off / 100), (unsigned long long)(off % 100));
    check("lhp: gang scheduling helps the lock hand-off", on > off);
}

int main(const struct hv_start_info *si)
{
    char role[16] = "root", test[16] = "";
    gk_cmdline_get("role", role, sizeof(role));
    gk_cmdline_get("test", test, sizeof(test));
    if (gk_mm_init(si) != 0)
        gk_panic("smp: gk_mm_init failed");
    if (gk_events_init() != HV_OK)
        gk_panic("smp: gk_events_init failed");
    if (strcmp(role, "root") != 0)
        return child(role);
    start_info = si;
    char wb[12];
    if (gk_cmdline_get("wb", wb, sizeof(wb)))
        weight_b = (uint32_t)strtoul(wb, NULL, 10);
    tsc_hz = si->tsc_hz;
    unsigned cpus = host_cpus();
    gk_printf("smp: %s: %u CPUs, TSC %llu Hz\n", test, cpus, (unsigned long long)tsc_hz);
    if (cpus != 4)
        gk_panic("smp: FAILED these tests want 4 CPUs");
    bool needs_child = strcmp(test, "spread") != 0 && strcmp(test, "steal") != 0;
    if (needs_child && si->modules_count < 1)
        gk_panic("smp: FAILED this image must also be module 1");
    if (strcmp(test, "spread") == 0)
        test_spread();
    else if (strcmp(test, "steal") == 0)
        test_steal();
    else if (strcmp(test, "weights") == 0)
        test_weights();
    else if (strcmp(test, "gang") == 0)
        test_gang(1, 0);
    else if (strcmp(test, "nogang") == 0)
        test_gang(0, 0);
    else if (strcmp(test, "gangcap") == 0)
        test_gang(1, 50);
    else if (strcmp(test, "yield") == 0)
        test_yield();
    else if (strcmp(test, "fpu") == 0)
        test_fpu();
    else if (strcmp(test, "switch") == 0)
        figure_switch();
    else if (strcmp(test, "lhp") == 0)
        figure_lhp();
    else
        gk_panic("smp: FAILED unknown test \"%s\"", test);
    if (failures)
        gk_panic("smp: %s: %d checks FAILED", test, failures);
    gk_printf("smp: %s: ok\n", test);
    gk_shutdown(HV_SHUTDOWN_POWEROFF);
}
