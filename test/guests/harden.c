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
 *             and the same calls with its own VCPUs work.
 *   child (built by the root), role=<name>: see each test.
 *
 * Every check prints a line; a failed one contains "FAILED". The root ends
 * with "harden: <test>: ok" and a poweroff, or a panic (root_crash).
 */
#include "gk/builder.h"
#include "gk/event.h"
#include "gk/gk.h"
#include "gk/mm.h"
#include "gk/time.h"
#include "gk/trap.h"
#include "gk/vcpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHILD_PAGES 512u
#define CHILD_DOM_SLOT 20u
#define CHILD_CON_SLOT 21u

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

/* Builds a copy of module 0 named `name` with `vcpus` VCPUs and the command
 * line "harden role=<role>", and starts it. */
static void child_build(struct gk_built_domain *d, const char *name, const char *role,
                        unsigned vcpus)
{
    static char cmdline[48];
    snprintf(cmdline, sizeof(cmdline), "harden role=%s", role);
    if (start_info->modules_count < 1)
        gk_panic("harden: FAILED no module to build a child from");
    struct gk_build_spec spec = {
        .name = name,
        .image = (const void *)(uintptr_t)start_info->modules[0].va,
        .image_size = start_info->modules[0].size_bytes,
        .pages = CHILD_PAGES,
        .vcpus = vcpus,
        .cmdline = cmdline,
        .mem_slot = HV_ROOT_SLOT_MEMORY,
        .dom_slot = CHILD_DOM_SLOT,
        .console_slot = CHILD_CON_SLOT,
    };
    const char *detail = NULL;
    int64_t status = 0;
    const char *why = gk_build_domain(&spec, d, &detail, &status);
    if (why)
        gk_panic("harden: FAILED building %s: %s%s%s (%lld)", name, why, detail ? ": " : "",
                 detail ? detail : "", (long long)status);
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

/* --- main ---------------------------------------------------------------------- */

static void child_main(const char *role)
{
    who = role;
    if (strcmp(role, "vcpus") == 0)
        child_vcpus();
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
    else
        gk_panic("harden: FAILED unknown test \"%s\"", test);
    if (failures)
        gk_panic("harden: %s: %d checks FAILED", test, failures);
    gk_printf("harden: %s: ok\n", test);
    gk_shutdown(HV_SHUTDOWN_POWEROFF);
}
