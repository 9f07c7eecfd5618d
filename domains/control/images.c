/* Boot-module and uploaded kernel images (see images.h). */
#include "images.h"

#include <hv/frame.h>
#include <stdlib.h>
#include <string.h>

#include "gk/gk.h"
#include "gk/heap.h"
#include "gk/mm.h"

#define IMAGE_RESERVE_BYTES (2ull << 20)

static struct image images[IMAGE_MAX];
static uint64_t next_upload = 1;

static bool name_is(const struct image *im, struct hvcbor_str n)
{
    return strlen(im->name) == n.len && memcmp(im->name, n.ptr, n.len) == 0;
}

void images_init(const struct hv_start_info *si)
{
    for (uint32_t i = 0; i < si->modules_count && i < IMAGE_MAX; i++) {
        struct image *im = &images[i];
        im->used = im->complete = im->boot_module = true;
        strlcpy(im->name, si->modules[i].name, sizeof im->name);
        im->bytes = (const uint8_t *)(uintptr_t)si->modules[i].va;
        im->size_bytes = si->modules[i].size_bytes;
        im->refs = 1; /* never freed */
    }
}

struct image *image_find(struct hvcbor_str name)
{
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t i = 0; i < IMAGE_MAX; i++) {
            struct image *im = &images[i];
            if (im->used && im->complete && im->boot_module == (pass == 1) && name_is(im, name))
                return im;
        }
    return NULL;
}

struct image *image_find_identical(const struct proto_image_upload_request *q)
{
    struct image *im = image_find(q->name);
    if (!im || im->size_bytes != q->size_bytes)
        return NULL;
    if (!im->crc_known) {
        im->crc = frame_crc32c(0, im->bytes, (size_t)im->size_bytes);
        im->crc_known = true;
    }
    return im->crc == q->crc32c ? im : NULL;
}

void image_ref(struct image *im)
{
    im->refs++;
}

static void release(struct image *im)
{
    free(im->buf);
    memset(im, 0, sizeof *im);
}

void image_unref(struct image *im)
{
    if (im && im->refs > 0 && !im->boot_module)
        im->refs--;
}

const char *image_upload_start(const struct proto_image_upload_request *q, uint64_t session,
                               uint64_t *upload_id, enum proto_error_code *code)
{
    /* An unfinished upload of the same name, one from an earlier
     * connection, or one abandoned (idle) is dropped; a complete image of
     * that name in use by a domain cannot be replaced. */
    struct image *slot = NULL;
    uint64_t now = gk_now_ns();
    for (uint32_t i = 0; i < IMAGE_MAX; i++) {
        struct image *im = &images[i];
        if (im->used && !im->complete &&
            (im->session != session || name_is(im, q->name) ||
             now - im->last_ns >= IMAGE_UPLOAD_IDLE_NS))
            release(im);
        if (im->used && im->complete && !im->boot_module && name_is(im, q->name)) {
            if (im->refs > 0) {
                *code = PROTO_ERROR_CODE_CONFLICT;
                return "an uploaded image of that name is in use by a domain";
            }
            release(im);
        }
    }
    for (uint32_t i = 0; i < IMAGE_MAX && !slot; i++)
        if (!images[i].used)
            slot = &images[i];
    if (!slot) {
        *code = PROTO_ERROR_CODE_NO_RESOURCES;
        return "too many images (at most 16, boot modules included)";
    }
    /* Keep IMAGE_RESERVE_BYTES of the control domain's own memory for
     * everything else (the builder's page tables and lists, histories):
     * the heap grows from the same frames and never gives them back. */
    struct gk_heap_stats hs;
    gk_heap_get_stats(gk_heap_global(), &hs);
    uint64_t avail = (uint64_t)(hs.total_bytes - hs.used_bytes) + gk_pfn_free_count() * 4096;
    if (q->size_bytes + IMAGE_RESERVE_BYTES > avail) {
        *code = PROTO_ERROR_CODE_NO_RESOURCES;
        return "not enough memory in the control domain for an image of that size (root_mem)";
    }
    uint8_t *buf = malloc((size_t)q->size_bytes);
    if (!buf) {
        *code = PROTO_ERROR_CODE_NO_RESOURCES;
        return "not enough memory in the control domain for an image of that size";
    }
    memset(slot, 0, sizeof *slot);
    slot->used = true;
    memcpy(slot->name, q->name.ptr, q->name.len);
    slot->name[q->name.len] = 0;
    slot->buf = buf;
    slot->bytes = buf;
    slot->size_bytes = q->size_bytes;
    slot->crc_expected = (uint32_t)q->crc32c;
    slot->upload_id = next_upload++;
    slot->session = session;
    slot->last_ns = now;
    *upload_id = slot->upload_id;
    return NULL;
}

const char *image_upload_chunk(const struct proto_image_upload_chunk *q, uint64_t session,
                               bool *done, const char **name, enum proto_error_code *code)
{
    *done = false;
    *name = "";
    struct image *im = NULL;
    for (uint32_t i = 0; i < IMAGE_MAX; i++)
        if (images[i].used && !images[i].complete && images[i].upload_id == q->upload)
            im = &images[i];
    if (!im || im->session != session) {
        *code = PROTO_ERROR_CODE_NOT_FOUND;
        return "no upload in progress with that id on this connection";
    }
    *name = im->name;
    if (q->offset_bytes != im->received) {
        *code = PROTO_ERROR_CODE_INVALID;
        return "chunks must come in order, without gaps or overlaps";
    }
    if (q->data.len > im->size_bytes - im->received) {
        *code = PROTO_ERROR_CODE_INVALID;
        return "the chunk goes past the image's announced size";
    }
    im->last_ns = gk_now_ns();
    memcpy(im->buf + im->received, q->data.ptr, q->data.len);
    im->crc = frame_crc32c(im->crc, q->data.ptr, q->data.len);
    im->received += q->data.len;
    if (im->received < im->size_bytes)
        return NULL;
    if (im->crc != im->crc_expected) {
        static char dropped[IMAGE_NAME_MAX + 1];
        strlcpy(dropped, im->name, sizeof dropped);
        release(im);
        *name = dropped;
        *code = PROTO_ERROR_CODE_INVALID;
        return "the image's CRC-32C does not match; the upload is dropped";
    }
    im->complete = true;
    im->crc_known = true;
    im->refs = 0;
    *done = true;
    return NULL;
}
