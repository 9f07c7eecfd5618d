/*
 * Basic types of the hypervisor, shared by the freestanding build and the
 * host unit tests (which compile the same files).
 *
 * Machine frame numbers, pseudophysical frame numbers and guest virtual
 * addresses are distinct one-field structs so that mixing them up is a
 * compile error; mfn(x) builds one and mfn_x(m) reads it back.
 */
#ifndef HV_TYPES_H
#define HV_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t paddr_t; /* machine physical address */
typedef uint64_t vaddr_t; /* hypervisor virtual address */
typedef uint16_t domid_t;

#define DOMID_INVALID ((domid_t)0xffff)
#define DOMID_HV ((domid_t)0xfffe) /* frames owned by the hypervisor itself */

#define PAGE_SHIFT 12
#define PAGE_SIZE (1ull << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))

typedef struct {
    uint64_t v;
} mfn_t; /* machine frame number */
typedef struct {
    uint64_t v;
} pfn_t; /* pseudophysical frame number (per guest) */
typedef struct {
    uint64_t v;
} gva_t; /* guest virtual address */

static inline mfn_t mfn(uint64_t v)
{
    return (mfn_t){v};
}
static inline uint64_t mfn_x(mfn_t m)
{
    return m.v;
}
static inline pfn_t pfn(uint64_t v)
{
    return (pfn_t){v};
}
static inline uint64_t pfn_x(pfn_t p)
{
    return p.v;
}
static inline gva_t gva(uint64_t v)
{
    return (gva_t){v};
}
static inline uint64_t gva_x(gva_t g)
{
    return g.v;
}

static inline paddr_t mfn_to_paddr(mfn_t m)
{
    return m.v << PAGE_SHIFT;
}
static inline mfn_t paddr_to_mfn(paddr_t p)
{
    return mfn(p >> PAGE_SHIFT);
}

#define INVALID_MFN mfn(~0ull)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* The struct of type whose member p points at. */
#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))
#define ALIGN_UP(x, a) (((x) + ((a)-1)) & ~((__typeof__(x))(a)-1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a)-1))
#define IS_ALIGNED(x, a) (((x) & ((__typeof__(x))(a)-1)) == 0)
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define __packed __attribute__((packed))
#define __noreturn __attribute__((noreturn))
#define __unused __attribute__((unused))

#endif /* HV_TYPES_H */
