/*
 * QEMU's fw_cfg device through its I/O ports (selector 0x510, 16-bit;
 * data 0x511, 8-bit), read-only: enough to find a named file and read it.
 * The host (hvctl up) passes the admin token as file "opt/hv/admin-token".
 */
#ifndef CONTROL_FWCFG_H
#define CONTROL_FWCFG_H

#include <stddef.h>
#include <stdint.h>

/*
 * Reads the file `name` into buf (at most cap bytes). Returns its size
 * (which may exceed cap: only cap bytes were read), or a negative value:
 * -1 no fw_cfg device (or its ports are refused), -2 no such file.
 * io_slot receives a capability narrowed to the two ports (replacing what
 * an earlier call left there).
 */
int64_t fwcfg_read_file(uint32_t io_slot, const char *name, void *buf, size_t cap);

#endif
