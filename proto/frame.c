/*
 * Stream framing: CRC-32C, frame encoding and the resynchronising reader.
 * See hv/frame.h for the wire format and the contract.
 */
#include <hv/frame.h>

static const uint32_t crc32c_table[256] = {
    0x00000000u, 0xf26b8303u, 0xe13b70f7u, 0x1350f3f4u, 0xc79a971fu, 0x35f1141cu, 0x26a1e7e8u,
    0xd4ca64ebu, 0x8ad958cfu, 0x78b2dbccu, 0x6be22838u, 0x9989ab3bu, 0x4d43cfd0u, 0xbf284cd3u,
    0xac78bf27u, 0x5e133c24u, 0x105ec76fu, 0xe235446cu, 0xf165b798u, 0x030e349bu, 0xd7c45070u,
    0x25afd373u, 0x36ff2087u, 0xc494a384u, 0x9a879fa0u, 0x68ec1ca3u, 0x7bbcef57u, 0x89d76c54u,
    0x5d1d08bfu, 0xaf768bbcu, 0xbc267848u, 0x4e4dfb4bu, 0x20bd8edeu, 0xd2d60dddu, 0xc186fe29u,
    0x33ed7d2au, 0xe72719c1u, 0x154c9ac2u, 0x061c6936u, 0xf477ea35u, 0xaa64d611u, 0x580f5512u,
    0x4b5fa6e6u, 0xb93425e5u, 0x6dfe410eu, 0x9f95c20du, 0x8cc531f9u, 0x7eaeb2fau, 0x30e349b1u,
    0xc288cab2u, 0xd1d83946u, 0x23b3ba45u, 0xf779deaeu, 0x05125dadu, 0x1642ae59u, 0xe4292d5au,
    0xba3a117eu, 0x4851927du, 0x5b016189u, 0xa96ae28au, 0x7da08661u, 0x8fcb0562u, 0x9c9bf696u,
    0x6ef07595u, 0x417b1dbcu, 0xb3109ebfu, 0xa0406d4bu, 0x522bee48u, 0x86e18aa3u, 0x748a09a0u,
    0x67dafa54u, 0x95b17957u, 0xcba24573u, 0x39c9c670u, 0x2a993584u, 0xd8f2b687u, 0x0c38d26cu,
    0xfe53516fu, 0xed03a29bu, 0x1f682198u, 0x5125dad3u, 0xa34e59d0u, 0xb01eaa24u, 0x42752927u,
    0x96bf4dccu, 0x64d4cecfu, 0x77843d3bu, 0x85efbe38u, 0xdbfc821cu, 0x2997011fu, 0x3ac7f2ebu,
    0xc8ac71e8u, 0x1c661503u, 0xee0d9600u, 0xfd5d65f4u, 0x0f36e6f7u, 0x61c69362u, 0x93ad1061u,
    0x80fde395u, 0x72966096u, 0xa65c047du, 0x5437877eu, 0x4767748au, 0xb50cf789u, 0xeb1fcbadu,
    0x197448aeu, 0x0a24bb5au, 0xf84f3859u, 0x2c855cb2u, 0xdeeedfb1u, 0xcdbe2c45u, 0x3fd5af46u,
    0x7198540du, 0x83f3d70eu, 0x90a324fau, 0x62c8a7f9u, 0xb602c312u, 0x44694011u, 0x5739b3e5u,
    0xa55230e6u, 0xfb410cc2u, 0x092a8fc1u, 0x1a7a7c35u, 0xe811ff36u, 0x3cdb9bddu, 0xceb018deu,
    0xdde0eb2au, 0x2f8b6829u, 0x82f63b78u, 0x709db87bu, 0x63cd4b8fu, 0x91a6c88cu, 0x456cac67u,
    0xb7072f64u, 0xa457dc90u, 0x563c5f93u, 0x082f63b7u, 0xfa44e0b4u, 0xe9141340u, 0x1b7f9043u,
    0xcfb5f4a8u, 0x3dde77abu, 0x2e8e845fu, 0xdce5075cu, 0x92a8fc17u, 0x60c37f14u, 0x73938ce0u,
    0x81f80fe3u, 0x55326b08u, 0xa759e80bu, 0xb4091bffu, 0x466298fcu, 0x1871a4d8u, 0xea1a27dbu,
    0xf94ad42fu, 0x0b21572cu, 0xdfeb33c7u, 0x2d80b0c4u, 0x3ed04330u, 0xccbbc033u, 0xa24bb5a6u,
    0x502036a5u, 0x4370c551u, 0xb11b4652u, 0x65d122b9u, 0x97baa1bau, 0x84ea524eu, 0x7681d14du,
    0x2892ed69u, 0xdaf96e6au, 0xc9a99d9eu, 0x3bc21e9du, 0xef087a76u, 0x1d63f975u, 0x0e330a81u,
    0xfc588982u, 0xb21572c9u, 0x407ef1cau, 0x532e023eu, 0xa145813du, 0x758fe5d6u, 0x87e466d5u,
    0x94b49521u, 0x66df1622u, 0x38cc2a06u, 0xcaa7a905u, 0xd9f75af1u, 0x2b9cd9f2u, 0xff56bd19u,
    0x0d3d3e1au, 0x1e6dcdeeu, 0xec064eedu, 0xc38d26c4u, 0x31e6a5c7u, 0x22b65633u, 0xd0ddd530u,
    0x0417b1dbu, 0xf67c32d8u, 0xe52cc12cu, 0x1747422fu, 0x49547e0bu, 0xbb3ffd08u, 0xa86f0efcu,
    0x5a048dffu, 0x8ecee914u, 0x7ca56a17u, 0x6ff599e3u, 0x9d9e1ae0u, 0xd3d3e1abu, 0x21b862a8u,
    0x32e8915cu, 0xc083125fu, 0x144976b4u, 0xe622f5b7u, 0xf5720643u, 0x07198540u, 0x590ab964u,
    0xab613a67u, 0xb831c993u, 0x4a5a4a90u, 0x9e902e7bu, 0x6cfbad78u, 0x7fab5e8cu, 0x8dc0dd8fu,
    0xe330a81au, 0x115b2b19u, 0x020bd8edu, 0xf0605beeu, 0x24aa3f05u, 0xd6c1bc06u, 0xc5914ff2u,
    0x37faccf1u, 0x69e9f0d5u, 0x9b8273d6u, 0x88d28022u, 0x7ab90321u, 0xae7367cau, 0x5c18e4c9u,
    0x4f48173du, 0xbd23943eu, 0xf36e6f75u, 0x0105ec76u, 0x12551f82u, 0xe03e9c81u, 0x34f4f86au,
    0xc69f7b69u, 0xd5cf889du, 0x27a40b9eu, 0x79b737bau, 0x8bdcb4b9u, 0x988c474du, 0x6ae7c44eu,
    0xbe2da0a5u, 0x4c4623a6u, 0x5f16d052u, 0xad7d5351u,
};

uint32_t frame_crc32c(uint32_t crc, const void *p, size_t len)
{
    const uint8_t *b = p;
    crc = ~crc;
    for (size_t i = 0; i < len; i++)
        crc = crc32c_table[(crc ^ b[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

size_t frame_encode(void *out, size_t cap, const void *payload, size_t len)
{
    uint8_t *o = out;
    if (len > FRAME_MAX_PAYLOAD || (payload == NULL && len != 0) || out == NULL)
        return 0;
    if (cap < FRAME_OVERHEAD_BYTES || len > cap - FRAME_OVERHEAD_BYTES)
        return 0;
    o[0] = FRAME_MAGIC0;
    o[1] = FRAME_MAGIC1;
    o[2] = FRAME_MAGIC2;
    o[3] = FRAME_MAGIC3;
    put_le32(o + 4, (uint32_t)len);
    put_le32(o + 8, frame_crc32c(0, o, 8));
    const uint8_t *s = payload;
    for (size_t i = 0; i < len; i++)
        o[FRAME_HEADER_BYTES + i] = s[i];
    put_le32(o + FRAME_HEADER_BYTES + len, frame_crc32c(0, payload, len));
    return FRAME_OVERHEAD_BYTES + len;
}

bool frame_reader_init(struct frame_reader *r, void *buf, size_t cap, uint32_t max_payload)
{
    r->buf = buf;
    r->cap = 0;
    r->start = 0;
    r->len = 0;
    r->consumed = 0;
    r->max_payload = 0;
    r->pending_drop = 0;
    r->pending_reason = FRAME_DROP_NONE;
    r->pause_at = 0;
    r->pause = false;
    r->frames_count = 0;
    r->dropped_bytes_total = 0;
    if (buf == NULL || max_payload > FRAME_MAX_PAYLOAD ||
        cap < (size_t)FRAME_OVERHEAD_BYTES + max_payload)
        return false;
    r->cap = cap;
    r->max_payload = max_payload;
    return true;
}

/* Forgets the n live bytes at the front of the buffer: O(1). */
static void reader_advance(struct frame_reader *r, size_t n)
{
    r->start += n;
    if (r->pause && r->start >= r->pause_at)
        r->pause = false; /* the frame that was in progress at the pause is gone */
    if (r->start == r->len)
        r->start = r->len = 0;
}

/* Forgets the frame handed out by the previous call. */
static void reader_release(struct frame_reader *r)
{
    if (r->consumed) {
        reader_advance(r, r->consumed);
        r->consumed = 0;
    }
}

size_t frame_reader_push(struct frame_reader *r, const void *data, size_t len)
{
    reader_release(r);
    if (r->start && len > r->cap - r->len) {
        /* Compact: move live bytes to the front, once per push. */
        for (size_t i = r->start; i < r->len; i++)
            r->buf[i - r->start] = r->buf[i];
        r->len -= r->start;
        if (r->pause)
            r->pause_at -= r->start; /* a pending pause lies after start */
        r->start = 0;
    }
    size_t room = r->cap - r->len;
    size_t n = len < room ? len : room;
    const uint8_t *s = data;
    for (size_t i = 0; i < n; i++)
        r->buf[r->len + i] = s[i];
    r->len += n;
    return n;
}

static void reader_drop(struct frame_reader *r, size_t n, enum frame_drop_reason why)
{
    if (r->pending_drop == 0)
        r->pending_reason = why;
    r->pending_drop += n;
    r->dropped_bytes_total += n;
    reader_advance(r, n);
}

static const uint8_t frame_magic[4] = {FRAME_MAGIC0, FRAME_MAGIC1, FRAME_MAGIC2, FRAME_MAGIC3};

/* Length of the longest prefix of the magic at the start of p[0..n). */
static size_t magic_prefix(const uint8_t *p, size_t n)
{
    size_t k = 0;
    while (k < n && k < 4 && p[k] == frame_magic[k])
        k++;
    return k;
}

/* Reports pending drops, if any, and returns true if it did. */
static bool reader_report_drop(struct frame_reader *r, struct frame_event *ev)
{
    if (r->pending_drop == 0)
        return false;
    ev->kind = FRAME_EV_DROPPED;
    ev->dropped_bytes = r->pending_drop;
    ev->reason = r->pending_reason;
    r->pending_drop = 0;
    r->pending_reason = FRAME_DROP_NONE;
    return true;
}

/* After frame_reader_mark_pause(): true if the frame in progress was cut at
 * the pause (dropped) because a valid header begins there; false if the
 * pause is judged a stall (forgotten) or not judged yet (kept). */
static bool reader_cut_at_pause(struct frame_reader *r)
{
    if (!r->pause)
        return false;
    size_t after = r->len - r->pause_at;
    const uint8_t *q = r->buf + r->pause_at;
    size_t k = magic_prefix(q, after);
    if (k < 4 && k < after) {
        r->pause = false; /* not a header: the bytes continue the frame */
        return false;
    }
    if (after < FRAME_HEADER_BYTES)
        return false; /* the magic so far: wait for the rest of the header */
    if (get_le32(q + 8) != frame_crc32c(0, q, 8)) {
        r->pause = false;
        return false;
    }
    reader_drop(r, r->pause_at - r->start, FRAME_DROP_TRUNCATED); /* clears the pause */
    return true;
}

void frame_reader_mark_pause(struct frame_reader *r)
{
    reader_release(r);
    if (r->pause || r->len == r->start)
        return;
    r->pause_at = r->len;
    r->pause = true;
}

void frame_reader_next(struct frame_reader *r, struct frame_event *ev)
{
    ev->kind = FRAME_EV_NONE;
    ev->payload = NULL;
    ev->payload_len = 0;
    ev->dropped_bytes = 0;
    ev->reason = FRAME_DROP_NONE;
    reader_release(r);
    for (;;) {
        /* Drop everything before the next possible magic. */
        size_t live = r->len - r->start;
        const uint8_t *p = r->buf + r->start;
        size_t skip = 0;
        while (skip < live) {
            size_t k = magic_prefix(p + skip, live - skip);
            if (k == 4 || k == live - skip)
                break;
            skip++;
        }
        if (skip)
            reader_drop(r, skip, FRAME_DROP_GARBAGE);
        live = r->len - r->start;
        p = r->buf + r->start;
        if (live < FRAME_HEADER_BYTES) {
            if (reader_cut_at_pause(r))
                continue;
            reader_report_drop(r, ev);
            return; /* need more */
        }
        uint32_t plen = get_le32(p + 4);
        if (get_le32(p + 8) != frame_crc32c(0, p, 8)) {
            if (reader_cut_at_pause(r))
                continue;
            reader_drop(r, 1, FRAME_DROP_BAD_HEADER);
            continue;
        }
        if (plen > r->max_payload) {
            reader_drop(r, 1, FRAME_DROP_OVERSIZED);
            continue;
        }
        size_t total = FRAME_OVERHEAD_BYTES + (size_t)plen;
        if (live < total) {
            if (reader_cut_at_pause(r))
                continue;
            /* A valid header: report earlier drops now, then wait. */
            reader_report_drop(r, ev);
            return;
        }
        const uint8_t *payload = p + FRAME_HEADER_BYTES;
        if (get_le32(payload + plen) != frame_crc32c(0, payload, plen)) {
            if (reader_cut_at_pause(r))
                continue;
            reader_drop(r, 1, FRAME_DROP_BAD_CRC);
            continue;
        }
        if (reader_report_drop(r, ev))
            return; /* the frame stays buffered for the next call */
        ev->kind = FRAME_EV_FRAME;
        ev->payload = payload;
        ev->payload_len = plen;
        r->consumed = total;
        r->frames_count++;
        return;
    }
}

bool frame_reader_flush_partial(struct frame_reader *r)
{
    reader_release(r);
    if (r->len == r->start)
        return false;
    reader_drop(r, 1, FRAME_DROP_TRUNCATED);
    return true;
}
