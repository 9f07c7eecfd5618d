/*
 * A driver's configuration from the host (docs/control.md, "Driver domains
 * at boot"): the fw_cfg file "opt/hv/driver/NAME" holds lines "KEY=VALUE"
 * that replace (or add to) the `config:` values of the driver NAME's
 * manifest before it is built — so that `hvctl up --net ...,address=A/LEN`
 * reaches netback without a second way to start it. The rebuilt instance
 * of a driver is built from the same, kept, configuration.
 *
 * The file is hostile input: at most DRVCFG_FILE_MAX bytes of printable
 * ASCII in lines (an empty line, or a final line without '\n', is fine);
 * every line KEY=VALUE with a key of 1..64 bytes without '=' or spaces and
 * a value of 0..512 bytes; at most 32 values in all. Anything else changes
 * nothing and says why. Plain C, host-tested (control_host_test).
 */
#ifndef CONTROL_DRVCFG_H
#define CONTROL_DRVCFG_H

#include <stddef.h>

#include <hv/proto_msgs.h>

#define DRVCFG_PREFIX "opt/hv/driver/"
#define DRVCFG_FILE_MAX 2048u
#define DRVCFG_KEY_MAX 64u
#define DRVCFG_VALUE_MAX 512u

/* Applies text[0..len) to cfg's config values (pointing into text, which
 * must outlive cfg's use). NULL, or why not (in why; cfg unchanged). A
 * summary "KEY VALUE, ..." of what it set goes to summary (may be cut). */
const char *drvcfg_apply(struct proto_domain_config *cfg, const char *text, size_t len, char *why,
                         size_t why_cap, char *summary, size_t summary_cap);

#endif
