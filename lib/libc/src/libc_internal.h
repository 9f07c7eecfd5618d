/*
 * Included first by every source file of the libc subset (and by nothing
 * else). Under -DLIBC_PREFIX (the host unit-test build) it renames every
 * standard function that the sources define or call to libc_<name>, so the
 * sources can be written with the plain C names and still link next to glibc.
 * The public headers declare the same libc_<name> through LIBC_NAME.
 * A name missing here would make the definition lose its prototype, which
 * -Wmissing-prototypes (with -Werror) rejects; the libc_symbols test also
 * checks that the host library defines no unprefixed global symbol.
 */
#ifndef HV_LIBC_INTERNAL_H
#define HV_LIBC_INTERNAL_H

#ifdef LIBC_PREFIX
#define memcpy libc_memcpy
#define memmove libc_memmove
#define memset libc_memset
#define memcmp libc_memcmp
#define memchr libc_memchr
#define strlen libc_strlen
#define strnlen libc_strnlen
#define strcmp libc_strcmp
#define strncmp libc_strncmp
#define strchr libc_strchr
#define strrchr libc_strrchr
#define strstr libc_strstr
#define strspn libc_strspn
#define strcspn libc_strcspn
#define strncpy libc_strncpy
#define strlcpy libc_strlcpy
#define vsnprintf libc_vsnprintf
#define snprintf libc_snprintf
#define strtoul libc_strtoul
#define strtoull libc_strtoull
#define strtol libc_strtol
#define strtoll libc_strtoll
#define qsort libc_qsort
#define abs libc_abs
#define labs libc_labs
#define llabs libc_llabs
#define isdigit libc_isdigit
#define isxdigit libc_isxdigit
#define isalpha libc_isalpha
#define isalnum libc_isalnum
#define isspace libc_isspace
#define isupper libc_isupper
#define islower libc_islower
#define isprint libc_isprint
#define ispunct libc_ispunct
#define iscntrl libc_iscntrl
#define isgraph libc_isgraph
#define isblank libc_isblank
#define toupper libc_toupper
#define tolower libc_tolower
#endif

#endif /* HV_LIBC_INTERNAL_H */
