/*
 * The domain builder's executor (see gk/builder.h, docs/builder.md): turns a
 * plan (builder_plan.c) into a domain through HC_DOMAIN_OP.
 *
 * Frames are handled in chunks so that the caller never holds more than a
 * chunk of the new domain's frames at once (its quota was already reduced
 * by the new domain's max_pages at CREATE):
 *   pass 1: every pfn whose contents do not depend on other frames' mfns
 *           (image, modules, stack, the frames after the layout): allocate
 *           a chunk (HV_MEMOP_INCREASE), write each frame through the
 *           scratch mapping, unmap it, ASSIGN the chunk;
 *   pass 2: the start-info page, the p2m list and the page tables, whose
 *           contents need every mfn, and the shared-info frame (already the
 *           new domain's: listing it in ASSIGN records its pfn in the M2P).
 * Then SET_BASE on the L4 and VCPU_START.
 *
 * On failure: the scratch mapping is removed, the domain destroyed (which
 * frees every frame already assigned) and the frames of the current chunk
 * that the caller still holds are given back with HV_MEMOP_DECREASE.
 *
 * One VCPU, not reentrant (static buffers: 64 KiB for the frame list).
 */
#include <stdio.h>
#include <string.h>

#include "gk/builder.h"
#include "gk/spinlock.h"
#include "gk/gk.h"
#include "gk/heap.h"
#include "gk/mm.h"
#include "hvlib/status.h"

#define PAGE 4096ull
#define CHUNK 256u     /* pass 1: frames allocated and assigned at a time */
#define LIST_MAX 4096u /* pass 2 (HV_DOMCTL_ASSIGN_MAX) */

/* What one build carries between its steps. */
struct build {
    const struct gk_build_spec *spec;
    struct gk_build_plan plan;
    uint64_t *mfns;
    bool mfns_owned;
    bool created;
    bool scratch_mapped;
    uint64_t scratch_va;
    uint32_t dom_slot;
    /* The current chunk: list[0, count) allocated; [0, done) assigned. */
    struct hv_domctl_frame list[LIST_MAX];
    uint32_t count;
    uint64_t done;
    const char *detail;
    int64_t status;
    struct hv_start_bus bus; /* what spec->on_created filled */
    char detail_buf[96];     /* "HV_ENOMEM (out of memory or quota)" */
};

static uint8_t page_buf[PAGE] __attribute__((aligned(4096)));

/* Records a failed hypercall; returns `why` for the caller to return. */
static const char *hc_failed(struct build *b, const char *why, int64_t st)
{
    b->status = st;
    const char *name = hv_status_name(st), *meaning = hv_status_meaning(st);
    if (name)
        snprintf(b->detail_buf, sizeof b->detail_buf, "%s (%s)", name, meaning);
    else
        snprintf(b->detail_buf, sizeof b->detail_buf, "an unexpected status %lld", (long long)st);
    b->detail = b->detail_buf;
    return why;
}

/* Whether the CPU has NX (the hypervisor then enables EFER.NXE, and sets
 * NX on the root's non-executable pages: so do we). */
static bool cpu_has_nx(void)
{
    uint32_t a, bx, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(bx), "=c"(c), "=d"(d) : "a"(0x80000000u), "c"(0));
    if (a < 0x80000001u)
        return false;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(bx), "=c"(c), "=d"(d) : "a"(0x80000001u), "c"(0));
    return (d >> 20) & 1;
}

static const char *check_spec(const struct gk_build_spec *s)
{
    if (s->name == NULL)
        return "it has no name";
    size_t n = 0;
    while (n < HV_DOMAIN_NAME_MAX && s->name[n]) {
        if (s->name[n] < 0x20 || s->name[n] > 0x7e)
            return "its name has a character that is not printable ASCII";
        n++;
    }
    if (n == 0 || n == HV_DOMAIN_NAME_MAX)
        return "its name is empty or longer than 31 bytes";
    if (s->vcpus > HV_DOMAIN_VCPUS_MAX)
        return "too many VCPUs (at most 8)";
    if (s->max_pages != 0 && s->max_pages < s->pages)
        return "max_pages is below pages";
    if (s->dom_slot == s->console_slot)
        return "dom_slot and console_slot are the same slot";
    uint64_t sva = s->scratch_va ? s->scratch_va : GK_BUILD_SCRATCH_VA_DEFAULT;
    if ((sva & (PAGE - 1)) || sva < HV_GUEST_VA_MIN || sva >= HV_GUEST_VA_LIMIT)
        return "scratch_va is not a page-aligned guest address";
    if (s->mfns != NULL && s->mfns_capacity < s->pages)
        return "the mfns buffer is smaller than pages";
    if (gk_mm_window_va() == 0)
        return "gk_mm_init has not been called";
    return NULL;
}

/* Maps mfn writable at the scratch va (replacing the previous frame). */
static int64_t scratch_map(struct build *b, uint64_t mfn)
{
    uint64_t pte = (mfn << 12) | GK_PTE_RWDATA;
    int64_t rc;
    if (!b->scratch_mapped) {
        /* Creates the tables on the first use; the entry must be empty. */
        uint64_t maddr = gk_pt_entry_maddr(b->scratch_va, 1);
        if (maddr != 0 && (gk_pt_read(maddr) & GK_PTE_P))
            return HV_EBUSY;
        rc = gk_map_frame(b->scratch_va, mfn, GK_PTE_RWDATA);
    } else {
        rc = gk_hc_update_va_mapping(b->scratch_va, pte, HV_UVM_INVLPG);
    }
    if (rc == HV_OK)
        b->scratch_mapped = true;
    return rc;
}

static int64_t scratch_unmap(struct build *b)
{
    if (!b->scratch_mapped)
        return HV_OK;
    int64_t rc = gk_hc_update_va_mapping(b->scratch_va, 0, HV_UVM_INVLPG);
    if (rc == HV_OK)
        b->scratch_mapped = false;
    return rc;
}

/* Writes pfn's contents (if any) into its frame through the scratch va. */
static const char *write_page(struct build *b, uint64_t pfn)
{
    enum gk_build_page_kind k = gk_build_page(&b->plan, b->mfns, pfn, page_buf);
    if (k != GK_BUILD_PAGE_DATA)
        return NULL; /* zero (fresh frames are) or the shared-info frame */
    int64_t rc = scratch_map(b, b->mfns[pfn]);
    if (rc == HV_EBUSY && !b->scratch_mapped) {
        b->status = rc;
        b->detail = "the scratch va is already mapped";
        return "could not map a new frame";
    }
    if (rc != HV_OK)
        return hc_failed(b, "could not map a new frame", rc);
    memcpy((void *)(uintptr_t)b->scratch_va, page_buf, PAGE);
    return NULL;
}

/* Gives the current chunk to the new domain. */
static const char *assign_chunk(struct build *b)
{
    if (b->count == 0)
        return NULL;
    int64_t rc = scratch_unmap(b); /* a frame must be unmapped to be assignable */
    if (rc != HV_OK)
        return hc_failed(b, "could not unmap the scratch va", rc);
    struct hv_domctl_assign a = {.dom_slot = b->dom_slot,
                                 .count = b->count,
                                 .list = (uint64_t)(uintptr_t)b->list,
                                 .done = 0};
    while (a.done < a.count) {
        uint64_t before = a.done;
        rc = gk_hc_domain_op(HV_DOMCTL_ASSIGN, &a);
        if (a.done > a.count)
            a.done = before; /* never trust a count beyond the list */
        b->done = a.done;
        if (rc != HV_OK)
            return hc_failed(b, "HV_DOMCTL_ASSIGN failed", rc);
        if (a.done == before)
            return hc_failed(b, "HV_DOMCTL_ASSIGN made no progress", HV_EAGAIN);
    }
    b->count = 0;
    b->done = 0;
    return NULL;
}

/* Allocates a frame for pfn (or takes the shared-info frame), writes it and
 * adds it to the chunk; assigns the chunk when it is full. */
static const char *add_pfn(struct build *b, uint64_t pfn)
{
    if (pfn != b->plan.layout.shinfo_pfn) {
        int64_t m = gk_hc_memory_op(HV_MEMOP_INCREASE, 0);
        if (m < 0)
            return hc_failed(b, "could not allocate its memory (HV_MEMOP_INCREASE)", m);
        b->mfns[pfn] = (uint64_t)m;
    }
    b->list[b->count].mfn = b->mfns[pfn];
    b->list[b->count].pfn = pfn;
    b->count++;
    const char *why = write_page(b, pfn);
    if (why)
        return why;
    if (b->count == CHUNK)
        return assign_chunk(b);
    return NULL;
}

/* Whether pfn's contents need the mfns of other pfns (pass 2). */
static bool depends_on_mfns(const struct gk_build_plan *p, uint64_t pfn)
{
    return pfn == p->layout.si_pfn || pfn == p->layout.shinfo_pfn ||
           (pfn >= p->layout.p2m_pfn && pfn < p->layout.p2m_pfn + p->layout.p2m_pages) ||
           (pfn >= p->layout.pt_pfn && pfn < p->layout.stack_pfn);
}

static const char *fill(struct build *b)
{
    const struct gk_build_plan *p = &b->plan;
    const char *why;
    for (uint64_t pfn = 0; pfn < p->in.pages; pfn++)
        if (!depends_on_mfns(p, pfn) && (why = add_pfn(b, pfn)) != NULL)
            return why;
    if ((why = assign_chunk(b)) != NULL)
        return why;
    /* Pass 2: allocate all of them first (their contents refer to each
     * other), then write them in order. */
    for (uint64_t pfn = 0; pfn < p->in.pages; pfn++) {
        if (!depends_on_mfns(p, pfn) || pfn == p->layout.shinfo_pfn)
            continue;
        int64_t m = gk_hc_memory_op(HV_MEMOP_INCREASE, 0);
        if (m < 0)
            return hc_failed(b, "could not allocate its memory (HV_MEMOP_INCREASE)", m);
        b->mfns[pfn] = (uint64_t)m;
        b->list[b->count].mfn = (uint64_t)m;
        b->list[b->count].pfn = pfn;
        b->count++; /* gk_build_domain checked that pass 2 fits the list */
    }
    b->list[b->count].mfn = b->mfns[p->layout.shinfo_pfn];
    b->list[b->count].pfn = p->layout.shinfo_pfn;
    b->count++;
    for (uint32_t i = 0; i < b->count; i++)
        if ((why = write_page(b, b->list[i].pfn)) != NULL)
            return why;
    return assign_chunk(b);
}

/* Undoes what a failed build did; keeps the first failure's report. */
static void cleanup(struct build *b)
{
    if (scratch_unmap(b) != HV_OK && b->detail == NULL)
        b->detail = "cleanup: the scratch va could not be unmapped";
    if (b->created) {
        struct hv_domctl_dom d = {.dom_slot = b->dom_slot, .reserved = 0};
        if (gk_hc_domain_op(HV_DOMCTL_DESTROY, &d) != HV_OK)
            b->detail = "cleanup: the half-built domain could not be destroyed";
    }
    bool leaked = false;
    for (uint64_t i = b->done; i < b->count; i++) {
        if (b->list[i].pfn == b->plan.layout.shinfo_pfn)
            continue; /* the domain's own (gone with it) */
        if (gk_hc_memory_op(HV_MEMOP_DECREASE, b->list[i].mfn) != HV_OK)
            leaked = true;
    }
    if (leaked)
        b->detail = "cleanup: some frames could not be given back";
    b->count = 0;
    b->done = 0;
}

static struct build the_build; /* static: list[] is too large for the stack */

static const char *build_domain(const struct gk_build_spec *spec, struct gk_built_domain *out,
                                const char **detail, int64_t *status)
{
    struct build *b = &the_build;
    memset(b, 0, sizeof(*b));
    const char *why = NULL;
    if (detail)
        *detail = NULL;
    if (status)
        *status = 0;
    if (spec == NULL || out == NULL)
        return "bad arguments (no spec or no result)";
    memset(out, 0, sizeof(*out));
    b->spec = spec;

    /* Decode: check everything before the first hypercall. */
    why = check_spec(spec);
    if (why)
        return why;
    const struct gk_build_input in = {
        .image = spec->image,
        .image_size = spec->image_size,
        .pages = spec->pages,
        .cmdline = spec->cmdline,
        .modules = spec->modules,
        .modules_count = spec->modules_count,
        .nx = cpu_has_nx(),
        .tsc_hz = gk_start_info->tsc_hz,
        .m2p_entries = gk_start_info->m2p_entries,
    };
    why = gk_build_plan(&in, &b->plan, detail, NULL);
    if (why)
        return why;
    if (1 + b->plan.layout.p2m_pages + b->plan.layout.pt_pages + 1 > LIST_MAX)
        return "its p2m list and page tables are too large for one HV_DOMCTL_ASSIGN";
    b->scratch_va = spec->scratch_va ? spec->scratch_va : GK_BUILD_SCRATCH_VA_DEFAULT;
    b->mfns = spec->mfns;
    if (b->mfns == NULL) {
        b->mfns = malloc(spec->pages * sizeof(uint64_t));
        if (b->mfns == NULL)
            return "no memory for the builder's pfn list";
        b->mfns_owned = true;
    }

    /* Invoke. */
    struct hv_domctl_create c = {.mem_slot = spec->mem_slot,
                                 .dom_slot = spec->dom_slot,
                                 .console_slot = spec->console_slot,
                                 .vcpus = spec->vcpus ? spec->vcpus : 1,
                                 .max_pages = spec->max_pages ? spec->max_pages : spec->pages};
    memcpy(c.name, spec->name, strlen(spec->name) + 1);
    int64_t rc = gk_hc_domain_op(HV_DOMCTL_CREATE, &c);
    if (rc != HV_OK) {
        why = hc_failed(b, "HV_DOMCTL_CREATE failed", rc);
        goto fail;
    }
    b->created = true;
    b->dom_slot = spec->dom_slot;
    b->plan.in.domid = c.domid;
    b->mfns[b->plan.layout.shinfo_pfn] = c.shared_info_mfn;
    if (spec->on_created) {
        rc = spec->on_created(spec->on_created_arg, spec->dom_slot, c.domid, &b->bus);
        if (rc != HV_OK) {
            why = hc_failed(b, "setting up its start-of-day services failed", rc);
            goto fail;
        }
        b->plan.in.bus = &b->bus;
    }

    why = fill(b);
    if (why)
        goto fail;

    uint64_t l4 = b->mfns[b->plan.layout.pt_pfn];
    struct hv_domctl_set_base sb = {.dom_slot = b->dom_slot, .reserved = 0, .l4_mfn = l4};
    rc = gk_hc_domain_op(HV_DOMCTL_SET_BASE, &sb);
    if (rc != HV_OK) {
        why = hc_failed(b, "HV_DOMCTL_SET_BASE failed (its page tables were refused)", rc);
        goto fail;
    }

    out->dom_slot = spec->dom_slot;
    out->console_slot = spec->console_slot;
    out->domid = c.domid;
    out->pages = spec->pages;
    out->shared_info_mfn = c.shared_info_mfn;
    out->l4_mfn = l4;
    out->base_va = b->plan.layout.base_va;
    out->entry = b->plan.layout.entry;
    out->stack_top_va = b->plan.layout.stack_top_va;
    out->start_info_va = b->plan.layout.si_va;
    out->first_free_va = b->plan.layout.base_va + b->plan.layout.used_pages * PAGE;
    if (!spec->paused) {
        rc = gk_domain_start(out);
        if (rc != HV_OK) {
            why = hc_failed(b, "HV_DOMCTL_VCPU_START failed", rc);
            memset(out, 0, sizeof(*out));
            goto fail;
        }
    }
    if (b->mfns_owned)
        free(b->mfns);
    return NULL;

fail:
    cleanup(b);
    if (b->mfns_owned)
        free(b->mfns);
    if (detail)
        *detail = b->detail;
    if (status)
        *status = b->status;
    return why;
}

/* One build at a time: the_build and page_buf are static. A second VCPU
 * waits (with pause) for the first build to finish; events stay enabled
 * (a build can be long, and event handlers never build domains). */
static struct gk_spinlock build_lock = GK_SPINLOCK_INIT;

const char *gk_build_domain(const struct gk_build_spec *spec, struct gk_built_domain *out,
                            const char **detail, int64_t *status)
{
    gk_spin_lock(&build_lock);
    const char *why = build_domain(spec, out, detail, status);
    gk_spin_unlock(&build_lock);
    return why;
}

int64_t gk_domain_start(struct gk_built_domain *d)
{
    struct hv_domctl_vcpu_start v = {.dom_slot = d->dom_slot,
                                     .vcpu = 0,
                                     .rip = d->entry,
                                     .rsp = d->stack_top_va,
                                     .arg = d->start_info_va};
    int64_t rc = gk_hc_domain_op(HV_DOMCTL_VCPU_START, &v);
    if (rc == HV_OK)
        d->started = true;
    return rc;
}

int64_t gk_domain_destroy(struct gk_built_domain *d)
{
    struct hv_domctl_dom a = {.dom_slot = d->dom_slot, .reserved = 0};
    int64_t rc = gk_hc_domain_op(HV_DOMCTL_DESTROY, &a);
    if (rc == HV_OK)
        d->started = false;
    return rc;
}
