/*
 * Host tests of netback's text and message inputs (domains/netback/nbcfg.c):
 * the external address and gateway from its configuration, a front end's
 * lease string, rules and classes from the control domain, and a front
 * end's messages — good
 * values parsed exactly, every malformed one refused with nothing written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hv/netif.h"
#include "nbcfg.h"

static void test_addresses(void **state)
{
    (void)state;
    uint32_t a = 0;
    unsigned p = 0;
    assert_true(nb_parse_addr("192.0.2.10/24", &a, &p));
    assert_int_equal(a, 0xc000020a);
    assert_int_equal(p, 24);
    assert_true(nb_parse_addr("198.51.100.1", &a, &p));
    assert_int_equal(a, 0xc6336401);
    assert_int_equal(p, 32);
    assert_true(nb_parse_addr("0.0.0.0/0", &a, &p));
    assert_int_equal(p, 0);
    assert_true(nb_parse_addr("192.0.2.1", &a, NULL));
    assert_int_equal(a, 0xc0000201);
    assert_int_equal(nb_prefix_mask(24), 0xffffff00u);
    assert_int_equal(nb_prefix_mask(0), 0);
    assert_int_equal(nb_prefix_mask(32), 0xffffffffu);
    assert_int_equal(nb_prefix_mask(1), 0x80000000u);

    static const char *const bad[] = {
        "",
        "192.0.2",
        "192.0.2.1.5",
        "192.0.2.256",
        "192.0.2.-1",
        "192..2.1",
        "192.0.2.1/",
        "192.0.2.1/33",
        "192.0.2.1/ 8",
        "a.b.c.d",
        "192.0.2.1 ",
        " 192.0.2.1",
        "1920.0.2.1",
        "192.0.2.1/024x",
        "00001.0.2.1",
        "192.0.2.1/999999999999",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        a = 0x12345678;
        p = 99;
        assert_false(nb_parse_addr(bad[i], &a, &p));
        assert_int_equal(a, 0x12345678); /* nothing written */
        assert_int_equal(p, 99);
    }
    /* Without a prefix argument a prefix is junk. */
    assert_false(nb_parse_addr("192.0.2.1/24", &a, NULL));
    assert_false(nb_parse_addr(NULL, &a, &p));
}

static void test_ports(void **state)
{
    (void)state;
    struct vfr_lease l[8];
    assert_int_equal(nb_parse_ports("80", 3, l, 8), 2);
    assert_int_equal(l[0].dom, 3);
    assert_int_equal(l[0].proto, VFR_PROTO_TCP);
    assert_int_equal(l[0].lo, 80);
    assert_int_equal(l[0].hi, 80);
    assert_int_equal(l[1].proto, VFR_PROTO_UDP);
    assert_int_equal(nb_parse_ports("7,80,20000-20999", 1, l, 8), 6);
    assert_int_equal(l[4].lo, 20000);
    assert_int_equal(l[4].hi, 20999);
    assert_int_equal(l[5].proto, VFR_PROTO_UDP);
    assert_int_equal(nb_parse_ports("1-65535", 1, l, 8), 2);
    assert_int_equal(l[0].hi, 65535);

    static const char *const bad[] = {
        "",    "0",   "65536", "80,", ",80",        "80,,81", "81-80", "80-",
        "-80", "80 ", "80;81", "x",   "8080-65536", "999999", "1-2-3", "80,0-5",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(nb_parse_ports(bad[i], 1, l, 8), 0);
    /* Too many for the room: refused whole, not cut. */
    assert_int_equal(nb_parse_ports("1,2,3,4,5", 1, l, 8), 0);
    assert_int_equal(nb_parse_ports("1,2,3,4", 1, l, 8), 8);
    assert_int_equal(nb_parse_ports(NULL, 1, l, 8), 0);
}

static size_t msg_of(uint8_t *buf, uint16_t type, uint16_t reserved, size_t frame_len)
{
    struct netif_hdr h = {type, reserved};
    memcpy(buf, &h, sizeof h);
    for (size_t i = 0; i < frame_len; i++)
        buf[sizeof h + i] = (uint8_t)i;
    return sizeof h + frame_len;
}

static void test_rules(void **state)
{
    (void)state;
    struct vfr_rule r[3];
    memset(r, 0x5a, sizeof r);
    assert_int_equal(nb_parse_rules("", r, 3), 0);
    assert_int_equal(
        nb_parse_rules("deny in 6 8081-8081 198.51.100.0/24;allow both 0 0-0 0.0.0.0/0", r, 3), 2);
    assert_int_equal(r[0].action, VFR_DENY);
    assert_int_equal(r[0].dir, VFR_IN);
    assert_int_equal(r[0].proto, 6);
    assert_int_equal(r[0].port_lo, 8081);
    assert_int_equal(r[0].port_hi, 8081);
    assert_int_equal(r[0].peer, 0xc6336400);
    assert_int_equal(r[0].peer_len, 24);
    assert_int_equal(r[1].action, VFR_ALLOW);
    assert_int_equal(r[1].dir, VFR_BOTH);
    assert_int_equal(r[1].peer_len, 0);
    assert_int_equal(nb_parse_rules("allow out 17 53-53 192.0.2.1/32", r, 3), 1);
    assert_int_equal(r[0].dir, VFR_OUT);
    /* Each malformed: refused (-1). */
    static const char *const bad[] = {
        "permit in 6 1-1 0.0.0.0/0",    /* action */
        "allow up 6 1-1 0.0.0.0/0",     /* direction */
        "allow in 256 1-1 0.0.0.0/0",   /* protocol */
        "allow in 6 1 0.0.0.0/0",       /* range without '-' */
        "allow in 6 1-65536 0.0.0.0/0", /* port */
        "allow in 6 1-1 0.0.0/0",       /* three parts */
        "allow in 6 1-1 0.0.0.256/0",   /* a part above 255 */
        "allow in 6 1-1 0.0.0.0/33",    /* prefix length */
        "allow in 6 1-1 0.0.0.0",       /* no length */
        "allow in 6 1-1 0.0.0.0/0;",    /* trailing ';' */
        "allow in 6 1-1 0.0.0.0/0 ",    /* trailing space */
        "allow  in 6 1-1 0.0.0.0/0",    /* two spaces */
        "allow in -6 1-1 0.0.0.0/0",    /* a sign */
        "allow in 6 1-1 0.0.0.0/0;x",   /* junk after */
        "allow in 6 1-1 0.0.0.0/0;allow in 6 1-1 0.0.0.0/0;allow in 6 1-1 0.0.0.0/0;"
        "allow in 6 1-1 0.0.0.0/0", /* more than max */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(nb_parse_rules(bad[i], r, 3), -1);
    assert_int_equal(nb_parse_rules(NULL, r, 3), -1);
}

static void test_classes(void **state)
{
    (void)state;
    struct nsched_class tx = {0}, rx = {0};
    tx.weight = rx.weight = 1;
    assert_true(nb_parse_classes("rx 200000 16384 0 0 0 1", &tx, &rx));
    assert_int_equal(rx.rate_bps, 200000);
    assert_int_equal(rx.burst_bytes, 16384);
    assert_int_equal(tx.rate_bps, 0); /* not named: unchanged */
    assert_true(
        nb_parse_classes("tx 100000000000 4294967296 1000 64 5000 1000;rx 1 2 3 4 5 6", &tx, &rx));
    assert_int_equal(tx.rate_bps, 100000000000ull);
    assert_int_equal(tx.burst_bytes, 4294967296ull);
    assert_int_equal(tx.rate_pps, 1000);
    assert_int_equal(tx.burst_pkts, 64);
    assert_int_equal(tx.floor_bps, 5000);
    assert_int_equal(tx.weight, 1000);
    assert_int_equal(rx.weight, 6);
    struct nsched_class t0 = tx, r0 = rx;
    static const char *const bad[] = {
        "",                              /* empty */
        "tx 1 2 3 4 5",                  /* five values */
        "tx 1 2 3 4 5 6 7",              /* seven */
        "up 1 2 3 4 5 6",                /* direction */
        "tx 1 2 3 4 5 6;tx 1 2 3 4 5 6", /* twice */
        "tx 1 2 3 4 5 6;",               /* trailing ';' */
        "tx 1000000000000 2 3 4 5 6",    /* 13 digits */
        "tx 1 2 3 4 5 4294967296",       /* weight beyond 32 bits */
        "tx 1 2 3 4 5 -6",               /* a sign */
        "rx 1 2 3 4 5 6;tx 1 2 3 4 5 x", /* the second one bad: nothing changes */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(nb_parse_classes(bad[i], &tx, &rx));
        assert_memory_equal(&tx, &t0, sizeof tx);
        assert_memory_equal(&rx, &r0, sizeof rx);
    }
}

static void test_front_messages(void **state)
{
    (void)state;
    static uint8_t buf[NETIF_MSG_MAX + 64];
    const uint8_t *f = NULL;
    size_t fl = 0;
    size_t n = msg_of(buf, NETIF_MSG_FRAME, 0, 60);
    assert_int_equal(nb_front_msg(buf, n, &f, &fl), NB_MSG_FRAME);
    assert_ptr_equal(f, buf + 4);
    assert_int_equal(fl, 60);
    n = msg_of(buf, NETIF_MSG_FRAME, 0, NETIF_FRAME_MAX);
    assert_int_equal(nb_front_msg(buf, n, &f, &fl), NB_MSG_FRAME);
    n = msg_of(buf, NETIF_MSG_FRAME, 0, NETIF_FRAME_MIN);
    assert_int_equal(nb_front_msg(buf, n, &f, &fl), NB_MSG_FRAME);

    f = NULL;
    fl = 7;
    assert_int_equal(nb_front_msg(buf, 0, &f, &fl), NB_MSG_SHORT);
    assert_int_equal(nb_front_msg(buf, 3, &f, &fl), NB_MSG_SHORT);
    n = msg_of(buf, NETIF_MSG_CONFIG, 0, 60); /* netback's own message type */
    assert_int_equal(nb_front_msg(buf, n, &f, &fl), NB_MSG_TYPE);
    n = msg_of(buf, 0xffff, 0, 60);
    assert_int_equal(nb_front_msg(buf, n, &f, &fl), NB_MSG_TYPE);
    n = msg_of(buf, NETIF_MSG_FRAME, 1, 60);
    assert_int_equal(nb_front_msg(buf, n, &f, &fl), NB_MSG_RESERVED);
    n = msg_of(buf, NETIF_MSG_FRAME, 0, NETIF_FRAME_MIN - 1);
    assert_int_equal(nb_front_msg(buf, n, &f, &fl), NB_MSG_LENGTH);
    n = msg_of(buf, NETIF_MSG_FRAME, 0, 0);
    assert_int_equal(nb_front_msg(buf, n, &f, &fl), NB_MSG_LENGTH);
    n = msg_of(buf, NETIF_MSG_FRAME, 0, NETIF_FRAME_MAX + 1);
    assert_int_equal(nb_front_msg(buf, n, &f, &fl), NB_MSG_LENGTH);
    assert_null(f); /* nothing handed out for a bad message */
    assert_int_equal(fl, 7);
    assert_string_equal(nb_msg_status_name(NB_MSG_LENGTH), "length");
    assert_string_equal(nb_msg_status_name(NB_MSG_STATUS_COUNT), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addresses),      cmocka_unit_test(test_ports),
        cmocka_unit_test(test_rules),          cmocka_unit_test(test_classes),
        cmocka_unit_test(test_front_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
