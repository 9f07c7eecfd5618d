/*
 * hvctl up --net: the machine's NIC (docs/hvctl.md, docs/net.md). A
 * virtio-net function whose other end is a tap device (`tap:IFNAME`, e.g.
 * one in a network namespace the caller made) or QEMU user networking with
 * `restrict=on` and host port forwards on 127.0.0.1 (`user,fwd=PORT`); the
 * control domain starts netback on it (its driver manifest) with the
 * external address and gateway given here (fw_cfg file
 * opt/hv/driver/netback: lines "address=A/LEN" and "gateway=G", which
 * replace its manifest's config values). Without --net (or with `none`) the
 * machine has no NIC at all (`-nic none`).
 */
#ifndef HVCTL_UP_NET_H
#define HVCTL_UP_NET_H

#include <stdbool.h>
#include <stddef.h>

#define UP_NET_DEFAULT_ADDRESS "192.0.2.10/24"
#define UP_NET_FWCFG_NAME "opt/hv/driver/netback"
#define UP_NET_FILE "net.cfg" /* in the run directory */

struct up_net {
    bool on;
    char netdev[1024], device[128], fwcfg[64];
    char address[32], gateway[32];
};

/* Parses spec ("none", "tap:IFNAME[,address=A/LEN][,gateway=G]",
 * "user[,fwd=PORT]...[,address=A/LEN][,gateway=G]"; NULL: none) into *n.
 * false with a message in why. */
bool up_net_parse(const char *spec, struct up_net *n, char *why, size_t why_cap);

/* Writes RUN_DIR/net.cfg (what fw_cfg gives the control domain). */
bool up_net_write(const struct up_net *n, const char *run_dir, char *why, size_t why_cap);

#endif
