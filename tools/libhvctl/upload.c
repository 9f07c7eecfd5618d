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

static uint64_t rd(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void wr(uint8_t *p, unsigned n, uint64_t v)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* ELF64 header offsets (the System V ABI); <elf.h> names them too. */
#define EH_BYTES 64u
#define EH_PHOFF 32u
#define EH_SHOFF 40u
#define EH_PHENTSIZE 54u
#define EH_PHNUM 56u
#define EH_SHENTSIZE 58u
#define EH_SHNUM 60u
#define EH_SHSTRNDX 62u
#define PH_BYTES 56u
#define PH_OFFSET 8u
#define PH_FILESZ 32u

size_t hvctl_image_strip(uint8_t *b, size_t size)
{
    static const uint8_t ident[6] = {0x7f, 'E', 'L', 'F', 2 /* 64-bit */, 1 /* LE */};
    if (size < EH_BYTES || memcmp(b, ident, sizeof ident) != 0)
        return size;
    uint64_t phoff = rd(b + EH_PHOFF, 8), phentsize = rd(b + EH_PHENTSIZE, 2),
             phnum = rd(b + EH_PHNUM, 2);
    if (phentsize != PH_BYTES || phnum == 0 || phoff > size || phnum * PH_BYTES > size - phoff)
        return size;
    uint64_t end = phoff + phnum * PH_BYTES;
    if (end < EH_BYTES)
        end = EH_BYTES;
    for (uint64_t i = 0; i < phnum; i++) {
        const uint8_t *ph = b + phoff + i * PH_BYTES;
        uint64_t off = rd(ph + PH_OFFSET, 8), filesz = rd(ph + PH_FILESZ, 8);
        if (filesz == 0)
            continue;
        if (off > size || filesz > size - off)
            return size; /* the builder will say what is wrong with it */
        if (off + filesz > end)
            end = off + filesz;
    }
    if (end >= size)
        return size;
    uint64_t shoff = rd(b + EH_SHOFF, 8), shnum = rd(b + EH_SHNUM, 2),
             shentsize = rd(b + EH_SHENTSIZE, 2);
    if (shoff != 0 && (shoff > end || shnum * shentsize > end - shoff)) {
        wr(b + EH_SHOFF, 8, 0);
        wr(b + EH_SHNUM, 2, 0);
        wr(b + EH_SHSTRNDX, 2, 0);
    }
    return (size_t)end;
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
