/*
 * libFuzzer target: netback's packet parser and the VFR's forwarding
 * decision (domains/netback/vfr*.c) facing any frame. The first input byte
 * chooses the direction (from the wire, or from domain 1 or 2), the rest is
 * the frame. Properties: nothing is read outside the frame (ASan sees an
 * exactly-sized copy); a frame sent to a domain carries a port that domain
 * holds (or follows a first fragment); a domain's frame that goes out
 * comes from the external address and, with ports, from one it holds; a
 * reply netback builds is a whole Ethernet frame.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vfr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define EXT 0xc000020au /* 192.0.2.10 */

static struct vfr v;
static bool ready;
static uint8_t reply[VFR_ETH_MAX];

static void setup(void)
{
    static const uint8_t mac[6] = {2, 0, 0, 0, 0, 0x10};
    vfr_init(&v, EXT, mac);
    vfr_dom_add(&v, 1);
    vfr_dom_add(&v, 2);
    struct vfr_lease l1[2] = {{0, VFR_PROTO_TCP, 8080, 8080}, {0, VFR_PROTO_UDP, 20000, 20999}};
    struct vfr_lease l2[2] = {{0, VFR_PROTO_TCP, 21000, 21999}, {0, VFR_PROTO_UDP, 21000, 21999}};
    vfr_lease_set(&v.leases, 1, l1, 2, NULL);
    vfr_lease_set(&v.leases, 2, l2, 2, NULL);
    struct vfr_rule r = {VFR_DENY, VFR_IN, VFR_PROTO_TCP, 8080, 8080, 0xcb007100u, 24};
    vfr_rules_replace(&vfr_dom_get(&v, 1)->rules, &r, 1);
    ready = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready)
        setup();
    if (size < 1)
        return 0;
    uint8_t dir = data[0] % 3;
    size_t n = size - 1;
    uint8_t *frame = malloc(n ? n : 1);
    memcpy(frame, data + 1, n);
    struct vfr_verdict vd;
    static uint64_t now;
    now += 1000;
    if (dir == 0)
        vfr_from_wire(&v, frame, n, now, reply, &vd);
    else
        vfr_from_domain(&v, dir, frame, n, now, reply, &vd);
    const struct vfr_pkt *p = &vd.pkt;
    if (vd.to == VFR_TO_DOMAIN && p->frag_offset == 0 &&
        (p->proto == VFR_PROTO_TCP || p->proto == VFR_PROTO_UDP) &&
        vfr_lease_owner(&v.leases, p->proto, p->dport) != vd.dom)
        abort();
    if (vd.to == VFR_TO_WIRE && dir != 0 && p->kind == VFR_KIND_IPV4) {
        if (p->src != EXT)
            abort();
        if (p->frag_offset == 0 && (p->proto == VFR_PROTO_TCP || p->proto == VFR_PROTO_UDP) &&
            !vfr_lease_held(&v.leases, dir, p->proto, p->sport))
            abort();
    }
    if (vd.to == VFR_TO_REPLY && (vd.reply_len < 42 || vd.reply_len > VFR_ETH_MAX))
        abort();
    free(frame);
    return 0;
}
