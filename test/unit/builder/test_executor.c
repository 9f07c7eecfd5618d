/*
 * Tests of the domain builder's executor (guest-kit/src/builder.c) on the
 * host, against a fake hypervisor that keeps the rules the real one
 * enforces (hv/core/domctl.c, HC_MEMORY_OP, HC_UPDATE_VA_MAPPING): who owns
 * each frame, that only the caller's own unmapped frames can be assigned
 * or given back, that the new domain's page tables only reach its own
 * frames and are never writable. The fake headers in fakegk/ stand in for
 * gk/gk.h, gk/mm.h, gk/heap.h and gk/hypercall.h.
 *
 * Every hypercall of a build is made to fail in turn: after each failure
 * the half-built domain must be gone, every frame back, the scratch va
 * unmapped, and the reason must name the step. A build that succeeds is
 * checked from the frames alone: start info, p2m, M2P and a table walk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gk/builder.h"
#include "gk/mm.h"

#define PAGE 4096ull
#define ADDR 0x000ffffffffff000ull
#define MFN_MAX 16384u
#define NONE UINT64_MAX
#define DOMID 3u

/* ---- The fake hypervisor --------------------------------------------------- */

enum owner { FREE, CALLER, DOM };

struct frame {
    enum owner owner;
    uint64_t pfn; /* M2P (NONE) */
    uint8_t *data;
};

static struct {
    struct frame frames[MFN_MAX];
    uint64_t next_mfn;
    uint64_t caller_frames, caller_peak, caller_headroom;
    /* the domain */
    bool exists, started;
    uint32_t slot, con_slot;
    uint64_t max_pages, pages, shinfo, l4;
    struct hv_domctl_vcpu_start start;
    /* the scratch mapping */
    uint8_t *scratch; /* host page standing for scratch_va */
    uint64_t scratch_mfn;
    bool scratch_tables, scratch_foreign;
    bool mm_ready;
    /* fault injection: call number fail_at fails with fail_status */
    long calls, fail_at;
    int64_t fail_status;
    bool injected;
    const char *injected_in;
} hv;

static struct hv_start_info own_si = {.tsc_hz = 1000000000ull, .m2p_entries = MFN_MAX};
const struct hv_start_info *gk_start_info = &own_si;

static bool inject(const char *where)
{
    if (++hv.calls != hv.fail_at)
        return false;
    hv.injected = true;
    hv.injected_in = where;
    return true;
}

static void fake_reset(void)
{
    for (unsigned i = 0; i < MFN_MAX; i++)
        free(hv.frames[i].data);
    uint8_t *scratch = hv.scratch;
    memset(&hv, 0, sizeof(hv));
    hv.scratch = scratch ? scratch : aligned_alloc(PAGE, PAGE);
    assert_non_null(hv.scratch);
    for (unsigned i = 0; i < MFN_MAX; i++)
        hv.frames[i].pfn = NONE;
    hv.scratch_mfn = NONE;
    hv.caller_headroom = MFN_MAX;
    hv.mm_ready = true;
    hv.next_mfn = 17;
}

static uint64_t scratch_va(void)
{
    return (uint64_t)(uintptr_t)hv.scratch;
}

static uint64_t alloc_mfn(enum owner o)
{
    for (unsigned n = 0; n < MFN_MAX; n++) {
        hv.next_mfn = (hv.next_mfn * 37 + 11) % MFN_MAX; /* not in order */
        struct frame *f = &hv.frames[hv.next_mfn];
        if (hv.next_mfn != 0 && f->owner == FREE) {
            f->owner = o;
            f->pfn = NONE;
            f->data = calloc(1, PAGE);
            assert_non_null(f->data);
            return hv.next_mfn;
        }
    }
    return NONE;
}

static void free_mfn(uint64_t m)
{
    free(hv.frames[m].data);
    hv.frames[m] = (struct frame){FREE, NONE, NULL};
}

/* Moves the scratch page's contents back into the frame it maps. */
static void scratch_writeback(void)
{
    if (hv.scratch_mfn != NONE)
        memcpy(hv.frames[hv.scratch_mfn].data, hv.scratch, PAGE);
    hv.scratch_mfn = NONE;
    memset(hv.scratch, 0xcc, PAGE); /* an unmapped page reads as garbage */
}

static int64_t scratch_set(uint64_t va, uint64_t pte)
{
    assert_int_equal(va, scratch_va());
    if (pte == 0) {
        scratch_writeback();
        return HV_OK;
    }
    assert_int_equal(pte & ~ADDR, GK_PTE_RWDATA);
    uint64_t m = (pte & ADDR) >> 12;
    if (m >= MFN_MAX)
        return HV_ERANGE;
    if (hv.frames[m].owner != CALLER)
        return HV_EPERM;
    scratch_writeback();
    memcpy(hv.scratch, hv.frames[m].data, PAGE);
    hv.scratch_mfn = m;
    return HV_OK;
}

uint64_t gk_mm_window_va(void)
{
    return hv.mm_ready ? 0x200000 : 0;
}

uint64_t gk_pt_entry_maddr(uint64_t va, unsigned level)
{
    assert_int_equal(level, 1);
    assert_int_equal(va, scratch_va());
    return hv.scratch_tables || hv.scratch_foreign ? 0x5000 : 0;
}

uint64_t gk_pt_read(uint64_t maddr)
{
    assert_int_equal(maddr, 0x5000);
    return hv.scratch_foreign || hv.scratch_mfn != NONE ? GK_PTE_P | 0x1000 : 0;
}

int64_t gk_map_frame(uint64_t va, uint64_t mfn, uint64_t flags)
{
    if (inject("map"))
        return hv.fail_status;
    assert_int_equal(flags, GK_PTE_RWDATA);
    assert_true(hv.scratch_mfn == NONE); /* gk_map_frame needs an empty entry */
    hv.scratch_tables = true;
    return scratch_set(va, (mfn << 12) | flags);
}

int64_t gk_hc_update_va_mapping(uint64_t va, uint64_t pte, uint64_t flags)
{
    assert_int_equal(flags, HV_UVM_INVLPG);
    if (!hv.scratch_tables)
        return HV_ENOENT;
    if (pte != 0 && inject("remap"))
        return hv.fail_status;
    return scratch_set(va, pte);
}

int64_t gk_hc_memory_op(uint64_t cmd, uint64_t arg)
{
    if (cmd == HV_MEMOP_INCREASE) {
        if (inject("increase"))
            return hv.fail_status;
        if (hv.caller_frames >= hv.caller_headroom)
            return HV_ENOMEM;
        uint64_t m = alloc_mfn(CALLER);
        if (m == NONE)
            return HV_ENOMEM;
        if (++hv.caller_frames > hv.caller_peak)
            hv.caller_peak = hv.caller_frames;
        return (int64_t)m;
    }
    assert_int_equal(cmd, HV_MEMOP_DECREASE);
    if (arg >= MFN_MAX)
        return HV_ERANGE;
    if (hv.frames[arg].owner != CALLER)
        return HV_EPERM;
    if (hv.scratch_mfn == arg)
        return HV_EBUSY;
    free_mfn(arg);
    hv.caller_frames--;
    return HV_OK;
}

/* What SET_BASE's validation checks: every table and leaf is the domain's,
 * no table is mapped writable, bits as docs/mm.md, hypervisor slots empty. */
static int64_t validate(uint64_t l4)
{
    static uint8_t is_table[MFN_MAX], is_writable[MFN_MAX];
    memset(is_table, 0, sizeof(is_table));
    memset(is_writable, 0, sizeof(is_writable));
    /* Breadth-first over the four levels. */
    uint64_t level_tables[5][1024];
    size_t level_count[5] = {0};
    level_tables[4][level_count[4]++] = l4;
    for (int level = 4; level >= 1; level--) {
        for (size_t i = 0; i < level_count[level]; i++) {
            uint64_t t = level_tables[level][i];
            if (t >= MFN_MAX || hv.frames[t].owner != DOM)
                return HV_EPERM;
            if (is_table[t])
                return HV_EBUSY; /* one level only, reached once */
            is_table[t] = 1;
            const uint64_t *e = (const uint64_t *)hv.frames[t].data;
            for (unsigned k = 0; k < 512; k++) {
                if (!(e[k] & GK_PTE_P))
                    continue;
                if (level == 4 && k >= 256)
                    return HV_EPERM;
                if (!(e[k] & GK_PTE_US) || (e[k] & ((1ull << 7) | (1ull << 8))))
                    return HV_EINVAL;
                uint64_t m = (e[k] & ADDR) >> 12;
                if (m >= MFN_MAX || hv.frames[m].owner != DOM)
                    return HV_EPERM;
                if (level > 1) {
                    assert_true(level_count[level - 1] < 1024);
                    level_tables[level - 1][level_count[level - 1]++] = m;
                } else if (e[k] & GK_PTE_RW) {
                    is_writable[m] = 1;
                }
            }
        }
    }
    for (unsigned m = 0; m < MFN_MAX; m++)
        if (is_table[m] && is_writable[m])
            return HV_EBUSY;
    return HV_OK;
}

int64_t gk_hc_domain_op(enum hv_domctl_cmd cmd, void *args)
{
    switch (cmd) {
    case HV_DOMCTL_CREATE: {
        struct hv_domctl_create *a = args;
        if (inject("create"))
            return hv.fail_status;
        if (a->reserved || a->vcpus == 0 || a->vcpus > HV_DOMAIN_VCPUS_MAX || a->max_pages == 0)
            return HV_EINVAL;
        size_t n = 0;
        while (n < HV_DOMAIN_NAME_MAX && a->name[n])
            n++;
        if (n == 0 || n == HV_DOMAIN_NAME_MAX)
            return HV_EINVAL;
        if (a->dom_slot == a->console_slot)
            return HV_EINVAL;
        if (hv.exists || a->dom_slot == 0)
            return HV_EEXIST;
        hv.exists = true;
        hv.slot = a->dom_slot;
        hv.con_slot = a->console_slot;
        hv.max_pages = a->max_pages;
        hv.shinfo = alloc_mfn(DOM);
        hv.pages = 1;
        hv.l4 = NONE;
        a->domid = DOMID;
        a->shared_info_mfn = hv.shinfo;
        return HV_OK;
    }
    case HV_DOMCTL_ASSIGN: {
        struct hv_domctl_assign *a = args;
        if (!hv.exists || a->dom_slot != hv.slot)
            return HV_ENOENT;
        if (a->count == 0 || a->count > HV_DOMCTL_ASSIGN_MAX || a->done >= a->count)
            return HV_EINVAL;
        if (hv.l4 != NONE)
            return HV_EBUSY;
        bool fail = inject("assign");
        uint64_t stop = fail ? a->done + (a->count - a->done) / 2 : a->count;
        const struct hv_domctl_frame *list = (const void *)(uintptr_t)a->list;
        while (a->done < stop) {
            struct hv_domctl_frame f = list[a->done];
            if (f.mfn >= MFN_MAX)
                return HV_ERANGE;
            if (f.pfn >= hv.max_pages)
                return HV_EINVAL;
            if (f.mfn == hv.shinfo) {
                hv.frames[f.mfn].pfn = f.pfn;
                a->done++;
                continue;
            }
            if (hv.frames[f.mfn].owner != CALLER)
                return HV_EPERM;
            if (hv.scratch_mfn == f.mfn)
                return HV_EBUSY; /* mapped: not assignable */
            if (hv.pages >= hv.max_pages)
                return HV_ENOMEM;
            hv.frames[f.mfn].owner = DOM;
            hv.frames[f.mfn].pfn = f.pfn;
            hv.caller_frames--;
            hv.pages++;
            a->done++;
        }
        return fail ? hv.fail_status : HV_OK;
    }
    case HV_DOMCTL_SET_BASE: {
        struct hv_domctl_set_base *a = args;
        if (!hv.exists || a->dom_slot != hv.slot)
            return HV_ENOENT;
        if (inject("set_base"))
            return hv.fail_status;
        if (a->reserved)
            return HV_EINVAL;
        if (hv.l4 != NONE)
            return HV_EEXIST;
        if (a->l4_mfn >= MFN_MAX)
            return HV_ERANGE;
        if (hv.frames[a->l4_mfn].owner != DOM)
            return HV_EPERM;
        int64_t rc = validate(a->l4_mfn);
        if (rc == HV_OK)
            hv.l4 = a->l4_mfn;
        return rc;
    }
    case HV_DOMCTL_VCPU_START: {
        struct hv_domctl_vcpu_start *a = args;
        if (!hv.exists || a->dom_slot != hv.slot)
            return HV_ENOENT;
        if (inject("vcpu_start"))
            return hv.fail_status;
        if (a->vcpu != 0 || a->rip >= HV_GUEST_VA_LIMIT || a->rsp >= HV_GUEST_VA_LIMIT)
            return HV_EINVAL;
        if (hv.l4 == NONE)
            return HV_EINVAL;
        if (hv.started)
            return HV_EEXIST;
        hv.started = true;
        hv.start = *a;
        return HV_OK;
    }
    case HV_DOMCTL_DESTROY: {
        struct hv_domctl_dom *a = args;
        if (!hv.exists || a->dom_slot != hv.slot)
            return HV_ENOENT;
        for (unsigned m = 0; m < MFN_MAX; m++)
            if (hv.frames[m].owner == DOM)
                free_mfn(m);
        hv.exists = false;
        hv.started = false;
        hv.pages = 0;
        return HV_OK;
    }
    default: fail_msg("unexpected domctl %d", (int)cmd);
    }
    return HV_ENOSYS;
}

/* ---- Images --------------------------------------------------------------- */

static void put(uint8_t *b, size_t off, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[off + i] = (uint8_t)(v >> (8 * i));
}

#define IMG_SIZE 0x4000
#define ENTRY 0x400010ull

/* Text R+X at 0x400000 (file 0x1000..0x2800), data R+W at 0x403000 (0x80
 * bytes in the file, 0x1100 in memory). File byte o is (uint8_t)(o * 7 + 1). */
static uint8_t *make_image(void)
{
    uint8_t *b = malloc(IMG_SIZE);
    assert_non_null(b);
    for (size_t o = 0; o < IMG_SIZE; o++)
        b[o] = (uint8_t)(o * 7 + 1);
    memset(b, 0, 64 + 2 * 56);
    memcpy(b,
           "\x7f"
           "ELF",
           4);
    b[4] = 2;
    b[5] = 1;
    b[6] = 1;
    put(b, 16, 2, 2);
    put(b, 18, 62, 2);
    put(b, 20, 1, 4);
    put(b, 24, ENTRY, 8);
    put(b, 32, 64, 8);
    put(b, 52, 64, 2);
    put(b, 54, 56, 2);
    put(b, 56, 2, 2);
    const uint64_t ph[2][6] = {{1, 5, 0x1000, 0x400000, 0x1800, 0x1800},
                               {1, 6, 0x3000, 0x403000, 0x80, 0x1100}};
    for (int i = 0; i < 2; i++) {
        size_t o = 64 + (size_t)i * 56;
        put(b, o, ph[i][0], 4);
        put(b, o + 4, ph[i][1], 4);
        put(b, o + 8, ph[i][2], 8);
        put(b, o + 16, ph[i][3], 8);
        put(b, o + 32, ph[i][4], 8);
        put(b, o + 40, ph[i][5], 8);
        put(b, o + 48, 0x1000, 8);
    }
    return b;
}

static uint8_t *g_img;
static uint8_t g_mod[5000];
static struct gk_build_module g_mods[1];

static struct gk_build_spec std_spec(uint64_t pages)
{
    for (size_t i = 0; i < sizeof(g_mod); i++)
        g_mod[i] = (uint8_t)(i ^ 0x5a);
    g_mods[0] = (struct gk_build_module){g_mod, sizeof(g_mod), "mod0"};
    return (struct gk_build_spec){.name = "child",
                                  .image = g_img,
                                  .image_size = IMG_SIZE,
                                  .pages = pages,
                                  .vcpus = 1,
                                  .cmdline = "child x=1",
                                  .modules = g_mods,
                                  .modules_count = 1,
                                  .mem_slot = 1,
                                  .dom_slot = 8,
                                  .console_slot = 9,
                                  .scratch_va = scratch_va()};
}

static int setup(void **state)
{
    (void)state;
    g_img = make_image();
    fake_reset();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (unsigned i = 0; i < MFN_MAX; i++)
        free(hv.frames[i].data);
    memset(hv.frames, 0, sizeof(hv.frames));
    free(hv.scratch);
    hv.scratch = NULL;
    free(g_img);
    return 0;
}

/* ---- Checks --------------------------------------------------------------- */

static uint64_t count_owned(enum owner o)
{
    uint64_t n = 0;
    for (unsigned m = 0; m < MFN_MAX; m++)
        n += hv.frames[m].owner == o;
    return n;
}

/* After any build: the caller holds nothing and maps nothing. */
static void check_nothing_held(void)
{
    assert_int_equal(hv.caller_frames, 0);
    assert_int_equal(count_owned(CALLER), 0);
    assert_true(hv.scratch_mfn == NONE);
}

/* After a failed build: nothing of the domain is left either. */
static void check_all_gone(void)
{
    check_nothing_held();
    assert_false(hv.exists);
    assert_int_equal(count_owned(DOM), 0);
}

static uint64_t mfn_of_pfn(uint64_t pfn)
{
    for (unsigned m = 0; m < MFN_MAX; m++)
        if (hv.frames[m].owner == DOM && hv.frames[m].pfn == pfn)
            return m;
    return NONE;
}

/* Resolves va through the domain's tables (as the CPU would); NONE if not mapped. */
static uint64_t resolve(uint64_t va, uint64_t *leaf)
{
    uint64_t t = hv.l4;
    for (int level = 4; level >= 1; level--) {
        uint64_t e = ((const uint64_t *)hv.frames[t].data)[(va >> (12 + 9 * (level - 1))) & 511];
        if (!(e & GK_PTE_P))
            return NONE;
        t = (e & ADDR) >> 12;
        if (level == 1 && leaf)
            *leaf = e;
    }
    return t;
}

/* A built domain, read back from its frames alone. */
static void check_built(const struct gk_build_spec *spec, const struct gk_built_domain *d)
{
    check_nothing_held();
    assert_true(hv.exists);
    assert_int_equal(hv.pages, spec->pages);
    assert_int_equal(count_owned(DOM), spec->pages);
    /* Every pfn once in the M2P. */
    uint8_t *seen = calloc(spec->pages, 1);
    assert_non_null(seen);
    for (unsigned m = 0; m < MFN_MAX; m++) {
        if (hv.frames[m].owner != DOM)
            continue;
        uint64_t pfn = hv.frames[m].pfn;
        assert_true(pfn < spec->pages);
        assert_int_equal(seen[pfn], 0);
        seen[pfn] = 1;
    }
    free(seen);
    assert_int_equal(d->domid, DOMID);
    assert_int_equal(d->l4_mfn, hv.l4);
    assert_int_equal(d->shared_info_mfn, hv.shinfo);
    assert_int_equal(d->entry, ENTRY);
    /* The start-info page, found through the tables at rdi. */
    uint64_t si_mfn = resolve(d->start_info_va, NULL);
    assert_true(si_mfn != NONE);
    const struct hv_start_info *si = (const void *)hv.frames[si_mfn].data;
    assert_int_equal(si->magic, HV_START_INFO_MAGIC);
    assert_int_equal(si->domid, DOMID);
    assert_int_equal(si->pages_count, spec->pages);
    assert_int_equal(si->tsc_hz, own_si.tsc_hz);
    assert_int_equal(si->m2p_entries, own_si.m2p_entries);
    assert_int_equal(si->stack_top_va, d->stack_top_va);
    assert_string_equal(si->cmdline, spec->cmdline);
    assert_int_equal(si->modules_count, 1);
    assert_string_equal(si->modules[0].name, "mod0");
    assert_int_equal(resolve(si->shared_info_va, NULL), hv.shinfo);
    uint64_t base = si->first_free_va - si->first_free_pfn * PAGE;
    assert_int_equal(base, d->base_va);
    /* The p2m agrees with the M2P, and every pfn of the layout maps at
     * base + pfn * 4096 to its frame. */
    for (uint64_t pfn = 0; pfn < spec->pages; pfn++) {
        uint64_t va = si->p2m_va + pfn * 8;
        uint64_t m = resolve(va & ~(PAGE - 1), NULL);
        assert_true(m != NONE);
        uint64_t p2m = *(const uint64_t *)(hv.frames[m].data + (va & (PAGE - 1)));
        assert_int_equal(p2m, mfn_of_pfn(pfn));
        if (pfn < si->first_free_pfn)
            assert_int_equal(resolve(base + pfn * PAGE, NULL), p2m);
    }
    assert_int_equal(resolve(si->first_free_va, NULL), NONE);
    /* Image and module bytes as the domain sees them. */
    for (uint64_t off = 0; off < 0x1800; off++) {
        uint64_t va = 0x400000 + off;
        uint64_t m = resolve(va & ~(PAGE - 1), NULL);
        assert_int_equal(hv.frames[m].data[va & (PAGE - 1)], (uint8_t)((0x1000 + off) * 7 + 1));
    }
    uint64_t leaf = 0;
    assert_true(resolve(0x403000, &leaf) != NONE);
    assert_true(leaf & GK_PTE_RW);
    assert_true(resolve(0x400000, &leaf) != NONE);
    assert_false(leaf & GK_PTE_RW);
    for (uint64_t off = 0; off < sizeof(g_mod); off++) {
        uint64_t va = si->modules[0].va + off;
        uint64_t m = resolve(va & ~(PAGE - 1), NULL);
        assert_int_equal(hv.frames[m].data[va & (PAGE - 1)], g_mod[off]);
    }
}

/* ---- Tests ---------------------------------------------------------------- */

static void test_build_and_start(void **state)
{
    (void)state;
    fake_reset();
    struct gk_build_spec spec = std_spec(1024);
    struct gk_built_domain d;
    const char *detail = "x";
    int64_t st = 1;
    assert_null(gk_build_domain(&spec, &d, &detail, &st));
    assert_null(detail);
    assert_int_equal(st, 0);
    check_built(&spec, &d);
    assert_true(hv.started);
    assert_true(d.started);
    assert_int_equal(hv.start.rip, ENTRY);
    assert_int_equal(hv.start.rsp, d.stack_top_va);
    assert_int_equal(hv.start.arg, d.start_info_va);
    assert_int_equal(hv.start.vcpu, 0);
    assert_int_equal(hv.start.dom_slot, 8);
    /* The caller never held the whole domain at once. */
    assert_true(hv.caller_peak <= 256);
    assert_int_equal(gk_domain_destroy(&d), HV_OK);
    check_all_gone();
}

static void test_paused_then_start(void **state)
{
    (void)state;
    fake_reset();
    struct gk_build_spec spec = std_spec(300);
    spec.paused = true;
    uint64_t buf[300];
    memset(buf, 0xff, sizeof(buf));
    spec.mfns = buf;
    spec.mfns_capacity = 300;
    struct gk_built_domain d;
    assert_null(gk_build_domain(&spec, &d, NULL, NULL));
    check_built(&spec, &d);
    assert_false(hv.started);
    assert_false(d.started);
    for (uint64_t pfn = 0; pfn < 300; pfn++) /* the caller's buffer was used */
        assert_int_equal(buf[pfn], mfn_of_pfn(pfn));
    assert_int_equal(gk_domain_start(&d), HV_OK);
    assert_true(hv.started);
    assert_int_equal(hv.start.arg, d.start_info_va);
    assert_int_equal(gk_domain_start(&d), HV_EEXIST);
}

static void test_big_domain_chunks(void **state)
{
    (void)state;
    fake_reset();
    struct gk_build_spec spec = std_spec(12000);
    spec.max_pages = 12100;
    struct gk_built_domain d;
    assert_null(gk_build_domain(&spec, &d, NULL, NULL));
    check_built(&spec, &d);
    assert_true(hv.caller_peak <= 256);
    assert_int_equal(hv.max_pages, 12100);
    /* With a caller headroom of 100 frames, the build fails cleanly. */
    fake_reset();
    hv.caller_headroom = 100;
    const char *detail;
    int64_t st;
    assert_string_equal(gk_build_domain(&spec, &d, &detail, &st),
                        "could not allocate its memory (HV_MEMOP_INCREASE)");
    assert_int_equal(st, HV_ENOMEM);
    assert_string_equal(detail, "HV_ENOMEM (out of memory or quota)");
    check_all_gone();
}

/* Refusals before the first hypercall. */
static void test_refused_before_hypercalls(void **state)
{
    (void)state;
    struct gk_built_domain d;
    struct gk_build_spec spec;
    const char *detail;
    int64_t st;
#define REFUSED(edit, want)                                                                        \
    do {                                                                                           \
        fake_reset();                                                                              \
        spec = std_spec(1024);                                                                     \
        edit;                                                                                      \
        assert_string_equal(gk_build_domain(&spec, &d, &detail, &st), want);                       \
        assert_int_equal(hv.calls, 0);                                                             \
        assert_false(hv.exists);                                                                   \
        assert_int_equal(st, 0);                                                                   \
    } while (0)
    REFUSED(hv.mm_ready = false, "gk_mm_init has not been called");
    REFUSED(spec.name = NULL, "it has no name");
    REFUSED(spec.name = "", "its name is empty or longer than 31 bytes");
    REFUSED(spec.name = "0123456789abcdef0123456789abcdef",
            "its name is empty or longer than 31 bytes");
    REFUSED(spec.name = "tab\there", "its name has a character that is not printable ASCII");
    REFUSED(spec.name = "hi\x80", "its name has a character that is not printable ASCII");
    REFUSED(spec.vcpus = 9, "too many VCPUs (at most 8)");
    REFUSED(spec.max_pages = 1023, "max_pages is below pages");
    REFUSED(spec.console_slot = 8, "dom_slot and console_slot are the same slot");
    REFUSED(spec.scratch_va += 8, "scratch_va is not a page-aligned guest address");
    REFUSED(spec.scratch_va = HV_GUEST_VA_LIMIT, "scratch_va is not a page-aligned guest address");
    uint64_t small[4];
    REFUSED((spec.mfns = small, spec.mfns_capacity = 4), "the mfns buffer is smaller than pages");
    REFUSED(spec.image_size = 10, "not a valid ELF64 image");
    assert_string_equal(detail, "smaller than an ELF64 header");
    REFUSED(spec.pages = 4, "not a valid ELF64 image");
    assert_string_equal(detail, "image span too big");
    REFUSED(spec.pages = 20, "its image and start-of-day layout do not fit in its memory");
    assert_string_equal(gk_build_domain(NULL, &d, NULL, NULL),
                        "bad arguments (no spec or no result)");
#undef REFUSED
}

static void test_create_refused(void **state)
{
    (void)state;
    fake_reset();
    struct gk_build_spec spec = std_spec(1024);
    spec.dom_slot = 0; /* taken in the fake */
    struct gk_built_domain d;
    const char *detail;
    int64_t st;
    assert_string_equal(gk_build_domain(&spec, &d, &detail, &st), "HV_DOMCTL_CREATE failed");
    assert_int_equal(st, HV_EEXIST);
    assert_string_equal(detail, "HV_EEXIST (object already exists)");
    check_all_gone();
}

static void test_scratch_in_use(void **state)
{
    (void)state;
    fake_reset();
    hv.scratch_foreign = true; /* something of the caller's is mapped there */
    struct gk_build_spec spec = std_spec(1024);
    struct gk_built_domain d;
    const char *detail;
    int64_t st;
    assert_string_equal(gk_build_domain(&spec, &d, &detail, &st), "could not map a new frame");
    assert_string_equal(detail, "the scratch va is already mapped");
    assert_int_equal(st, HV_EBUSY);
    check_all_gone();
}

/* Makes call k of a build fail, for every k, until a build succeeds. */
static void test_every_hypercall_fails(void **state)
{
    (void)state;
    static const struct {
        const char *where, *why;
    } want[] = {
        {"create", "HV_DOMCTL_CREATE failed"},
        {"increase", "could not allocate its memory (HV_MEMOP_INCREASE)"},
        {"map", "could not map a new frame"},
        {"remap", "could not map a new frame"},
        {"assign", "HV_DOMCTL_ASSIGN failed"},
        {"set_base", "HV_DOMCTL_SET_BASE failed (its page tables were refused)"},
        {"vcpu_start", "HV_DOMCTL_VCPU_START failed"},
    };
    unsigned hit[sizeof(want) / sizeof(want[0])] = {0};
    long k;
    for (k = 1;; k++) {
        fake_reset();
        hv.fail_at = k;
        hv.fail_status = (k & 1) ? HV_ENOMEM : HV_EFAULT;
        struct gk_build_spec spec = std_spec(700); /* several chunks */
        struct gk_built_domain d;
        const char *detail;
        int64_t st;
        const char *why = gk_build_domain(&spec, &d, &detail, &st);
        if (!hv.injected) {
            assert_null(why);
            check_built(&spec, &d);
            break;
        }
        assert_non_null(why);
        check_all_gone();
        assert_int_equal(st, hv.fail_status);
        assert_string_equal(
            detail, k & 1 ? "HV_ENOMEM (out of memory or quota)"
                          : "HV_EFAULT (a guest pointer is not readable/writable guest memory)");
        unsigned i;
        for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
            if (!strcmp(want[i].where, hv.injected_in))
                break;
        assert_true(i < sizeof(want) / sizeof(want[0]));
        assert_string_equal(why, want[i].why);
        hit[i]++;
    }
    for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_true(hit[i] > 0);
    assert_true(k > 700); /* one INCREASE per frame at least */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_and_start),
        cmocka_unit_test(test_paused_then_start),
        cmocka_unit_test(test_big_domain_chunks),
        cmocka_unit_test(test_refused_before_hypercalls),
        cmocka_unit_test(test_create_refused),
        cmocka_unit_test(test_scratch_in_use),
        cmocka_unit_test(test_every_hypercall_fails),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
