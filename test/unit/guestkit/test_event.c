/*
 * Host tests of guest-kit's event dispatcher (guest-kit/src/event.c, the
 * same source as in gk_runtime) against a shared-info page in memory: the
 * two-level scan, pending bits cleared before each handler, handler-less
 * and masked ports left pending, corrupt pending_sel/pending words,
 * events raised by handlers, bounded work under an event storm, the
 * one-deep nesting of an upcall taken in another's exit, and
 * gk_events_enable running what became pending while masked.
 *
 * Only paths that make no hypercall are exercised (the hypercall wrappers
 * are compiled but a `syscall` on the host would be a Linux system call).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gk/event.h"
#include "hv/domctl.h"

/* What event.c needs from the rest of the runtime. */
static struct hv_shared_info sh __attribute__((aligned(4096)));
static struct hv_start_info si;
const struct hv_start_info *gk_start_info = &si;
const char gk_event_iret_insn[1];
void gk_event_entry(void) {}
/* The VCPU the code "runs on" (gk/vcpu.h): tests switch it. */
static unsigned cur_vcpu;
/* The bus's safe points (guest-kit/src/bus.c): no bus in this test. */
void gk_bus_safe_point(void);
void gk_bus_safe_point(void) {}
void gk_bus_poll_shutdown(void);
void gk_bus_poll_shutdown(void) {}

unsigned gk_vcpu_id(void);
unsigned gk_vcpu_id(void)
{
    return cur_vcpu;
}
static jmp_buf panic_jmp;
static int panic_armed;
static char panic_msg[256];
/* The default shutdown-request handler's exit (never reached here: the
 * tests make no hypercall, so no request can be read). */
__attribute__((noreturn)) void gk_shutdown(enum hv_shutdown_reason reason);
void gk_shutdown(enum hv_shutdown_reason reason)
{
    fail_msg("unexpected gk_shutdown(%d)", (int)reason);
    abort();
}

__attribute__((noreturn)) void gk_panic(const char *fmt, ...);
void gk_panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(panic_msg, sizeof(panic_msg), fmt, ap);
    va_end(ap);
    if (panic_armed)
        longjmp(panic_jmp, 1);
    fail_msg("unexpected gk_panic: %s", panic_msg);
    abort();
}

#define LOG_MAX 4096
static uint32_t log_ports[LOG_MAX];
static unsigned log_count;
static bool bit_was_clear_in_handler;

static bool pending(uint32_t p)
{
    return (sh.evtchn_pending[p / 64] >> (p % 64)) & 1;
}

/* Raises port p as the hypervisor would (docs/evtchn.md steps 1-4). */
static void raise_port(uint32_t p)
{
    uint64_t bit = 1ull << (p % 64);
    if (sh.evtchn_pending[p / 64] & bit)
        return;
    sh.evtchn_pending[p / 64] |= bit;
    if (sh.evtchn_mask[p / 64] & bit)
        return;
    sh.vcpu_info[0].pending_sel |= 1ull << (p / 64);
    sh.vcpu_info[0].upcall_pending = 1;
}

/* Raises port p for VCPU v (an IPI or a port bound to v). */
static void raise_port_on(uint32_t p, unsigned v)
{
    uint64_t bit = 1ull << (p % 64);
    sh.evtchn_pending[p / 64] |= bit;
    sh.vcpu_info[v].pending_sel |= 1ull << (p / 64);
    sh.vcpu_info[v].upcall_pending = 1;
}

static unsigned handler_ran_on;

static void logger(uint32_t port, void *arg)
{
    assert_ptr_equal(arg, &log_count);
    if (pending(port))
        bit_was_clear_in_handler = false;
    if (log_count < LOG_MAX)
        log_ports[log_count++] = port;
    handler_ran_on = cur_vcpu;
}

static int reset(void **state)
{
    (void)state;
    memset(&sh, 0, sizeof(sh));
    si.shared_info_va = (uint64_t)(uintptr_t)&sh;
    for (unsigned v = 0; v < HV_SHARED_INFO_VCPUS; v++)
        sh.vcpu_info[v].upcall_mask = 1; /* as at domain start */
    cur_vcpu = 0;
    for (uint32_t p = 1; p < HV_EVTCHN_PORTS; p++)
        gk_evtchn_bind_handler(p, NULL, NULL);
    log_count = 0;
    bit_was_clear_in_handler = true;
    return 0;
}

static struct hv_bounce_frame *upcall(struct hv_bounce_frame *f)
{
    /* The hypervisor sets upcall_mask on entry. */
    sh.vcpu_info[0].upcall_mask = 1;
    f->vector = HV_UPCALL_VECTOR;
    return gk_event_dispatch(f);
}

static void test_scan_basic(void **state)
{
    (void)state;
    assert_int_equal(gk_evtchn_bind_handler(70, logger, &log_count), HV_OK);
    assert_int_equal(gk_evtchn_bind_handler(5, logger, &log_count), HV_OK);
    assert_int_equal(gk_evtchn_bind_handler(1023, logger, &log_count), HV_OK);
    raise_port(70);
    raise_port(1023);
    raise_port(5);
    struct hv_bounce_frame f = {0};
    assert_ptr_equal(upcall(&f), &f);
    assert_int_equal(log_count, 3);
    assert_int_equal(log_ports[0], 5); /* words in order, bits in order */
    assert_int_equal(log_ports[1], 70);
    assert_int_equal(log_ports[2], 1023);
    assert_true(bit_was_clear_in_handler);
    assert_false(pending(5) || pending(70) || pending(1023));
    assert_int_equal(sh.vcpu_info[0].upcall_pending, 0);
    assert_int_equal(sh.vcpu_info[0].pending_sel, 0);
    /* A spurious upcall with nothing pending calls nothing. */
    sh.vcpu_info[0].upcall_pending = 1;
    upcall(&f);
    assert_int_equal(log_count, 3);
}

static void test_no_handler_left_pending(void **state)
{
    (void)state;
    assert_int_equal(gk_evtchn_bind_handler(9, logger, &log_count), HV_OK);
    raise_port(8); /* no handler */
    raise_port(9);
    struct hv_bounce_frame f = {0};
    upcall(&f);
    assert_int_equal(log_count, 1);
    assert_int_equal(log_ports[0], 9);
    assert_true(pending(8));
    assert_true(gk_evtchn_is_pending(8));
    assert_true(gk_evtchn_test_and_clear(8));
    assert_false(gk_evtchn_test_and_clear(8));
    assert_false(pending(8));
    /* Out of range: false, nothing touched. */
    assert_false(gk_evtchn_test_and_clear(0));
    assert_false(gk_evtchn_test_and_clear(HV_EVTCHN_PORTS));
    assert_false(gk_evtchn_is_pending(0xffffffffu));
}

static void test_masked(void **state)
{
    (void)state;
    assert_int_equal(gk_evtchn_bind_handler(12, logger, &log_count), HV_OK);
    assert_int_equal(gk_evtchn_mask(12), HV_OK);
    assert_true(sh.evtchn_mask[0] & (1ull << 12));
    /* Pending and masked, with a stale selector bit: not delivered. */
    sh.evtchn_pending[0] |= 1ull << 12;
    sh.vcpu_info[0].pending_sel = 1;
    sh.vcpu_info[0].upcall_pending = 1;
    struct hv_bounce_frame f = {0};
    upcall(&f);
    assert_int_equal(log_count, 0);
    assert_true(pending(12));
    /* Unmasking locally (the hypercall half is not run here: port not
     * pending after we clear it). */
    assert_true(gk_evtchn_test_and_clear(12));
    assert_int_equal(gk_evtchn_unmask(12), HV_OK);
    assert_false(sh.evtchn_mask[0] & (1ull << 12));
    assert_int_equal(gk_evtchn_mask(0), HV_EINVAL);
    assert_int_equal(gk_evtchn_mask(HV_EVTCHN_PORTS), HV_EINVAL);
    assert_int_equal(gk_evtchn_unmask(HV_EVTCHN_PORTS), HV_EINVAL);
    assert_int_equal(gk_evtchn_bind_handler(0, logger, NULL), HV_EINVAL);
    assert_int_equal(gk_evtchn_bind_handler(HV_EVTCHN_PORTS, logger, NULL), HV_EINVAL);
}

/* Every bit of the page's event state set: only ports with handlers run,
 * once each; port 0 and selector bits past the last word are ignored. */
static void test_corrupt(void **state)
{
    (void)state;
    for (uint32_t p = 1; p < HV_EVTCHN_PORTS; p += 97)
        gk_evtchn_bind_handler(p, logger, &log_count);
    memset(sh.evtchn_pending, 0xff, sizeof(sh.evtchn_pending));
    sh.vcpu_info[0].pending_sel = ~0ull;
    sh.vcpu_info[0].upcall_pending = 0xff;
    struct hv_bounce_frame f = {0};
    upcall(&f);
    unsigned expect = 0;
    for (uint32_t p = 1; p < HV_EVTCHN_PORTS; p += 97)
        assert_int_equal(log_ports[expect++], p);
    assert_int_equal(log_count, expect);
    assert_true(pending(0));
    assert_true(pending(2));
    assert_false(pending(98));
    assert_int_equal(sh.vcpu_info[0].pending_sel, 0);
}

static uint32_t chain_next;
static void chainer(uint32_t port, void *arg)
{
    (void)arg;
    if (log_count < LOG_MAX)
        log_ports[log_count++] = port;
    handler_ran_on = cur_vcpu;
    if (chain_next) {
        uint32_t n = chain_next;
        chain_next = 0;
        raise_port(n);
    }
}

static void storm(uint32_t port, void *arg)
{
    (void)arg;
    log_count++;
    raise_port(port);
}

static void test_raised_by_handler(void **state)
{
    (void)state;
    gk_evtchn_bind_handler(300, chainer, NULL);
    gk_evtchn_bind_handler(3, chainer, NULL);
    chain_next = 3; /* 300's handler raises 3, in an earlier word */
    raise_port(300);
    struct hv_bounce_frame f = {0};
    upcall(&f);
    assert_int_equal(log_count, 2);
    assert_int_equal(log_ports[0], 300);
    assert_int_equal(log_ports[1], 3);
    assert_int_equal(sh.vcpu_info[0].upcall_pending, 0);
}

static void test_storm_bounded(void **state)
{
    (void)state;
    gk_evtchn_bind_handler(40, storm, NULL);
    raise_port(40);
    struct hv_bounce_frame f = {0};
    upcall(&f); /* must return */
    assert_true(log_count >= 2 && log_count <= 64);
    /* What is left stays pending, to be delivered again after the exit. */
    assert_int_equal(sh.vcpu_info[0].upcall_pending, 1);
    assert_true(pending(40));
}

static void test_nested_in_exit(void **state)
{
    (void)state;
    struct hv_bounce_frame frames[8] __attribute__((aligned(16)));
    memset(frames, 0, sizeof(frames));
    struct hv_bounce_frame *outer = &frames[6], *inner = &frames[0];
    /* Taken at the HC_IRET of the outer upcall's exit: rdi = its frame. */
    inner->rip = (uint64_t)(uintptr_t)gk_event_iret_insn;
    inner->rdi = (uint64_t)(uintptr_t)outer;
    gk_evtchn_bind_handler(7, logger, &log_count);
    raise_port(7);
    assert_ptr_equal(upcall(inner), outer);
    assert_int_equal(log_count, 1);
    /* Anywhere else: its own frame. */
    inner->rip = (uint64_t)(uintptr_t)gk_event_iret_insn + 2;
    assert_ptr_equal(upcall(inner), inner);
    /* A bogus rdi (below, misaligned, too far) is not followed. */
    inner->rip = (uint64_t)(uintptr_t)gk_event_iret_insn;
    inner->rdi = (uint64_t)(uintptr_t)inner - 160;
    assert_ptr_equal(upcall(inner), inner);
    inner->rdi = (uint64_t)(uintptr_t)outer + 8;
    assert_ptr_equal(upcall(inner), inner);
    inner->rdi = (uint64_t)(uintptr_t)inner + (1u << 20);
    assert_ptr_equal(upcall(inner), inner);
}

static void test_enable_runs_pending(void **state)
{
    (void)state;
    gk_evtchn_bind_handler(33, logger, &log_count);
    assert_false(gk_events_disable()); /* masked at start */
    raise_port(33);
    uint64_t before = gk_events_upcall_count();
    gk_events_enable();
    assert_int_equal(log_count, 1);
    assert_int_equal(sh.vcpu_info[0].upcall_mask, 0);
    assert_int_equal(sh.vcpu_info[0].upcall_pending, 0);
    assert_int_equal(gk_events_upcall_count(), before + 1);
    assert_true(gk_events_disable());
    raise_port(33);
    gk_events_restore(false); /* stays masked: nothing runs */
    assert_int_equal(log_count, 1);
    assert_int_equal(sh.vcpu_info[0].upcall_mask, 1);
    gk_events_restore(true);
    assert_int_equal(log_count, 2);
    assert_int_equal(sh.vcpu_info[0].upcall_mask, 0);
    /* An event storm while enabling: bounded, left pending, mask clear. */
    gk_evtchn_bind_handler(34, storm, NULL);
    gk_events_disable();
    raise_port(34);
    gk_events_enable();
    assert_int_equal(sh.vcpu_info[0].upcall_mask, 0);
    assert_int_equal(sh.vcpu_info[0].upcall_pending, 1);
}

static void blocker(uint32_t port, void *arg)
{
    (void)port;
    (void)arg;
    gk_block();
}

/* Last: it leaves the dispatcher as if inside a handler. */
static void test_block_in_handler_panics(void **state)
{
    (void)state;
    gk_evtchn_bind_handler(2, blocker, NULL);
    raise_port(2);
    struct hv_bounce_frame f = {0};
    panic_armed = 1;
    if (!setjmp(panic_jmp)) {
        upcall(&f);
        fail_msg("gk_block in a handler did not panic");
    }
    panic_armed = 0;
    assert_non_null(strstr(panic_msg, "from an event handler"));
}

/* A remote port another domain told us is range-checked before the
 * hypercall (on the host a `syscall` would be a Linux system call, so
 * reaching it would not return HV_EINVAL). */
static void test_bind_interdomain_checks_port(void **state)
{
    (void)state;
    uint32_t port = 77;
    assert_int_equal(gk_evtchn_bind_interdomain(HV_CAP_SLOT_SELF, 0, &port), HV_EINVAL);
    assert_int_equal(gk_evtchn_bind_interdomain(HV_CAP_SLOT_SELF, HV_EVTCHN_PORTS, &port),
                     HV_EINVAL);
    assert_int_equal(gk_evtchn_bind_interdomain(HV_CAP_SLOT_SELF, 0xffffffffu, &port), HV_EINVAL);
    assert_int_equal(port, 77);
}

/* Several VCPUs: the dispatcher scans the current VCPU's pending_sel only,
 * clears that VCPU's upcall_pending, and masking/enabling act on the
 * current VCPU's upcall_mask; the exit path gets that VCPU's mask. */
static void test_per_vcpu(void **state)
{
    (void)state;
    assert_int_equal(gk_evtchn_bind_handler(65, logger, &log_count), HV_OK);
    assert_int_equal(gk_evtchn_bind_handler(3, logger, &log_count), HV_OK);
    raise_port_on(65, 1);
    raise_port_on(3, 0);
    /* An upcall on VCPU 2 sees neither (not its pending_sel). */
    cur_vcpu = 2;
    sh.vcpu_info[2].upcall_mask = 1;
    sh.vcpu_info[2].upcall_pending = 1;
    struct hv_bounce_frame f = {0};
    gk_event_dispatch(&f);
    assert_int_equal(log_count, 0);
    assert_int_equal(sh.vcpu_info[2].upcall_pending, 0);
    assert_int_equal(sh.vcpu_info[1].upcall_pending, 1);
    /* On VCPU 1: port 65 only, VCPU 0's word untouched. */
    cur_vcpu = 1;
    sh.vcpu_info[1].upcall_mask = 1;
    gk_event_dispatch(&f);
    assert_int_equal(log_count, 1);
    assert_int_equal(log_ports[0], 65);
    assert_int_equal(handler_ran_on, 1);
    assert_int_equal(sh.vcpu_info[1].upcall_pending, 0);
    assert_int_equal(sh.vcpu_info[1].pending_sel, 0);
    assert_int_equal(sh.vcpu_info[0].pending_sel, 1);
    assert_true(pending(3));
    assert_ptr_equal(gk_event_mask_addr(), &sh.vcpu_info[1].upcall_mask);
    /* Enabling on VCPU 1 clears only VCPU 1's mask. */
    sh.vcpu_info[1].upcall_mask = 1;
    gk_events_enable();
    assert_int_equal(sh.vcpu_info[1].upcall_mask, 0);
    assert_int_equal(sh.vcpu_info[0].upcall_mask, 1);
    assert_true(gk_events_disable());
    assert_int_equal(sh.vcpu_info[1].upcall_mask, 1);
    /* Back on VCPU 0: port 3 is delivered there. */
    cur_vcpu = 0;
    assert_ptr_equal(gk_event_mask_addr(), &sh.vcpu_info[0].upcall_mask);
    gk_events_enable();
    assert_int_equal(log_count, 2);
    assert_int_equal(log_ports[1], 3);
    assert_int_equal(handler_ran_on, 0);
    assert_int_equal(sh.vcpu_info[0].upcall_mask, 0);
    assert_int_equal(sh.vcpu_info[1].upcall_mask, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_scan_basic, reset),
        cmocka_unit_test_setup(test_no_handler_left_pending, reset),
        cmocka_unit_test_setup(test_masked, reset),
        cmocka_unit_test_setup(test_corrupt, reset),
        cmocka_unit_test_setup(test_raised_by_handler, reset),
        cmocka_unit_test_setup(test_storm_bounded, reset),
        cmocka_unit_test_setup(test_nested_in_exit, reset),
        cmocka_unit_test_setup(test_enable_runs_pending, reset),
        cmocka_unit_test_setup(test_block_in_handler_panics, reset),
        cmocka_unit_test_setup(test_per_vcpu, reset),
        cmocka_unit_test_setup(test_bind_interdomain_checks_port, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
