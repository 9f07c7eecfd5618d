/*
 * Host stand-in for the hypervisor's panic() (hv/core/panic.c), linked by the
 * unit tests of hypervisor sources that stop on a broken invariant (BUG_ON,
 * panic; hv/include/log.h). It reports through cmocka's mock_assert: a test
 * that expects the stop wraps the call in expect_assert_failure, any other
 * test fails with the message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "log.h"

void panic(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mock_assert(0, msg, __FILE__, __LINE__);
    abort();
}
