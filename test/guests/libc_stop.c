/*
 * assert() and abort() from the guest-kit libc stop the domain as crashed
 * with a message. Command line: stop=assert | stop=assert_ndebug | stop=abort.
 * assert_ndebug includes <assert.h> again with NDEBUG defined: the failing
 * assert must then do nothing.
 */
#undef NDEBUG
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "gk/gk.h"

static int ndebug_assert(int x);

int main(const struct hv_start_info *si)
{
    (void)si;
    char how[24] = "";
    gk_cmdline_get("stop", how, sizeof(how));
    gk_printf("libc_stop: %s\n", how);
    if (strcmp(how, "assert") == 0) {
        int two = 2;
        assert(two + two == 5);
        gk_printf("libc_stop: FAILED assert did not stop the domain\n");
    } else if (strcmp(how, "assert_ndebug") == 0) {
        gk_printf("libc_stop: with NDEBUG a failing assert does nothing: %d\n", ndebug_assert(1));
    } else if (strcmp(how, "abort") == 0) {
        abort();
    }
    return 0;
}

#define NDEBUG
#include <assert.h>

static int ndebug_assert(int x)
{
    assert(x == 0);
    return x;
}
