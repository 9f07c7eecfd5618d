/*
 * Root-domain test of the core objects through the raw hypercall ABI
 * (proto/include/hv/domctl.h, caps.h, grant.h): capabilities, event
 * channels, upcalls, blocking and timers, console rings and domain control.
 * Every refusal is checked with its exact status; every check prints a
 * line, a failed one contains "FAILED". `test=AREA` picks one area
 * (caps, evtchn, timer, console, domctl, revoke, irq, vcpu, probe) or
 * `all`. Ends with
 * "core: ok (test=AREA)" and a poweroff when everything held.
 *
 * Uses only gk/hypercall.h and its own tiny upcall entry, so it tests the
 * hypervisor independently of guest-kit's event layer.
 */
#include "gk/gk.h"
#include "gk/mm.h"

static int failures;
static const char *area = "";

static void expect(const char *what, int64_t got, int64_t want)
{
    if (got != want) {
        gk_printf("core: %s: FAILED %s: got %lld, want %lld\n", area, what, (long long)got,
                  (long long)want);
        failures++;
    } else {
        gk_printf("core: %s: %s -> %lld\n", area, what, (long long)got);
    }
}

static void expect_true(const char *what, bool ok)
{
    expect(what, ok, 1);
}

static struct hv_shared_info *shared(void)
{
    return (struct hv_shared_info *)(uintptr_t)gk_start_info->shared_info_va;
}

static bool port_pending(uint32_t port)
{
    return (__atomic_load_n(&shared()->evtchn_pending[port / 64], __ATOMIC_SEQ_CST) >>
            (port % 64)) &
           1;
}

static void port_clear(uint32_t port)
{
    __atomic_fetch_and(&shared()->evtchn_pending[port / 64], ~(1ull << (port % 64)),
                       __ATOMIC_SEQ_CST);
}

static void port_mask(uint32_t port, bool mask)
{
    if (mask)
        __atomic_fetch_or(&shared()->evtchn_mask[port / 64], 1ull << (port % 64), __ATOMIC_SEQ_CST);
    else
        __atomic_fetch_and(&shared()->evtchn_mask[port / 64], ~(1ull << (port % 64)),
                           __ATOMIC_SEQ_CST);
}

static uint64_t now_ns(void)
{
    const struct hv_vcpu_time_info *t = &shared()->vcpu_info[0].time;
    uint32_t v;
    uint64_t ns;
    do {
        v = __atomic_load_n(&t->version, __ATOMIC_SEQ_CST);
        uint32_t lo, hi;
        __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
        uint64_t d = (((uint64_t)hi << 32) | lo) - t->tsc_timestamp;
        d = t->tsc_shift >= 0 ? d << t->tsc_shift : d >> -t->tsc_shift;
        ns = t->system_time_ns + (uint64_t)(((unsigned __int128)d * t->tsc_to_system_mul) >> 32);
    } while ((v & 1) || v != __atomic_load_n(&t->version, __ATOMIC_SEQ_CST));
    return ns;
}

/* --- capability helpers --------------------------------------------------- */

static int64_t cap_copy(uint32_t src, uint32_t dst_dom, uint32_t dst, uint32_t rights,
                        uint64_t base, uint64_t count)
{
    struct hv_cap_copy_args a = {.src_slot = src,
                                 .dst_domain_slot = dst_dom,
                                 .dst_slot = dst,
                                 .rights = rights,
                                 .base = base,
                                 .count = count};
    return gk_hc_cap_op(HV_CAP_COPY, &a);
}

static int64_t cap_slot_op(enum hv_cap_cmd cmd, uint32_t slot)
{
    struct hv_cap_slot_args a = {.slot = slot};
    return gk_hc_cap_op(cmd, &a);
}

static struct hv_cap_info cap_info(uint32_t slot)
{
    struct hv_cap_identify_args a = {.slot = slot};
    if (gk_hc_cap_op(HV_CAP_IDENTIFY, &a) != HV_OK)
        a.info.type = 0xdead;
    return a.info;
}

static int64_t con_op(enum hv_console_cmd cmd, uint32_t slot, void *buf, uint64_t len)
{
    struct hv_console_args a = {.con_slot = slot, .buf = (uint64_t)(uintptr_t)buf, .len = len};
    return gk_hc_console_op(cmd, &a);
}

static int64_t create(uint32_t mem_slot, uint32_t dom_slot, uint32_t con_slot, uint32_t vcpus,
                      uint64_t max_pages, const char *name, struct hv_domctl_create *out)
{
    struct hv_domctl_create a = {.mem_slot = mem_slot,
                                 .dom_slot = dom_slot,
                                 .console_slot = con_slot,
                                 .vcpus = vcpus,
                                 .max_pages = max_pages};
    for (size_t i = 0; name[i] && i < sizeof(a.name) - 1; i++)
        a.name[i] = name[i];
    int64_t rc = gk_hc_domain_op(HV_DOMCTL_CREATE, &a);
    if (out)
        *out = a;
    return rc;
}

static int64_t dom_simple(enum hv_domctl_cmd cmd, uint32_t slot)
{
    struct hv_domctl_dom a = {.dom_slot = slot};
    return gk_hc_domain_op(cmd, &a);
}

static int64_t dom_info(uint32_t slot, struct hv_domctl_info *out)
{
    struct hv_domctl_info a = {.dom_slot = slot};
    int64_t rc = gk_hc_domain_op(HV_DOMCTL_INFO, &a);
    *out = a;
    return rc;
}

/* --- areas ----------------------------------------------------------------- */

static void area_caps(void)
{
    area = "caps";
    struct hv_cap_info i = cap_info(HV_ROOT_SLOT_SELF);
    expect("slot 0 is a domain cap", i.type, HV_CAP_DOMAIN);
    expect("slot 0 has every domain right", i.rights, HV_CAP_R_DOM_ALL | HV_CAP_R_GRANT);
    expect("slot 1 is memory", cap_info(HV_ROOT_SLOT_MEMORY).type, HV_CAP_MEMORY);
    expect("slot 2 is the console", cap_info(HV_ROOT_SLOT_CONSOLE).type, HV_CAP_CONSOLE);
    i = cap_info(HV_ROOT_SLOT_IOPORT);
    expect("slot 3 is every I/O port", (int64_t)(i.type == HV_CAP_IOPORT && i.count == 0x10000), 1);
    expect("slot 4 is the IRQ lines", cap_info(HV_ROOT_SLOT_IRQ).type, HV_CAP_IRQ);
    expect("slot 5 is MMIO", cap_info(HV_ROOT_SLOT_MMIO).type, HV_CAP_MMIO);
    expect("slot 9 is empty", cap_info(9).type, HV_CAP_NULL);

    struct hv_cap_identify_args bad = {.slot = HV_CAP_SLOTS};
    expect("identify slot 256", gk_hc_cap_op(HV_CAP_IDENTIFY, &bad), HV_EINVAL);
    bad.slot = 0;
    bad.reserved = 1;
    expect("identify with reserved set", gk_hc_cap_op(HV_CAP_IDENTIFY, &bad), HV_EINVAL);
    expect("identify through a bad pointer", gk_hc_cap_op(HV_CAP_IDENTIFY, (void *)0x10),
           HV_EFAULT);
    expect("unknown cap command", gk_hc_cap_op((enum hv_cap_cmd)99, &bad), HV_EINVAL);

    /* Copy with fewer rights; more rights or no grant right are refused. */
    expect("copy console read-only to 20",
           cap_copy(HV_ROOT_SLOT_CONSOLE, HV_CAP_SLOT_SELF, 20, HV_CAP_R_CON_READ, 0, 0), HV_OK);
    expect("slot 20 has read only", cap_info(20).rights, HV_CAP_R_CON_READ);
    expect("copy 20 -> 21 with write (more rights)",
           cap_copy(20, HV_CAP_SLOT_SELF, 21, HV_CAP_R_CON_WRITE, 0, 0), HV_EPERM);
    expect("copy 20 -> 21 without the grant right",
           cap_copy(20, HV_CAP_SLOT_SELF, 21, HV_CAP_R_CON_READ, 0, 0), HV_EPERM);
    expect("copy into an occupied slot",
           cap_copy(HV_ROOT_SLOT_CONSOLE, HV_CAP_SLOT_SELF, 20, HV_CAP_R_CON_READ, 0, 0),
           HV_EEXIST);
    expect("copy from an empty slot", cap_copy(9, HV_CAP_SLOT_SELF, 21, 0, 0, 0), HV_ENOENT);
    expect("copy to slot 256",
           cap_copy(HV_ROOT_SLOT_CONSOLE, HV_CAP_SLOT_SELF, 256, HV_CAP_R_CON_READ, 0, 0),
           HV_EINVAL);
    expect("copy with a range on a non-range type",
           cap_copy(HV_ROOT_SLOT_CONSOLE, HV_CAP_SLOT_SELF, 21, HV_CAP_R_CON_READ, 1, 1),
           HV_EINVAL);

    /* The read-only console cap reads but does not write. */
    char buf[8];
    expect_true("read own output through 20", con_op(HV_CONSOLE_READ, 20, buf, sizeof(buf)) >= 0);
    expect("write input through read-only 20", con_op(HV_CONSOLE_WRITE, 20, "x", 1), HV_EPERM);
    expect("console op through the memory cap",
           con_op(HV_CONSOLE_READ, HV_ROOT_SLOT_MEMORY, buf, 1), HV_EPERM);
    expect("console op through an empty slot", con_op(HV_CONSOLE_READ, 9, buf, 1), HV_ENOENT);

    /* Ranges narrow; a sub-range outside is refused. */
    expect("copy ports 0x3f8+8",
           cap_copy(HV_ROOT_SLOT_IOPORT, HV_CAP_SLOT_SELF, 23, HV_CAP_R_IO_ALL | HV_CAP_R_GRANT,
                    0x3f8, 8),
           HV_OK);
    expect("copy ports 0x3f0+16 from 0x3f8+8",
           cap_copy(23, HV_CAP_SLOT_SELF, 24, HV_CAP_R_IO_ALL, 0x3f0, 16), HV_ERANGE);
    expect("copy ports 0x3fa+2 from 0x3f8+8",
           cap_copy(23, HV_CAP_SLOT_SELF, 24, HV_CAP_R_IO_ALL, 0x3fa, 2), HV_OK);
    expect("copy a range of 0 ports", cap_copy(23, HV_CAP_SLOT_SELF, 25, HV_CAP_R_IO_ALL, 0x3f8, 0),
           HV_EINVAL);

    /* Revoke takes effect at once: the copies are gone, the source stays. */
    expect("revoke slot 23", cap_slot_op(HV_CAP_REVOKE, 23), HV_OK);
    expect("slot 24 (copy of 23) is gone", cap_info(24).type, HV_CAP_NULL);
    expect("slot 23 stays", cap_info(23).type, HV_CAP_IOPORT);
    expect("revoke console slot 2", cap_slot_op(HV_CAP_REVOKE, HV_ROOT_SLOT_CONSOLE), HV_OK);
    expect("the holder of 20 is refused next time", con_op(HV_CONSOLE_READ, 20, buf, 1), HV_ENOENT);

    /* Delete. */
    expect("delete slot 23", cap_slot_op(HV_CAP_DELETE, 23), HV_OK);
    expect("delete slot 23 again", cap_slot_op(HV_CAP_DELETE, 23), HV_ENOENT);
    expect("delete slot 256", cap_slot_op(HV_CAP_DELETE, 256), HV_EINVAL);
    struct hv_cap_slot_args r = {.slot = 1, .reserved = 7};
    expect("delete with reserved set", gk_hc_cap_op(HV_CAP_DELETE, &r), HV_EINVAL);
}

/* Revoke a tree of 1,000 copies spread over four domains' tables. */
static void area_revoke(void)
{
    area = "revoke";
    enum { DOMS = 4, PER = 250, COPIES = DOMS * PER };
    int64_t max0 = gk_hc_memory_op(HV_MEMOP_MAXIMUM, 0);
    for (uint32_t k = 0; k < DOMS; k++)
        if (create(HV_ROOT_SLOT_MEMORY, 40 + k, 50 + k, 1, 4, "holder", 0) != HV_OK)
            expect("create a holder domain", 0, 1);
    expect("console -> 60 (tree root, with grant)",
           cap_copy(HV_ROOT_SLOT_CONSOLE, HV_CAP_SLOT_SELF, 60, HV_CAP_R_CON_ALL | HV_CAP_R_GRANT,
                    0, 0),
           HV_OK);
    /* Each holder gets 250 copies of slot 60 (a flat tree: a domain can
     * only copy from its own slots, so depth would need the holders' help). */
    int64_t bad = 0;
    for (uint32_t k = 0; k < DOMS; k++)
        for (uint32_t s = 0; s < PER; s++)
            bad += cap_copy(60, 40 + k, s, HV_CAP_R_CON_ALL | HV_CAP_R_GRANT, 0, 0) != HV_OK;
    expect("1000 copies into four tables", bad, 0);
    uint64_t t0 = __builtin_ia32_rdtsc();
    int64_t rc = cap_slot_op(HV_CAP_REVOKE, 60);
    uint64_t t1 = __builtin_ia32_rdtsc();
    expect("revoke the tree", rc, HV_OK);
    gk_printf("core: revoke: figure: revoke of %d copies: %llu TSC ticks\n", COPIES,
              (unsigned long long)(t1 - t0));
    /* A copy into each table again works (the slots are empty again). */
    bad = 0;
    for (uint32_t k = 0; k < DOMS; k++)
        bad += cap_copy(60, 40 + k, 0, HV_CAP_R_CON_READ, 0, 0) != HV_OK;
    expect("the holders' slot 0 is empty again", bad, 0);
    t0 = __builtin_ia32_rdtsc();
    rc = cap_copy(60, HV_CAP_SLOT_SELF, 61, HV_CAP_R_CON_READ, 0, 0);
    t1 = __builtin_ia32_rdtsc();
    expect("one copy", rc, HV_OK);
    gk_printf("core: revoke: figure: one capability copy: %llu TSC ticks\n",
              (unsigned long long)(t1 - t0));
    for (uint32_t k = 0; k < DOMS; k++)
        expect("destroy a holder", dom_simple(HV_DOMCTL_DESTROY, 40 + k), HV_OK);
    expect("the quota came back", gk_hc_memory_op(HV_MEMOP_MAXIMUM, 0), max0);
    cap_slot_op(HV_CAP_DELETE, 60);
    cap_slot_op(HV_CAP_DELETE, 61);
}

/* Upcall entry: saves what HC_IRET does not restore, counts, returns. */
static volatile uint64_t upcalls, mask_in_upcall, upcall_vector;
void core_upcall(struct hv_bounce_frame *f);
void core_upcall(struct hv_bounce_frame *f)
{
    upcalls++;
    upcall_vector = f->vector;
    mask_in_upcall = shared()->vcpu_info[0].upcall_mask;
    shared()->vcpu_info[0].upcall_pending = 0;
    uint64_t sel = __atomic_exchange_n(&shared()->vcpu_info[0].pending_sel, 0, __ATOMIC_SEQ_CST);
    for (unsigned w = 0; w < HV_EVTCHN_WORDS; w++)
        if ((sel >> w) & 1)
            __atomic_store_n(&shared()->evtchn_pending[w], 0, __ATOMIC_SEQ_CST);
}
__asm__(".text\n"
        ".globl core_upcall_entry\n"
        "core_upcall_entry:\n"
        "  pushq %rsi; pushq %rdx; pushq %r8; pushq %r9; pushq %r10; pushq $0\n"
        "  leaq 48(%rsp), %rdi\n"
        "  call core_upcall\n"
        "  addq $8, %rsp\n"
        "  popq %r10; popq %r9; popq %r8; popq %rdx; popq %rsi\n"
        "  movq %rsp, %rdi\n"
        "  movl $8, %eax\n" /* HC_IRET */
        "  syscall\n"
        "  ud2\n");
void core_upcall_entry(void);

static int64_t evt(enum hv_evtchn_cmd cmd, void *a)
{
    return gk_hc_evtchn_op(cmd, a);
}

static int64_t evt_port(enum hv_evtchn_cmd cmd, uint32_t port)
{
    struct hv_evtchn_port_args a = {.port = port};
    return evt(cmd, &a);
}

static void area_evtchn(void)
{
    area = "evtchn";
    struct hv_vcpu_info *vi = &shared()->vcpu_info[0];
    struct hv_evtchn_alloc_unbound au = {.remote_domain_slot = HV_CAP_SLOT_SELF};
    expect("alloc unbound for myself", evt(HV_EVTCHN_ALLOC_UNBOUND, &au), HV_OK);
    struct hv_evtchn_bind_interdomain bi = {.remote_domain_slot = HV_CAP_SLOT_SELF,
                                            .remote_port = au.port};
    expect("bind to it (loopback)", evt(HV_EVTCHN_BIND_INTERDOMAIN, &bi), HV_OK);
    uint32_t a = au.port, b = bi.port;
    expect_true("two distinct non-zero ports", a && b && a != b);
    expect_true("binding made b pending (the binder learns of it)", port_pending(b));
    port_clear(b);

    vi->upcall_pending = 0;
    vi->pending_sel = 0;
    expect("send on b", evt_port(HV_EVTCHN_SEND, b), HV_OK);
    expect_true("a is pending", port_pending(a));
    expect("upcall_pending set", vi->upcall_pending, 1);
    expect_true("pending_sel has a's word", (vi->pending_sel >> (a / 64)) & 1);

    /* Masked: pending but no upcall; unmask re-raises. */
    port_clear(a);
    vi->upcall_pending = 0;
    vi->pending_sel = 0;
    port_mask(a, true);
    expect("send on b with a masked", evt_port(HV_EVTCHN_SEND, b), HV_OK);
    expect_true("a pending while masked", port_pending(a));
    expect("no upcall while masked", vi->upcall_pending, 0);
    port_mask(a, false);
    expect("unmask a", evt_port(HV_EVTCHN_UNMASK, a), HV_OK);
    expect("unmask re-raised the upcall", vi->upcall_pending, 1);
    port_clear(a);
    vi->upcall_pending = 0;
    vi->pending_sel = 0;

    /* HC_BLOCK with an event pending returns at once. */
    expect("send on a", evt_port(HV_EVTCHN_SEND, a), HV_OK);
    vi->upcall_mask = 1;
    expect("block with an event pending", gk_hc_block(), HV_OK);
    expect("block cleared upcall_mask", vi->upcall_mask, 0);
    vi->upcall_mask = 1;
    port_clear(b);
    vi->upcall_pending = 0;
    vi->pending_sel = 0;

    /* Upcalls: delivered with the mask set on entry. */
    expect("set callback beyond guest space", gk_hc_set_callback(1ull << 47), HV_EINVAL);
    expect("set callback", gk_hc_set_callback((uint64_t)(uintptr_t)core_upcall_entry), HV_OK);
    struct hv_evtchn_bind_ipi ipi = {.vcpu = 0};
    expect("bind IPI", evt(HV_EVTCHN_BIND_IPI, &ipi), HV_OK);
    vi->upcall_mask = 0;
    expect("send IPI", evt_port(HV_EVTCHN_SEND, ipi.port), HV_OK);
    expect("one upcall ran", (int64_t)upcalls, 1);
    expect("its vector", (int64_t)upcall_vector, HV_UPCALL_VECTOR);
    expect("upcall_mask was set on entry", (int64_t)mask_in_upcall, 1);
    vi->upcall_mask = 0;
    expect("send IPI again (mask cleared by us)", evt_port(HV_EVTCHN_SEND, ipi.port), HV_OK);
    expect("a second upcall ran", (int64_t)upcalls, 2);
    vi->upcall_mask = 1;
    gk_hc_set_callback(0);
    port_clear(ipi.port);

    /* Close one end: the other becomes unbound; sending there is harmless. */
    expect("close b", evt_port(HV_EVTCHN_CLOSE, b), HV_OK);
    expect("send on a (peer closed)", evt_port(HV_EVTCHN_SEND, a), HV_OK);
    expect("send on closed b", evt_port(HV_EVTCHN_SEND, b), HV_ENOENT);
    expect("close b again", evt_port(HV_EVTCHN_CLOSE, b), HV_ENOENT);
    expect("send on port 0", evt_port(HV_EVTCHN_SEND, 0), HV_EINVAL);
    expect("send on port 5000", evt_port(HV_EVTCHN_SEND, 5000), HV_EINVAL);
    struct hv_evtchn_port_args pa = {.port = a, .vcpu = 1};
    expect("send with vcpu set", evt(HV_EVTCHN_SEND, &pa), HV_EINVAL);

    /* Virtual IRQs. */
    struct hv_evtchn_bind_virq bv = {.virq = HV_VIRQ_TIMER, .vcpu = 0};
    expect("bind VIRQ_TIMER", evt(HV_EVTCHN_BIND_VIRQ, &bv), HV_OK);
    uint32_t tport = bv.port;
    expect("bind VIRQ_TIMER twice", evt(HV_EVTCHN_BIND_VIRQ, &bv), HV_EEXIST);
    bv.virq = 99;
    expect("bind VIRQ 99", evt(HV_EVTCHN_BIND_VIRQ, &bv), HV_EINVAL);
    bv.virq = HV_VIRQ_TIMER;
    bv.vcpu = 100;
    expect("bind VIRQ on VCPU 100", evt(HV_EVTCHN_BIND_VIRQ, &bv), HV_EINVAL);
    expect("close the timer port", evt_port(HV_EVTCHN_CLOSE, tport), HV_OK);

    /* Refusals by capability. */
    expect("copy self domain cap without EVTCHN",
           cap_copy(HV_ROOT_SLOT_SELF, HV_CAP_SLOT_SELF, 30, HV_CAP_R_DOM_STATE, 0, 0), HV_OK);
    au.remote_domain_slot = 30;
    expect("alloc unbound through a cap without EVTCHN", evt(HV_EVTCHN_ALLOC_UNBOUND, &au),
           HV_EPERM);
    au.remote_domain_slot = HV_ROOT_SLOT_CONSOLE;
    expect("alloc unbound through a console cap", evt(HV_EVTCHN_ALLOC_UNBOUND, &au), HV_EPERM);
    au.remote_domain_slot = 31;
    expect("alloc unbound through an empty slot", evt(HV_EVTCHN_ALLOC_UNBOUND, &au), HV_ENOENT);
    struct hv_evtchn_bind_pirq bq = {.irq_slot = HV_ROOT_SLOT_CONSOLE, .irq = 4};
    expect("bind PIRQ through a console cap", evt(HV_EVTCHN_BIND_PIRQ, &bq), HV_EPERM);
    expect("copy IRQ 4 only",
           cap_copy(HV_ROOT_SLOT_IRQ, HV_CAP_SLOT_SELF, 32, HV_CAP_R_IRQ_BIND, 4, 1), HV_OK);
    bq.irq_slot = 32;
    bq.irq = 5;
    expect("bind PIRQ 5 with a cap for line 4", evt(HV_EVTCHN_BIND_PIRQ, &bq), HV_EPERM);
    expect("unknown evtchn command", evt((enum hv_evtchn_cmd)77, &pa), HV_EINVAL);
    expect("evtchn op through a bad pointer", evt(HV_EVTCHN_SEND, (void *)0x10), HV_EFAULT);
    cap_slot_op(HV_CAP_DELETE, 30);
    cap_slot_op(HV_CAP_DELETE, 32);
    evt_port(HV_EVTCHN_CLOSE, a);
    evt_port(HV_EVTCHN_CLOSE, ipi.port);

    /* Endpoint capabilities: "may wake me" on one mailbox port. */
    struct hv_evtchn_alloc_unbound mb = {.remote_domain_slot = HV_CAP_SLOT_SELF};
    expect("allocate a mailbox port", evt(HV_EVTCHN_ALLOC_UNBOUND, &mb), HV_OK);
    struct hv_evtchn_endpoint ep = {
        .port = mb.port, .dst_slot = 38, .rights = HV_CAP_R_EVT_SEND | HV_CAP_R_GRANT};
    expect("mint an endpoint capability", evt(HV_EVTCHN_MINT_ENDPOINT, &ep), HV_OK);
    expect("it is an endpoint capability", cap_info(38).type, HV_CAP_EVTCHN);
    expect("mint into an occupied slot", evt(HV_EVTCHN_MINT_ENDPOINT, &ep), HV_EEXIST);
    ep.dst_slot = 39;
    ep.rights = HV_CAP_R_EVT_BIND << 4;
    expect("mint with a foreign right", evt(HV_EVTCHN_MINT_ENDPOINT, &ep), HV_EINVAL);
    ep.rights = HV_CAP_R_EVT_SEND;
    ep.port = 0;
    expect("mint for port 0", evt(HV_EVTCHN_MINT_ENDPOINT, &ep), HV_EINVAL);
    ep.port = 1000;
    expect("mint for a free port", evt(HV_EVTCHN_MINT_ENDPOINT, &ep), HV_ENOENT);
    port_clear(mb.port);
    struct hv_evtchn_notify nt = {.slot = 38};
    expect("notify through it", evt(HV_EVTCHN_NOTIFY, &nt), HV_OK);
    expect_true("the mailbox port is pending", port_pending(mb.port));
    port_clear(mb.port);
    expect("copy it without SEND", cap_copy(38, HV_CAP_SLOT_SELF, 39, 0, 0, 0), HV_OK);
    nt.slot = 39;
    expect("notify without SEND", evt(HV_EVTCHN_NOTIFY, &nt), HV_EPERM);
    nt.slot = HV_ROOT_SLOT_CONSOLE;
    expect("notify through a console cap", evt(HV_EVTCHN_NOTIFY, &nt), HV_EPERM);
    nt.slot = 38;
    nt.reserved = 1;
    expect("notify with reserved set", evt(HV_EVTCHN_NOTIFY, &nt), HV_EINVAL);
    nt.reserved = 0;
    expect("close the mailbox", evt_port(HV_EVTCHN_CLOSE, mb.port), HV_OK);
    expect("its endpoint capabilities went", cap_info(38).type, HV_CAP_NULL);
    expect("and the copy", cap_info(39).type, HV_CAP_NULL);
    expect("notify after the close", evt(HV_EVTCHN_NOTIFY, &nt), HV_ENOENT);
    expect_true("nothing became pending", !port_pending(mb.port));
}

static void area_timer(void)
{
    area = "timer";
    struct hv_shared_info *s = shared();
    gk_printf("core: timer: wall clock at boot %llu s, now %llu ns, TSC mul %u shift %d\n",
              (unsigned long long)s->wc_sec, (unsigned long long)now_ns(),
              s->vcpu_info[0].time.tsc_to_system_mul, s->vcpu_info[0].time.tsc_shift);
    expect_true("wall clock after 2020", s->wc_sec > 1577836800ull);
    struct hv_evtchn_bind_virq bv = {.virq = HV_VIRQ_TIMER, .vcpu = 0};
    expect("bind VIRQ_TIMER", gk_hc_evtchn_op(HV_EVTCHN_BIND_VIRQ, &bv), HV_OK);
    uint64_t worst = 0;
    for (int i = 0; i < 5; i++) {
        uint64_t deadline = now_ns() + 2000000; /* 2 ms */
        expect("set timer +2 ms", gk_hc_set_timer(deadline), HV_OK);
        shared()->vcpu_info[0].upcall_mask = 1;
        while (!port_pending(bv.port))
            gk_hc_block();
        uint64_t woke = now_ns();
        port_clear(bv.port);
        shared()->vcpu_info[0].upcall_pending = 0;
        expect_true("woke at or after the deadline", woke >= deadline);
        if (woke - deadline > worst)
            worst = woke - deadline;
    }
    gk_printf("core: timer: figure: latest wake-up %llu ns after its deadline\n",
              (unsigned long long)worst);
    expect_true("every wake-up within 1 ms of its deadline", worst < 1000000);
    /* A deadline in the past fires at once. */
    expect("set timer in the past", gk_hc_set_timer(1), HV_OK);
    expect("block returns", gk_hc_block(), HV_OK);
    expect_true("the timer port is pending", port_pending(bv.port));
    port_clear(bv.port);
    /* Cancel: nothing fires. */
    expect("set timer +1 ms", gk_hc_set_timer(now_ns() + 1000000), HV_OK);
    expect("cancel it", gk_hc_set_timer(0), HV_OK);
    uint64_t until = now_ns() + 3000000;
    while (now_ns() < until)
        __asm__ volatile("pause");
    expect("a cancelled timer does not fire", port_pending(bv.port), 0);
    struct hv_evtchn_port_args pa = {.port = bv.port};
    gk_hc_evtchn_op(HV_EVTCHN_CLOSE, &pa);
    shared()->vcpu_info[0].upcall_mask = 1;
}

static bool contains(const char *hay, size_t n, const char *needle)
{
    size_t m = 0;
    while (needle[m])
        m++;
    for (size_t i = 0; i + m <= n; i++) {
        size_t j = 0;
        while (j < m && hay[i + j] == needle[j])
            j++;
        if (j == m)
            return true;
    }
    return false;
}

static char conbuf[HV_CONSOLE_RING_SIZE];

static void area_console(void)
{
    area = "console";
    gk_printf("core: console: marker-7391\n");
    int64_t n = con_op(HV_CONSOLE_READ, HV_ROOT_SLOT_CONSOLE, conbuf, sizeof(conbuf));
    int64_t again = con_op(HV_CONSOLE_READ, HV_ROOT_SLOT_CONSOLE, conbuf + n, 64);
    expect_true("read my own output ring", n > 0);
    expect("read again at once: empty", again, 0);
    expect_true("it holds what I printed", n > 0 && contains(conbuf, (size_t)n, "marker-7391"));

    struct hv_evtchn_bind_virq bv = {.virq = HV_VIRQ_CONSOLE, .vcpu = 0};
    expect("bind VIRQ_CONSOLE", gk_hc_evtchn_op(HV_EVTCHN_BIND_VIRQ, &bv), HV_OK);
    expect("write my input", con_op(HV_CONSOLE_WRITE, HV_ROOT_SLOT_CONSOLE, "hello-in", 8), 8);
    expect_true("VIRQ_CONSOLE raised", port_pending(bv.port));
    port_clear(bv.port);
    expect("read input through a bad buffer",
           con_op(HV_CONSOLE_READ_INPUT, HV_CAP_SLOT_SELF, (void *)0x10, 8), HV_EFAULT);
    char in[16] = {0};
    expect("read my input", con_op(HV_CONSOLE_READ_INPUT, HV_CAP_SLOT_SELF, in, sizeof(in)), 8);
    expect_true("the bytes came through intact (nothing lost to the bad read)",
                contains(in, 8, "hello-in"));
    expect("read input through a slot", con_op(HV_CONSOLE_READ_INPUT, HV_ROOT_SLOT_CONSOLE, in, 8),
           HV_EINVAL);
    expect("watch with a buffer", con_op(HV_CONSOLE_WATCH, HV_ROOT_SLOT_CONSOLE, in, 8), HV_EINVAL);
    expect("watch my console", con_op(HV_CONSOLE_WATCH, HV_ROOT_SLOT_CONSOLE, 0, 0), HV_OK);
    gk_printf("core: console: output after watch\n");
    expect_true("VIRQ_CONSOLE on my own output", port_pending(bv.port));
    port_clear(bv.port);
    /* A full input ring takes what fits. */
    int64_t took = 0, r;
    while ((r = con_op(HV_CONSOLE_WRITE, HV_ROOT_SLOT_CONSOLE, conbuf, 4096)) > 0)
        took += r;
    expect("the input ring holds its size", took, HV_CONSOLE_RING_SIZE);
    while (con_op(HV_CONSOLE_READ_INPUT, HV_CAP_SLOT_SELF, conbuf, sizeof(conbuf)) > 0)
        ;
    expect("unknown console command", con_op((enum hv_console_cmd)9, 2, 0, 0), HV_EINVAL);
    struct hv_evtchn_port_args pa = {.port = bv.port};
    gk_hc_evtchn_op(HV_EVTCHN_CLOSE, &pa);
}

static void area_domctl(void)
{
    area = "domctl";
    int64_t max0 = gk_hc_memory_op(HV_MEMOP_MAXIMUM, 0);
    struct hv_domctl_create c;
    expect("create with 0 VCPUs", create(HV_ROOT_SLOT_MEMORY, 40, 41, 0, 16, "x", 0), HV_EINVAL);
    expect("create with 9 VCPUs", create(HV_ROOT_SLOT_MEMORY, 40, 41, 9, 16, "x", 0), HV_EINVAL);
    expect("create with no name", create(HV_ROOT_SLOT_MEMORY, 40, 41, 1, 16, "", 0), HV_EINVAL);
    expect("create with a control character in its name",
           create(HV_ROOT_SLOT_MEMORY, 40, 41, 1, 16, "a\tb", 0), HV_EINVAL);
    expect("create with 0 pages", create(HV_ROOT_SLOT_MEMORY, 40, 41, 1, 0, "x", 0), HV_EINVAL);
    expect("create with one slot twice", create(HV_ROOT_SLOT_MEMORY, 40, 40, 1, 16, "x", 0),
           HV_EINVAL);
    expect("create into an occupied slot", create(HV_ROOT_SLOT_MEMORY, 0, 41, 1, 16, "x", 0),
           HV_EEXIST);
    expect("create beyond my quota", create(HV_ROOT_SLOT_MEMORY, 40, 41, 1, 1ull << 40, "x", 0),
           HV_ENOMEM);
    expect("create through the console cap", create(HV_ROOT_SLOT_CONSOLE, 40, 41, 1, 16, "x", 0),
           HV_EPERM);
    expect("copy memory cap without CREATE",
           cap_copy(HV_ROOT_SLOT_MEMORY, HV_CAP_SLOT_SELF, 42, HV_CAP_R_MEM_ALLOC, 0, 0), HV_OK);
    expect("create through a memory cap without CREATE", create(42, 40, 41, 1, 16, "x", 0),
           HV_EPERM);
    expect("create through a bad pointer", gk_hc_domain_op(HV_DOMCTL_CREATE, (void *)0x10),
           HV_EFAULT);
    expect("unknown domain command", gk_hc_domain_op((enum hv_domctl_cmd)42, &c), HV_EINVAL);

    expect("create 'scratch' (64 pages)", create(HV_ROOT_SLOT_MEMORY, 40, 41, 1, 64, "scratch", &c),
           HV_OK);
    expect("my quota shrank by 64", gk_hc_memory_op(HV_MEMOP_MAXIMUM, 0), max0 - 64);
    expect("slot 40 names a domain", cap_info(40).type, HV_CAP_DOMAIN);
    expect("slot 41 names its console", cap_info(41).type, HV_CAP_CONSOLE);
    struct hv_domctl_info info;
    expect("info", dom_info(40, &info), HV_OK);
    expect("it is BUILDING", info.state, HV_DOMSTATE_BUILDING);
    expect("it owns its shared-info frame", (int64_t)info.pages, 1);
    expect("info of myself", dom_info(HV_CAP_SLOT_SELF, &info), HV_OK);
    expect("I am RUNNING", info.state, HV_DOMSTATE_RUNNING);

    /* Assign: only unused frames of mine. */
    int64_t m = gk_hc_memory_op(HV_MEMOP_INCREASE, 0);
    expect_true("a fresh frame", m > 0);
    struct hv_domctl_frame fr = {.mfn = (uint64_t)m, .pfn = 1};
    struct hv_domctl_assign as = {.dom_slot = 40, .count = 1, .list = (uint64_t)(uintptr_t)&fr};
    as.dom_slot = HV_CAP_SLOT_SELF;
    expect("assign to myself", gk_hc_domain_op(HV_DOMCTL_ASSIGN, &as), HV_EINVAL);
    as.dom_slot = 40;
    as.count = 0;
    expect("assign 0 frames", gk_hc_domain_op(HV_DOMCTL_ASSIGN, &as), HV_EINVAL);
    as.count = 1;
    struct hv_domctl_frame mine = {.mfn = gk_layout_va_to_mfn((uint64_t)(uintptr_t)&conbuf),
                                   .pfn = 2};
    as.list = (uint64_t)(uintptr_t)&mine;
    expect("assign a frame I map", gk_hc_domain_op(HV_DOMCTL_ASSIGN, &as), HV_EBUSY);
    mine.mfn = 0;
    expect("assign a frame not mine", gk_hc_domain_op(HV_DOMCTL_ASSIGN, &as), HV_EPERM);
    fr.pfn = 64;
    as.list = (uint64_t)(uintptr_t)&fr;
    expect("assign to pfn 64 of 64", gk_hc_domain_op(HV_DOMCTL_ASSIGN, &as), HV_EINVAL);
    fr.pfn = 1;
    as.list = 0x10;
    expect("assign from a bad list", gk_hc_domain_op(HV_DOMCTL_ASSIGN, &as), HV_EFAULT);
    as.list = (uint64_t)(uintptr_t)&fr;
    as.done = 0;
    expect("assign the fresh frame", gk_hc_domain_op(HV_DOMCTL_ASSIGN, &as), HV_OK);
    expect("done = 1", (int64_t)as.done, 1);
    expect("it is not mine any more", gk_frame_info((uint64_t)m), HV_EPERM);
    expect("info", dom_info(40, &info), HV_OK);
    expect("it owns 2 frames", (int64_t)info.pages, 2);

    /* VCPU_START needs a base; SET_BASE needs an L4 it owns. */
    struct hv_domctl_vcpu_start vs = {.dom_slot = 40, .vcpu = 0, .rip = 0x400000, .rsp = 0x500000};
    expect("start before a base", gk_hc_domain_op(HV_DOMCTL_VCPU_START, &vs), HV_EINVAL);
    struct hv_domctl_set_base sb = {.dom_slot = 40, .l4_mfn = mine.mfn};
    expect("set base to a frame not its own", gk_hc_domain_op(HV_DOMCTL_SET_BASE, &sb), HV_EPERM);
    sb.l4_mfn = (uint64_t)m;
    expect("set base (an empty L4)", gk_hc_domain_op(HV_DOMCTL_SET_BASE, &sb), HV_OK);
    expect("set base twice", gk_hc_domain_op(HV_DOMCTL_SET_BASE, &sb), HV_EEXIST);
    vs.vcpu = 1;
    expect("start VCPU 1 of 1", gk_hc_domain_op(HV_DOMCTL_VCPU_START, &vs), HV_EINVAL);
    vs.vcpu = 0;
    vs.rip = 1ull << 47;
    expect("start at a non-guest rip", gk_hc_domain_op(HV_DOMCTL_VCPU_START, &vs), HV_EINVAL);
    expect("pause a BUILDING domain", dom_simple(HV_DOMCTL_PAUSE, 40), HV_EBUSY);
    expect("pause myself", dom_simple(HV_DOMCTL_PAUSE, HV_CAP_SLOT_SELF), HV_EINVAL);
    expect("destroy myself", dom_simple(HV_DOMCTL_DESTROY, HV_ROOT_SLOT_SELF), HV_EINVAL);

    /* Watch its state, start it: with no mappings it faults at once and
     * is killed; I get HV_VIRQ_DOM_STATE and it stays as SHUTDOWN/crash. */
    struct hv_evtchn_bind_virq bv = {.virq = HV_VIRQ_DOM_STATE, .vcpu = 0};
    expect("bind VIRQ_DOM_STATE", gk_hc_evtchn_op(HV_EVTCHN_BIND_VIRQ, &bv), HV_OK);
    vs.rip = 0x400000;
    expect("start it", gk_hc_domain_op(HV_DOMCTL_VCPU_START, &vs), HV_OK);
    for (int i = 0; i < 100 && !port_pending(bv.port); i++)
        gk_hc_yield();
    expect_true("VIRQ_DOM_STATE raised", port_pending(bv.port));
    port_clear(bv.port);
    expect("info", dom_info(40, &info), HV_OK);
    expect("it is SHUTDOWN", info.state, HV_DOMSTATE_SHUTDOWN);
    expect("because it crashed", info.shutdown_reason, HV_SHUTDOWN_CRASH);
    expect("unpause a SHUTDOWN domain", dom_simple(HV_DOMCTL_UNPAUSE, 40), HV_EBUSY);
    expect("start a SHUTDOWN domain", gk_hc_domain_op(HV_DOMCTL_VCPU_START, &vs), HV_EBUSY);

    /* A domain cap without CONTROL cannot destroy; the full one can. */
    expect("copy the domain cap with STATE only",
           cap_copy(40, HV_CAP_SLOT_SELF, 43, HV_CAP_R_DOM_STATE, 0, 0), HV_OK);
    expect("destroy through a cap without CONTROL", dom_simple(HV_DOMCTL_DESTROY, 43), HV_EPERM);
    expect("destroy it", dom_simple(HV_DOMCTL_DESTROY, 40), HV_OK);
    expect("its capabilities went with it", cap_info(43).type, HV_CAP_NULL);
    expect("info through the emptied slot", dom_info(40, &info), HV_ENOENT);
    expect("my quota came back", gk_hc_memory_op(HV_MEMOP_MAXIMUM, 0), max0);

    /* Deleting the last capability to a domain destroys it. */
    expect("create 'orphan'", create(HV_ROOT_SLOT_MEMORY, 40, 41, 1, 8, "orphan", 0), HV_OK);
    expect("delete its only domain cap", cap_slot_op(HV_CAP_DELETE, 40), HV_OK);
    gk_hc_yield();
    expect("its quota came back", gk_hc_memory_op(HV_MEMOP_MAXIMUM, 0), max0);
    expect("its console cap went too", cap_info(41).type, HV_CAP_NULL);
    struct hv_evtchn_port_args pa = {.port = bv.port};
    gk_hc_evtchn_op(HV_EVTCHN_CLOSE, &pa);
    cap_slot_op(HV_CAP_DELETE, 42);
}

static int64_t io(uint32_t slot, uint16_t port, uint8_t size, bool write, uint32_t *value)
{
    struct hv_ioport_args a = {
        .slot = slot, .port = port, .size = size, .write = write, .value = value ? *value : 0};
    int64_t rc = gk_hc_ioport_op(&a);
    if (value && !write)
        *value = a.value;
    return rc;
}

/* Port I/O and a physical interrupt: COM2 (0x2f8, ISA IRQ 3) raises its
 * "transmitter empty" interrupt, delivered as an event to the holder of the
 * IRQ capability; the line stays masked until the holder's EOI. */
static void area_irq(void)
{
    area = "irq";
    uint32_t v = 0;
    expect("read COM2's line status", io(HV_ROOT_SLOT_IOPORT, 0x2fd, 1, false, &v), HV_OK);
    expect_true("COM2's transmitter is empty", (v & 0x60) == 0x60);
    expect("read COM1 (the hypervisor's)", io(HV_ROOT_SLOT_IOPORT, 0x3fd, 1, false, &v), HV_EPERM);
    expect("read PCI config 0xcfc", io(HV_ROOT_SLOT_IOPORT, 0xcfc, 4, false, &v), HV_EPERM);
    expect("write the PIT", io(HV_ROOT_SLOT_IOPORT, 0x43, 1, true, &v), HV_EPERM);
    expect("size 3", io(HV_ROOT_SLOT_IOPORT, 0x2f8, 3, false, &v), HV_EINVAL);
    expect("a word at port 0xffff", io(HV_ROOT_SLOT_IOPORT, 0xffff, 2, false, &v), HV_EINVAL);
    expect("through the console cap", io(HV_ROOT_SLOT_CONSOLE, 0x2f8, 1, false, &v), HV_EPERM);
    expect("copy ports 0x2f8+8",
           cap_copy(HV_ROOT_SLOT_IOPORT, HV_CAP_SLOT_SELF, 33, HV_CAP_R_IO_ACCESS, 0x2f8, 8),
           HV_OK);
    expect("read 0x2fd through it", io(33, 0x2fd, 1, false, &v), HV_OK);
    expect("read 0x2f7 through it", io(33, 0x2f7, 1, false, &v), HV_EPERM);
    expect("a dword at 0x2fe through it (past its end)", io(33, 0x2fe, 4, false, &v), HV_EPERM);
    expect("copy ports 0x2f8+8 without access",
           cap_copy(HV_ROOT_SLOT_IOPORT, HV_CAP_SLOT_SELF, 35, 0, 0x2f8, 8), HV_OK);
    expect("read through a cap without access", io(35, 0x2fd, 1, false, &v), HV_EPERM);

    uint32_t gsi = 3;
    expect("copy IRQ line 3",
           cap_copy(HV_ROOT_SLOT_IRQ, HV_CAP_SLOT_SELF, 34, HV_CAP_R_IRQ_BIND, gsi, 1), HV_OK);
    struct hv_evtchn_bind_pirq bq = {.irq_slot = 34, .irq = gsi};
    expect("bind line 3", gk_hc_evtchn_op(HV_EVTCHN_BIND_PIRQ, &bq), HV_OK);
    uint32_t port = bq.port;
    struct hv_evtchn_bind_pirq again = {.irq_slot = 34, .irq = gsi};
    expect("bind line 3 twice", gk_hc_evtchn_op(HV_EVTCHN_BIND_PIRQ, &again), HV_EBUSY);
    struct hv_evtchn_bind_pirq far = {.irq_slot = HV_ROOT_SLOT_IRQ, .irq = 200};
    expect("bind line 200", gk_hc_evtchn_op(HV_EVTCHN_BIND_PIRQ, &far), HV_EINVAL);

    /* MCR: OUT2 (interrupt gate) + DTR/RTS; IER: transmitter empty. */
    uint32_t mcr = 0x0b, ier = 0x02, zero = 0;
    io(33, 0x2fc, 1, true, &mcr);
    io(33, 0x2f9, 1, true, &ier);
    shared()->vcpu_info[0].upcall_mask = 1;
    for (int i = 0; i < 1000 && !port_pending(port); i++)
        gk_hc_block();
    expect_true("the interrupt arrived as an event", port_pending(port));
    port_clear(port);
    io(33, 0x2fa, 1, false, &v); /* IIR: acknowledges the THRE interrupt */
    expect("EOI", gk_hc_evtchn_op(HV_EVTCHN_EOI, &(struct hv_evtchn_port_args){.port = port}),
           HV_OK);
    uint32_t ch = 'x';
    io(33, 0x2f8, 1, true, &ch); /* transmitting empties the THR again */
    for (int i = 0; i < 1000 && !port_pending(port); i++)
        gk_hc_block();
    expect_true("after the EOI the next interrupt arrived", port_pending(port));
    port_clear(port);
    io(33, 0x2f9, 1, true, &zero);
    io(33, 0x2fa, 1, false, &v);
    expect("EOI again", gk_hc_evtchn_op(HV_EVTCHN_EOI, &(struct hv_evtchn_port_args){.port = port}),
           HV_OK);
    struct hv_evtchn_port_args pa = {.port = port};
    expect("close the line's port", gk_hc_evtchn_op(HV_EVTCHN_CLOSE, &pa), HV_OK);
    expect("EOI on a closed port", gk_hc_evtchn_op(HV_EVTCHN_EOI, &pa), HV_ENOENT);
    cap_slot_op(HV_CAP_DELETE, 33);
    cap_slot_op(HV_CAP_DELETE, 34);
    cap_slot_op(HV_CAP_DELETE, 35);
}

/* A second VCPU of this domain: adds its argument, then stops itself. */
static volatile uint64_t vcpu1_count;
static uint8_t vcpu1_stack[16384] __attribute__((aligned(16)));
static __attribute__((noreturn, used)) void vcpu1_main(uint64_t arg)
{
    __atomic_fetch_add(&vcpu1_count, arg, __ATOMIC_SEQ_CST);
    struct hv_domctl_vcpu_start me = {.dom_slot = HV_CAP_SLOT_SELF, .vcpu = 1};
    gk_hc_domain_op(HV_DOMCTL_VCPU_STOP, &me);
    for (;;) /* not reached: a VCPU that stops itself does not return */
        __atomic_fetch_add(&vcpu1_count, 1000000, __ATOMIC_SEQ_CST);
}

static void area_vcpu(void)
{
    area = "vcpu";
    uint64_t top = (uint64_t)(uintptr_t)(vcpu1_stack + sizeof(vcpu1_stack)) - 8;
    struct hv_domctl_vcpu_start vs = {.dom_slot = HV_CAP_SLOT_SELF,
                                      .vcpu = 1,
                                      .rip = (uint64_t)(uintptr_t)vcpu1_main,
                                      .rsp = top,
                                      .arg = 7};
    struct hv_domctl_vcpu_start bad = vs;
    bad.vcpu = 8;
    expect("start VCPU 8 (of 8)", gk_hc_domain_op(HV_DOMCTL_VCPU_START, &bad), HV_EINVAL);
    bad.vcpu = 0;
    expect("start VCPU 0 (running)", gk_hc_domain_op(HV_DOMCTL_VCPU_START, &bad), HV_EEXIST);
    struct hv_domctl_vcpu_start stop0 = {.dom_slot = HV_CAP_SLOT_SELF, .vcpu = 0};
    expect("stop my last VCPU", gk_hc_domain_op(HV_DOMCTL_VCPU_STOP, &stop0), HV_EBUSY);
    struct hv_domctl_vcpu_start stop1 = {.dom_slot = HV_CAP_SLOT_SELF, .vcpu = 1};
    expect("stop VCPU 1 (never started)", gk_hc_domain_op(HV_DOMCTL_VCPU_STOP, &stop1), HV_ENOENT);
    for (int round = 1; round <= 3; round++) {
        expect("start VCPU 1", gk_hc_domain_op(HV_DOMCTL_VCPU_START, &vs), HV_OK);
        for (int i = 0; i < 1000 && vcpu1_count < (uint64_t)(7 * round); i++)
            gk_hc_yield();
        expect("VCPU 1 ran once more and stopped itself", (int64_t)vcpu1_count, 7 * round);
        struct hv_domctl_info info;
        gk_hc_yield();
        expect("info", dom_info(HV_CAP_SLOT_SELF, &info), HV_OK);
    }
    stop1.rip = 1;
    expect("stop with rip set", gk_hc_domain_op(HV_DOMCTL_VCPU_STOP, &stop1), HV_EINVAL);

    /* VCPU capabilities: control of one VCPU without rights over the domain. */
    struct hv_domctl_vcpu_cap vc = {.dom_slot = HV_CAP_SLOT_SELF,
                                    .vcpu = 1,
                                    .dst_slot = 36,
                                    .rights = HV_CAP_R_VCPU_ALL | HV_CAP_R_GRANT};
    expect("mint a capability to my VCPU 1", gk_hc_domain_op(HV_DOMCTL_VCPU_CAP, &vc), HV_OK);
    expect("it is a VCPU capability", cap_info(36).type, HV_CAP_VCPU);
    expect("mint into an occupied slot", gk_hc_domain_op(HV_DOMCTL_VCPU_CAP, &vc), HV_EEXIST);
    vc.dst_slot = 37;
    vc.rights = HV_CAP_R_DOM_ALL << 8;
    expect("mint with a non-VCPU right", gk_hc_domain_op(HV_DOMCTL_VCPU_CAP, &vc), HV_EINVAL);
    vc.rights = HV_CAP_R_VCPU_ALL;
    vc.vcpu = 8;
    expect("mint for VCPU 8", gk_hc_domain_op(HV_DOMCTL_VCPU_CAP, &vc), HV_EINVAL);
    expect("copy it with STATE only", cap_copy(36, HV_CAP_SLOT_SELF, 37, HV_CAP_R_VCPU_STATE, 0, 0),
           HV_OK);
    struct hv_domctl_vcpu_start via = vs;
    via.dom_slot = 37;
    expect("start through a STATE-only VCPU cap", gk_hc_domain_op(HV_DOMCTL_VCPU_START, &via),
           HV_EPERM);
    via.dom_slot = 36;
    via.vcpu = 2;
    expect("start VCPU 2 through VCPU 1's cap", gk_hc_domain_op(HV_DOMCTL_VCPU_START, &via),
           HV_EPERM);
    via.vcpu = 1;
    expect("start VCPU 1 through its cap", gk_hc_domain_op(HV_DOMCTL_VCPU_START, &via), HV_OK);
    for (int i = 0; i < 1000 && vcpu1_count < 28; i++)
        gk_hc_yield();
    expect("it ran", (int64_t)vcpu1_count, 28);
    struct hv_domctl_vcpu_info vi = {.dom_slot = 37, .vcpu = 1};
    expect("info through the STATE-only cap", gk_hc_domain_op(HV_DOMCTL_VCPU_INFO, &vi), HV_OK);
    expect("it stopped itself: offline", vi.state, HV_VCPU_OFFLINE);
    vi.vcpu = 0;
    expect("info of VCPU 0 through VCPU 1's cap", gk_hc_domain_op(HV_DOMCTL_VCPU_INFO, &vi),
           HV_EPERM);
    struct hv_domctl_vcpu_pin pin = {.dom_slot = 37, .vcpu = 1, .cpu_mask = 1};
    expect("pin through the STATE-only cap", gk_hc_domain_op(HV_DOMCTL_VCPU_PIN, &pin), HV_EPERM);
    pin.dom_slot = 36;
    expect("pin through the full cap", gk_hc_domain_op(HV_DOMCTL_VCPU_PIN, &pin), HV_OK);
    struct hv_domctl_dom dd = {.dom_slot = 36};
    expect("pause the domain through a VCPU cap", gk_hc_domain_op(HV_DOMCTL_PAUSE, &dd), HV_EPERM);
    expect("revoke the VCPU cap's copies", cap_slot_op(HV_CAP_REVOKE, 36), HV_OK);
    expect("the STATE-only copy is gone", cap_info(37).type, HV_CAP_NULL);
    cap_slot_op(HV_CAP_DELETE, 36);
}

/*
 * Decode, then invoke, for outputs: a hypercall that returns a result in
 * its argument struct proves the struct writable before it acts. With the
 * struct on a page the guest maps read-only, the call is HV_EFAULT and
 * nothing happened: no port bound, no grant made, no domain created (the
 * same call from a writable page gets the very port, ref and slots the
 * refused one would have taken).
 */
#define PROBE_VA 0x210000000ull

static void area_probe(void)
{
    area = "probe";
    int64_t m = gk_hc_memory_op(HV_MEMOP_INCREASE, 0);
    expect_true("a fresh frame", m > 0);
    expect("map it writable", gk_map_frame(PROBE_VA, (uint64_t)m, GK_PTE_RWDATA), HV_OK);
    union {
        struct hv_evtchn_alloc_unbound au;
        struct hv_evtchn_bind_virq bv;
        struct hv_grant_set_args gs;
        struct hv_domctl_create dc;
    } *ro = (void *)(uintptr_t)PROBE_VA;

    /* Event channels: the lowest free port is what the refused call would take. */
    struct hv_evtchn_alloc_unbound au = {.remote_domain_slot = HV_CAP_SLOT_SELF};
    expect("alloc unbound (writable)", evt(HV_EVTCHN_ALLOC_UNBOUND, &au), HV_OK);
    uint32_t port = au.port;
    expect("close it again", evt_port(HV_EVTCHN_CLOSE, port), HV_OK);

    /* Grants: a domain to grant to, and a frame of mine to grant. */
    expect("create 'grantee'", create(HV_ROOT_SLOT_MEMORY, 50, 51, 1, 8, "grantee", 0), HV_OK);
    int64_t g = gk_hc_memory_op(HV_MEMOP_INCREASE, 0);
    expect_true("a frame to grant", g > 0);
    struct hv_grant_set_args gs = {.mfn = (uint64_t)g, .grantee_slot = 50};
    expect("grant it (writable)", gk_hc_grant_op(HV_GRANT_SET, &gs), HV_OK);
    uint32_t ref = gs.ref;
    struct hv_grant_ref_args end = {.ref = ref};
    expect("end the grant", gk_hc_grant_op(HV_GRANT_END, &end), HV_OK);

    /* The same calls from the page, now read-only. */
    ro->au = (struct hv_evtchn_alloc_unbound){.remote_domain_slot = HV_CAP_SLOT_SELF};
    expect("unmap the page", gk_unmap(PROBE_VA), HV_OK);
    expect("map it read-only", gk_map_frame(PROBE_VA, (uint64_t)m, GK_PTE_RO), HV_OK);
    expect("alloc unbound from a read-only page", evt(HV_EVTCHN_ALLOC_UNBOUND, &ro->au), HV_EFAULT);
    au = (struct hv_evtchn_alloc_unbound){.remote_domain_slot = HV_CAP_SLOT_SELF};
    expect("alloc unbound (writable) again", evt(HV_EVTCHN_ALLOC_UNBOUND, &au), HV_OK);
    expect("it got the same port: the refused call bound none", au.port, port);
    evt_port(HV_EVTCHN_CLOSE, au.port);

    expect("unmap", gk_unmap(PROBE_VA), HV_OK);
    expect("map writable", gk_map_frame(PROBE_VA, (uint64_t)m, GK_PTE_RWDATA), HV_OK);
    ro->bv = (struct hv_evtchn_bind_virq){.virq = HV_VIRQ_DEBUG, .vcpu = 0};
    expect("unmap", gk_unmap(PROBE_VA), HV_OK);
    expect("map read-only", gk_map_frame(PROBE_VA, (uint64_t)m, GK_PTE_RO), HV_OK);
    expect("bind VIRQ_DEBUG from a read-only page", evt(HV_EVTCHN_BIND_VIRQ, &ro->bv), HV_EFAULT);
    struct hv_evtchn_bind_virq bv = {.virq = HV_VIRQ_DEBUG, .vcpu = 0};
    expect("bind VIRQ_DEBUG (writable): not bound already", evt(HV_EVTCHN_BIND_VIRQ, &bv), HV_OK);
    expect("on the same port", bv.port, port);
    evt_port(HV_EVTCHN_CLOSE, bv.port);

    expect("unmap", gk_unmap(PROBE_VA), HV_OK);
    expect("map writable", gk_map_frame(PROBE_VA, (uint64_t)m, GK_PTE_RWDATA), HV_OK);
    ro->gs = (struct hv_grant_set_args){.mfn = (uint64_t)g, .grantee_slot = 50};
    expect("unmap", gk_unmap(PROBE_VA), HV_OK);
    expect("map read-only", gk_map_frame(PROBE_VA, (uint64_t)m, GK_PTE_RO), HV_OK);
    expect("grant from a read-only page", gk_hc_grant_op(HV_GRANT_SET, &ro->gs), HV_EFAULT);
    gs = (struct hv_grant_set_args){.mfn = (uint64_t)g, .grantee_slot = 50};
    expect("grant (writable): the frame is not granted already", gk_hc_grant_op(HV_GRANT_SET, &gs),
           HV_OK);
    expect("with the same ref", gs.ref, ref);
    end.ref = gs.ref;
    gk_hc_grant_op(HV_GRANT_END, &end);

    int64_t max0 = gk_hc_memory_op(HV_MEMOP_MAXIMUM, 0);
    expect("unmap", gk_unmap(PROBE_VA), HV_OK);
    expect("map writable", gk_map_frame(PROBE_VA, (uint64_t)m, GK_PTE_RWDATA), HV_OK);
    ro->dc = (struct hv_domctl_create){.mem_slot = HV_ROOT_SLOT_MEMORY,
                                       .dom_slot = 52,
                                       .console_slot = 53,
                                       .vcpus = 1,
                                       .max_pages = 8,
                                       .name = "probe"};
    expect("unmap", gk_unmap(PROBE_VA), HV_OK);
    expect("map read-only", gk_map_frame(PROBE_VA, (uint64_t)m, GK_PTE_RO), HV_OK);
    expect("create from a read-only page", gk_hc_domain_op(HV_DOMCTL_CREATE, &ro->dc), HV_EFAULT);
    expect("no domain capability was made", cap_info(52).type, HV_CAP_NULL);
    expect("no console capability was made", cap_info(53).type, HV_CAP_NULL);
    expect("no quota was taken", gk_hc_memory_op(HV_MEMOP_MAXIMUM, 0), max0);

    expect("destroy 'grantee'", dom_simple(HV_DOMCTL_DESTROY, 50), HV_OK);
    cap_slot_op(HV_CAP_DELETE, 51);
    expect("unmap the page", gk_unmap(PROBE_VA), HV_OK);
    expect("give the page back", gk_hc_memory_op(HV_MEMOP_DECREASE, (uint64_t)m), HV_OK);
    expect("give the granted frame back", gk_hc_memory_op(HV_MEMOP_DECREASE, (uint64_t)g), HV_OK);
}

static const struct {
    const char *name;
    void (*fn)(void);
} areas[] = {
    {"vcpu", area_vcpu},     {"irq", area_irq},       {"caps", area_caps},
    {"evtchn", area_evtchn}, {"timer", area_timer},   {"console", area_console},
    {"domctl", area_domctl}, {"revoke", area_revoke}, {"probe", area_probe},
};

int main(const struct hv_start_info *si)
{
    (void)si;
    char test[16] = "all";
    gk_cmdline_get("test", test, sizeof(test));
    if (gk_mm_init(si) != 0)
        gk_panic("core: gk_mm_init failed");
    bool any = false;
    for (size_t i = 0; i < sizeof(areas) / sizeof(areas[0]); i++) {
        bool all = test[0] == 'a' && test[1] == 'l' && test[2] == 'l' && test[3] == 0;
        const char *n = areas[i].name;
        size_t k = 0;
        while (n[k] && n[k] == test[k])
            k++;
        if (!all && !(n[k] == 0 && test[k] == 0))
            continue;
        any = true;
        int before = failures;
        areas[i].fn();
        gk_printf("core: area %s: %s\n", n, failures == before ? "all checks held" : "FAILED");
    }
    if (!any)
        gk_panic("core: unknown test=%s", test);
    if (failures)
        gk_panic("core: %d checks FAILED", failures);
    gk_printf("core: ok (test=%s)\n", test);
    return 0;
}
