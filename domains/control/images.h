/*
 * Kernel images a domain can be built from: the boot modules the root was
 * given (module names as GRUB passed them), and images uploaded by hvctl
 * (image-upload-request, then image-upload-chunk in order). An uploaded
 * image is kept in the control domain's heap, whole, until an upload of the
 * same name replaces it, which is refused while a domain built from it
 * exists (its restarts rebuild from it).
 */
#ifndef CONTROL_IMAGES_H
#define CONTROL_IMAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hv/proto_msgs.h>

#include "hv/abi.h"

#define IMAGE_MAX 16u
#define IMAGE_NAME_MAX 64u
/* An unfinished upload with no chunk for this long is abandoned (its client
 * went away: with the hvctl broker every client shares one session) and
 * dropped by the next upload request. */
#define IMAGE_UPLOAD_IDLE_NS (30ull * 1000 * 1000 * 1000)

struct image {
    bool used, complete, boot_module;
    char name[IMAGE_NAME_MAX + 1];
    const uint8_t *bytes;
    uint64_t size_bytes;
    uint32_t refs;  /* domains built from it */
    bool crc_known; /* crc holds the CRC-32C of the whole image (complete images) */
    /* while uploading */
    uint8_t *buf;
    uint64_t upload_id, received, session;
    uint64_t last_ns; /* start or last chunk (gk_now_ns) */
    uint32_t crc_expected, crc;
};

/* Registers the boot modules of the start info (module i's bytes stay
 * mapped for the domain's life). */
void images_init(const struct hv_start_info *si);

/* A complete image by name (uploaded first, then boot modules), or NULL. */
struct image *image_find(struct hvcbor_str name);
void image_ref(struct image *im);
void image_unref(struct image *im);

/* The complete image an upload request would produce: same name, size and
 * CRC-32C (an uploaded image, else a boot module; a boot module's CRC is
 * computed once, on first use). NULL if there is none: upload it. */
struct image *image_find_identical(const struct proto_image_upload_request *q);

/* Starts an upload. NULL with *upload_id set, or a reason and *code. First
 * drops unfinished uploads of the same name, of an earlier session, or idle
 * for IMAGE_UPLOAD_IDLE_NS. */
const char *image_upload_start(const struct proto_image_upload_request *q, uint64_t session,
                               uint64_t *upload_id, enum proto_error_code *code);
/* One chunk. NULL (with *done set on the last chunk), or a reason and *code;
 * a failed last chunk (CRC) drops the upload. */
const char *image_upload_chunk(const struct proto_image_upload_chunk *q, uint64_t session,
                               bool *done, const char **name, enum proto_error_code *code);

#endif
