/*
 * <ctype.h> of the guest-kit libc subset: ASCII only, no locale.
 * These are real functions, not table-indexing macros: any int is a valid
 * argument (a negative char simply is not a member of any class), and
 * toupper/tolower return anything that is not an ASCII letter unchanged.
 */
#ifndef HV_LIBC_CTYPE_H
#define HV_LIBC_CTYPE_H

#include "libc_cdefs.h"

int LIBC_NAME(isdigit)(int c);
int LIBC_NAME(isxdigit)(int c);
int LIBC_NAME(isalpha)(int c);
int LIBC_NAME(isalnum)(int c);
int LIBC_NAME(isspace)(int c); /* ' ' \t \n \v \f \r */
int LIBC_NAME(isblank)(int c); /* ' ' \t */
int LIBC_NAME(isupper)(int c);
int LIBC_NAME(islower)(int c);
int LIBC_NAME(isprint)(int c); /* 0x20..0x7e */
int LIBC_NAME(isgraph)(int c); /* 0x21..0x7e */
int LIBC_NAME(ispunct)(int c);
int LIBC_NAME(iscntrl)(int c); /* 0x00..0x1f and 0x7f */
int LIBC_NAME(toupper)(int c);
int LIBC_NAME(tolower)(int c);

#endif /* HV_LIBC_CTYPE_H */
