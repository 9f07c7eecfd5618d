/* The volume table (see vtab.h for the format and its guarantees). */
#include "vtab.h"

#include <stddef.h>
#include <string.h>

#include "hv/frame.h" /* frame_crc32c */

static const uint8_t MAGIC[8] = {'H', 'V', 'V', 'O', 'L', 'T', 'A', 'B'};

/* Header fields (byte offsets). */
#define H_MAGIC 0u
#define H_VERSION 8u
#define H_CRC 12u
#define H_SEQ 16u
#define H_COUNT 24u
#define H_NEXT_ID 28u
#define H_DATA_START 32u
#define H_UNIT 40u
#define H_USED_END 44u
/* Entry fields. */
#define E_NAME 0u
#define E_SECTORS 32u
#define E_ID 40u
#define E_FLAGS 44u
#define E_EXTENTS 48u
#define E_PAD 52u
#define E_EXTENT 64u
#define E_EXTENT_BYTES 16u
_Static_assert(E_EXTENT + VT_EXTENTS_MAX * E_EXTENT_BYTES == VT_ENTRY_BYTES, "entry layout");
_Static_assert(VT_HEADER_BYTES + VT_VOLUMES_MAX * VT_ENTRY_BYTES == VT_COPY_BYTES, "copy layout");

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static uint32_t copy_crc(const uint8_t *c)
{
    static const uint8_t zero[4] = {0};
    uint32_t crc = frame_crc32c(0, c, H_CRC);
    crc = frame_crc32c(crc, zero, 4);
    return frame_crc32c(crc, c + H_CRC + 4, VT_COPY_BYTES - H_CRC - 4);
}

const char *vt_strerror(int status)
{
    switch (status) {
    case VT_OK: return "ok";
    case VT_EIO: return "disk I/O error";
    case VT_EBLANK: return "no volume table (blank disk)";
    case VT_EDAMAGED: return "no valid volume table (both copies damaged)";
    case VT_EINVAL: return "invalid name or size";
    case VT_EEXIST: return "volume exists";
    case VT_ENOENT: return "no such volume";
    case VT_ENOSPC: return "not enough free space on the disk";
    case VT_EFULL: return "too many volumes";
    case VT_ESMALL: return "disk too small";
    default: return "unknown error";
    }
}

static bool name_char(char c, bool first)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return !first && (c == '-' || c == '_' || c == '.');
}

const char *vt_name_check(const char *name)
{
    size_t n = 0;
    while (n <= VT_NAME_MAX && name[n])
        n++;
    if (n == 0)
        return "empty volume name";
    if (n > VT_NAME_MAX)
        return "volume name longer than 32 bytes";
    for (size_t i = 0; i < n; i++)
        if (!name_char(name[i], i == 0))
            return "volume name: letters, digits, '-', '_', '.', starting with a letter or digit";
    return NULL;
}

/* Checks a name field of the disk (32 bytes, NUL-padded): a valid name
 * followed by NULs only. Copies it to out (33 bytes). */
static bool disk_name(const uint8_t *p, char *out)
{
    size_t n = 0;
    while (n < VT_NAME_MAX && p[n])
        n++;
    if (!all_zero(p + n, VT_NAME_MAX - n))
        return false;
    memcpy(out, p, n);
    out[n] = 0;
    return vt_name_check(out) == NULL;
}

/* Every extent of a copy, for the overlap check. */
struct ext_ref {
    uint64_t start, end;
};

/*
 * Checks a copy read from the disk of `sectors` sectors. Returns true if it
 * is a table this code can use. Everything is checked before anything is
 * believed: the checksum guards against torn writes, the rest against a
 * disk that lies.
 */
static bool copy_valid(const uint8_t *c, uint64_t sectors)
{
    if (memcmp(c + H_MAGIC, MAGIC, sizeof MAGIC) != 0 || get32(c + H_VERSION) != VT_VERSION)
        return false;
    if (get32(c + H_CRC) != copy_crc(c) || !all_zero(c + H_USED_END, VT_HEADER_BYTES - H_USED_END))
        return false;
    uint64_t seq = get64(c + H_SEQ), data_start = get64(c + H_DATA_START);
    uint32_t count = get32(c + H_COUNT), next_id = get32(c + H_NEXT_ID), unit = get32(c + H_UNIT);
    if (seq == 0 || count > VT_VOLUMES_MAX || unit < VT_UNIT_MIN || unit > VT_UNIT_MAX ||
        (unit & (unit - 1)) != 0)
        return false;
    if (data_start < VT_COPY_B_SECTOR + VT_COPY_SECTORS || data_start % unit != 0 ||
        data_start > sectors)
        return false;

    uint32_t used = 0;
    for (uint32_t i = 0; i < VT_VOLUMES_MAX; i++) {
        const uint8_t *e = c + VT_HEADER_BYTES + i * VT_ENTRY_BYTES;
        if (all_zero(e, VT_ENTRY_BYTES))
            continue;
        char name[VT_NAME_MAX + 1];
        uint32_t id = get32(e + E_ID), n = get32(e + E_EXTENTS);
        if (!disk_name(e + E_NAME, name) || get32(e + E_FLAGS) != 0 ||
            !all_zero(e + E_PAD, E_EXTENT - E_PAD) || id == 0 || id >= next_id || n == 0 ||
            n > VT_EXTENTS_MAX)
            return false;
        uint64_t total = 0;
        for (uint32_t k = 0; k < VT_EXTENTS_MAX; k++) {
            const uint8_t *x = e + E_EXTENT + k * E_EXTENT_BYTES;
            uint64_t start = get64(x), len = get64(x + 8);
            if (k >= n) {
                if (start || len)
                    return false;
                continue;
            }
            if (len == 0 || start % unit || len % unit || start < data_start || start > sectors ||
                len > sectors - start)
                return false;
            total += len; /* <= 12 * 2^48: no overflow */
        }
        if (total != get64(e + E_SECTORS))
            return false;
        /* Names and ids unique, extents disjoint, against every earlier entry. */
        for (uint32_t j = 0; j < i; j++) {
            const uint8_t *o = c + VT_HEADER_BYTES + j * VT_ENTRY_BYTES;
            if (all_zero(o, VT_ENTRY_BYTES))
                continue;
            if (memcmp(o + E_NAME, e + E_NAME, VT_NAME_MAX) == 0 || get32(o + E_ID) == id)
                return false;
        }
        for (uint32_t k = 0; k < n; k++) {
            const uint8_t *x = e + E_EXTENT + k * E_EXTENT_BYTES;
            uint64_t s1 = get64(x), e1 = s1 + get64(x + 8);
            for (uint32_t j = 0; j <= i; j++) {
                const uint8_t *o = c + VT_HEADER_BYTES + j * VT_ENTRY_BYTES;
                uint32_t on = j == i ? k : get32(o + E_EXTENTS);
                if (j < i && all_zero(o, VT_ENTRY_BYTES))
                    continue;
                for (uint32_t m = 0; m < on; m++) {
                    const uint8_t *y = o + E_EXTENT + m * E_EXTENT_BYTES;
                    uint64_t s2 = get64(y), e2 = s2 + get64(y + 8);
                    if (s1 < e2 && s2 < e1)
                        return false;
                }
            }
        }
        used++;
    }
    return used == count;
}

/* Loads a valid copy into t. */
static void decode(struct vtab *t, const uint8_t *c)
{
    t->seq = get64(c + H_SEQ);
    t->count = get32(c + H_COUNT);
    t->next_id = get32(c + H_NEXT_ID);
    t->data_start = get64(c + H_DATA_START);
    t->unit_sectors = get32(c + H_UNIT);
    memset(t->vol, 0, sizeof t->vol);
    for (uint32_t i = 0; i < VT_VOLUMES_MAX; i++) {
        const uint8_t *e = c + VT_HEADER_BYTES + i * VT_ENTRY_BYTES;
        struct vt_volume *v = &t->vol[i];
        if (all_zero(e, VT_ENTRY_BYTES))
            continue;
        disk_name(e + E_NAME, v->name);
        v->sectors = get64(e + E_SECTORS);
        v->id = get32(e + E_ID);
        v->extent_count = get32(e + E_EXTENTS);
        for (uint32_t k = 0; k < v->extent_count; k++) {
            v->extent[k].start = get64(e + E_EXTENT + k * E_EXTENT_BYTES);
            v->extent[k].sectors = get64(e + E_EXTENT + k * E_EXTENT_BYTES + 8);
        }
    }
}

/* Writes the table described by the header values and vols into c. */
static void encode(uint8_t *c, uint64_t seq, const struct vtab *t, const struct vt_volume *vols)
{
    memset(c, 0, VT_COPY_BYTES);
    memcpy(c + H_MAGIC, MAGIC, sizeof MAGIC);
    put32(c + H_VERSION, VT_VERSION);
    put64(c + H_SEQ, seq);
    uint32_t count = 0;
    for (uint32_t i = 0; i < VT_VOLUMES_MAX; i++) {
        const struct vt_volume *v = &vols[i];
        uint8_t *e = c + VT_HEADER_BYTES + i * VT_ENTRY_BYTES;
        if (!v->name[0])
            continue;
        count++;
        memcpy(e + E_NAME, v->name, strlen(v->name));
        put64(e + E_SECTORS, v->sectors);
        put32(e + E_ID, v->id);
        put32(e + E_EXTENTS, v->extent_count);
        for (uint32_t k = 0; k < v->extent_count; k++) {
            put64(e + E_EXTENT + k * E_EXTENT_BYTES, v->extent[k].start);
            put64(e + E_EXTENT + k * E_EXTENT_BYTES + 8, v->extent[k].sectors);
        }
    }
    put32(c + H_COUNT, count);
    put32(c + H_NEXT_ID, t->next_id);
    put64(c + H_DATA_START, t->data_start);
    put32(c + H_UNIT, t->unit_sectors);
    put32(c + H_CRC, copy_crc(c));
}

static uint64_t copy_sector(bool b)
{
    return b ? VT_COPY_B_SECTOR : VT_COPY_A_SECTOR;
}

/* The capacity the table uses: what the device says, at most 2^48 sectors,
 * so that no sum of sizes overflows whatever the device claims. */
static uint64_t usable_sectors(const struct vt_disk *d)
{
    return d->sectors < VT_DISK_SECTORS_MAX ? d->sectors : VT_DISK_SECTORS_MAX;
}

int vt_open(struct vtab *t, const struct vt_disk *d)
{
    t->disk = d;
    t->sectors = usable_sectors(d);
    t->count = 0;
    if (t->sectors < VT_COPY_B_SECTOR + VT_COPY_SECTORS)
        return VT_EDAMAGED;
    if (d->read(d->ctx, VT_COPY_A_SECTOR, t->io, VT_COPY_SECTORS) != 0 ||
        d->read(d->ctx, VT_COPY_B_SECTOR, t->io2, VT_COPY_SECTORS) != 0)
        return VT_EIO;
    bool a_ok = copy_valid(t->io, t->sectors), b_ok = copy_valid(t->io2, t->sectors);
    if (!a_ok && !b_ok) {
        if (all_zero(t->io, VT_COPY_BYTES) && all_zero(t->io2, VT_COPY_BYTES))
            return VT_EBLANK;
        return VT_EDAMAGED;
    }
    /* The higher sequence wins; equal ones cannot come from vt's commits
     * (each writes one above the other copy), so either will do. */
    bool use_b = b_ok && (!a_ok || get64(t->io2 + H_SEQ) > get64(t->io + H_SEQ));
    decode(t, use_b ? t->io2 : t->io);
    t->current_b = use_b;
    return VT_OK;
}

int vt_format(struct vtab *t, const struct vt_disk *d, uint32_t unit_sectors)
{
    if (unit_sectors == 0)
        unit_sectors = VT_UNIT_DEFAULT;
    if (unit_sectors < VT_UNIT_MIN || unit_sectors > VT_UNIT_MAX ||
        (unit_sectors & (unit_sectors - 1)) != 0)
        return VT_EINVAL;
    uint64_t data_start = VT_DATA_START_DEFAULT;
    if (data_start % unit_sectors)
        data_start += unit_sectors - data_start % unit_sectors;
    if (usable_sectors(d) < data_start + unit_sectors)
        return VT_ESMALL;
    memset(t->vol, 0, sizeof t->vol);
    t->disk = d;
    t->sectors = usable_sectors(d);
    t->count = 0;
    t->next_id = 1;
    t->data_start = data_start;
    t->unit_sectors = unit_sectors;
    /* B first (so that a table it held cannot outrank the new one), then A. */
    memset(t->io, 0, VT_COPY_BYTES);
    if (d->write(d->ctx, VT_COPY_B_SECTOR, t->io, VT_COPY_SECTORS) != 0 || d->flush(d->ctx) != 0)
        return VT_EIO;
    encode(t->io, 1, t, t->vol);
    if (d->write(d->ctx, VT_COPY_A_SECTOR, t->io, VT_COPY_SECTORS) != 0 || d->flush(d->ctx) != 0)
        return VT_EIO;
    t->seq = 1;
    t->current_b = false;
    return VT_OK;
}

/* Commits vols as the new table: the other copy, one sequence up, flushed.
 * On success t takes vols. */
static int commit(struct vtab *t, const struct vt_volume *vols)
{
    const struct vt_disk *d = t->disk;
    bool target_b = !t->current_b;
    encode(t->io, t->seq + 1, t, vols);
    if (d->write(d->ctx, copy_sector(target_b), t->io, VT_COPY_SECTORS) != 0 ||
        d->flush(d->ctx) != 0)
        return VT_EIO;
    t->seq++;
    t->current_b = target_b;
    if (vols != t->vol)
        memcpy(t->vol, vols, sizeof t->vol);
    uint32_t count = 0;
    for (uint32_t i = 0; i < VT_VOLUMES_MAX; i++)
        count += t->vol[i].name[0] != 0;
    t->count = count;
    return VT_OK;
}

const struct vt_volume *vt_find(const struct vtab *t, const char *name)
{
    if (vt_name_check(name))
        return NULL;
    for (uint32_t i = 0; i < VT_VOLUMES_MAX; i++)
        if (t->vol[i].name[0] && strcmp(t->vol[i].name, name) == 0)
            return &t->vol[i];
    return NULL;
}

/* The first free run at or after `from` (aligned to the unit): its start
 * and length, or false if there is none. */
static bool next_free(const struct vtab *t, const struct vt_volume *vols, uint64_t from,
                      uint64_t *start, uint64_t *len)
{
    uint64_t end = t->sectors - (t->sectors - t->data_start) % t->unit_sectors;
    uint64_t s = from;
    while (s < end) {
        /* Skip to the end of the extent that covers s, if any. */
        uint64_t skip = 0;
        for (uint32_t i = 0; i < VT_VOLUMES_MAX && !skip; i++)
            for (uint32_t k = 0; k < vols[i].extent_count; k++) {
                const struct vt_extent *x = &vols[i].extent[k];
                if (x->start <= s && s < x->start + x->sectors) {
                    skip = x->start + x->sectors;
                    break;
                }
            }
        if (skip) {
            s = skip;
            continue;
        }
        /* Free from s to the next extent's start or the end. */
        uint64_t e = end;
        for (uint32_t i = 0; i < VT_VOLUMES_MAX; i++)
            for (uint32_t k = 0; k < vols[i].extent_count; k++) {
                uint64_t xs = vols[i].extent[k].start;
                if (xs > s && xs < e)
                    e = xs;
            }
        *start = s;
        *len = e - s;
        return true;
    }
    return false;
}

uint64_t vt_free_sectors(const struct vtab *t)
{
    uint64_t total = 0, s = t->data_start, start, len;
    while (next_free(t, t->vol, s, &start, &len)) {
        total += len;
        s = start + len;
    }
    return total;
}

/* Overwrites [start, start + n) with zeros (t->io2 as the zero buffer). */
static int zero_range(struct vtab *t, uint64_t start, uint64_t n)
{
    memset(t->io2, 0, VT_COPY_BYTES);
    while (n) {
        uint32_t c = n < VT_COPY_SECTORS ? (uint32_t)n : VT_COPY_SECTORS;
        if (t->disk->write(t->disk->ctx, start, t->io2, c) != 0)
            return VT_EIO;
        start += c;
        n -= c;
    }
    return VT_OK;
}

/*
 * Gives v `need` more sectors (a multiple of the unit) in nv (a copy of
 * the table being changed), zeroing what it takes: first by extending its
 * last extent in place, then from the first free run that holds all the
 * rest, else from the largest runs, so that a volume takes few extents.
 * VT_ENOSPC, nothing written, if the space or the extents run out.
 */
static int allocate(struct vtab *t, struct vt_volume *nv, struct vt_volume *v, uint64_t need)
{
    uint64_t start, len;
    struct vt_volume old = *v, plan = *v;
    uint64_t left = need;
    if (plan.extent_count) {
        struct vt_extent *last = &plan.extent[plan.extent_count - 1];
        uint64_t end = last->start + last->sectors;
        if (next_free(t, nv, end, &start, &len) && start == end) {
            uint64_t take = len < left ? len : left;
            last->sectors += take;
            left -= take;
        }
    }
    while (left) {
        *v = plan; /* so that next_free counts what the plan took as used */
        if (plan.extent_count == VT_EXTENTS_MAX)
            goto nospace;
        uint64_t best_start = 0, best_len = 0, s = t->data_start;
        while (next_free(t, nv, s, &start, &len)) {
            if (len >= left || len > best_len) {
                best_start = start;
                best_len = len;
            }
            if (len >= left)
                break;
            s = start + len;
        }
        if (best_len == 0)
            goto nospace;
        uint64_t take = best_len < left ? best_len : left;
        plan.extent[plan.extent_count++] = (struct vt_extent){best_start, take};
        left -= take;
    }
    /* Zero what is new, then make it durable before any table names it. */
    *v = plan;
    for (uint32_t k = 0; k < plan.extent_count; k++) {
        uint64_t xs = plan.extent[k].start, xn = plan.extent[k].sectors;
        if (k < old.extent_count && old.extent[k].start == xs) {
            xs += old.extent[k].sectors;
            xn -= old.extent[k].sectors;
        }
        if (xn && zero_range(t, xs, xn) != VT_OK)
            return VT_EIO;
    }
    if (t->disk->flush(t->disk->ctx) != 0)
        return VT_EIO;
    v->sectors += need;
    return VT_OK;
nospace:
    *v = old;
    return VT_ENOSPC;
}

/* Starts a change: the working copy of the volumes. */
static struct vt_volume *begin(struct vtab *t)
{
    memcpy(t->work, t->vol, sizeof t->work);
    return t->work;
}

static bool size_units(const struct vtab *t, uint64_t size_bytes, uint64_t *sectors)
{
    uint64_t unit_bytes = (uint64_t)t->unit_sectors * VT_SECTOR_BYTES;
    if (size_bytes == 0 || size_bytes / VT_SECTOR_BYTES > t->sectors)
        return false;
    *sectors = (size_bytes + unit_bytes - 1) / unit_bytes * t->unit_sectors;
    return true;
}

int vt_create(struct vtab *t, const char *name, uint64_t size_bytes)
{
    uint64_t sectors;
    if (vt_name_check(name))
        return VT_EINVAL;
    if (vt_find(t, name))
        return VT_EEXIST;
    if (!size_units(t, size_bytes, &sectors))
        return size_bytes == 0 ? VT_EINVAL : VT_ENOSPC;
    if (t->count >= VT_VOLUMES_MAX || t->next_id == UINT32_MAX)
        return VT_EFULL;
    struct vt_volume *nv = begin(t), *v = NULL;
    for (uint32_t i = 0; i < VT_VOLUMES_MAX && !v; i++)
        if (!nv[i].name[0])
            v = &nv[i];
    memset(v, 0, sizeof *v);
    int rc = allocate(t, nv, v, sectors);
    if (rc != VT_OK)
        return rc;
    memcpy(v->name, name, strlen(name) + 1);
    v->id = t->next_id++;
    rc = commit(t, nv);
    if (rc != VT_OK)
        t->next_id--;
    return rc;
}

int vt_grow(struct vtab *t, const char *name, uint64_t size_bytes)
{
    const struct vt_volume *cur = vt_find(t, name);
    uint64_t sectors;
    if (vt_name_check(name))
        return VT_EINVAL;
    if (!cur)
        return VT_ENOENT;
    if (!size_units(t, size_bytes, &sectors))
        return size_bytes == 0 ? VT_EINVAL : VT_ENOSPC;
    if (sectors < cur->sectors)
        return VT_EINVAL;
    if (sectors == cur->sectors)
        return VT_OK;
    struct vt_volume *nv = begin(t);
    struct vt_volume *v = &nv[cur - t->vol];
    int rc = allocate(t, nv, v, sectors - cur->sectors);
    if (rc != VT_OK)
        return rc;
    return commit(t, nv);
}

int vt_delete(struct vtab *t, const char *name)
{
    const struct vt_volume *cur = vt_find(t, name);
    if (vt_name_check(name))
        return VT_EINVAL;
    if (!cur)
        return VT_ENOENT;
    struct vt_volume *nv = begin(t);
    memset(&nv[cur - t->vol], 0, sizeof nv[0]);
    return commit(t, nv);
}

bool vt_map(const struct vt_volume *v, uint64_t sector, uint64_t count, uint64_t *disk_sector,
            uint64_t *run)
{
    if (count == 0 || sector >= v->sectors || count > v->sectors - sector)
        return false;
    for (uint32_t k = 0; k < v->extent_count; k++) {
        const struct vt_extent *x = &v->extent[k];
        if (sector < x->sectors) {
            *disk_sector = x->start + sector;
            *run = x->sectors - sector < count ? x->sectors - sector : count;
            return true;
        }
        sector -= x->sectors;
    }
    return false; /* sizes disagree with extents: cannot happen for a checked table */
}
