/* qsort and abs of the libc subset (see stdlib.h). */
#include "libc_internal.h"

#include <stddef.h>
#include <stdlib.h>

int abs(int v)
{
    return v < 0 ? -v : v;
}
long labs(long v)
{
    return v < 0 ? -v : v;
}
long long llabs(long long v)
{
    return v < 0 ? -v : v;
}

/* Swaps two distinct elements of size_bytes, byte by byte. */
static void swap(unsigned char *a, unsigned char *b, size_t size_bytes)
{
    while (size_bytes--) {
        unsigned char t = *a;
        *a++ = *b;
        *b++ = t;
    }
}

/* Moves element root down the max-heap of count elements until it is no
 * smaller than its children. */
static void sift_down(unsigned char *base, size_t root, size_t count, size_t size_bytes,
                      int (*compare)(const void *, const void *))
{
    for (;;) {
        size_t child = 2 * root + 1, largest = root;
        if (child < count && compare(base + child * size_bytes, base + largest * size_bytes) > 0)
            largest = child;
        child++;
        if (child < count && compare(base + child * size_bytes, base + largest * size_bytes) > 0)
            largest = child;
        if (largest == root)
            return;
        swap(base + root * size_bytes, base + largest * size_bytes, size_bytes);
        root = largest;
    }
}

/* Small arrays: insertion sort (by adjacent swaps) is faster than the heap. */
#define QSORT_SMALL 12

void qsort(void *base, size_t count, size_t size_bytes,
           int (*compare)(const void *a, const void *b))
{
    unsigned char *b = base;

    if (count < 2 || size_bytes == 0)
        return;
    if (count <= QSORT_SMALL) {
        for (size_t i = 1; i < count; i++)
            for (size_t j = i; j > 0 && compare(b + (j - 1) * size_bytes, b + j * size_bytes) > 0;
                 j--)
                swap(b + (j - 1) * size_bytes, b + j * size_bytes, size_bytes);
        return;
    }
    for (size_t i = count / 2; i-- > 0;)
        sift_down(b, i, count, size_bytes, compare);
    for (size_t end = count - 1; end > 0; end--) {
        swap(b, b + end * size_bytes, size_bytes);
        sift_down(b, 0, end, size_bytes, compare);
    }
}
