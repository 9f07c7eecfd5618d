/*
 * The control domain's log: every request (who: the token's label; what:
 * the message name; the target; the result) and everything the control
 * domain did on its own (policies applied, domains that stopped). Bounded:
 * the newest CTL_LOG_ENTRIES entries are kept; sequence numbers never
 * repeat. Each entry is also printed on the control domain's console (and
 * so on COM1).
 */
#ifndef CONTROL_LOG_H
#define CONTROL_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include <hv/proto_msgs.h>

#define CTL_LOG_ENTRIES 512u
#define CTL_LOG_NAME_MAX 64u
#define CTL_LOG_DETAIL_MAX 256u

/* Appends an entry. error is used only when !ok; detail may be NULL.
 * Strings are truncated to the catalog's bounds (at a UTF-8 boundary) and
 * control characters replaced. Returns its sequence number. */
uint64_t ctl_log_add(const char *actor, const char *action, const char *target, bool ok,
                     enum proto_error_code error, const char *detail);

/* Fills out->entries with up to max entries from since_seq on (from the
 * oldest kept one if since_seq is older) and sets next_seq. */
void ctl_log_query(uint64_t since_seq, uint32_t max, struct proto_log_entries *out);

/* The sequence number the next entry will get. */
uint64_t ctl_log_next_seq(void);

#endif
