/*
 * Event channels and upcalls (see gk/event.h and docs/evtchn.md).
 *
 * Upcall exit. The hypervisor sets upcall_mask when it enters
 * gk_event_entry; the entry clears it as the last store before the
 * HC_IRET `syscall` (gk_event_iret_insn). An event that arrives in between
 * is delivered as a second upcall interrupting that very instruction, on
 * the stack below the first frame. The dispatcher recognises it (the
 * interrupted rip is gk_event_iret_insn and rdi holds the first frame) and,
 * after scanning, resumes the first frame directly instead of returning
 * into the first upcall's exit: upcalls therefore nest at most one deep
 * whatever the event rate.
 *
 * Re-enabling (gk_events_enable) with an upcall already pending runs the
 * dispatcher directly, with upcalls masked, rather than waiting for the
 * next entry into the hypervisor or making a hypercall just to be
 * interrupted on its way back.
 *
 * Several VCPUs. The upcall entry is registered once per domain; each
 * VCPU has its own vcpu_info (upcall mask, upcall_pending, pending_sel) in
 * the shared-info page, and everything here that touches one uses the
 * calling VCPU's (gk_vcpu_id()). The handler table is shared: it is
 * changed under handlers_lock with the caller's upcalls masked, and the
 * dispatcher copies an entry under the same lock, so a handler and its
 * argument are always seen as a pair. Counters are atomic.
 */
#include "gk/event.h"

#include "bus_internal.h"
#include "gk/gk.h"
#include "gk/spinlock.h"
#include "gk/vcpu.h"

/* Scan rounds per upcall before leaving the rest pending (re-delivered as
 * soon as the upcall returns). Bounds the work one upcall does. */
#define SCAN_ROUNDS 16u
/* Passes of gk_events_enable that run the dispatcher directly. */
#define ENABLE_PASSES 4u
/* The words of evtchn_pending that exist: pending_sel bits beyond are junk. */
#define SEL_VALID ((HV_EVTCHN_WORDS >= 64u) ? ~0ull : ((1ull << HV_EVTCHN_WORDS) - 1))

struct handler {
    gk_evtchn_fn fn;
    void *arg;
};

static struct handler handlers[HV_EVTCHN_PORTS];
static struct gk_spinlock handlers_lock = GK_SPINLOCK_INIT;
static bool initialised;                   /* the callback is registered */
static GK_PER_VCPU(bool, vcpu_enabled);    /* gk_events_init ran on that VCPU */
static GK_PER_VCPU(unsigned, in_dispatch); /* > 0 while handlers run there */
static uint64_t upcall_count;
static uint64_t handler_calls;

_Static_assert(GK_VCPU_MAX <= HV_SHARED_INFO_VCPUS, "every VCPU has a vcpu_info");

/* The calling VCPU's vcpu_info. */
static struct hv_vcpu_info *me(void)
{
    return &gk_shared_info()->vcpu_info[gk_vcpu_id()];
}

/* &vcpu_info[current].upcall_mask, for event_entry.S on the way out. */
volatile uint8_t *gk_event_mask_addr(void)
{
    return &me()->upcall_mask;
}

static void set_mask(uint8_t v)
{
    __atomic_store_n(&me()->upcall_mask, v, __ATOMIC_SEQ_CST);
}

static struct handler handler_get(uint32_t port)
{
    gk_spin_lock(&handlers_lock);
    struct handler h = handlers[port];
    gk_spin_unlock(&handlers_lock);
    return h;
}

/* One pass over the words named by pending_sel. A port's pending bit is
 * cleared (atomically, so a concurrent poller and the hypervisor's next
 * set are not lost) before its handler runs; handler-less ports stay
 * pending. */
static void scan_once(struct hv_shared_info *sh, struct hv_vcpu_info *vi)
{
    uint64_t sel = __atomic_exchange_n(&vi->pending_sel, 0, __ATOMIC_SEQ_CST) & SEL_VALID;
    while (sel) {
        unsigned w = (unsigned)__builtin_ctzll(sel);
        sel &= sel - 1;
        uint64_t bits = __atomic_load_n(&sh->evtchn_pending[w], __ATOMIC_SEQ_CST) &
                        ~__atomic_load_n(&sh->evtchn_mask[w], __ATOMIC_SEQ_CST);
        while (bits) {
            unsigned b = (unsigned)__builtin_ctzll(bits);
            bits &= bits - 1;
            uint32_t port = w * 64u + b;
            if (port == 0)
                continue;
            struct handler h = handler_get(port);
            if (!h.fn)
                continue; /* left pending for polling code */
            uint64_t bit = 1ull << b;
            if (!(__atomic_fetch_and(&sh->evtchn_pending[w], ~bit, __ATOMIC_SEQ_CST) & bit))
                continue; /* a poller took it meanwhile */
            __atomic_fetch_add(&handler_calls, 1, __ATOMIC_RELAXED);
            h.fn(port, h.arg);
        }
    }
}

/* Scans until upcall_pending stays clear (at most SCAN_ROUNDS times).
 * Called with upcalls masked. */
static void scan_all(void)
{
    struct hv_shared_info *sh = gk_shared_info();
    unsigned id = gk_vcpu_id();
    struct hv_vcpu_info *vi = &sh->vcpu_info[id];
    in_dispatch[id]++;
    for (unsigned round = 0; round < SCAN_ROUNDS; round++) {
        __atomic_store_n(&vi->upcall_pending, 0, __ATOMIC_SEQ_CST);
        scan_once(sh, vi);
        if (!__atomic_load_n(&vi->upcall_pending, __ATOMIC_SEQ_CST))
            break;
    }
    in_dispatch[id]--;
}

struct hv_bounce_frame *gk_event_dispatch(struct hv_bounce_frame *frame)
{
    struct hv_bounce_frame *resume = frame;
    __atomic_fetch_add(&upcall_count, 1, __ATOMIC_RELAXED);
    /* Interrupted in the HC_IRET of another upcall's exit: rdi is that
     * upcall's frame, above this one. Resume it directly (see the top). */
    if (frame->rip == (uint64_t)(uintptr_t)gk_event_iret_insn) {
        uintptr_t outer = (uintptr_t)frame->rdi;
        uintptr_t self = (uintptr_t)frame;
        if (outer > self && outer - self <= 4096u && (outer & 15u) == 0)
            resume = (struct hv_bounce_frame *)outer;
    }
    scan_all();
    return resume;
}

/*
 * Shutdown requests (HV_DOMCTL_SHUTDOWN_REQUEST raises HV_VIRQ_SHUTDOWN; the
 * reason is read back from HV_DOMCTL_INFO.shutdown_request). gk_start binds
 * the VIRQ before main (gk_shutdown_watch), so every guest-kit domain has
 * it, but it is only seen once upcalls are enabled on VCPU 0
 * (gk_events_init, or the first gk_block) or the domain polls
 * (gk_shutdown_poll).
 *
 * Where the action runs. Without a hook the handler calls gk_shutdown
 * right in the upcall: that is safe, because gk_shutdown takes no lock and
 * never returns (it writes the interrupted VCPU's partial console line,
 * then HC_SHUTDOWN stops every VCPU), so nothing interrupted is ever
 * resumed half-done. A hook may want to block, take locks or wait for I/O,
 * none of which a handler may do, so the handler only records the request
 * and the hook runs at the next safe point outside every handler: the
 * return of gk_block (so gk_sleep_*, gk_console_getc_blocking and every
 * wait built on gk_block) or an explicit gk_shutdown_poll(), on whichever
 * VCPU gets there first. Each request calls the hook once; a hook that
 * returns without shutting down ignores that request.
 */
static void (*shutdown_hook)(enum hv_shutdown_reason);
static uint32_t shutdown_port;   /* the VIRQ's port, 0 if it could not be bound */
static uint32_t shutdown_asked;  /* the last request's reason + 1, 0: none */
static uint32_t requests_seen;   /* requests the handler (or a poll) read */
static uint32_t requests_served; /* requests the hook was called for */
static bool hook_running;        /* the hook runs (it may itself reach a safe point) */

void gk_on_shutdown_request(void (*fn)(enum hv_shutdown_reason reason))
{
    __atomic_store_n(&shutdown_hook, fn, __ATOMIC_SEQ_CST);
}

/* The request the hypervisor recorded for this domain: reason + 1, or 0 if
 * there is none or the value is not a reason (never trusted blindly). */
static uint32_t read_request(void)
{
    struct hv_domctl_info info = {.dom_slot = HV_CAP_SLOT_SELF};
    if (gk_hc_domain_op(HV_DOMCTL_INFO, &info) != HV_OK || info.shutdown_request == 0 ||
        info.shutdown_request > HV_SHUTDOWN_REBOOT + 1)
        return 0;
    return info.shutdown_request;
}

/* Records a request read from the hypervisor; true if there was one. */
static bool note_request(void)
{
    uint32_t r = read_request();
    if (!r)
        return false;
    __atomic_store_n(&shutdown_asked, r, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&requests_seen, 1, __ATOMIC_SEQ_CST);
    return true;
}

/* HV_VIRQ_SHUTDOWN's handler (in the upcall; see above). */
static void shutdown_requested(uint32_t port, void *arg)
{
    (void)port;
    (void)arg;
    if (!note_request())
        return; /* nothing (valid) asked */
    if (!__atomic_load_n(&shutdown_hook, __ATOMIC_SEQ_CST))
        gk_shutdown(
            (enum hv_shutdown_reason)(__atomic_load_n(&shutdown_asked, __ATOMIC_SEQ_CST) - 1));
}

void gk_shutdown_request(enum hv_shutdown_reason reason)
{
    if (reason != HV_SHUTDOWN_POWEROFF && reason != HV_SHUTDOWN_REBOOT)
        return;
    __atomic_store_n(&shutdown_asked, (uint32_t)reason + 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&requests_seen, 1, __ATOMIC_SEQ_CST);
    if (!__atomic_load_n(&shutdown_hook, __ATOMIC_SEQ_CST))
        gk_shutdown(reason);
}

void gk_shutdown_watch(void)
{
    uint32_t port = 0;
    if (shutdown_port || gk_evtchn_bind_virq(HV_VIRQ_SHUTDOWN, 0, &port) != HV_OK)
        return; /* bound already, or refused: requests go unanswered */
    gk_evtchn_bind_handler(port, shutdown_requested, NULL);
    gk_evtchn_unmask(port);
    __atomic_store_n(&shutdown_port, port, __ATOMIC_SEQ_CST);
}

bool gk_shutdown_pending(enum hv_shutdown_reason *reason)
{
    uint32_t r = __atomic_load_n(&shutdown_asked, __ATOMIC_SEQ_CST);
    if (r && reason)
        *reason = (enum hv_shutdown_reason)(r - 1);
    return r != 0;
}

void gk_shutdown_poll(void)
{
    if (in_dispatch[gk_vcpu_id()])
        return; /* not a safe point */
    /* With upcalls masked the handler never ran: take the port ourselves
     * (whoever clears its pending bit reads the request). */
    uint32_t port = __atomic_load_n(&shutdown_port, __ATOMIC_SEQ_CST);
    if (port && gk_evtchn_test_and_clear(port) && !note_request())
        return;
    gk_bus_poll_shutdown(); /* a request over the bus (bus.c) */
    uint32_t seen = __atomic_load_n(&requests_seen, __ATOMIC_SEQ_CST);
    if (seen == __atomic_load_n(&requests_served, __ATOMIC_SEQ_CST))
        return;
    enum hv_shutdown_reason reason = HV_SHUTDOWN_POWEROFF;
    gk_shutdown_pending(&reason);
    void (*hook)(enum hv_shutdown_reason) = __atomic_load_n(&shutdown_hook, __ATOMIC_SEQ_CST);
    if (!hook)
        gk_shutdown(reason);
    if (__atomic_exchange_n(&hook_running, true, __ATOMIC_SEQ_CST))
        return; /* called from inside the hook */
    __atomic_store_n(&requests_served, seen, __ATOMIC_SEQ_CST);
    hook(reason);
    __atomic_store_n(&hook_running, false, __ATOMIC_SEQ_CST);
}

int64_t gk_events_init(void)
{
    unsigned id = gk_vcpu_id();
    if (!__atomic_load_n(&initialised, __ATOMIC_ACQUIRE)) {
        /* Registering twice (two VCPUs racing here) is harmless. */
        int64_t rc = gk_hc_set_callback((uint64_t)(uintptr_t)gk_event_entry);
        if (rc != HV_OK)
            return rc;
        __atomic_store_n(&initialised, true, __ATOMIC_RELEASE);
        gk_shutdown_watch(); /* gk_start did it; here for code that bypasses gk_start */
    }
    if (vcpu_enabled[id])
        return HV_OK;
    vcpu_enabled[id] = true;
    gk_events_enable();
    return HV_OK;
}

int64_t gk_events_init_vcpu(void)
{
    return gk_events_init();
}

void gk_events_vcpu_reset(unsigned id)
{
    if (id < GK_VCPU_MAX) {
        vcpu_enabled[id] = false;
        in_dispatch[id] = 0;
    }
}

bool gk_events_disable(void)
{
    uint8_t old = __atomic_exchange_n(&me()->upcall_mask, 1, __ATOMIC_SEQ_CST);
    return old == 0;
}

void gk_events_enable(void)
{
    struct hv_vcpu_info *vi = me();
    for (unsigned pass = 0; pass < ENABLE_PASSES; pass++) {
        set_mask(0);
        if (!__atomic_load_n(&vi->upcall_pending, __ATOMIC_SEQ_CST))
            return;
        /* Due while masked: take it here, masked, as an upcall would. */
        set_mask(1);
        __atomic_fetch_add(&upcall_count, 1, __ATOMIC_RELAXED);
        scan_all();
    }
    set_mask(0); /* what is still pending comes at the next hypervisor exit */
}

void gk_events_restore(bool was_enabled)
{
    if (was_enabled)
        gk_events_enable();
}

static bool port_ok(uint32_t port)
{
    return port != 0 && port < HV_EVTCHN_PORTS;
}

int64_t gk_evtchn_bind_handler(uint32_t port, gk_evtchn_fn fn, void *arg)
{
    if (!port_ok(port))
        return HV_EINVAL;
    bool was = gk_events_disable();
    gk_spin_lock(&handlers_lock);
    handlers[port].fn = fn;
    handlers[port].arg = fn ? arg : NULL;
    gk_spin_unlock(&handlers_lock);
    gk_events_restore(was);
    return HV_OK;
}

int64_t gk_evtchn_alloc_unbound(uint32_t dom_slot, uint32_t *port)
{
    struct hv_evtchn_alloc_unbound a = {.remote_domain_slot = dom_slot};
    int64_t rc = gk_hc_evtchn_op(HV_EVTCHN_ALLOC_UNBOUND, &a);
    if (rc == HV_OK)
        *port = a.port;
    return rc;
}

int64_t gk_evtchn_bind_interdomain(uint32_t dom_slot, uint32_t remote_port, uint32_t *port)
{
    if (!port_ok(remote_port))
        return HV_EINVAL; /* a port another domain told us: checked before use */
    struct hv_evtchn_bind_interdomain a = {.remote_domain_slot = dom_slot,
                                           .remote_port = remote_port};
    int64_t rc = gk_hc_evtchn_op(HV_EVTCHN_BIND_INTERDOMAIN, &a);
    if (rc == HV_OK)
        *port = a.port;
    return rc;
}

int64_t gk_evtchn_bind_virq(uint32_t virq, uint32_t vcpu, uint32_t *port)
{
    struct hv_evtchn_bind_virq a = {.virq = virq, .vcpu = vcpu};
    int64_t rc = gk_hc_evtchn_op(HV_EVTCHN_BIND_VIRQ, &a);
    if (rc == HV_OK)
        *port = a.port;
    return rc;
}

int64_t gk_evtchn_bind_ipi(uint32_t vcpu, uint32_t *port)
{
    struct hv_evtchn_bind_ipi a = {.vcpu = vcpu};
    int64_t rc = gk_hc_evtchn_op(HV_EVTCHN_BIND_IPI, &a);
    if (rc == HV_OK)
        *port = a.port;
    return rc;
}

int64_t gk_evtchn_bind_msi(uint32_t pci_slot, uint32_t index, uint32_t *port)
{
    struct hv_evtchn_bind_msi a = {.pci_slot = pci_slot, .index = index};
    int64_t rc = gk_hc_evtchn_op(HV_EVTCHN_BIND_MSI, &a);
    if (rc == HV_OK)
        *port = a.port;
    return rc;
}

int64_t gk_evtchn_bind_pirq(uint32_t irq_slot, uint32_t irq, uint32_t *port)
{
    struct hv_evtchn_bind_pirq a = {.irq_slot = irq_slot, .irq = irq};
    int64_t rc = gk_hc_evtchn_op(HV_EVTCHN_BIND_PIRQ, &a);
    if (rc == HV_OK)
        *port = a.port;
    return rc;
}

int64_t gk_evtchn_eoi(uint32_t port)
{
    struct hv_evtchn_port_args a = {.port = port};
    return gk_hc_evtchn_op(HV_EVTCHN_EOI, &a);
}

int64_t gk_evtchn_send(uint32_t port)
{
    struct hv_evtchn_port_args a = {.port = port};
    return gk_hc_evtchn_op(HV_EVTCHN_SEND, &a);
}

int64_t gk_evtchn_close(uint32_t port)
{
    struct hv_evtchn_port_args a = {.port = port};
    int64_t rc = gk_hc_evtchn_op(HV_EVTCHN_CLOSE, &a);
    if (rc == HV_OK)
        gk_evtchn_bind_handler(port, NULL, NULL);
    return rc;
}

int64_t gk_evtchn_mask(uint32_t port)
{
    if (!port_ok(port))
        return HV_EINVAL;
    __atomic_fetch_or(&gk_shared_info()->evtchn_mask[port / 64], 1ull << (port % 64),
                      __ATOMIC_SEQ_CST);
    return HV_OK;
}

int64_t gk_evtchn_unmask(uint32_t port)
{
    if (!port_ok(port))
        return HV_EINVAL;
    __atomic_fetch_and(&gk_shared_info()->evtchn_mask[port / 64], ~(1ull << (port % 64)),
                       __ATOMIC_SEQ_CST);
    if (!gk_evtchn_is_pending(port))
        return HV_OK;
    /* Pending while masked: the hypervisor did not notify. Let it do steps
     * 3-4 of docs/evtchn.md now. */
    struct hv_evtchn_port_args a = {.port = port};
    return gk_hc_evtchn_op(HV_EVTCHN_UNMASK, &a);
}

bool gk_evtchn_test_and_clear(uint32_t port)
{
    if (!port_ok(port))
        return false;
    uint64_t bit = 1ull << (port % 64);
    return (__atomic_fetch_and(&gk_shared_info()->evtchn_pending[port / 64], ~bit,
                               __ATOMIC_SEQ_CST) &
            bit) != 0;
}

bool gk_evtchn_is_pending(uint32_t port)
{
    if (!port_ok(port))
        return false;
    return (__atomic_load_n(&gk_shared_info()->evtchn_pending[port / 64], __ATOMIC_SEQ_CST) >>
            (port % 64)) &
           1u;
}

void gk_block(void)
{
    if (in_dispatch[gk_vcpu_id()])
        gk_panic("gk_block called from an event handler");
    if (!vcpu_enabled[gk_vcpu_id()]) {
        int64_t rc = gk_events_init();
        if (rc != HV_OK)
            gk_panic("gk_block: HC_SET_CALLBACK failed (%lld)", (long long)rc);
    }
    gk_hc_block();
    gk_shutdown_poll();  /* a safe point for a shutdown hook */
    gk_bus_safe_point(); /* and for the bus (bus.c) */
}

uint64_t gk_events_upcall_count(void)
{
    return __atomic_load_n(&upcall_count, __ATOMIC_RELAXED);
}

uint64_t gk_events_handler_calls(void)
{
    return __atomic_load_n(&handler_calls, __ATOMIC_RELAXED);
}
