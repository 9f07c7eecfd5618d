/*
 * Volume requests (domains/blkback/volreq.c): what the control domain
 * relays from `hvctl volume`, encoded with the real codec, served against a
 * volume table on an in-memory disk. Every good request gets its reply with
 * the right fields; every bad one (garbage, a truncated message, another
 * message type, bad names and sizes, a grow that shrinks, a name that
 * exists, a volume that does not, no room, a full table, an attached
 * volume, a disk that fails) gets its error code and leaves the table and
 * the disk byte for byte as they were.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "volreq.h"

#define DISK_SECTORS (80u * 2048u) /* 80 MiB: 1 MiB of table area, 79 of data */
#define SECTOR VT_SECTOR_BYTES

static uint8_t *disk_bytes;
static bool fail_writes;
static struct vtab tab;
static struct vt_disk disk;
static struct proto_msg reply;
static char why[160];
static uint8_t enc[8192];

static int md_read(void *ctx, uint64_t sector, void *buf, uint32_t count)
{
    (void)ctx;
    if (sector > DISK_SECTORS || count > DISK_SECTORS - sector)
        return -1;
    memcpy(buf, disk_bytes + sector * SECTOR, (size_t)count * SECTOR);
    return 0;
}

static int md_write(void *ctx, uint64_t sector, const void *buf, uint32_t count)
{
    (void)ctx;
    if (fail_writes || sector > DISK_SECTORS || count > DISK_SECTORS - sector)
        return -1;
    memcpy(disk_bytes + sector * SECTOR, buf, (size_t)count * SECTOR);
    return 0;
}

static int md_flush(void *ctx)
{
    (void)ctx;
    return fail_writes ? -1 : 0;
}

static int setup(void **state)
{
    (void)state;
    disk_bytes = calloc(DISK_SECTORS, SECTOR);
    assert_non_null(disk_bytes);
    fail_writes = false;
    disk = (struct vt_disk){NULL, DISK_SECTORS, md_read, md_write, md_flush};
    assert_int_equal(vt_format(&tab, &disk, 0), VT_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(disk_bytes);
    return 0;
}

static struct hvcbor_str str(const char *s)
{
    return (struct hvcbor_str){(const uint8_t *)s, (uint32_t)strlen(s)};
}

/* Encodes m (the catalog refuses to encode what it would not decode). */
static uint32_t encode(const struct proto_msg *m)
{
    size_t n = 0;
    struct hvcbor_error e;
    assert_true(proto_msg_encode(m, enc, sizeof enc, &n, &e));
    return (uint32_t)n;
}

static const char *attached_name;
static bool attached(void *ctx, const char *name)
{
    (void)ctx;
    return attached_name && strcmp(name, attached_name) == 0;
}

static bool serve_bytes(const uint8_t *b, uint32_t len)
{
    return volreq_serve(&tab, b, len, attached, NULL, &reply, why, sizeof why);
}

static bool serve(const struct proto_msg *m)
{
    uint32_t n = encode(m);
    return serve_bytes(enc, n);
}

static struct proto_msg q;

static bool create(const char *name, uint64_t bytes)
{
    memset(&q, 0, sizeof q);
    q.type = PROTO_MSG_VOLUME_CREATE_REQUEST;
    q.u.volume_create_request = (struct proto_volume_create_request){11, {0}, str(name), bytes};
    return serve(&q);
}

static bool grow(const char *name, uint64_t bytes)
{
    memset(&q, 0, sizeof q);
    q.type = PROTO_MSG_VOLUME_GROW_REQUEST;
    q.u.volume_grow_request = (struct proto_volume_grow_request){12, {0}, str(name), bytes};
    return serve(&q);
}

static bool del(const char *name)
{
    memset(&q, 0, sizeof q);
    q.type = PROTO_MSG_VOLUME_DELETE_REQUEST;
    q.u.volume_delete_request = (struct proto_volume_delete_request){13, {0}, str(name)};
    return serve(&q);
}

static bool info(const char *name)
{
    memset(&q, 0, sizeof q);
    q.type = PROTO_MSG_VOLUME_INFO_REQUEST;
    q.u.volume_info_request = (struct proto_volume_info_request){14, {0}, str(name)};
    return serve(&q);
}

static void list(void)
{
    memset(&q, 0, sizeof q);
    q.type = PROTO_MSG_VOLUME_LIST_REQUEST;
    q.u.volume_list_request = (struct proto_volume_list_request){15, {0}};
    assert_false(serve(&q));
    assert_int_equal(reply.type, PROTO_MSG_VOLUME_LIST_REPLY);
    assert_int_equal(reply.u.volume_list_reply.request_id, 15);
}

static void expect_error(enum proto_error_code code, uint64_t id)
{
    assert_int_equal(reply.type, PROTO_MSG_ERROR_REPLY);
    assert_int_equal(reply.u.error_reply.code, code);
    assert_int_equal(reply.u.error_reply.request_id, id);
    assert_true(reply.u.error_reply.message.len > 0);
    /* The reply itself is a valid catalog message. */
    encode(&reply);
}

static void expect_volume(uint64_t id, const char *name, uint64_t bytes, uint64_t extents)
{
    assert_int_equal(reply.type, PROTO_MSG_VOLUME_INFO_REPLY);
    assert_int_equal(reply.u.volume_info_reply.request_id, id);
    const struct proto_volume_info *v = &reply.u.volume_info_reply.volume;
    assert_int_equal(v->name.len, strlen(name));
    assert_memory_equal(v->name.ptr, name, v->name.len);
    assert_int_equal(v->size_bytes, bytes);
    assert_int_equal(v->extents, extents);
    encode(&reply);
}

static void test_lifecycle(void **state)
{
    (void)state;
    assert_true(create("data", 3u << 20));
    expect_volume(11, "data", 3u << 20, 1);
    assert_true(create("logs", 1)); /* rounded up to the 1 MiB unit */
    expect_volume(11, "logs", 1u << 20, 1);
    assert_false(info("data"));
    expect_volume(14, "data", 3u << 20, 1);
    assert_int_equal(reply.u.volume_info_reply.volume.id, 1);
    list();
    const struct proto_volume_list_reply *l = &reply.u.volume_list_reply;
    assert_int_equal(l->volumes.count, 2);
    assert_memory_equal(l->volumes.items[0].name.ptr, "data", 4); /* by name */
    assert_memory_equal(l->volumes.items[1].name.ptr, "logs", 4);
    assert_int_equal(l->disk_bytes, (uint64_t)DISK_SECTORS * SECTOR);
    assert_int_equal(l->free_bytes, (79u - 4u) << 20);
    assert_int_equal(l->table_seq, 3);
    encode(&reply);
    /* data grows into a second extent (logs follows it on the disk). */
    assert_true(grow("data", 5u << 20));
    expect_volume(12, "data", 5u << 20, 2);
    assert_false(grow("data", 5u << 20)); /* the same size: nothing to do */
    expect_volume(12, "data", 5u << 20, 2);
    assert_true(del("logs"));
    assert_int_equal(reply.type, PROTO_MSG_OK_REPLY);
    assert_int_equal(reply.u.ok_reply.request_id, 13);
    list();
    assert_int_equal(reply.u.volume_list_reply.volumes.count, 1);
    assert_int_equal(reply.u.volume_list_reply.table_seq, 5);
    /* It is on the disk: a new table read from it says the same. */
    static struct vtab again;
    assert_int_equal(vt_open(&again, &disk), VT_OK);
    assert_non_null(vt_find(&again, "data"));
    assert_null(vt_find(&again, "logs"));
}

/* A snapshot of the table and the disk, to prove a refusal changed nothing. */
static struct vtab before;
static uint8_t *disk_before;

static void snap(void)
{
    memcpy(&before, &tab, sizeof tab);
    memcpy(disk_before, disk_bytes, (size_t)DISK_SECTORS * SECTOR);
}

static void unchanged(void)
{
    assert_int_equal(tab.seq, before.seq);
    assert_int_equal(tab.count, before.count);
    assert_memory_equal(tab.vol, before.vol, sizeof tab.vol);
    assert_memory_equal(disk_bytes, disk_before, (size_t)DISK_SECTORS * SECTOR);
}

static void test_refusals(void **state)
{
    (void)state;
    disk_before = malloc((size_t)DISK_SECTORS * SECTOR);
    assert_non_null(disk_before);
    assert_true(create("data", 2u << 20));
    snap();
    static const char *bad_names[] = {"-lead", ".dot", "has space", "a/b", "ctl\x01", "ünicode"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        assert_false(create(bad_names[i], 1u << 20));
        expect_error(PROTO_ERROR_CODE_INVALID, 11);
        unchanged();
    }
    /* Names the catalog itself refuses (empty, 33 bytes): the encoder will
     * not write them, so the bytes are patched by hand. */
    memset(&q, 0, sizeof q);
    q.type = PROTO_MSG_VOLUME_CREATE_REQUEST;
    q.u.volume_create_request = (struct proto_volume_create_request){11, {0}, str("abc"), 1};
    uint32_t n = encode(&q);
    static uint8_t raw[1024];
    uint32_t at = 0;
    while (at + 4 <= n && memcmp(enc + at,
                                 "\x63"
                                 "abc",
                                 4) != 0)
        at++;
    assert_true(at + 4 <= n);
    memcpy(raw, enc, at);
    raw[at] = 0x60; /* "" */
    memcpy(raw + at + 1, enc + at + 4, n - at - 4);
    assert_false(serve_bytes(raw, n - 3));
    expect_error(PROTO_ERROR_CODE_INVALID, 0);
    memcpy(raw, enc, at);
    raw[at] = 0x78; /* a 33-byte string */
    raw[at + 1] = 33;
    memset(raw + at + 2, 'a', 33);
    memcpy(raw + at + 35, enc + at + 4, n - at - 4);
    assert_false(serve_bytes(raw, n - 4 + 35));
    expect_error(PROTO_ERROR_CODE_INVALID, 0);
    unchanged();
    /* A NUL inside the name (the catalog allows it in a tstr). */
    memset(&q, 0, sizeof q);
    q.type = PROTO_MSG_VOLUME_CREATE_REQUEST;
    q.u.volume_create_request =
        (struct proto_volume_create_request){11, {0}, {(const uint8_t *)"ab\0cd", 5}, 1u << 20};
    assert_false(serve(&q));
    expect_error(PROTO_ERROR_CODE_INVALID, 11);
    unchanged();
    assert_false(create("zero", 0));
    expect_error(PROTO_ERROR_CODE_INVALID, 11);
    assert_false(create("huge", UINT64_MAX));
    expect_error(PROTO_ERROR_CODE_INVALID, 11);
    assert_false(create("big", (uint64_t)DISK_SECTORS * SECTOR + 1));
    expect_error(PROTO_ERROR_CODE_INVALID, 11);
    assert_false(create("toomuch", 78u << 20)); /* 77 MiB free */
    expect_error(PROTO_ERROR_CODE_NO_RESOURCES, 11);
    assert_false(create("data", 1u << 20));
    expect_error(PROTO_ERROR_CODE_CONFLICT, 11);
    assert_false(grow("data", 1u << 20));
    expect_error(PROTO_ERROR_CODE_INVALID, 12);
    assert_false(grow("nope", 4u << 20));
    expect_error(PROTO_ERROR_CODE_NOT_FOUND, 12);
    assert_false(grow("data", UINT64_MAX));
    expect_error(PROTO_ERROR_CODE_INVALID, 12);
    assert_false(del("nope"));
    expect_error(PROTO_ERROR_CODE_NOT_FOUND, 13);
    assert_false(info("nope"));
    expect_error(PROTO_ERROR_CODE_NOT_FOUND, 14);
    attached_name = "data";
    assert_false(del("data"));
    expect_error(PROTO_ERROR_CODE_WRONG_STATE, 13);
    attached_name = NULL;
    unchanged();
    /* The disk fails: an internal error; the table in memory is as before. */
    fail_writes = true;
    assert_false(create("other", 1u << 20));
    expect_error(PROTO_ERROR_CODE_INTERNAL, 11);
    assert_false(del("data"));
    expect_error(PROTO_ERROR_CODE_INTERNAL, 13);
    fail_writes = false;
    assert_int_equal(tab.seq, before.seq);
    assert_memory_equal(tab.vol, before.vol, sizeof tab.vol);
    free(disk_before);
}

static void test_bad_messages(void **state)
{
    (void)state;
    disk_before = malloc((size_t)DISK_SECTORS * SECTOR);
    assert_non_null(disk_before);
    snap();
    static const uint8_t garbage[] = {0xff, 0x00, 0x13, 0x37};
    assert_false(serve_bytes(garbage, sizeof garbage));
    expect_error(PROTO_ERROR_CODE_INVALID, 0);
    assert_false(serve_bytes(garbage, 0));
    expect_error(PROTO_ERROR_CODE_INVALID, 0);
    /* A good request cut short at every length. */
    memset(&q, 0, sizeof q);
    q.type = PROTO_MSG_VOLUME_CREATE_REQUEST;
    q.u.volume_create_request = (struct proto_volume_create_request){11, {0}, str("x"), 1u << 20};
    uint32_t n = encode(&q);
    static uint8_t copy[1024];
    memcpy(copy, enc, n);
    for (uint32_t k = 0; k < n; k++) {
        assert_false(serve_bytes(copy, k));
        expect_error(PROTO_ERROR_CODE_INVALID, 0);
    }
    /* Trailing bytes, and an over-long message. */
    copy[n] = 0;
    assert_false(serve_bytes(copy, n + 1));
    expect_error(PROTO_ERROR_CODE_INVALID, 0);
    static uint8_t big[VOLREQ_MSG_BYTES_MAX + 1];
    memcpy(big, copy, n);
    assert_false(serve_bytes(big, sizeof big));
    expect_error(PROTO_ERROR_CODE_INVALID, 0);
    /* Other message types: a control-protocol request, a reply, blk-*. */
    memset(&q, 0, sizeof q);
    q.type = PROTO_MSG_DOMAIN_DESTROY_REQUEST;
    q.u.domain_destroy_request.request_id = 7;
    q.u.domain_destroy_request.domain = str("blkback");
    assert_false(serve(&q));
    expect_error(PROTO_ERROR_CODE_INVALID, 7);
    memset(&q, 0, sizeof q);
    q.type = PROTO_MSG_VOLUME_LIST_REPLY;
    q.u.volume_list_reply.request_id = 8;
    assert_false(serve(&q));
    expect_error(PROTO_ERROR_CODE_INVALID, 8);
    memset(&q, 0, sizeof q);
    q.type = PROTO_MSG_BLK_DETACH_REQUEST;
    q.u.blk_detach_request.request_id = 9;
    assert_false(serve(&q));
    expect_error(PROTO_ERROR_CODE_INVALID, 9);
    unchanged();
    free(disk_before);
}

static void test_full_table(void **state)
{
    (void)state;
    char name[16];
    for (uint32_t i = 0; i < VT_VOLUMES_MAX; i++) {
        snprintf(name, sizeof name, "v%02u", i);
        assert_true(create(name, 1u << 20));
    }
    disk_before = malloc((size_t)DISK_SECTORS * SECTOR);
    assert_non_null(disk_before);
    snap();
    assert_false(create("one-more", 1u << 20));
    expect_error(PROTO_ERROR_CODE_NO_RESOURCES, 11);
    unchanged();
    /* The list of 63 fits a bus message (a ring page). */
    list();
    assert_int_equal(reply.u.volume_list_reply.volumes.count, VT_VOLUMES_MAX);
    uint32_t n = encode(&reply);
    assert_true(n < 4096u - 64u);
    for (uint32_t i = 1; i < VT_VOLUMES_MAX; i++) {
        const struct proto_volume_info *a = &reply.u.volume_list_reply.volumes.items[i - 1],
                                       *b = &reply.u.volume_list_reply.volumes.items[i];
        assert_true(memcmp(a->name.ptr, b->name.ptr, 3) < 0);
    }
    free(disk_before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_table, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
