/*
 * libFuzzer target: the generic CBOR decoder (hvcbor_check skips any item
 * with all bounds and canonical checks). Differential property: whatever
 * the in-system codec accepts, libcbor decodes completely too, and the
 * first refusal names an offset inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <cbor.h>
#include <hv/cbor.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hvcbor_limits lim = {.max_depth = 8, .max_items = 64, .max_string_bytes = 256};
    struct hvcbor_error err = hvcbor_check(data, size, &lim);
    if (err.code != HVCBOR_OK) {
        if (err.offset > size)
            abort();
        return 0;
    }
    struct cbor_load_result res;
    cbor_item_t *it = cbor_load(data, size, &res);
    if (it == NULL || res.error.code != CBOR_ERR_NONE || res.read != size)
        abort();
    cbor_decref(&it);
    return 0;
}
