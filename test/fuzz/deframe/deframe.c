/*
 * libFuzzer target: the stream deframer on arbitrary bytes, pushed in
 * chunks whose sizes come from the input. Properties: every delivered
 * frame has a valid checksum and fits the limit; every input byte is
 * accounted for exactly once (delivered in a frame, reported dropped, or
 * still buffered at the end and dropped by the final flushes).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <hv/frame.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PAYLOAD 512u

static void drain(struct frame_reader *r, uint64_t *framed, uint64_t *dropped)
{
    for (;;) {
        struct frame_event ev;
        frame_reader_next(r, &ev);
        if (ev.kind == FRAME_EV_NONE)
            return;
        if (ev.kind == FRAME_EV_DROPPED) {
            if (ev.dropped_bytes == 0)
                abort();
            *dropped += ev.dropped_bytes;
            continue;
        }
        if (ev.payload_len > MAX_PAYLOAD)
            abort();
        uint32_t crc;
        memcpy(&crc, ev.payload + ev.payload_len, 4);
        if (crc != frame_crc32c(0, ev.payload, ev.payload_len))
            abort();
        *framed += FRAME_OVERHEAD_BYTES + ev.payload_len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[FRAME_OVERHEAD_BYTES + MAX_PAYLOAD];
    struct frame_reader r;
    if (!frame_reader_init(&r, buf, sizeof(buf), MAX_PAYLOAD))
        abort();
    if (size == 0)
        return 0;
    /* the first byte seeds the chunk sizes */
    uint32_t chunk_seed = data[0] | 1u;
    const uint8_t *p = data + 1;
    size_t left = size - 1, total = left;
    uint64_t framed = 0, dropped = 0;
    while (left) {
        chunk_seed = chunk_seed * 1103515245u + 12345u;
        size_t chunk = 1 + (chunk_seed >> 16) % 97;
        if (chunk > left)
            chunk = left;
        size_t took = frame_reader_push(&r, p, chunk);
        p += took;
        left -= took;
        drain(&r, &framed, &dropped);
    }
    while (frame_reader_flush_partial(&r))
        drain(&r, &framed, &dropped);
    drain(&r, &framed, &dropped);
    if (framed + dropped != total)
        abort();
    return 0;
}
