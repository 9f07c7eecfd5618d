/*
 * libFuzzer target: the decoder of every message in the catalog
 * (proto_msg_decode dispatches on the type key to the generated decoder).
 * Properties: no crash or undefined behaviour on any input; a refusal
 * names an offset inside the input; an accepted input is a valid message
 * whose deterministic re-encoding is no longer than the input (unknown
 * optional members are skipped, so it may be shorter), identical to it when
 * as long, and decodes back to the same message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <hv/proto_msgs.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct proto_msg msg, again;
static uint8_t out[1 << 20];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hvcbor_error err;
    size_t len;
    if (!proto_msg_decode(data, size, NULL, &msg, &err)) {
        if (err.code == HVCBOR_OK || err.offset > size)
            abort();
        return 0;
    }
    if (!proto_msg_validate(&msg, &err))
        abort();
    if (!proto_msg_encode(&msg, out, sizeof(out), &len, &err))
        abort();
    if (len > size || (len == size && memcmp(out, data, size) != 0))
        abort();
    if (!proto_msg_decode(out, len, NULL, &again, &err) || !proto_msg_equal(&msg, &again))
        abort();
    return 0;
}
