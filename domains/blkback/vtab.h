/*
 * The volume table: which volumes the disk holds and where. Plain C11, no
 * allocation, no hardware: blkback and the host tests (test/unit/blkback/)
 * compile this same file. The disk is reached through struct vt_disk.
 *
 * On the disk (512-byte sectors, every field little-endian):
 *
 *   sectors 0..7        left alone (a boot sector or partition table may live there)
 *   sectors 8..39       copy A of the table (VT_COPY_BYTES)
 *   sectors 40..71      copy B
 *   data_start..        the volumes' extents, in allocation units
 *
 * A copy: a 256-byte header, then VT_VOLUMES_MAX entries of 256 bytes.
 *
 *   header  0  8  magic "HVVOLTAB"
 *           8  4  version (1)
 *          12  4  CRC-32C of the whole copy with these 4 bytes zero
 *          16  8  sequence number (a commit writes the previous one + 1)
 *          24  4  volumes in use
 *          28  4  the next volume id
 *          32  8  data_start (sector)
 *          40  4  unit_sectors (allocation unit, a power of two, 8..2^21)
 *          44..255 zero
 *   entry   0 32  name, NUL-padded (all zero: a free entry)
 *          32  8  size in sectors (the sum of its extents)
 *          40  4  id (unique, never reused)
 *          44  4  flags (0)
 *          48  4  extent count (1..VT_EXTENTS_MAX)
 *          52 12  zero
 *          64 16  extents: start sector, length in sectors, 12 of them
 *
 * Crash consistency. A change is committed by writing the whole table,
 * with the sequence number one above the current copy's, over the *other*
 * copy, then flushing. The current copy is never written while it is
 * current, so whatever a crash leaves of the copy being written (nothing,
 * some of its sectors in any order, all of them), opening the disk finds
 * either the old table (the new copy fails its checksum or has the old
 * sequence) or the new one (complete, higher sequence). Space a create or
 * grow allocates is overwritten with zeros and flushed before the table that
 * gives it out is written, so a volume never shows what a deleted one held,
 * even after a crash. Guarantees:
 *   - after a crash the table is exactly the one before or the one after
 *     the change that was in progress, never a mix;
 *   - once vt_create/vt_grow/vt_delete return VT_OK the change survives any
 *     crash (the flush returned);
 *   - a change that failed with VT_EIO may or may not survive a crash (the
 *     other copy may have been written completely); until then, and after
 *     the next successful change, the table in memory is what counts.
 *
 * Hostile disk: everything read from it is checked (magic, version,
 * checksum, counts, names, ids, unit, extents inside the disk's data area,
 * aligned to the unit, no two overlapping, sizes adding up). A copy that
 * fails any check is ignored; if both do, the disk is damaged (VT_EDAMAGED)
 * unless both copies are all zeros (VT_EBLANK: a new disk, vt_format).
 *
 * Not thread-safe: one caller (blkback's loop) at a time.
 */
#ifndef BLKBACK_VTAB_H
#define BLKBACK_VTAB_H

#include <stdbool.h>
#include <stdint.h>

#define VT_SECTOR_BYTES 512u
#define VT_COPY_BYTES 16384u
#define VT_COPY_SECTORS (VT_COPY_BYTES / VT_SECTOR_BYTES)
#define VT_COPY_A_SECTOR 8u
#define VT_COPY_B_SECTOR (VT_COPY_A_SECTOR + VT_COPY_SECTORS)
#define VT_HEADER_BYTES 256u
#define VT_ENTRY_BYTES 256u
#define VT_VOLUMES_MAX ((VT_COPY_BYTES - VT_HEADER_BYTES) / VT_ENTRY_BYTES) /* 63 */
#define VT_EXTENTS_MAX 12u
#define VT_NAME_MAX 32u
#define VT_VERSION 1u
#define VT_DATA_START_DEFAULT 2048u /* 1 MiB */
#define VT_UNIT_DEFAULT 2048u       /* 1 MiB */
#define VT_UNIT_MIN 8u
#define VT_UNIT_MAX (1u << 21)
#define VT_DISK_SECTORS_MAX (1ull << 48) /* 128 PiB: the rest of a larger disk is not used */

enum vt_status {
    VT_OK = 0,
    VT_EIO = -1,      /* the disk failed a read, write or flush */
    VT_EBLANK = -2,   /* vt_open: no table, both copies all zeros */
    VT_EDAMAGED = -3, /* vt_open: no valid copy and not blank */
    VT_EINVAL = -4,   /* a bad name or size, a grow that shrinks */
    VT_EEXIST = -5,   /* a volume of that name exists */
    VT_ENOENT = -6,   /* no volume of that name */
    VT_ENOSPC = -7,   /* not enough free space, or more than VT_EXTENTS_MAX pieces */
    VT_EFULL = -8,    /* VT_VOLUMES_MAX volumes exist */
    VT_ESMALL = -9,   /* vt_format: the disk has no room for one unit of data */
};

/* The disk, as the table sees it. Each call returns 0 or a negative error;
 * count is in sectors and never more than VT_COPY_SECTORS. */
struct vt_disk {
    void *ctx;
    uint64_t sectors; /* capacity */
    int (*read)(void *ctx, uint64_t sector, void *buf, uint32_t count);
    int (*write)(void *ctx, uint64_t sector, const void *buf, uint32_t count);
    int (*flush)(void *ctx);
};

struct vt_extent {
    uint64_t start, sectors;
};

struct vt_volume {
    char name[VT_NAME_MAX + 1]; /* NUL-terminated here; "" for a free entry */
    uint64_t sectors;
    uint32_t id;
    uint32_t extent_count;
    struct vt_extent extent[VT_EXTENTS_MAX];
};

struct vtab {
    const struct vt_disk *disk;
    uint64_t sectors; /* the disk's, at most VT_DISK_SECTORS_MAX */
    uint64_t seq;
    bool current_b; /* the current copy is B */
    uint32_t count, next_id;
    uint64_t data_start;
    uint32_t unit_sectors;
    struct vt_volume vol[VT_VOLUMES_MAX];  /* free entries anywhere */
    struct vt_volume work[VT_VOLUMES_MAX]; /* a change being made */
    uint8_t io[VT_COPY_BYTES];             /* the copy being read or written; zeros */
    uint8_t io2[VT_COPY_BYTES];
};

/* A short English name of a status ("no such volume"). */
const char *vt_strerror(int status);

/* NULL if name is a valid volume name (1..32 bytes: letters, digits, '-',
 * '_', '.'; starting with a letter or digit), else why not. */
const char *vt_name_check(const char *name);

/* Reads the table from d. VT_OK (t holds it), VT_EBLANK, VT_EDAMAGED or
 * VT_EIO; t is usable (empty) only after VT_OK or a vt_format. */
int vt_open(struct vtab *t, const struct vt_disk *d);

/* Writes an empty table over both copies (copy A sequence 1, copy B
 * cleared to zeros), for a blank disk. unit_sectors 0 means
 * VT_UNIT_DEFAULT. VT_EINVAL for a bad unit, VT_ESMALL, VT_EIO. */
int vt_format(struct vtab *t, const struct vt_disk *d, uint32_t unit_sectors);

/* The volume of that name, or NULL. */
const struct vt_volume *vt_find(const struct vtab *t, const char *name);

/* Creates a volume of size_bytes rounded up to the unit; zeros its space,
 * then commits. */
int vt_create(struct vtab *t, const char *name, uint64_t size_bytes);

/* Grows a volume to size_bytes (rounded up to the unit; VT_EINVAL if that
 * is smaller than now; VT_OK and nothing written if equal). */
int vt_grow(struct vtab *t, const char *name, uint64_t size_bytes);

/* Deletes a volume (whether it is attached is the caller's to check). */
int vt_delete(struct vtab *t, const char *name);

/* Free space in sectors. */
uint64_t vt_free_sectors(const struct vtab *t);

/*
 * Maps `count` sectors of v from `sector` to the disk: the disk sector of
 * the first, and in *run how many of them are contiguous there (1..count).
 * false if [sector, sector + count) is not inside v or count is 0.
 */
bool vt_map(const struct vt_volume *v, uint64_t sector, uint64_t count, uint64_t *disk_sector,
            uint64_t *run);

#endif
