/*
 * Kernel image upload (image-upload-request, then image-upload-chunk in
 * order; docs/control.md "Images"). hvctl create and apply upload the kernel a
 * manifest names before they create the domain.
 */
#ifndef HVCTL_UPLOAD_H
#define HVCTL_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hvctl/client.h"

#define HVCTL_UPLOAD_CHUNK_BYTES 32768u
#define HVCTL_UPLOAD_MAX_BYTES (256u << 20) /* the catalog's size-bytes bound */

/* Reads a whole image file (at most HVCTL_UPLOAD_MAX_BYTES) into a malloc'd
 * buffer. false with err (HVCTL_ERR_LOCAL / HVCTL_ERR_IO) on failure. */
bool hvctl_read_image(const char *path, uint8_t **bytes, size_t *size, struct hvctl_error *err);

/* Leaves out what the domain builder never reads (docs/control.md "Images"):
 * if bytes[0..size) is an ELF64 little-endian file whose header and program
 * headers lie inside it, the image is cut after the last byte that the ELF
 * header, the program header table or any segment's file bytes cover, and the
 * section header fields are cleared when the table was cut off. Debug
 * information and symbols go (a guest-kit example shrinks about 5 times); the
 * bytes the builder loads and checks stay as they were. Anything else (not
 * ELF, a header or table out of bounds, an overflowing offset) is left
 * untouched for the control domain to judge. Returns the new size (<= size);
 * bytes is changed in place. */
size_t hvctl_image_strip(uint8_t *bytes, size_t size);

/* Uploads bytes under name (1..64 bytes) with token. If the control domain
 * already holds an identical image (same name, size and CRC-32C) it says so
 * and nothing is sent: *was_present is set. Each reply waits at most
 * timeout_ms. */
enum hvctl_status hvctl_upload(struct hvctl_conn *c, struct hvcbor_str token, const char *name,
                               const uint8_t *bytes, size_t size, uint32_t timeout_ms,
                               bool *was_present, struct hvctl_error *err);

#endif
