/* Tests for lib/hex.c: the admin token's hex, as the control domain and
 * hvctl read it. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hvlib/hex.h"

static void test_round_trip(void **state)
{
    (void)state;
    uint8_t in[32], out[64];
    char hex[80];
    for (int i = 0; i < 32; i++) {
        in[i] = (uint8_t)(i * 37 + 5);
        snprintf(hex + 2 * i, 3, i % 2 ? "%02X" : "%02x", in[i]);
    }
    strcat(hex, "\r\n");
    size_t bad = 0;
    assert_int_equal(hv_hex_decode(hex, strlen(hex), out, sizeof out, &bad), 32);
    assert_memory_equal(out, in, 32);
    assert_int_equal(hv_hex_decode(hex, 64, out, 32, NULL), 32); /* exactly cap */
}

static void test_refusals(void **state)
{
    (void)state;
    uint8_t out[64];
    size_t bad = 0;
    assert_int_equal(hv_hex_decode("abc", 3, out, sizeof out, &bad), 0);
    assert_true(bad == HV_HEX_BAD_LENGTH);
    assert_int_equal(hv_hex_decode("\n", 1, out, sizeof out, &bad), 0);
    assert_true(bad == HV_HEX_BAD_LENGTH);
    assert_int_equal(hv_hex_decode("", 0, out, sizeof out, &bad), 0);
    assert_int_equal(hv_hex_decode("0011", 4, out, 1, &bad), 0); /* longer than cap */
    assert_true(bad == HV_HEX_BAD_LENGTH);
    assert_int_equal(hv_hex_decode("zz", 2, out, sizeof out, &bad), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(hv_hex_decode("00g0", 4, out, sizeof out, &bad), 0);
    assert_int_equal(bad, 2);
    assert_int_equal(hv_hex_decode("000 ", 4, out, sizeof out, &bad), 0);
    assert_int_equal(bad, 3);
    assert_int_equal(hv_hex_decode("0\n00", 4, out, sizeof out, NULL), 0); /* inner newline */
    /* Every byte value outside the 22 digits is refused in either place. */
    for (int c = 0; c < 256; c++) {
        char s[2] = {'a', (char)c};
        bool digit = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (c == '\n' || c == '\r')
            continue;
        assert_int_equal(hv_hex_decode(s, 2, out, sizeof out, &bad), digit ? 1 : 0);
        s[0] = (char)c;
        s[1] = 'a';
        assert_int_equal(hv_hex_decode(s, 2, out, sizeof out, &bad), digit ? 1 : 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
