/*
 * <assert.h> of the guest-kit libc subset. A failed assert() shuts the
 * domain down as crashed with "assertion failed: EXPR (FILE:LINE)" on its
 * console (libc_assert_fail, in the runtime). As in C, defining NDEBUG before
 * including this header turns assert() into nothing (CMake's Release and
 * RelWithDebInfo builds define NDEBUG; gk_assert in gk/gk.h always checks).
 * May be included more than once, with NDEBUG changed in between.
 */
#undef assert
#ifdef NDEBUG
#define assert(cond) ((void)0)
#else
#define assert(cond) ((cond) ? (void)0 : libc_assert_fail(#cond, __FILE__, __LINE__))
#endif

#ifndef HV_LIBC_ASSERT_H
#define HV_LIBC_ASSERT_H
__attribute__((noreturn)) void libc_assert_fail(const char *expr, const char *file, int line);
#ifndef __cplusplus
#define static_assert _Static_assert
#endif
#endif
