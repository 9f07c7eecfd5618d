/*
 * Included first by every source file of the libc subset (and by nothing
 * else). Under -DGK_LIBC_PREFIX (the host unit-test build) it renames every
 * standard function that the sources define or call to gk_libc_<name>, so the
 * sources can be written with the plain C names and still link next to glibc.
 * The public headers declare the same gk_libc_<name> through GK_LIBC_NAME.
 * A name missing here would make the definition lose its prototype, which
 * -Wmissing-prototypes (with -Werror) rejects; the libc_symbols test also
 * checks that the host library defines no unprefixed global symbol.
 */
#ifndef GK_LIBC_INTERNAL_H
#define GK_LIBC_INTERNAL_H

#ifdef GK_LIBC_PREFIX
#define memcpy gk_libc_memcpy
#define memmove gk_libc_memmove
#define memset gk_libc_memset
#define memcmp gk_libc_memcmp
#define memchr gk_libc_memchr
#define strlen gk_libc_strlen
#define strnlen gk_libc_strnlen
#define strcmp gk_libc_strcmp
#define strncmp gk_libc_strncmp
#define strchr gk_libc_strchr
#define strrchr gk_libc_strrchr
#define strstr gk_libc_strstr
#define strspn gk_libc_strspn
#define strcspn gk_libc_strcspn
#define strncpy gk_libc_strncpy
#define strlcpy gk_libc_strlcpy
#define vsnprintf gk_libc_vsnprintf
#define snprintf gk_libc_snprintf
#define strtoul gk_libc_strtoul
#define strtoull gk_libc_strtoull
#define strtol gk_libc_strtol
#define strtoll gk_libc_strtoll
#define qsort gk_libc_qsort
#define abs gk_libc_abs
#define labs gk_libc_labs
#define llabs gk_libc_llabs
#define isdigit gk_libc_isdigit
#define isxdigit gk_libc_isxdigit
#define isalpha gk_libc_isalpha
#define isalnum gk_libc_isalnum
#define isspace gk_libc_isspace
#define isupper gk_libc_isupper
#define islower gk_libc_islower
#define isprint gk_libc_isprint
#define ispunct gk_libc_ispunct
#define iscntrl gk_libc_iscntrl
#define isgraph gk_libc_isgraph
#define isblank gk_libc_isblank
#define toupper gk_libc_toupper
#define tolower gk_libc_tolower
#endif

#endif /* GK_LIBC_INTERNAL_H */
