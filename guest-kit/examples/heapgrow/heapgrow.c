/*
 * The heap growing into the domain's own frames: after the 256 KiB .bss
 * arena, malloc maps fresh pages (gk_mm_init, gk_heap_global_grow_from_frames).
 * Allocates `mib=N` MiB (default 4) in 64 KiB blocks, fills each with its own
 * pattern, checks every byte, frees everything and checks the heap.
 * `mode=double_free` frees a block twice: the heap must stop the domain
 * (panic, shut down as crashed) instead of corrupting itself.
 * `mode=mp vcpus=N rounds=R` (N 2..8): every VCPU allocates, fills, checks
 * and frees blocks of varied sizes (large ones make the heap grow into
 * fresh frames) and maps, writes, reads and unmaps frames of its own
 * through gk/mm.h, R rounds each, all at once; then VCPU 0 checks the heap
 * and that every frame went back to the allocator. Without the heap's and
 * the memory manager's locks this corrupts the heap or the allocator.
 */
#include <stdlib.h>
#include <string.h>

#include "gk/event.h"
#include "gk/gk.h"
#include "gk/heap.h"
#include "gk/mm.h"
#include "gk/vcpu.h"

#define BLOCK_BYTES (64u * 1024u)
#define BLOCKS_MAX 256u

static unsigned char *blocks[BLOCKS_MAX];

/* ---- mode=mp -------------------------------------------------------------- */

#define MP_STACK_BYTES (16u * 1024u)
#define MP_LIVE 8u                      /* blocks each VCPU holds at once */
#define MP_MAP_VA 0x0000200000000000ull /* + id * 2 MiB: each VCPU's frames */
static uint8_t mp_stacks[GK_VCPU_MAX][MP_STACK_BYTES] __attribute__((aligned(16)));
static unsigned long mp_rounds = 200;
static volatile unsigned mp_done[GK_VCPU_MAX];

static uint32_t mp_rand(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static void mp_check_block(const unsigned char *b, size_t n, unsigned char v, unsigned id)
{
    for (size_t j = 0; j < n; j++)
        if (b[j] != v)
            gk_panic("heapgrow: VCPU %u: block %p damaged at byte %zu", id, (const void *)b, j);
}

static void mp_work(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    if (id != 0 && gk_events_init_vcpu() != HV_OK)
        gk_panic("heapgrow: events on VCPU %u", id);
    uint32_t x = 0x9e3779b9u * (id + 1);
    unsigned char *live[MP_LIVE] = {0};
    size_t len[MP_LIVE] = {0};
    for (unsigned long r = 0; r < mp_rounds; r++) {
        unsigned k = mp_rand(&x) % MP_LIVE;
        if (live[k]) {
            mp_check_block(live[k], len[k], (unsigned char)(id * 31 + k), id);
            free(live[k]);
        }
        /* Mostly small, now and then 16..80 KiB (growth past the arena). */
        len[k] = (mp_rand(&x) % 8 == 0) ? 16384 + mp_rand(&x) % 65536 : 1 + mp_rand(&x) % 600;
        live[k] = (r % 3 == 0) ? calloc(1, len[k]) : malloc(len[k]);
        if (!live[k])
            gk_panic("heapgrow: VCPU %u: allocation of %zu failed", id, len[k]);
        memset(live[k], (int)(id * 31 + k), len[k]);
        /* A frame of its own: map, write, read back, unmap, give back. */
        uint64_t pfn = gk_pfn_alloc();
        if (pfn == HV_M2P_INVALID)
            gk_panic("heapgrow: VCPU %u: no frame", id);
        uint64_t va = MP_MAP_VA + (uint64_t)id * (2u << 20) + (r % 8) * 4096u;
        int64_t rc = gk_map_frame(va, gk_p2m(pfn), GK_PTE_RWDATA);
        if (rc != HV_OK)
            gk_panic("heapgrow: VCPU %u: map: %lld", id, (long long)rc);
        volatile uint64_t *w = (volatile uint64_t *)(uintptr_t)va;
        w[id] = r ^ 0x5a5a;
        if (w[id] != (r ^ 0x5a5a))
            gk_panic("heapgrow: VCPU %u: frame readback", id);
        rc = gk_unmap(va);
        if (rc != HV_OK)
            gk_panic("heapgrow: VCPU %u: unmap: %lld", id, (long long)rc);
        gk_pfn_free(pfn);
    }
    for (unsigned k = 0; k < MP_LIVE; k++)
        if (live[k]) {
            mp_check_block(live[k], len[k], (unsigned char)(id * 31 + k), id);
            free(live[k]);
        }
    __atomic_store_n(&mp_done[id], 1, __ATOMIC_RELEASE);
}

static int mp_main(void)
{
    char arg[16];
    unsigned vcpus = 4;
    if (gk_cmdline_get("vcpus", arg, sizeof(arg)))
        vcpus = (unsigned)strtoul(arg, NULL, 10);
    if (gk_cmdline_get("rounds", arg, sizeof(arg)))
        mp_rounds = strtoul(arg, NULL, 10);
    if (vcpus < 2 || vcpus > gk_vcpu_count() || vcpus > GK_VCPU_MAX)
        gk_panic("heapgrow: %u VCPUs asked, the domain has %u", vcpus, gk_vcpu_count());
    if (gk_events_init() != HV_OK)
        gk_panic("heapgrow: events");
    uint64_t frames_before = gk_pfn_free_count();
    for (unsigned id = 1; id < vcpus; id++)
        if (gk_vcpu_start(id, mp_work, (void *)(uintptr_t)id, mp_stacks[id], MP_STACK_BYTES) !=
            HV_OK)
            gk_panic("heapgrow: start VCPU %u", id);
    mp_work((void *)0);
    for (unsigned id = 1; id < vcpus; id++)
        if (gk_vcpu_join(id) != HV_OK || !mp_done[id])
            gk_panic("heapgrow: VCPU %u did not finish", id);
    struct gk_heap *h = gk_heap_global();
    bool was = gk_heap_global_lock();
    struct gk_heap_stats st;
    gk_heap_get_stats(h, &st);
    bool ok = gk_heap_check(h);
    gk_heap_global_unlock(was);
    /* Frames: the heap keeps those it grew into and the page tables made
     * for it and for the VCPUs' mapping areas stay; every frame mapped and
     * unmapped in the rounds came back. */
    uint64_t grown = st.total_bytes > GK_HEAP_STATIC_ARENA_BYTES
                         ? (st.total_bytes - GK_HEAP_STATIC_ARENA_BYTES + 4095) / 4096
                         : 0;
    uint64_t after = gk_pfn_free_count();
    uint64_t kept = frames_before - after;
    gk_printf("heapgrow: mp: %u VCPUs x %lu rounds, heap %zu KiB after %zu grows, "
              "%zu allocated, check %s\n",
              vcpus, mp_rounds, st.total_bytes / 1024u, st.grow_count, st.allocated_count,
              ok ? "ok" : "FAILED");
    gk_printf("heapgrow: mp: frames kept %llu (heap %llu, tables %llu)\n", (unsigned long long)kept,
              (unsigned long long)grown, (unsigned long long)(kept - grown));
    /* Tables: the mapping areas' L1s, L2 and L3, and the heap area's (an L1
     * per 2 MiB, an L2, an L3). */
    uint64_t tables_max = vcpus + 2 + grown / 512 + 1 + 2;
    if (kept < grown || kept - grown > tables_max)
        gk_panic("heapgrow: mp: frames leaked");
    if (!ok || st.allocated_count != 0 || st.used_bytes != 0)
        gk_panic("heapgrow: mp: heap damaged");
    gk_printf("heapgrow: done\n");
    return 0;
}

int main(const struct hv_start_info *si)
{
    char arg[16];
    unsigned long mib = 4;
    if (gk_cmdline_get("mib", arg, sizeof(arg)))
        mib = strtoul(arg, NULL, 10);
    unsigned count = (unsigned)(mib * 1024u * 1024u / BLOCK_BYTES);
    if (count > BLOCKS_MAX)
        gk_panic("heapgrow: at most %u MiB", BLOCKS_MAX * BLOCK_BYTES / (1024u * 1024u));

    int rc = gk_mm_init(si);
    if (rc != HV_OK)
        gk_panic("heapgrow: gk_mm_init: %d", rc);
    if (!gk_heap_global_grow_from_frames(GK_HEAP_FRAMES_VA_DEFAULT, 64ull << 20))
        gk_panic("heapgrow: bad heap range");

    if (gk_cmdline_get("mode", arg, sizeof(arg)) && !strcmp(arg, "mp"))
        return mp_main();
    if (gk_cmdline_get("mode", arg, sizeof(arg)) && !strcmp(arg, "double_free")) {
        void *p = malloc(100), *q = malloc(100);
        free(p);
        gk_printf("heapgrow: freeing %p twice\n", p);
        free(p);
        gk_printf("heapgrow: double free NOT detected (%p)\n", q);
        return 1;
    }

    for (unsigned i = 0; i < count; i++) {
        blocks[i] = malloc(BLOCK_BYTES);
        if (!blocks[i])
            gk_panic("heapgrow: malloc %u of %u failed", i, count);
        memset(blocks[i], (int)(i * 7 + 1), BLOCK_BYTES);
    }
    struct gk_heap_stats st;
    gk_heap_get_stats(gk_heap_global(), &st);
    gk_printf("heapgrow: %u blocks of %u KiB, heap %zu KiB after %zu grows, %llu frames left\n",
              count, BLOCK_BYTES / 1024u, st.total_bytes / 1024u, st.grow_count,
              (unsigned long long)gk_pfn_free_count());
    for (unsigned i = 0; i < count; i++) {
        for (unsigned j = 0; j < BLOCK_BYTES; j++)
            if (blocks[i][j] != (unsigned char)(i * 7 + 1))
                gk_panic("heapgrow: block %u damaged at byte %u", i, j);
        free(blocks[i]);
    }
    gk_heap_get_stats(gk_heap_global(), &st);
    gk_assert(st.allocated_count == 0 && st.used_bytes == 0);
    gk_assert(gk_heap_check(gk_heap_global()));
    gk_printf("heapgrow: all blocks intact and freed, %zu free blocks\n", st.free_block_count);
    gk_printf("heapgrow: done\n");
    return 0;
}
