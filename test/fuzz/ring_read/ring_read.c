/*
 * libFuzzer target: the ring consumer facing a hostile producer. The input
 * is the whole shared area (header and data, as the other domain may have
 * written it), then a script of steps that change the producer's index and
 * bytes between reads. Properties: no access outside the shared area (ASan
 * sees an exactly-sized allocation), every delivered length fits, and once
 * corrupt the ring stays corrupt.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <hv/ring.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SHARED_BYTES (RING_HEADER_BYTES + 512)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *shared = malloc(SHARED_BYTES);
    size_t n = size < SHARED_BYTES ? size : SHARED_BYTES;
    memset(shared, 0, SHARED_BYTES);
    memcpy(shared, data, n);
    data += n;
    size -= n;
    struct ring c;
    if (!ring_attach_consumer(&c, shared, SHARED_BYTES))
        abort();
    struct ring_shared *sh = (struct ring_shared *)shared;
    uint8_t buf[600];
    bool corrupt = false;
    for (int step = 0; step < 64; step++) {
        uint32_t len;
        bool notify;
        uint32_t cap = (uint32_t)(step * 37 % sizeof(buf));
        enum ring_status st = ring_read(&c, buf, cap, &len, &notify);
        if (corrupt && st != RING_ECORRUPT)
            abort();
        if (st == RING_ECORRUPT)
            corrupt = true;
        if (st == RING_OK && len > cap)
            abort();
        if (st == RING_ETOOBIG && len <= cap)
            abort();
        (void)ring_consumer_prepare_sleep(&c);
        /* next script step: move prod and poke a data byte */
        if (size >= 6) {
            uint32_t delta;
            memcpy(&delta, data, 4);
            sh->prod += delta;
            sh->data[data[4] % 512] = data[5];
            data += 6;
            size -= 6;
        }
    }
    free(shared);
    return 0;
}
