/*
 * <ctype.h> of the guest-kit libc subset: ASCII only, no locale.
 * These are real functions, not table-indexing macros: any int is a valid
 * argument (a negative char simply is not a member of any class), and
 * toupper/tolower return anything that is not an ASCII letter unchanged.
 */
#ifndef GK_LIBC_CTYPE_H
#define GK_LIBC_CTYPE_H

#include "gk_libc_cdefs.h"

int GK_LIBC_NAME(isdigit)(int c);
int GK_LIBC_NAME(isxdigit)(int c);
int GK_LIBC_NAME(isalpha)(int c);
int GK_LIBC_NAME(isalnum)(int c);
int GK_LIBC_NAME(isspace)(int c); /* ' ' \t \n \v \f \r */
int GK_LIBC_NAME(isblank)(int c); /* ' ' \t */
int GK_LIBC_NAME(isupper)(int c);
int GK_LIBC_NAME(islower)(int c);
int GK_LIBC_NAME(isprint)(int c); /* 0x20..0x7e */
int GK_LIBC_NAME(isgraph)(int c); /* 0x21..0x7e */
int GK_LIBC_NAME(ispunct)(int c);
int GK_LIBC_NAME(iscntrl)(int c); /* 0x00..0x1f and 0x7f */
int GK_LIBC_NAME(toupper)(int c);
int GK_LIBC_NAME(tolower)(int c);

#endif /* GK_LIBC_CTYPE_H */
