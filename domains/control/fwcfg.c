/* fw_cfg file lookup (see fwcfg.h); the device is QEMU's, ports 0x510/0x511. */
#include "fwcfg.h"

#include <string.h>

#include "gk/gk.h"

#define FWCFG_PORT_SEL 0x510u
#define FWCFG_PORT_DATA 0x511u
#define FWCFG_SIGNATURE 0x0000u
#define FWCFG_FILE_DIR 0x0019u
#define FWCFG_DIR_MAX 4096u /* entries we are willing to scan */

static uint32_t cap;

static int64_t sel(uint16_t key)
{
    struct hv_ioport_args a = {
        .slot = cap, .port = FWCFG_PORT_SEL, .size = 2, .write = 1, .value = key};
    return gk_hc_ioport_op(&a);
}

static uint8_t data_byte(void)
{
    struct hv_ioport_args a = {.slot = cap, .port = FWCFG_PORT_DATA, .size = 1, .write = 0};
    return gk_hc_ioport_op(&a) == HV_OK ? (uint8_t)a.value : 0;
}

static void data_read(void *buf, size_t n)
{
    uint8_t *p = buf;
    for (size_t i = 0; i < n; i++)
        p[i] = data_byte();
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int64_t fwcfg_read_file(uint32_t io_slot, const char *name, void *buf, size_t bufcap)
{
    /* The slot is fw_cfg's alone: a copy left by an earlier call is replaced
     * (copying onto it would fail, and every file after the first would
     * read as "no fw_cfg"). */
    gk_cap_delete(io_slot);
    if (gk_cap_copy(HV_ROOT_SLOT_IOPORT, HV_CAP_SLOT_SELF, io_slot, HV_CAP_R_IO_ACCESS,
                    FWCFG_PORT_SEL, 2) != HV_OK)
        return -1;
    cap = io_slot;
    if (sel(FWCFG_SIGNATURE) != HV_OK)
        return -1;
    uint8_t sig[4];
    data_read(sig, 4);
    if (memcmp(sig, "QEMU", 4) != 0)
        return -1;
    sel(FWCFG_FILE_DIR);
    uint8_t cnt[4];
    data_read(cnt, 4);
    uint32_t count = be32(cnt);
    if (count > FWCFG_DIR_MAX)
        count = FWCFG_DIR_MAX;
    for (uint32_t i = 0; i < count; i++) {
        /* struct FWCfgFile: be32 size, be16 select, be16 reserved, char name[56]. */
        uint8_t e[64];
        data_read(e, sizeof e);
        e[63] = 0;
        if (strcmp((const char *)e + 8, name) != 0)
            continue;
        uint32_t size = be32(e);
        uint16_t key = (uint16_t)(e[4] << 8 | e[5]);
        sel(key);
        data_read(buf, size < bufcap ? size : bufcap);
        return size;
    }
    return -2;
}
