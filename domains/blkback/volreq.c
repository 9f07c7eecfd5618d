/* Volume requests from the control domain (see volreq.h). */
#include "volreq.h"

#include <string.h>

static const struct hvcbor_limits limits = {.max_depth = 2, .max_items = 8, .max_string_bytes = 64};

/* The request's name as a C string; NULL after an error reply. */
static const char *name_of(struct hvcbor_str s, char *out, const char **why)
{
    if (s.len == 0 || s.len > VT_NAME_MAX) {
        *why = "a volume name is 1..32 bytes";
        return NULL;
    }
    memcpy(out, s.ptr, s.len);
    out[s.len] = 0;
    if (strlen(out) != s.len) {
        *why = "a volume name has no NUL byte";
        return NULL;
    }
    const char *bad = vt_name_check(out);
    if (bad) {
        *why = bad;
        return NULL;
    }
    return out;
}

static void info_of(const struct vtab *t, const struct vt_volume *v, struct proto_volume_info *o)
{
    (void)t;
    o->name = (struct hvcbor_str){(const uint8_t *)v->name, (uint32_t)strlen(v->name)};
    o->size_bytes = v->sectors * VT_SECTOR_BYTES;
    o->id = v->id;
    o->extents = v->extent_count;
}

static enum proto_error_code code_of(int vt)
{
    switch (vt) {
    case VT_ENOENT: return PROTO_ERROR_CODE_NOT_FOUND;
    case VT_EEXIST: return PROTO_ERROR_CODE_CONFLICT;
    case VT_ENOSPC:
    case VT_EFULL: return PROTO_ERROR_CODE_NO_RESOURCES;
    case VT_EINVAL: return PROTO_ERROR_CODE_INVALID;
    default: return PROTO_ERROR_CODE_INTERNAL;
    }
}

static void error(struct proto_msg *reply, uint64_t id, enum proto_error_code code, const char *msg,
                  char *why, size_t why_cap)
{
    size_t n = strlen(msg);
    if (n >= why_cap)
        n = why_cap - 1;
    memcpy(why, msg, n);
    why[n] = 0;
    reply->type = PROTO_MSG_ERROR_REPLY;
    reply->u.error_reply = (struct proto_error_reply){
        .request_id = id, .code = code, .message = {(const uint8_t *)why, (uint32_t)n}};
}

/* A size in bytes a volume may have on this disk (checked before any
 * rounding, so nothing overflows: t->sectors is at most 2^48). */
static bool size_ok(const struct vtab *t, uint64_t bytes)
{
    return bytes > 0 && bytes <= t->sectors * VT_SECTOR_BYTES;
}

bool volreq_serve(struct vtab *t, const uint8_t *msg, uint32_t len, volreq_attached_fn attached,
                  void *ctx, struct proto_msg *reply, char *why, size_t why_cap)
{
    static struct proto_msg q; /* large: static */
    static char name[VT_NAME_MAX + 1];
    struct hvcbor_error err;
    memset(reply, 0, sizeof *reply);
    if (len > VOLREQ_MSG_BYTES_MAX || !proto_msg_decode(msg, len, &limits, &q, &err)) {
        error(reply, 0, PROTO_ERROR_CODE_INVALID, "an undecodable volume request", why, why_cap);
        return false;
    }
    uint64_t id = proto_msg_request_id(&q);
    struct hvcbor_str nm = {0};
    uint64_t size = 0;
    switch (q.type) {
    case PROTO_MSG_VOLUME_CREATE_REQUEST:
        nm = q.u.volume_create_request.name;
        size = q.u.volume_create_request.size_bytes;
        break;
    case PROTO_MSG_VOLUME_GROW_REQUEST:
        nm = q.u.volume_grow_request.name;
        size = q.u.volume_grow_request.size_bytes;
        break;
    case PROTO_MSG_VOLUME_DELETE_REQUEST: nm = q.u.volume_delete_request.name; break;
    case PROTO_MSG_VOLUME_INFO_REQUEST: nm = q.u.volume_info_request.name; break;
    case PROTO_MSG_VOLUME_LIST_REQUEST: {
        reply->type = PROTO_MSG_VOLUME_LIST_REPLY;
        struct proto_volume_list_reply *r = &reply->u.volume_list_reply;
        r->request_id = id;
        /* By name: a selection over at most 63 entries. */
        const char *last = "";
        for (;;) {
            const struct vt_volume *best = NULL;
            for (uint32_t i = 0; i < VT_VOLUMES_MAX; i++) {
                const struct vt_volume *v = &t->vol[i];
                if (v->name[0] && strcmp(v->name, last) > 0 &&
                    (!best || strcmp(v->name, best->name) < 0))
                    best = v;
            }
            if (!best || r->volumes.count == VT_VOLUMES_MAX)
                break;
            info_of(t, best, &r->volumes.items[r->volumes.count++]);
            last = best->name;
        }
        r->disk_bytes = t->sectors * VT_SECTOR_BYTES;
        r->free_bytes = vt_free_sectors(t) * VT_SECTOR_BYTES;
        r->table_seq = t->seq;
        return false;
    }
    default:
        error(reply, id, PROTO_ERROR_CODE_INVALID, "not a volume request", why, why_cap);
        return false;
    }
    const char *bad = NULL;
    if (!name_of(nm, name, &bad)) {
        error(reply, id, PROTO_ERROR_CODE_INVALID, bad, why, why_cap);
        return false;
    }
    int rc = VT_OK;
    uint64_t seq0 = t->seq;
    switch (q.type) {
    case PROTO_MSG_VOLUME_CREATE_REQUEST:
    case PROTO_MSG_VOLUME_GROW_REQUEST:
        if (!size_ok(t, size)) {
            error(reply, id, PROTO_ERROR_CODE_INVALID,
                  size ? "the size is larger than the disk" : "the size is 0", why, why_cap);
            return false;
        }
        rc = q.type == PROTO_MSG_VOLUME_CREATE_REQUEST ? vt_create(t, name, size)
                                                       : vt_grow(t, name, size);
        break;
    case PROTO_MSG_VOLUME_DELETE_REQUEST:
        if (!vt_find(t, name)) {
            rc = VT_ENOENT;
            break;
        }
        if (attached && attached(ctx, name)) {
            error(reply, id, PROTO_ERROR_CODE_WRONG_STATE,
                  "the volume is attached to a domain: detach it first", why, why_cap);
            return false;
        }
        rc = vt_delete(t, name);
        if (rc == VT_OK) {
            reply->type = PROTO_MSG_OK_REPLY;
            reply->u.ok_reply.request_id = id;
            return true;
        }
        break;
    default: break; /* info */
    }
    const struct vt_volume *v = rc == VT_OK ? vt_find(t, name) : NULL;
    if (rc == VT_OK && !v)
        rc = VT_ENOENT;
    if (rc != VT_OK) {
        error(reply, id, code_of(rc),
              rc == VT_EINVAL && q.type == PROTO_MSG_VOLUME_GROW_REQUEST
                  ? "a volume only grows: the size is below its size"
                  : vt_strerror(rc),
              why, why_cap);
        return t->seq != seq0;
    }
    reply->type = PROTO_MSG_VOLUME_INFO_REPLY;
    reply->u.volume_info_reply.request_id = id;
    info_of(t, v, &reply->u.volume_info_reply.volume);
    return t->seq != seq0;
}
