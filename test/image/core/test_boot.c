/*
 * The test image's boot self-tests (hv-test.elf only; hv.elf logs that it
 * has none). The timer health check (test/image/arch/time_test.c) runs on
 * every boot; the others are chosen on the hypervisor's command line:
 *   test=panic         the panic path (the test expects HV_EXIT_PANIC);
 *   test=hv_fault      a read of an unmapped hypervisor address: the fault
 *                      handler must panic;
 *   test=ipi           the SMP self-test (test/image/arch/smp_test.c);
 *   test=domain_cycle  domains built and destroyed from module 0 many times
 *                      (test_cycles=N, default 50), every frame back;
 *   test_victim        a second domain that never runs, for tests that
 *                      attack another domain's frames (mm_attack `victim`);
 *   test_no_shootdown  stale translations flushed on this CPU only (the
 *                      TLB race tests show that they then fail; mm_hv.c).
 */
#include <string.h>

#include "arch.h"
#include "domain.h"
#include "dom_build.h"
#include "dom_teardown.h"
#include "frame.h"
#include "log.h"
#include "mm_hv.h"
#include "pmm.h"
#include "test_op.h"

static mfn_t boot_frame_alloc(void *ctx)
{
    return pmm_alloc(ctx);
}

void test_boot(struct pmm *pmm)
{
    arch_time_self_test(); /* every boot of the test image */
    char test[32];
    if (!cmdline_get("test", test, sizeof(test)))
        return;
    if (!strcmp(test, "panic"))
        panic("test: panic requested on the command line");
    if (!strcmp(test, "hv_fault")) {
        log_info("test: reading an unmapped hypervisor address");
        volatile uint64_t *bad = (volatile uint64_t *)(uintptr_t)0xffff900000000000ull;
        (void)*bad;
        panic("test: the unmapped read did not fault");
    }
    if (!strcmp(test, "ipi"))
        arch_smp_self_test(boot_frame_alloc, pmm);
    else if (strcmp(test, "domain_cycle") != 0) /* that one runs before the root is built */
        log_warn("test=%s: unknown self-test, ignored", test);
}

/*
 * Boot self-test `test=domain_cycle`: builds and destroys a domain from
 * module 0 many times and checks that the free-frame count and the frame
 * table return exactly to where they started.
 */
static void domain_cycle_test(const struct domain_spec *root, struct pmm *pmm)
{
    struct domain_spec spec = *root;
    struct domain_entry entry;
    const char *detail;
    unsigned cycles = (unsigned)cmdline_get_u64("test_cycles", 50);

    spec.name = "cycle";
    spec.mem_bytes = 4ull << 20;
    spec.max_bytes = spec.mem_bytes;
    spec.flags = 0;
    uint64_t free_before = pmm_free_count(pmm);
    domid_t first_id = DOMID_INVALID, last_id = DOMID_INVALID;
    for (unsigned i = 0; i < cycles; i++) {
        struct domain *scratch = domain_alloc();
        if (!scratch)
            panic("test: domain_cycle: no free domain slot at cycle %u", i);
        if (i == 0)
            first_id = scratch->id;
        last_id = scratch->id;
        const char *why = domain_build(scratch, &spec, pmm, &entry, &detail);
        if (why)
            panic("test: domain_cycle build %u failed: %s", i, why);
        if (pmm_free_count(pmm) != free_before - (spec.mem_bytes >> PAGE_SHIFT))
            panic("test: domain_cycle: build %u took %llu frames", i,
                  (unsigned long long)(free_before - pmm_free_count(pmm)));
        scratch->state = DOMAIN_DEAD;
        domain_destroy_dead(scratch);
        while (scratch->state == DOMAIN_DEAD) /* its teardown steps, here at once */
            domain_teardown_deferred_step();
        if (pmm_free_count(pmm) != free_before)
            panic("test: domain_cycle: after %u cycles %llu frames free, %llu before", i + 1,
                  (unsigned long long)pmm_free_count(pmm), (unsigned long long)free_before);
    }
    for (uint64_t m = 0; m < mm_hv_frames_count(); m++) {
        const struct frame *f = frame_get(mfn(m));
        if ((f->owner >= first_id && f->owner <= last_id) ||
            (f->owner == DOMID_INVALID && (f->ref_count || f->type_count)))
            panic("test: domain_cycle: frame %#llx left with owner %u refs %u types %u",
                  (unsigned long long)m, f->owner, f->ref_count, f->type_count);
    }
    log_info("test: domain_cycle: %u create/destroy cycles, free frames %llu before and %llu "
             "after",
             cycles, (unsigned long long)free_before, (unsigned long long)pmm_free_count(pmm));
}

/*
 * Boot test hook `test_victim`: builds a second domain from the root's
 * image that never runs, so that tests can attack frames owned by another
 * domain (test/guests/mm_attack.c, area "pt" with `victim`).
 */
static void victim_domain_test(const struct domain_spec *root, struct pmm *pmm)
{
    struct domain_spec spec = *root;
    struct domain_entry entry;
    const char *detail;
    spec.name = "victim";
    spec.mem_bytes = 1ull << 20;
    spec.max_bytes = spec.mem_bytes;
    spec.flags = 0;
    spec.modules_count = 0;
    struct domain *d = domain_alloc();
    if (!d)
        panic("test: no slot for the victim domain");
    const char *why = domain_build(d, &spec, pmm, &entry, &detail);
    if (why)
        panic("test: victim domain: %s", why);
    log_info("test: d%u (victim) built and never started", d->id);
}

void test_before_root(const struct domain_spec *root, struct pmm *pmm)
{
    char test[32];
    if (cmdline_get("test", test, sizeof(test)) && !strcmp(test, "domain_cycle"))
        domain_cycle_test(root, pmm);
    if (cmdline_flag("test_victim"))
        victim_domain_test(root, pmm);
}

bool test_no_shootdown(void)
{
    static int set = -1;
    if (set < 0)
        set = cmdline_flag("test_no_shootdown");
    return set != 0;
}
