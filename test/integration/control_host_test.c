/*
 * Host test (labels unit;control) of the control domain's pure parts,
 * compiled from the same sources as the domain with a stand-in for the
 * few guest-kit calls they make (control_fakegk/): tokens (lookup, rights,
 * minting never wider than the minter, subtree revocation, the table
 * bound, hex), the log (bounds, wrap, truncation at a UTF-8 boundary,
 * control characters), image uploads (order, bounds, CRC, sessions,
 * memory, replacement) and a driver's values from the host (drvcfg.c:
 * replace, add, every malformed file refused leaving the configuration as
 * it was) and the restart policy (restart.c: back-off doubling to its
 * maximum, the limit, a stable run starting a new series, bad specs).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <hv/frame.h>

#include "../../domains/control/drvcfg.h"
#include "../../domains/control/images.h"
#include "../../domains/control/log.h"
#include "../../domains/control/restart.h"
#include "../../domains/control/tokens.h"
#include "gk/gk.h"
#include "gk/heap.h"
#include "gk/mm.h"

/* --- stand-ins ---------------------------------------------------------------- */

static uint64_t fake_now, fake_pfns = 1024;
int gk_printf(const char *fmt, ...)
{
    (void)fmt;
    return 0;
}
uint64_t gk_now_ns(void)
{
    return fake_now;
}
size_t strlcpy(char *restrict dst, const char *restrict src, size_t size)
{
    size_t n = strlen(src);
    if (size) {
        size_t k = n < size - 1 ? n : size - 1;
        memcpy(dst, src, k);
        dst[k] = 0;
    }
    return n;
}
struct gk_heap *gk_heap_global(void)
{
    return NULL;
}
void gk_heap_get_stats(const struct gk_heap *heap, struct gk_heap_stats *out)
{
    (void)heap;
    memset(out, 0, sizeof *out);
}
uint64_t gk_pfn_free_count(void)
{
    return fake_pfns;
}

static struct hvcbor_str S(const char *s) {
    return (struct hvcbor_str){(const uint8_t *)s, (uint32_t)strlen(s)};
}

/* --- tokens ----------------------------------------------------------------------- */

static const uint8_t admin_secret[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                         12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                         23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static const struct token *mint(const struct token *by, const char **doms, uint32_t ndoms,
                                uint32_t rights, enum proto_error_code *code)
{
    static struct proto_token_create_request q;
    memset(&q, 0, sizeof q);
    for (uint32_t i = 0; i < ndoms; i++)
        q.domains.items[i] = S(doms[i]);
    q.domains.count = ndoms;
    for (uint32_t r = 0; r < 7; r++)
        if (rights & TOKEN_RIGHT(r))
            q.rights.items[q.rights.count++] = (enum proto_right)r;
    const struct token *t = NULL;
    enum proto_error_code c = 0;
    const char *why = token_mint(by, &q, &t, &c);
    if (code)
        *code = c;
    return why ? NULL : t;
}

static void test_tokens(void **state)
{
    (void)state;
    token_init_admin(admin_secret, sizeof admin_secret);
    const struct token *admin = token_find((struct hvcbor_str){admin_secret, 32});
    assert_non_null(admin);
    assert_int_equal(admin->id, TOKEN_ADMIN_ID);
    uint8_t wrong[32];
    memcpy(wrong, admin_secret, 32);
    wrong[31] ^= 1;
    assert_null(token_find((struct hvcbor_str){wrong, 32}));
    assert_null(token_find((struct hvcbor_str){admin_secret, 31}));
    assert_null(token_find((struct hvcbor_str){admin_secret, 0}));
    assert_true(token_allows(admin, PROTO_RIGHT_LIFECYCLE, "anything"));

    const char *web1[] = {"web1"}, *web12[] = {"web1", "web2"};
    enum proto_error_code code;
    const struct token *a =
        mint(admin, web1, 1, TOKEN_RIGHT(PROTO_RIGHT_INFO) | TOKEN_RIGHT(PROTO_RIGHT_TOKEN), &code);
    assert_non_null(a);
    assert_string_equal(a->label, "token-2");
    assert_non_null(token_find((struct hvcbor_str){a->secret, a->secret_len}));
    assert_true(token_allows(a, PROTO_RIGHT_INFO, "web1"));
    assert_false(token_allows(a, PROTO_RIGHT_INFO, "web2"));
    assert_false(token_allows(a, PROTO_RIGHT_LIFECYCLE, "web1"));
    assert_false(token_allows(a, PROTO_RIGHT_LOG, NULL));
    assert_true(token_allows_str(a, PROTO_RIGHT_INFO, S("web1")));
    assert_false(token_allows_str(a, PROTO_RIGHT_INFO, S("web10")));
    /* Never wider than the minter. */
    assert_null(mint(a, web12, 2, TOKEN_RIGHT(PROTO_RIGHT_INFO), &code));
    assert_int_equal(code, PROTO_ERROR_CODE_REFUSED);
    assert_null(mint(a, web1, 1, TOKEN_RIGHT(PROTO_RIGHT_LOG), &code));
    assert_int_equal(code, PROTO_ERROR_CODE_REFUSED);
    const struct token *b =
        mint(a, web1, 1, TOKEN_RIGHT(PROTO_RIGHT_INFO) | TOKEN_RIGHT(PROTO_RIGHT_TOKEN), &code);
    assert_non_null(b);
    const struct token *c = mint(b, web1, 1, TOKEN_RIGHT(PROTO_RIGHT_INFO), &code);
    assert_non_null(c);
    assert_null(mint(c, web1, 1, TOKEN_RIGHT(PROTO_RIGHT_INFO), &code)); /* no token right */
    const struct token *other = mint(admin, web1, 1, TOKEN_RIGHT(PROTO_RIGHT_TOKEN), &code);
    assert_non_null(other);
    uint64_t aid = a->id, bid = b->id, cid = c->id;
    uint8_t csecret[TOKEN_SECRET_BYTES];
    memcpy(csecret, c->secret, c->secret_len);
    uint32_t n = 0;
    /* Only the token itself or an ancestor may revoke. */
    assert_non_null(token_revoke(other, bid, &n, &code));
    assert_int_equal(code, PROTO_ERROR_CODE_REFUSED);
    assert_non_null(token_revoke(c, bid, &n, &code));
    assert_non_null(token_revoke(admin, TOKEN_ADMIN_ID, &n, &code));
    assert_int_equal(code, PROTO_ERROR_CODE_REFUSED);
    assert_non_null(token_revoke(admin, 999, &n, &code));
    assert_int_equal(code, PROTO_ERROR_CODE_NOT_FOUND);
    assert_null(token_revoke(admin, bid, &n, &code));
    assert_int_equal(n, 2); /* b and c */
    assert_null(token_find((struct hvcbor_str){csecret, 32}));
    assert_non_null(token_find((struct hvcbor_str){a->secret, a->secret_len}));
    assert_non_null(token_revoke(admin, cid, &n, &code)); /* already gone */
    assert_null(token_revoke(a, aid, &n, &code));         /* a token revokes itself */
    assert_int_equal(n, 1);
    /* The table is bounded; revoked slots are reused. */
    int minted = 0;
    while (mint(admin, web1, 1, TOKEN_RIGHT(PROTO_RIGHT_INFO), &code))
        minted++;
    assert_int_equal(code, PROTO_ERROR_CODE_NO_RESOURCES);
    assert_int_equal(minted, TOKEN_MAX - 2); /* admin and `other` hold two slots */
    assert_null(token_revoke(admin, other->id, &n, &code));
    assert_non_null(mint(admin, web1, 1, TOKEN_RIGHT(PROTO_RIGHT_INFO), &code));
    /* The admin token's hex is lib/'s (lib_hex_test). */
}

/* --- log -------------------------------------------------------------------------- */

static struct proto_log_entries le;

static void test_log(void **state)
{
    (void)state;
    char longname[80];
    memset(longname, 'a', 63);
    strcpy(longname + 63, "\xc3\xa9tail"); /* é straddles the 64-byte bound */
    for (int i = 0; i < 600; i++) {
        fake_now = (uint64_t)i;
        uint64_t seq = ctl_log_add(i == 599 ? longname : "admin", "domain-list", "x\x01y", i % 2,
                                   PROTO_ERROR_CODE_REFUSED, i == 3 ? "d" : NULL);
        assert_int_equal(seq, (uint64_t)i + 1);
    }
    assert_int_equal(ctl_log_next_seq(), 601);
    ctl_log_query(0, 64, &le);
    assert_int_equal(le.entries.count, 64);
    assert_int_equal(le.entries.items[0].seq, 601 - CTL_LOG_ENTRIES); /* the oldest kept */
    assert_int_equal(le.next_seq, 601 - CTL_LOG_ENTRIES + 64);
    assert_memory_equal(le.entries.items[0].target.ptr, "x?y", 3);
    ctl_log_query(590, 200, &le); /* max is capped at 64 */
    assert_int_equal(le.entries.count, 11);
    assert_int_equal(le.next_seq, 601);
    const struct proto_log_entry *last = &le.entries.items[10];
    assert_int_equal(last->actor.len, 63);     /* cut before the é, not inside it */
    assert_true(last->ok && !last->has_error); /* ok entries carry no error */
    const struct proto_log_entry *prev = &le.entries.items[9];
    assert_true(!prev->ok && prev->has_error && prev->error == PROTO_ERROR_CODE_REFUSED);
    ctl_log_query(601, 64, &le);
    assert_int_equal(le.entries.count, 0);
    assert_int_equal(le.next_seq, 601);
    /* Every entry is a valid catalog log-entry. */
    struct hvcbor_error err;
    ctl_log_query(590, 64, &le);
    for (uint32_t i = 0; i < le.entries.count; i++)
        assert_true(proto_log_entry_validate(&le.entries.items[i], &err));
}

/* --- images ------------------------------------------------------------------------ */

static void test_images(void **state)
{
    (void)state;
    static struct hv_start_info si;
    memset(&si, 0, sizeof si);
    static const char mod[] = "\x7f"
                              "ELF boot module bytes";
    si.modules_count = 1;
    si.modules[0].va = (uint64_t)(uintptr_t)mod;
    si.modules[0].size_bytes = sizeof mod;
    strcpy(si.modules[0].name, "hello");
    images_init(&si);
    assert_non_null(image_find(S("hello")));
    assert_null(image_find(S("hell")));

    uint8_t img[100000];
    for (size_t i = 0; i < sizeof img; i++)
        img[i] = (uint8_t)(i * 7);
    uint32_t crc = frame_crc32c(0, img, sizeof img);
    struct proto_image_upload_request q = {1, S(""), S("hello"), sizeof img, crc};
    uint64_t up = 0;
    enum proto_error_code code;
    fake_pfns = 10; /* 40 KiB: too small */
    assert_non_null(image_upload_start(&q, 1, &up, &code));
    assert_int_equal(code, PROTO_ERROR_CODE_NO_RESOURCES);
    fake_pfns = 4096;
    assert_null(image_upload_start(&q, 1, &up, &code));
    bool done;
    const char *name;
    struct proto_image_upload_chunk ch = {2, up, 10, {img + 10, 10}};
    assert_non_null(image_upload_chunk(&ch, 1, &done, &name, &code)); /* a gap */
    assert_int_equal(code, PROTO_ERROR_CODE_INVALID);
    ch = (struct proto_image_upload_chunk){2, up, 0, {img, 1000}};
    assert_non_null(image_upload_chunk(&ch, 2, &done, &name, &code)); /* another session */
    assert_int_equal(code, PROTO_ERROR_CODE_NOT_FOUND);
    assert_null(image_upload_chunk(&ch, 1, &done, &name, &code));
    assert_false(done);
    assert_non_null(image_upload_chunk(&ch, 1, &done, &name, &code)); /* overlap */
    static uint8_t big[sizeof img + 10];
    ch = (struct proto_image_upload_chunk){2, up, 1000, {big, sizeof img}};
    assert_non_null(image_upload_chunk(&ch, 1, &done, &name, &code)); /* past the end */
    /* Uploaded but not complete: the boot module is still what "hello" names. */
    assert_ptr_equal(image_find(S("hello"))->bytes, (const uint8_t *)mod);
    for (size_t off = 1000; off < sizeof img; off += 30000) {
        size_t n = sizeof img - off < 30000 ? sizeof img - off : 30000;
        ch = (struct proto_image_upload_chunk){2, up, off, {img + off, (uint32_t)n}};
        assert_null(image_upload_chunk(&ch, 1, &done, &name, &code));
    }
    assert_true(done);
    struct image *im = image_find(S("hello"));
    assert_non_null(im);
    assert_false(im->boot_module); /* the upload shadows the boot module */
    assert_memory_equal(im->bytes, img, sizeof img);
    /* In use: cannot be replaced; once released it can. */
    image_ref(im);
    assert_non_null(image_upload_start(&q, 1, &up, &code));
    assert_int_equal(code, PROTO_ERROR_CODE_CONFLICT);
    image_unref(im);
    /* A wrong CRC drops the upload (and the old image it replaced). */
    q.crc32c = crc ^ 1;
    assert_null(image_upload_start(&q, 1, &up, &code));
    ch = (struct proto_image_upload_chunk){3, up, 0, {img, 30000}};
    assert_null(image_upload_chunk(&ch, 1, &done, &name, &code));
    ch = (struct proto_image_upload_chunk){3, up, 30000, {img + 30000, sizeof img - 30000}};
    assert_non_null(image_upload_chunk(&ch, 1, &done, &name, &code));
    assert_int_equal(code, PROTO_ERROR_CODE_INVALID);
    assert_string_equal(name, "hello");
    assert_non_null(image_upload_chunk(&ch, 1, &done, &name, &code)); /* gone */
    assert_int_equal(code, PROTO_ERROR_CODE_NOT_FOUND);
    assert_true(image_find(S("hello"))->boot_module);

    /* Abandoned uploads (a client killed mid-upload, same session): one
     * still receiving chunks is kept; one idle for IMAGE_UPLOAD_IDLE_NS is
     * dropped by the next request, and its memory with it. */
    struct proto_image_upload_request qa = {4, S(""), S("a"), sizeof img, crc};
    struct proto_image_upload_request qb = {5, S(""), S("b"), sizeof img, crc};
    struct proto_image_upload_request qc = {6, S(""), S("c"), 100, 0};
    uint64_t upa = 0, upb = 0, upc = 0;
    fake_now = 1000;
    assert_null(image_upload_start(&qa, 1, &upa, &code));
    assert_null(image_upload_start(&qb, 1, &upb, &code));
    fake_now += IMAGE_UPLOAD_IDLE_NS - 1;
    ch = (struct proto_image_upload_chunk){7, upb, 0, {img, 1000}};
    assert_null(image_upload_chunk(&ch, 1, &done, &name, &code)); /* b stays active */
    fake_now += 2;
    assert_null(image_upload_start(&qc, 1, &upc, &code)); /* a is now abandoned */
    ch = (struct proto_image_upload_chunk){8, upa, 0, {img, 1000}};
    assert_non_null(image_upload_chunk(&ch, 1, &done, &name, &code));
    assert_int_equal(code, PROTO_ERROR_CODE_NOT_FOUND);
    ch = (struct proto_image_upload_chunk){9, upb, 1000, {img + 1000, 1000}};
    assert_null(image_upload_chunk(&ch, 1, &done, &name, &code)); /* b goes on */
}

static bool cfg_is(const struct proto_domain_config *c, const char *key, const char *value)
{
    for (uint32_t i = 0; c->has_config && i < c->config.count; i++)
        if (c->config.items[i].key.len == strlen(key) &&
            !memcmp(c->config.items[i].key.ptr, key, strlen(key)))
            return c->config.items[i].value.len == strlen(value) &&
                   !memcmp(c->config.items[i].value.ptr, value, strlen(value));
    return false;
}

static void test_drvcfg(void **state)
{
    (void)state;
    static struct proto_domain_config c, before;
    char why[128], sum[128];
    memset(&c, 0, sizeof c);
    c.has_config = true;
    c.config.count = 1;
    c.config.items[0] = (struct proto_config_entry){S("address"), S("192.0.2.10/24")};
    /* Replace one, add one; a final line without a newline; empty lines. */
    const char *good = "address=198.51.100.7/24\n\ngateway=198.51.100.1";
    assert_null(drvcfg_apply(&c, good, strlen(good), why, sizeof why, sum, sizeof sum));
    assert_int_equal(c.config.count, 2);
    assert_true(cfg_is(&c, "address", "198.51.100.7/24"));
    assert_true(cfg_is(&c, "gateway", "198.51.100.1"));
    assert_string_equal(sum, "address 198.51.100.7/24, gateway 198.51.100.1");
    /* An empty file changes nothing; an empty value is a value. */
    assert_null(drvcfg_apply(&c, "", 0, why, sizeof why, sum, sizeof sum));
    assert_int_equal(c.config.count, 2);
    assert_null(drvcfg_apply(&c, "x=\n", 3, why, sizeof why, sum, sizeof sum));
    assert_true(cfg_is(&c, "x", ""));
    /* Every malformed file is refused and leaves the configuration as it was. */
    static char big[DRVCFG_FILE_MAX + 2], longval[DRVCFG_VALUE_MAX + 8],
        longkey[DRVCFG_KEY_MAX + 8], many[40 * 8];
    memset(big, 'a', sizeof big - 1);
    big[1] = '=';
    snprintf(longval, sizeof longval, "k=%0*d", DRVCFG_VALUE_MAX + 1, 0);
    memset(longkey, 'k', DRVCFG_KEY_MAX + 1);
    strcpy(longkey + DRVCFG_KEY_MAX + 1, "=v");
    size_t n = 0;
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(many + n, sizeof many - n, "k%d=v\n", i);
    const char *bad[] = {"address",          "=value", "a b=c", "address=x\ty", "address=\x01",
                         "address=\xc3\xa9", longval,  longkey, many,           big};
    before = c;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_non_null(drvcfg_apply(&c, bad[i], strlen(bad[i]), why, sizeof why, sum, sizeof sum));
        assert_memory_equal(&c, &before, sizeof c);
    }
}

static void test_restart_policy(void **state)
{
    (void)state;
    const uint64_t ms = 1000000ull;
    static struct proto_domain_config c;
    memset(&c, 0, sizeof c);
    struct restart_policy p;
    restart_policy_of(&c, &p); /* the defaults */
    assert_int_equal(p.heartbeat_ns, 0);
    assert_int_equal(p.backoff_ns, 250 * ms);
    assert_int_equal(p.limit, 5);
    /* Quick crashes in a row: at once, then 250, 500, 1000, 2000 ms; the
     * sixth is refused and the count is left as it was. */
    uint32_t row = 0;
    uint64_t delay = 1, t = 1000 * ms;
    const uint64_t want[] = {0, 250 * ms, 500 * ms, 1000 * ms, 2000 * ms};
    for (unsigned i = 0; i < 5; i++) {
        assert_true(restart_next(&p, t, t + 100 * ms, &row, &delay));
        assert_int_equal(row, i + 1);
        assert_int_equal(delay, want[i]);
        t += 100 * ms + delay;
    }
    assert_false(restart_next(&p, t, t + 100 * ms, &row, &delay));
    assert_int_equal(row, 5);
    /* An incarnation that ran stable_ns starts a new series. */
    assert_true(restart_next(&p, t, t + p.stable_ns, &row, &delay));
    assert_int_equal(row, 1);
    assert_int_equal(delay, 0);
    /* The delay stops doubling at its maximum. */
    c.has_restart = true;
    c.restart = (struct proto_restart_spec){.heartbeat_ns = 0,
                                            .backoff_ns = 100 * ms,
                                            .backoff_max_ns = 300 * ms,
                                            .limit = 100,
                                            .stable_ns = 1000 * ms};
    assert_null(restart_policy_check(&c));
    restart_policy_of(&c, &p);
    row = 0;
    for (unsigned i = 0; i < 10; i++)
        assert_true(restart_next(&p, 0, 10 * ms, &row, &delay));
    assert_int_equal(delay, 300 * ms);
    /* A clock that went backwards is not a quick restart. */
    row = 7;
    assert_true(restart_next(&p, 50 * ms, 10 * ms, &row, &delay));
    assert_int_equal(row, 1);
    /* Bad specs are refused. */
    c.restart.heartbeat_ns = 10 * ms;
    assert_non_null(restart_policy_check(&c));
    c.restart.heartbeat_ns = 0;
    c.restart.backoff_max_ns = 50 * ms;
    assert_non_null(restart_policy_check(&c));
    c.restart.backoff_max_ns = 300 * ms;
    c.restart.limit = 0;
    assert_non_null(restart_policy_check(&c));
    c.restart.limit = 5;
    c.restart.stable_ns = 3601ull * 1000 * ms;
    assert_non_null(restart_policy_check(&c));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens),         cmocka_unit_test(test_log),
        cmocka_unit_test(test_images),         cmocka_unit_test(test_drvcfg),
        cmocka_unit_test(test_restart_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
