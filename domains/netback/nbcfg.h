/*
 * netback's inputs that are text or messages, checked as plain C (host-tested
 * in test/unit/netback/test_nbcfg.c): its configuration values (the
 * external address and gateway, from its `config:` as the control domain
 * gives it), a front end's port lease as the control domain sends it
 * ("8080,20000-20999": each port or range for TCP and UDP alike), its
 * rules and traffic classes, and a front end's messages (hv/netif.h). Everything here is hostile: a value
 * that does not parse changes nothing and says so.
 */
#ifndef NETBACK_NBCFG_H
#define NETBACK_NBCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nsched.h"
#include "vfr_lease.h"
#include "vfr_pkt.h"
#include "vfr_rules.h"

/* "a.b.c.d" (prefix NULL) or "a.b.c.d/len" (len optional, 0..32; *prefix
 * 32 without it) into *addr (host order). false if malformed: empty parts,
 * a part above 255, leading or trailing junk, more or fewer than 4 parts. */
bool nb_parse_addr(const char *s, uint32_t *addr, unsigned *prefix);

/* The netmask of a prefix length (0..32). */
uint32_t nb_prefix_mask(unsigned prefix);

/* A lease string: ports and ranges "P" or "LO-HI" (1..65535, LO <= HI)
 * separated by commas, each for TCP and UDP, into out[] (dom set) — at most
 * max entries. Returns how many, 0 if the string is empty, malformed or
 * too long (nothing is granted then). */
uint32_t nb_parse_ports(const char *s, uint16_t dom, struct vfr_lease *out, uint32_t max);

/* A front end's rules as the control domain sends them (config-get
 * "net-rules:NAME", domains/control/netpolicy.h): "ACTION DIR PROTO LO-HI
 * A.B.C.D/LEN" separated by ';' — allow|deny, in|out|both, 0|1|6|17, ports
 * 0..65535 (0-0 any), a prefix — into out[]. Returns how many (0 for an
 * empty string), or -1 if malformed or more than max (nothing applies then;
 * vfr_rules_replace checks the rest: host bits, a range 0-N). */
int32_t nb_parse_rules(const char *s, struct vfr_rule *out, uint32_t max);

/* A front end's classes ("net-class:NAME"): "tx R B P Q F W" and/or
 * "rx R B P Q F W" separated by ';' (rate_bps burst_bytes rate_pps
 * burst_pkts floor_bps weight, decimal). The directions not named keep
 * what *tx / *rx hold. false if malformed (neither is changed then);
 * nsched_set_class checks the values. */
bool nb_parse_classes(const char *s, struct nsched_class *tx, struct nsched_class *rx);

/* A message from a front end (hv/netif.h): a NETIF_MSG_FRAME with a frame of
 * NETIF_FRAME_MIN..NETIF_FRAME_MAX bytes (returned in *frame, *frame_len),
 * or why not. */
enum nb_msg_status {
    NB_MSG_FRAME = 0,
    NB_MSG_SHORT,    /* shorter than the header */
    NB_MSG_TYPE,     /* not a frame (a front end sends nothing else) */
    NB_MSG_RESERVED, /* the header's reserved field is not 0 */
    NB_MSG_LENGTH,   /* a frame shorter or longer than Ethernet's */
    NB_MSG_STATUS_COUNT
};
enum nb_msg_status nb_front_msg(const uint8_t *msg, size_t len, const uint8_t **frame,
                                size_t *frame_len);
const char *nb_msg_status_name(enum nb_msg_status s);

#endif
