/* blkback's data path (see serve.h). */
#include "serve.h"

#include <string.h>

#include "blkio.h"
#include "blkproto.h"
#include "blkstat.h"
#include "dsched.h"
#include "gk/bus.h"
#include "gk/event.h"
#include "gk/gk.h"
#include "gk/grant.h"
#include "gk/time.h"
#include "hv/duplex.h"
#include "volreq.h"

#define FES_MAX 8u /* front ends at once */
/* Requests accepted and not answered yet (their replies sent), over every
 * front end: enough for each to have its BLKP_INFLIGHT_MAX, so no front end
 * (one that never reads its replies, say) can take another's. */
#define IOS_MAX (FES_MAX * BLKP_INFLIGHT_MAX)
#define ALLOW_MAX 32u
#define READS_PER_ROUND 16u
/* Where a request's pages are mapped: request slot i at IO_VA + i * 32 pages. */
#define IO_VA 0x340000000ull
#define PAGE 4096ull
#define INBOX_MAX 8u
#define INBOX_BYTES 512u
#define MSG_OUT_MAX 512u

/* What a domain's manifest lets it attach (blk-disks-event). */
struct allow {
    bool used;
    char domain[65];
    uint32_t count;
    struct {
        char volume[VT_NAME_MAX + 1];
        bool writable;
        struct dsched_qos qos;
    } d[4];
};

struct fe;

/* A request accepted (blkp_check_io) and not answered yet. */
struct io {
    struct dsched_req q; /* first: the scheduler's view */
    bool used;
    bool on_disk;  /* dispatched: its parts are (or were) on the disk */
    bool answered; /* finished; its reply waits for room in the ring */
    struct fe *fe;
    uint32_t handle;
    uint64_t id;
    enum proto_blk_op op;
    uint64_t sector;
    uint32_t count, page_count, mapped;
    uint32_t refs[BLKIO_PAGES_MAX];
    uint64_t addr[BLKIO_PAGES_MAX];
    struct blkio_split split;
    uint32_t parts_sent, parts_done;
    enum proto_blk_status status;
    uint64_t start_ns;
};

struct fe {
    bool used;
    struct gk_conn *c;
    uint32_t slot; /* the front end's domain capability (peer slot) */
    char peer[65];
    struct blkp_conn p;
    struct dsched_flow flow[BLKP_HANDLES];
    uint32_t vol_id[BLKP_HANDLES];
    bool detaching[BLKP_HANDLES];
    uint64_t detach_id[BLKP_HANDLES];
    bool disks_sent;
    uint32_t ios;              /* struct io of this front end in use */
    uint32_t unsent;           /* of them, answered with the reply not sent yet */
    uint8_t held[MSG_OUT_MAX]; /* a refusal that did not fit the ring yet */
    uint32_t held_len;
    bool closing;
    uint64_t ops, bytes, not_granted;
    struct blkstat_hist lat; /* request latency, accepted to answered (ns) */
};

static struct vtab *tab;
static struct gk_virtio_blk *disk;
static uint32_t disk_port; /* the queue's vector's port (0: polled) */
static struct dsched sched;
static struct fe fes[FES_MAX];
static struct io ios[IOS_MAX];
static struct allow allows[ALLOW_MAX];
static struct io *stalled;    /* dispatched, some parts not on the disk yet (queue full) */
static struct io *flush_wait; /* a flush waiting for the disk to drain first */
static struct proto_msg in_msg, out_msg; /* large: static */
static uint8_t in_buf[BLKP_MSG_BYTES_MAX];
static uint64_t event_seq;
static bool disk_failed;

static struct {
    uint64_t type;
    uint32_t len;
    uint8_t buf[INBOX_BYTES];
} inbox[INBOX_MAX];
static uint32_t inbox_count;
static bool inbox_added; /* a message came since the loop last looked */

/* ---- Messages to a front end ------------------------------------------------- */

static struct hvcbor_str str_of(const char *s)
{
    return (struct hvcbor_str){(const uint8_t *)s, (uint32_t)strlen(s)};
}

static uint32_t encode(uint8_t *buf, uint32_t cap)
{
    size_t n = 0;
    struct hvcbor_error e;
    if (!proto_msg_encode(&out_msg, buf, cap, &n, &e))
        return 0;
    return (uint32_t)n;
}

/* Sends out_msg to f without waiting; false if the ring has no room. */
static bool send_out(struct fe *f)
{
    uint8_t buf[MSG_OUT_MAX];
    uint32_t n = encode(buf, sizeof buf);
    if (n == 0)
        return true; /* cannot happen for our own messages: nothing to send */
    return gk_conn_send(f->c, buf, n, 0) == GK_CHAN_OK;
}

/* Sends out_msg, or holds it (one) until the ring has room: f is not read
 * while a message is held. */
static void send_or_hold(struct fe *f)
{
    uint8_t buf[MSG_OUT_MAX];
    uint32_t n = encode(buf, sizeof buf);
    if (n == 0 || gk_conn_send(f->c, buf, n, 0) == GK_CHAN_OK)
        return;
    memcpy(f->held, buf, n);
    f->held_len = n;
}

/* Says why a front end's message was refused: the first LOG_REFUSALS of
 * each front end (a misbehaving one cannot flood the console). */
#define LOG_REFUSALS 16u
static void log_refusal(struct fe *f, const char *why)
{
    if (f->p.refused <= LOG_REFUSALS)
        gk_printf("blkback: %s: refused (%llu): %s\n", f->peer, (unsigned long long)f->p.refused,
                  why);
}

static void refuse(struct fe *f, uint64_t id, enum proto_error_code code, const char *why)
{
    out_msg.type = PROTO_MSG_ERROR_REPLY;
    out_msg.u.error_reply =
        (struct proto_error_reply){.request_id = id, .code = code, .message = str_of(why)};
    send_or_hold(f);
}

static void blk_reply(struct fe *f, uint64_t id, enum proto_blk_status s)
{
    out_msg.type = PROTO_MSG_BLK_REPLY;
    out_msg.u.blk_reply = (struct proto_blk_reply){.request_id = id, .status = s};
    send_or_hold(f);
}

static const struct allow *allow_of(const char *domain)
{
    for (uint32_t i = 0; i < ALLOW_MAX; i++)
        if (allows[i].used && strcmp(allows[i].domain, domain) == 0)
            return &allows[i];
    return NULL;
}

/* blk-disks-event to f: the disks its manifest gives it, once known. */
static void send_disks(struct fe *f)
{
    const struct allow *a = allow_of(f->peer);
    if (f->disks_sent || !a || f->held_len)
        return;
    out_msg.type = PROTO_MSG_BLK_DISKS_EVENT;
    struct proto_blk_disks_event *e = &out_msg.u.blk_disks_event;
    memset(e, 0, sizeof *e);
    e->request_id = ++event_seq;
    e->domain = str_of(f->peer);
    e->disks.count = a->count;
    for (uint32_t i = 0; i < a->count; i++) {
        struct proto_disk_spec *s = &e->disks.items[i];
        s->volume = str_of(a->d[i].volume);
        s->writable = a->d[i].writable;
    }
    send_or_hold(f);
    f->disks_sent = true;
}

/* ---- Volumes and attachments --------------------------------------------------- */

static const struct vt_volume *volume_by_id(uint32_t id)
{
    for (uint32_t i = 0; i < VT_VOLUMES_MAX; i++)
        if (tab->vol[i].name[0] && tab->vol[i].id == id)
            return &tab->vol[i];
    return NULL;
}

/* Whether volume id is attached by any front end (writable_only: read-write). */
static bool attached_id(uint32_t id, bool writable_only)
{
    for (uint32_t i = 0; i < FES_MAX; i++)
        for (uint32_t h = 0; fes[i].used && h < BLKP_HANDLES; h++)
            if (fes[i].p.att[h].used && fes[i].vol_id[h] == id &&
                (!writable_only || fes[i].p.att[h].writable))
                return true;
    return false;
}

static bool attached_name(void *ctx, const char *name)
{
    (void)ctx;
    const struct vt_volume *v = vt_find(tab, name);
    return v && attached_id(v->id, false);
}

static void on_attach(struct fe *f, const struct proto_blk_attach_request *q)
{
    char name[VT_NAME_MAX + 1];
    uint32_t n = q->volume.len < VT_NAME_MAX ? q->volume.len : VT_NAME_MAX;
    memcpy(name, q->volume.ptr, n);
    name[n] = 0;
    const struct allow *a = allow_of(f->peer);
    uint32_t k = 0;
    while (a && k < a->count && strcmp(a->d[k].volume, name) != 0)
        k++;
    if (!a || k == a->count) {
        blkp_strike(&f->p);
        log_refusal(f, "attach of a volume its manifest does not give it");
        refuse(f, q->request_id, PROTO_ERROR_CODE_REFUSED,
               "the domain's manifest (disks:) does not give it this volume");
        return;
    }
    if (q->writable && !a->d[k].writable) {
        blkp_strike(&f->p);
        log_refusal(f, "a read-write attach of a read-only disk");
        refuse(f, q->request_id, PROTO_ERROR_CODE_REFUSED,
               "the domain's manifest gives it this volume read-only");
        return;
    }
    const struct vt_volume *v = vt_find(tab, name);
    if (!v) {
        refuse(f, q->request_id, PROTO_ERROR_CODE_NOT_FOUND, "no such volume");
        return;
    }
    if (attached_id(v->id, true) || (q->writable && attached_id(v->id, false))) {
        refuse(f, q->request_id, PROTO_ERROR_CODE_CONFLICT,
               q->writable ? "the volume is attached elsewhere"
                           : "the volume is attached read-write elsewhere");
        return;
    }
    int h = blkp_attach(&f->p, v->id, v->sectors, q->writable);
    if (h < 0) {
        refuse(f, q->request_id, PROTO_ERROR_CODE_NO_RESOURCES, "16 volumes attached already");
        return;
    }
    struct dsched_qos qos = a->d[k].qos;
    memset(&f->flow[h], 0, sizeof f->flow[h]);
    if (!dsched_attach(&sched, &f->flow[h], &qos, gk_now_ns())) {
        blkp_detach(&f->p, (uint32_t)h);
        refuse(f, q->request_id, PROTO_ERROR_CODE_NO_RESOURCES,
               "the disk scheduler has no room for another flow");
        return;
    }
    f->vol_id[h] = v->id;
    f->detaching[h] = false;
    out_msg.type = PROTO_MSG_BLK_ATTACH_REPLY;
    out_msg.u.blk_attach_reply = (struct proto_blk_attach_reply){.request_id = q->request_id,
                                                                 .handle = (uint64_t)h,
                                                                 .sectors = v->sectors,
                                                                 .writable = q->writable,
                                                                 .max_inflight = BLKP_INFLIGHT_MAX,
                                                                 .max_sectors = BLKP_SECTORS_MAX};
    send_or_hold(f);
    gk_printf("blkback: %s attached %s %s (handle %d)\n", f->peer, name, q->writable ? "rw" : "ro",
              h);
}

/* Accounting of one attachment, on the console when it ends (not yet in
 * hvctl info): the scheduler's counts of its flow. */
static void account(const struct fe *f, uint32_t h)
{
    const struct dsched_flow_stats *st = &f->flow[h].stats;
    const struct vt_volume *v = volume_by_id(f->vol_id[h]);
    gk_printf("blkback: %s detached %s: %llu requests, %llu KiB, %llu for the reservation, "
              "throttled %llu ms\n",
              f->peer, v ? v->name : "?", (unsigned long long)st->ops,
              (unsigned long long)(st->bytes / 1024), (unsigned long long)st->reservation_ops,
              (unsigned long long)(dsched_flow_throttled_ns(&f->flow[h], gk_now_ns()) / 1000000));
}

/* A detach whose requests have ended: done and answered. */
static void finish_detach(struct fe *f, uint32_t h)
{
    if (!f->detaching[h] || f->p.att[h].inflight)
        return;
    account(f, h);
    (void)dsched_detach(&sched, &f->flow[h], gk_now_ns());
    blkp_detach(&f->p, h);
    f->detaching[h] = false;
    if (!f->closing) {
        out_msg.type = PROTO_MSG_OK_REPLY;
        out_msg.u.ok_reply = (struct proto_ok_reply){.request_id = f->detach_id[h]};
        send_or_hold(f);
    }
}

static void on_detach(struct fe *f, const struct proto_blk_detach_request *q)
{
    if (blkp_check_detach(&f->p, q->handle) != PROTO_BLK_STATUS_OK || f->detaching[q->handle]) {
        refuse(f, q->request_id, PROTO_ERROR_CODE_NOT_FOUND, "no attachment with that handle");
        return;
    }
    f->detaching[q->handle] = true;
    f->detach_id[q->handle] = q->request_id;
    finish_detach(f, (uint32_t)q->handle);
}

/* ---- Requests ------------------------------------------------------------------- */

static struct io *io_alloc(void)
{
    for (uint32_t i = 0; i < IOS_MAX; i++)
        if (!ios[i].used)
            return &ios[i];
    return NULL;
}

static uint64_t io_va(const struct io *io, uint32_t page)
{
    return IO_VA + ((uint64_t)(io - ios) * BLKIO_PAGES_MAX + page) * PAGE;
}

static void unmap(struct io *io)
{
    while (io->mapped > 0) {
        io->mapped--;
        gk_grant_unmap(io_va(io, io->mapped));
    }
}

/* An answered request's reply went (or its front end is gone): it stops
 * counting against the front end's in-flight limit and is freed. */
static void io_free(struct io *io)
{
    struct fe *f = io->fe;
    blkp_io_done(&f->p, io->handle);
    io->used = false;
    f->ios--;
    finish_detach(f, io->handle);
}

/* The request ended: answer (or keep the answer until the ring has room;
 * it counts as in flight until then), count. */
static void io_end(struct io *io, enum proto_blk_status s)
{
    struct fe *f = io->fe;
    unmap(io);
    io->status = s;
    io->answered = true;
    if (s == PROTO_BLK_STATUS_OK && io->op != PROTO_BLK_OP_FLUSH) {
        f->ops++;
        f->bytes += (uint64_t)io->count * VT_SECTOR_BYTES;
        uint64_t ns = gk_now_ns() - io->start_ns;
        blkstat_hist_add(&f->lat, ns);
    }
    out_msg.type = PROTO_MSG_BLK_REPLY;
    out_msg.u.blk_reply = (struct proto_blk_reply){.request_id = io->id, .status = s};
    if (f->closing || (f->held_len == 0 && !f->unsent && send_out(f)))
        io_free(io);
    else
        f->unsent++; /* flush_held sends it, in order, once the ring has room */
}

static void on_io(struct fe *f, const struct proto_blk_request *r)
{
    enum proto_blk_status s = blkp_check_io(&f->p, r);
    if (s == PROTO_BLK_STATUS_OK && f->detaching[r->handle]) {
        blkp_io_done(&f->p, (uint32_t)r->handle);
        blkp_strike(&f->p);
        s = PROTO_BLK_STATUS_NO_VOLUME;
    }
    struct io *io = s == PROTO_BLK_STATUS_OK ? io_alloc() : NULL;
    if (s == PROTO_BLK_STATUS_OK && !io) {
        blkp_io_done(&f->p, (uint32_t)r->handle);
        s = PROTO_BLK_STATUS_BUSY; /* every front end's requests fill the pool: not a strike */
    }
    if (s != PROTO_BLK_STATUS_OK) {
        log_refusal(f, proto_blk_status_name(s));
        blk_reply(f, r->request_id, s);
        return;
    }
    memset(io, 0, sizeof *io);
    io->used = true;
    io->fe = f;
    f->ios++;
    io->handle = (uint32_t)r->handle;
    io->id = r->request_id;
    io->op = r->op;
    io->sector = r->sector;
    io->count = (uint32_t)r->count;
    io->page_count = r->pages.count;
    for (uint32_t i = 0; i < r->pages.count; i++)
        io->refs[i] = (uint32_t)r->pages.items[i];
    io->start_ns = gk_now_ns();
    io->q.arrival_ns = io->start_ns;
    io->q.bytes = io->count * VT_SECTOR_BYTES;
    dsched_enqueue(&sched, &f->flow[io->handle], &io->q, io->start_ns);
}

/* Maps the request's pages; false (and a strike) if one is not granted
 * with the access the op needs. */
static bool map_pages(struct io *io)
{
    bool writable = io->op == PROTO_BLK_OP_READ; /* the disk writes into it */
    for (uint32_t i = 0; i < io->page_count; i++) {
        uint64_t va = io_va(io, i);
        if (gk_grant_map(io->fe->slot, io->refs[i], va, writable) != HV_OK) {
            io->fe->not_granted++;
            blkp_strike(&io->fe->p);
            log_refusal(io->fe, "not-granted");
            return false;
        }
        io->mapped++;
        uint64_t mfn = gk_va_to_mfn(va);
        if (mfn == HV_M2P_INVALID)
            return false;
        io->addr[i] = mfn * PAGE;
    }
    return true;
}

/* Puts the request's remaining parts on the disk; false if the queue is
 * full (it stays stalled). */
static bool submit_parts(struct io *io)
{
    if (io->op == PROTO_BLK_OP_FLUSH) {
        if (io->parts_sent)
            return true;
        if (!disk->has_flush) {
            /* No flush command: the device has no volatile cache (virtio
             * 5.2.6.2), every write it completed is durable already. */
            io->parts_sent = io->parts_done = io->split.part_count = 1;
            io_end(io, PROTO_BLK_STATUS_OK);
            return true;
        }
        int rc = gk_virtio_blk_submit(disk, GK_VIRTIO_BLK_T_FLUSH, 0, NULL, 0,
                                      (uint64_t)(io - ios) << 8);
        if (rc == GK_VIRTIO_EAGAIN)
            return false;
        io->parts_sent = 1;
        io->split.part_count = 1;
        if (rc != GK_VIRTIO_OK) {
            io->parts_done = 1;
            io_end(io, PROTO_BLK_STATUS_IO_ERROR);
        }
        return true;
    }
    uint32_t type = io->op == PROTO_BLK_OP_READ ? GK_VIRTIO_BLK_T_IN : GK_VIRTIO_BLK_T_OUT;
    while (io->parts_sent < io->split.part_count) {
        const struct blkio_part *p = &io->split.part[io->parts_sent];
        struct gk_virtio_blk_seg segs[BLKIO_SEGS_MAX];
        for (uint32_t i = 0; i < p->seg_count; i++)
            segs[i] = (struct gk_virtio_blk_seg){io->split.seg[p->seg_first + i].addr,
                                                 io->split.seg[p->seg_first + i].len};
        int rc = gk_virtio_blk_submit(disk, type, p->disk_sector, segs, p->seg_count,
                                      ((uint64_t)(io - ios) << 8) | io->parts_sent);
        if (rc == GK_VIRTIO_EAGAIN)
            return false;
        io->parts_sent++;
        if (rc != GK_VIRTIO_OK) {
            io->status = PROTO_BLK_STATUS_IO_ERROR;
            io->parts_done++;
        }
    }
    if (io->parts_done == io->split.part_count)
        io_end(io, io->status);
    return true;
}

/* Takes a request the scheduler let go to the disk. */
static void start(struct io *io)
{
    io->on_disk = true;
    io->status = PROTO_BLK_STATUS_OK;
    if (io->op != PROTO_BLK_OP_FLUSH) {
        const struct vt_volume *v = volume_by_id(io->fe->vol_id[io->handle]);
        if (!map_pages(io)) {
            io_end(io, PROTO_BLK_STATUS_NOT_GRANTED);
            return;
        }
        if (!v || !blkio_split(v, io->sector, io->count, io->addr, &io->split)) {
            io_end(io, PROTO_BLK_STATUS_OUT_OF_RANGE);
            return;
        }
    }
    if (!submit_parts(io))
        stalled = io;
}

/* Sends what the scheduler allows to the disk (the caller kicks it);
 * *wake_ns: when to try again. */
static bool dispatch_some(uint64_t *wake_ns)
{
    bool progress = false;
    *wake_ns = DSCHED_NEVER;
    if (stalled) {
        if (!submit_parts(stalled))
            return false;
        stalled = NULL;
        progress = true;
    }
    if (flush_wait) {
        /* A flush covers every write answered before it was sent: it goes
         * to the disk only once everything dispatched before it is done. */
        if (disk->async_inflight)
            return progress;
        struct io *io = flush_wait;
        flush_wait = NULL;
        start(io);
        progress = true;
        if (stalled)
            return progress;
    }
    while (!disk_failed && disk->async_inflight < GK_VIRTIO_BLK_ASYNC_MAX) {
        struct dsched_flow *flow = NULL;
        struct dsched_req *r = dsched_dispatch(&sched, gk_now_ns(), &flow, wake_ns);
        if (!r)
            break;
        struct io *io = (struct io *)r;
        progress = true;
        if (io->op == PROTO_BLK_OP_FLUSH && disk->async_inflight) {
            flush_wait = io;
            break;
        }
        start(io);
        if (stalled)
            break;
    }
    return progress;
}

/* dispatch_some, then the doorbell for whatever it queued (also the parts
 * of a stalled request queued before the queue filled again). */
static bool dispatch(uint64_t *wake_ns)
{
    bool progress = dispatch_some(wake_ns);
    gk_virtio_blk_kick(disk);
    return progress;
}

/* Harvests the disk's completions. */
static bool reap(void)
{
    bool progress = false;
    for (;;) {
        uint64_t cookie = 0;
        int result = 0;
        int rc = gk_virtio_blk_reap(disk, &cookie, &result);
        if (rc == GK_VIRTIO_EAGAIN)
            break;
        if (rc != GK_VIRTIO_OK) {
            if (!disk_failed)
                gk_printf("blkback: FAILED the disk broke the protocol (%s)\n",
                          gk_virtio_dev_broken_why(disk->dev));
            disk_failed = true;
            break;
        }
        progress = true;
        struct io *io = &ios[(cookie >> 8) % IOS_MAX];
        if (!io->used || io->answered || !io->on_disk)
            continue;
        io->parts_done++;
        if (result != GK_VIRTIO_OK)
            io->status = PROTO_BLK_STATUS_IO_ERROR;
        if (io->parts_done == io->split.part_count && io->parts_sent == io->split.part_count)
            io_end(io, io->status);
    }
    return progress;
}

/* ---- Front ends --------------------------------------------------------------- */

/* Answers held back by a full ring, oldest state first. */
static bool flush_held(struct fe *f)
{
    if (f->held_len) {
        if (gk_conn_send(f->c, f->held, f->held_len, 0) != GK_CHAN_OK)
            return false;
        f->held_len = 0;
    }
    for (uint32_t i = 0; i < IOS_MAX && f->unsent; i++) {
        struct io *io = &ios[i];
        if (!io->used || io->fe != f || !io->answered)
            continue;
        out_msg.type = PROTO_MSG_BLK_REPLY;
        out_msg.u.blk_reply = (struct proto_blk_reply){.request_id = io->id, .status = io->status};
        if (!send_out(f))
            return false;
        f->unsent--;
        io_free(io);
    }
    return true;
}

static void handle(struct fe *f, const uint8_t *buf, uint32_t len)
{
    switch (blkp_decode(&f->p, buf, len, &in_msg)) {
    case BLKP_ATTACH: on_attach(f, &in_msg.u.blk_attach_request); break;
    case BLKP_IO: on_io(f, &in_msg.u.blk_request); break;
    case BLKP_DETACH: on_detach(f, &in_msg.u.blk_detach_request); break;
    case BLKP_BAD: /* a strike; nothing to answer a garbled id with */
        log_refusal(f, "a message that does not decode or a type a front end may not send");
        break;
    }
}

/* Reads up to READS_PER_ROUND messages of f. */
static bool read_fe(struct fe *f)
{
    bool progress = false;
    for (uint32_t k = 0; k < READS_PER_ROUND && !f->p.cut && !f->held_len; k++) {
        uint32_t len = 0;
        enum gk_chan_status st = gk_conn_recv(f->c, in_buf, sizeof in_buf, &len, 0);
        if (st == GK_CHAN_ETOOBIG) {
            blkp_strike(&f->p); /* longer than any front end's message */
            log_refusal(f, "a message longer than 1 KiB");
            gk_conn_release(f->c);
            progress = true;
            continue;
        }
        if (st != GK_CHAN_OK)
            break;
        progress = true;
        handle(f, in_buf, len);
    }
    return progress;
}

/* A front end that went away or was cut: its queued requests are dropped,
 * those on the disk finish (the disk may still write its pages), then its
 * connection is closed. */
static void close_fe(struct fe *f)
{
    if (!f->closing) {
        f->closing = true;
        gk_printf("blkback: %s %s (%llu refused, %llu accepted; %llu reads and writes, "
                  "%llu KiB, latency p50 %llu us, p99 %llu us)\n",
                  f->peer, f->p.cut ? "disconnected for misbehaving" : "went away",
                  (unsigned long long)f->p.refused, (unsigned long long)f->p.accepted,
                  (unsigned long long)f->ops, (unsigned long long)(f->bytes / 1024),
                  (unsigned long long)(blkstat_hist_quantile(&f->lat, 500) / 1000),
                  (unsigned long long)(blkstat_hist_quantile(&f->lat, 990) / 1000));
        for (uint32_t h = 0; h < BLKP_HANDLES; h++) {
            if (!f->p.att[h].used)
                continue;
            struct dsched_req *r = dsched_detach(&sched, &f->flow[h], gk_now_ns());
            while (r) {
                struct io *io = (struct io *)r;
                r = r->next;
                io_free(io);
            }
            f->detaching[h] = true;
        }
        if (flush_wait && flush_wait->fe == f) {
            io_free(flush_wait);
            flush_wait = NULL;
        }
    }
    for (uint32_t i = 0; i < IOS_MAX; i++)
        if (ios[i].used && ios[i].fe == f && ios[i].answered)
            io_free(&ios[i]);
    if (f->ios)
        return; /* requests still on the disk */
    for (uint32_t h = 0; h < BLKP_HANDLES; h++)
        if (f->p.att[h].used) {
            account(f, h);
            blkp_detach(&f->p, h);
        }
    gk_conn_close(f->c);
    /* What the domain may attach is forgotten with its last connection:
     * a new domain of that name gets its own list from the control domain
     * before it is introduced (never the old one's). */
    bool others = false;
    for (uint32_t i = 0; i < FES_MAX; i++)
        others = others || (fes[i].used && &fes[i] != f && strcmp(fes[i].peer, f->peer) == 0);
    for (uint32_t i = 0; i < ALLOW_MAX && !others; i++)
        if (allows[i].used && strcmp(allows[i].domain, f->peer) == 0)
            allows[i].used = false;
    memset(f, 0, sizeof *f);
}

static bool accept_new(void)
{
    struct gk_conn *c = gk_conn_wait("blk", 0);
    if (!c)
        return false;
    struct fe *f = NULL;
    for (uint32_t i = 0; i < FES_MAX && !f; i++)
        if (!fes[i].used)
            f = &fes[i];
    if (!f) {
        gk_printf("blkback: refused a front end (%s): %u served already\n", gk_conn_peer(c),
                  FES_MAX);
        gk_conn_close(c);
        return true;
    }
    memset(f, 0, sizeof *f);
    f->used = true;
    f->c = c;
    f->slot = gk_conn_peer_slot(c);
    strncpy(f->peer, gk_conn_peer(c), sizeof f->peer - 1);
    blkp_init(&f->p);
    gk_printf("blkback: front end %s connected\n", f->peer);
    return true; /* its disks go once the inbox is served (step) */
}

/* ---- Requests from the control domain ------------------------------------------- */

static void on_bus_request(uint64_t type, uint64_t id, const uint8_t *msg, uint32_t len)
{
    (void)id;
    if (inbox_count == INBOX_MAX || len > INBOX_BYTES) {
        gk_printf("blkback: dropped a request of the control domain (type %llu)\n",
                  (unsigned long long)type);
        return;
    }
    inbox[inbox_count].type = type;
    inbox[inbox_count].len = len;
    memcpy(inbox[inbox_count].buf, msg, len);
    inbox_count++;
    inbox_added = true;
}

static void take_disks_event(const uint8_t *msg, uint32_t len)
{
    static const struct hvcbor_limits lim = {4, 64, 64};
    struct hvcbor_error e;
    if (!proto_msg_decode(msg, len, &lim, &in_msg, &e) ||
        in_msg.type != PROTO_MSG_BLK_DISKS_EVENT) {
        gk_printf("blkback: a bad blk-disks-event from the control domain\n");
        return;
    }
    const struct proto_blk_disks_event *ev = &in_msg.u.blk_disks_event;
    char dom[65];
    uint32_t n = ev->domain.len < 64 ? ev->domain.len : 64;
    memcpy(dom, ev->domain.ptr, n);
    dom[n] = 0;
    struct allow *a = (struct allow *)allow_of(dom);
    for (uint32_t i = 0; i < ALLOW_MAX && !a; i++)
        if (!allows[i].used)
            a = &allows[i];
    if (!a) {
        gk_printf("blkback: no room for the disks of %s\n", dom);
        return;
    }
    memset(a, 0, sizeof *a);
    a->used = true;
    memcpy(a->domain, dom, sizeof dom);
    for (uint32_t i = 0; i < ev->disks.count && i < 4; i++) {
        const struct proto_disk_spec *s = &ev->disks.items[i];
        uint32_t vn = s->volume.len < VT_NAME_MAX ? s->volume.len : VT_NAME_MAX;
        memcpy(a->d[a->count].volume, s->volume.ptr, vn);
        a->d[a->count].writable = s->writable;
        struct dsched_qos q = {(uint32_t)(s->has_iops_min ? s->iops_min : 0),
                               (uint32_t)(s->has_iops_max ? s->iops_max : 0),
                               s->has_bps_max ? s->bps_max : 0,
                               (uint32_t)(s->has_weight ? s->weight : DSCHED_WEIGHT_DEFAULT)};
        if (dsched_qos_check(&q) != NULL)
            q = (struct dsched_qos){0, 0, 0, DSCHED_WEIGHT_DEFAULT};
        a->d[a->count].qos = q;
        a->count++;
    }
    for (uint32_t i = 0; i < FES_MAX; i++)
        if (fes[i].used && !fes[i].closing && strcmp(fes[i].peer, dom) == 0)
            send_disks(&fes[i]);
}

static void report_table(void)
{
    gk_printf("blkback: volume table seq %llu (copy %c): %u volumes, %llu MiB free\n",
              (unsigned long long)tab->seq, tab->current_b ? 'B' : 'A', tab->count,
              (unsigned long long)(vt_free_sectors(tab) / 2048u));
}

/* A volume request, served only with the disk idle (the table's own I/O
 * is synchronous). */
static void serve_volreq(const uint8_t *msg, uint32_t len)
{
    static struct proto_msg reply; /* large: static */
    static uint8_t out[DUPLEX_INLINE_MAX];
    static char why[160];
    if (volreq_serve(tab, msg, len, attached_name, NULL, &reply, why, sizeof why)) {
        report_table();
        /* A grown volume: its attachments see the new size. */
        for (uint32_t i = 0; i < FES_MAX; i++)
            for (uint32_t h = 0; fes[i].used && h < BLKP_HANDLES; h++) {
                const struct vt_volume *v =
                    fes[i].p.att[h].used ? volume_by_id(fes[i].vol_id[h]) : NULL;
                if (v)
                    blkp_set_sectors(&fes[i].p, v->id, v->sectors);
            }
    }
    size_t n = 0;
    struct hvcbor_error e;
    int64_t rc = HV_EINVAL;
    if (proto_msg_encode(&reply, out, sizeof out, &n, &e))
        rc = gk_bus_send(out, (uint32_t)n);
    if (rc != HV_OK)
        gk_printf("blkback: cannot answer a volume request (%lld)\n", (long long)rc);
}

/* The control domain's messages: disks lists at once (they change only the
 * list), volume requests in order, each once the disk is idle (nothing new
 * is dispatched while one waits). false while one waits. */
static bool serve_inbox(bool *progress)
{
    for (uint32_t i = 0; i < inbox_count;) {
        if (inbox[i].type != PROTO_MSG_BLK_DISKS_EVENT) {
            i++;
            continue;
        }
        take_disks_event(inbox[i].buf, inbox[i].len);
        *progress = true;
        inbox_count--;
        memmove(&inbox[i], &inbox[i + 1], (inbox_count - i) * sizeof inbox[0]);
    }
    while (inbox_count) {
        if (disk->async_inflight || stalled || flush_wait)
            return false;
        serve_volreq(inbox[0].buf, inbox[0].len);
        *progress = true;
        inbox_count--;
        memmove(&inbox[0], &inbox[1], inbox_count * sizeof inbox[0]);
    }
    return true;
}

/* ---- The loop ------------------------------------------------------------------ */

/* Does everything that can be done now; true if anything was. */
static bool step(uint64_t *wake_ns)
{
    inbox_added = false;
    bool progress = reap();
    while (accept_new())
        progress = true;
    /* After accepting: the control domain sends a domain's blk-disks-event
     * before it introduces it, so a connection accepted above has its list
     * in the inbox by now. */
    bool idle_ok = serve_inbox(&progress);
    for (uint32_t i = 0; i < FES_MAX; i++) {
        struct fe *f = &fes[i];
        if (!f->used)
            continue;
        if (f->closing || f->p.cut || gk_conn_gone(f->c)) {
            close_fe(f);
            continue;
        }
        if (!flush_held(f))
            continue;
        send_disks(f);
        progress = read_fe(f) || progress;
        if (f->p.cut)
            close_fe(f);
    }
    *wake_ns = DSCHED_NEVER;
    if (idle_ok)
        progress = dispatch(wake_ns) || progress;
    return progress;
}

_Noreturn void serve_run(struct vtab *t, struct gk_virtio_blk *b, struct gk_virtio_pci *p, bool irq)
{
    tab = t;
    disk = b;
    disk_port = irq && b->q.vector < p->vector_count ? p->port[b->q.vector] : 0;
    dsched_init(&sched, DSCHED_MCLOCK, 0);
    gk_bus_on_request(on_bus_request);
    for (;;) {
        bool was = gk_events_disable();
        if (disk_port)
            (void)gk_evtchn_test_and_clear(disk_port);
        uint64_t wake = DSCHED_NEVER;
        if (!step(&wake)) {
            bool polled = !disk_port && disk->async_inflight;
            bool armed = disk_port ? gk_virtio_blk_arm(disk) : true;
            if (wake != DSCHED_NEVER)
                gk_timer_arm(wake);
            if (armed && !polled && !inbox_added)
                gk_block(); /* a front end, the disk, the bus or the timer wakes it */
            else
                __builtin_ia32_pause();
        }
        gk_events_restore(was);
    }
}
