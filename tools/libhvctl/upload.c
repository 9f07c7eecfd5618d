/* Kernel image upload (see hvctl/upload.h). */
#include "hvctl/upload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct proto_msg g_msg; /* large union: one static (one thread) */

static void set_err(struct hvctl_error *err, enum hvctl_status s, const char *fmt, const char *a,
                    const char *b)
{
    if (!err)
        return;
    err->status = s;
    err->server_code = 0;
    snprintf(err->message, sizeof err->message, fmt, a, b);
}

bool hvctl_read_image(const char *path, uint8_t **bytes, size_t *size, struct hvctl_error *err)
{
    *bytes = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        set_err(err, HVCTL_ERR_IO, "cannot read the kernel %s: %s", path, strerror(errno));
        return false;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            if (cap > HVCTL_UPLOAD_MAX_BYTES)
                break;
            cap *= 2;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        set_err(err, HVCTL_ERR_IO, "cannot read the kernel %s%s", path, bad ? ": read error" : "");
        return false;
    }
    if (n == 0 || n > HVCTL_UPLOAD_MAX_BYTES) {
        free(buf);
        set_err(err, HVCTL_ERR_LOCAL, "the kernel %s is %s (an image is 1 byte .. 256 MiB)", path,
                n ? "too large" : "empty");
        return false;
    }
    *bytes = buf;
    *size = n;
    return true;
}

enum hvctl_status hvctl_upload(struct hvctl_conn *c, struct hvcbor_str token, const char *name,
                               const uint8_t *bytes, size_t size, uint32_t timeout_ms,
                               bool *was_present, struct hvctl_error *err)
{
    *was_present = false;
    size_t nl = strlen(name);
    if (nl == 0 || nl > 64 || size == 0 || size > HVCTL_UPLOAD_MAX_BYTES) {
        set_err(err, HVCTL_ERR_LOCAL,
                "cannot upload \"%s\": an image name is 1..64 bytes and an image 1 byte .. 256 "
                "MiB%s",
                name, "");
        return HVCTL_ERR_LOCAL;
    }
    memset(&g_msg, 0, sizeof g_msg);
    g_msg.type = PROTO_MSG_IMAGE_UPLOAD_REQUEST;
    g_msg.u.image_upload_request = (struct proto_image_upload_request){
        .request_id = hvctl_next_id(c),
        .token = token,
        .name = {(const uint8_t *)name, (uint32_t)nl},
        .size_bytes = size,
        .crc32c = frame_crc32c(0, bytes, size),
    };
    const struct proto_msg *r;
    enum hvctl_status s = hvctl_call(c, &g_msg, PROTO_MSG_IMAGE_UPLOAD_REPLY, timeout_ms, &r, err);
    if (s != HVCTL_OK)
        return s;
    if (r->u.image_upload_reply.has_present && r->u.image_upload_reply.present) {
        *was_present = true;
        return HVCTL_OK;
    }
    uint64_t up = r->u.image_upload_reply.upload;
    for (size_t off = 0; off < size; off += HVCTL_UPLOAD_CHUNK_BYTES) {
        size_t n = size - off < HVCTL_UPLOAD_CHUNK_BYTES ? size - off : HVCTL_UPLOAD_CHUNK_BYTES;
        memset(&g_msg, 0, sizeof g_msg);
        g_msg.type = PROTO_MSG_IMAGE_UPLOAD_CHUNK;
        g_msg.u.image_upload_chunk = (struct proto_image_upload_chunk){
            .request_id = hvctl_next_id(c),
            .upload = up,
            .offset_bytes = off,
            .data = {bytes + off, (uint32_t)n},
        };
        if ((s = hvctl_call(c, &g_msg, PROTO_MSG_OK_REPLY, timeout_ms, &r, err)) != HVCTL_OK)
            return s;
    }
    return HVCTL_OK;
}
