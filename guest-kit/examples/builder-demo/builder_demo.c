/*
 * A root domain that builds other domains with guest-kit's builder
 * (gk/builder.h) from its first module (boot module 1, e.g. the hello
 * example), as domains of `pages=` frames (default 1024):
 *   - `cycles=` times (default 3) built paused, checked (BUILDING, all its
 *     frames) and destroyed: the root's own frame count must be the same
 *     after every cycle (all frames come back);
 *   - two refusals that must leave nothing behind: an image the builder
 *     rejects before any hypercall, and a CREATE into a slot that is taken;
 *   - a failure half-way (a scratch va that is already mapped): the
 *     half-built domain is destroyed and the root's frames come back;
 *   - unless `live=0`, one live run: built, started, waited for until it
 *     powers off, its console read through the console capability,
 *     destroyed.
 *
 * Prints "builder-demo: done" at the end and powers off (crashes on any
 * failure, with the reason).
 */
#include <stdlib.h>
#include <string.h>

#include "gk/builder.h"
#include "gk/cap.h"
#include "gk/gk.h"
#include "gk/mm.h"

#define DOM_SLOT 8u
#define CON_SLOT 9u

static uint64_t arg_u64(const char *key, uint64_t def)
{
    char buf[24];
    if (!gk_cmdline_get(key, buf, sizeof(buf)))
        return def;
    return strtoull(buf, NULL, 0);
}

static int64_t own_frames(void)
{
    return gk_hc_memory_op(HV_MEMOP_CURRENT, 0);
}

/* Polls the built domain until it has shut down; its shutdown reason. */
static uint32_t wait_shutdown(uint32_t slot)
{
    struct hv_domctl_info info;
    for (unsigned long i = 0; i < 50000000ul; i++) {
        int64_t rc = gk_domain_info(slot, &info);
        if (rc != HV_OK)
            gk_panic("builder-demo: HV_DOMCTL_INFO failed (%lld)", (long long)rc);
        if (info.state == HV_DOMSTATE_SHUTDOWN)
            return info.shutdown_reason;
        gk_hc_yield();
    }
    gk_panic("builder-demo: the built domain did not shut down");
}

static struct gk_build_spec base_spec(const struct hv_start_info *si, uint64_t pages)
{
    static const struct gk_build_module mod = {"payload", 7, "payload for the child"};
    return (struct gk_build_spec){
        .name = "built",
        .image = (const void *)(uintptr_t)si->modules[0].va,
        .image_size = si->modules[0].size_bytes,
        .pages = pages,
        .vcpus = 1,
        .cmdline = "built greeting=from-the-builder",
        .modules = &mod,
        .modules_count = 1,
        .mem_slot = HV_ROOT_SLOT_MEMORY,
        .dom_slot = DOM_SLOT,
        .console_slot = CON_SLOT,
    };
}

int main(const struct hv_start_info *si)
{
    if (si->modules_count < 1)
        gk_panic("builder-demo: no module to build (boot module 1)");
    int64_t rc = gk_mm_init(si);
    if (rc != HV_OK)
        gk_panic("builder-demo: gk_mm_init failed (%lld)", (long long)rc);
    uint64_t pages = arg_u64("pages", 1024);
    uint64_t cycles = arg_u64("cycles", 3);
    gk_printf("builder-demo: building \"%s\" (%llu bytes) as a domain of %llu frames, %llu "
              "times\n",
              si->modules[0].name, (unsigned long long)si->modules[0].size_bytes,
              (unsigned long long)pages, (unsigned long long)cycles);

    /* Build and destroy without starting: every frame must come back. */
    int64_t before = -1;
    for (uint64_t c = 0; c < cycles; c++) {
        struct gk_build_spec spec = base_spec(si, pages);
        spec.paused = true;
        struct gk_built_domain d;
        const char *detail;
        int64_t st;
        const char *why = gk_build_domain(&spec, &d, &detail, &st);
        if (why)
            gk_panic("builder-demo: build %llu failed: %s%s%s (status %lld)", (unsigned long long)c,
                     why, detail ? ": " : "", detail ? detail : "", (long long)st);
        struct hv_domctl_info info;
        rc = gk_domain_info(d.dom_slot, &info);
        if (rc != HV_OK || info.state != HV_DOMSTATE_BUILDING || info.pages != pages)
            gk_panic("builder-demo: built domain: info %lld, state %u, %llu pages", (long long)rc,
                     info.state, (unsigned long long)info.pages);
        rc = gk_domain_destroy(&d);
        if (rc != HV_OK)
            gk_panic("builder-demo: destroy failed (%lld)", (long long)rc);
        /* The first cycle may grow the root's own tables for the scratch
         * mapping; from then on the count must be exactly stable. */
        if (c == 0)
            before = own_frames();
        else if (own_frames() != before)
            gk_panic("builder-demo: the root holds %lld frames after cycle %llu, %lld before",
                     (long long)own_frames(), (unsigned long long)c, (long long)before);
    }
    gk_printf("builder-demo: %llu paused builds destroyed, the root holds %lld frames\n",
              (unsigned long long)cycles, (long long)before);

    /* A bad image: refused by the plan, before any hypercall. */
    struct gk_build_spec spec = base_spec(si, pages);
    uint8_t bad[64];
    memset(bad, 0, sizeof(bad));
    spec.image = bad;
    spec.image_size = sizeof(bad);
    struct gk_built_domain d;
    const char *detail;
    int64_t st;
    int64_t frames = own_frames();
    const char *why = gk_build_domain(&spec, &d, &detail, &st);
    if (!why || strcmp(why, "not a valid ELF64 image") || !detail ||
        strcmp(detail, "not an ELF file") || st != 0 || own_frames() != frames)
        gk_panic("builder-demo: a zeroed image was not refused as expected (%s)",
                 why ? why : "accepted");
    gk_printf("builder-demo: refused: %s: %s\n", why, detail);

    /* CREATE into a taken slot (slot 0 holds the root's own capability). */
    spec = base_spec(si, pages);
    spec.dom_slot = HV_ROOT_SLOT_SELF;
    why = gk_build_domain(&spec, &d, &detail, &st);
    if (!why || st != HV_EEXIST || own_frames() != frames)
        gk_panic("builder-demo: CREATE into a taken slot: %s (status %lld)", why ? why : "accepted",
                 (long long)st);
    gk_printf("builder-demo: refused: %s: %s\n", why, detail ? detail : "");

    /* A failure half-way (after CREATE and the first allocation): a scratch
     * va that is already mapped (our own stack). The domain must be
     * destroyed and the frame we held given back. */
    spec = base_spec(si, pages);
    spec.scratch_va = si->stack_top_va - HV_PAGE_SIZE;
    why = gk_build_domain(&spec, &d, &detail, &st);
    if (!why || strcmp(why, "could not map a new frame") || st != HV_EBUSY ||
        own_frames() != frames)
        gk_panic("builder-demo: a scratch va in use: %s (status %lld), %lld frames, %lld before",
                 why ? why : "accepted", (long long)st, (long long)own_frames(), (long long)frames);
    struct hv_domctl_info info;
    rc = gk_domain_info(DOM_SLOT, &info);
    if (rc != HV_ENOENT) /* its capability went with it: the slot is empty */
        gk_panic("builder-demo: the half-built domain is still there (info %lld)", (long long)rc);
    gk_printf("builder-demo: refused: %s: %s\n", why, detail ? detail : "");

    if (!arg_u64("live", 1)) {
        gk_printf("builder-demo: done\n");
        return 0;
    }

    /* One live run: start it, wait for it to power off, destroy it. */
    spec = base_spec(si, pages);
    why = gk_build_domain(&spec, &d, &detail, &st);
    if (why)
        gk_panic("builder-demo: build failed: %s%s%s (status %lld)", why, detail ? ": " : "",
                 detail ? detail : "", (long long)st);
    gk_printf("builder-demo: built d%u: entry %#llx, start info %#llx, L4 mfn %#llx\n", d.domid,
              (unsigned long long)d.entry, (unsigned long long)d.start_info_va,
              (unsigned long long)d.l4_mfn);
    uint32_t reason = wait_shutdown(d.dom_slot);
    gk_printf("builder-demo: d%u shut down (reason %u)\n", d.domid, reason);
    if (reason != HV_SHUTDOWN_POWEROFF)
        gk_panic("builder-demo: the built domain did not power off");
    /* Its console output, through the console capability we were given. */
    static char out[HV_CONSOLE_RING_SIZE + 1];
    struct hv_console_args con = {
        .con_slot = d.console_slot, .buf = (uint64_t)(uintptr_t)out, .len = HV_CONSOLE_RING_SIZE};
    int64_t n = gk_hc_console_op(HV_CONSOLE_READ, &con);
    if (n < 0 || n > (int64_t)HV_CONSOLE_RING_SIZE)
        gk_panic("builder-demo: HV_CONSOLE_READ of d%u failed (%lld)", d.domid, (long long)n);
    out[n] = 0;
    if (!strstr(out, "hello: done"))
        gk_panic("builder-demo: d%u's console (%lld bytes) lacks its last line", d.domid,
                 (long long)n);
    gk_printf("builder-demo: read %lld bytes of d%u's console\n", (long long)n, d.domid);
    rc = gk_domain_destroy(&d);
    if (rc != HV_OK)
        gk_panic("builder-demo: destroy failed (%lld)", (long long)rc);
    if (own_frames() != before)
        gk_panic("builder-demo: the root holds %lld frames after the run, %lld before",
                 (long long)own_frames(), (long long)before);

    gk_printf("builder-demo: done\n");
    return 0;
}
