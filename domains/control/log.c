/* The bounded request log (see log.h). */
#include "log.h"

#include <string.h>

#include "gk/gk.h"

struct entry {
    uint64_t seq, time_ns;
    bool ok;
    enum proto_error_code error;
    char actor[CTL_LOG_NAME_MAX + 1], action[CTL_LOG_NAME_MAX + 1], target[CTL_LOG_NAME_MAX + 1];
    char detail[CTL_LOG_DETAIL_MAX + 1];
};

static struct entry ring[CTL_LOG_ENTRIES];
static uint64_t next_seq = 1; /* entries [next_seq - kept, next_seq) are in ring */

/* Copies s into dst (cap bytes with the NUL), replacing control bytes and
 * never cutting a UTF-8 sequence. */
static void copy_clean(char *dst, size_t cap, const char *s)
{
    size_t n = 0;
    if (s) {
        while (s[n] && n + 1 < cap)
            n++;
        /* Back off to a character boundary. */
        if (s[n]) {
            while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
                n--;
        }
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        dst[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    dst[n] = 0;
}

uint64_t ctl_log_add(const char *actor, const char *action, const char *target, bool ok,
                     enum proto_error_code error, const char *detail)
{
    struct entry *e = &ring[next_seq % CTL_LOG_ENTRIES];
    e->seq = next_seq++;
    e->time_ns = gk_now_ns();
    e->ok = ok;
    e->error = ok ? 0 : error;
    copy_clean(e->actor, sizeof e->actor, actor);
    copy_clean(e->action, sizeof e->action, action && *action ? action : "?");
    copy_clean(e->target, sizeof e->target, target);
    copy_clean(e->detail, sizeof e->detail, detail);
    const char *why = proto_error_code_name(error);
    gk_printf("control: log %llu: %s %s %s: %s%s\n", (unsigned long long)e->seq, e->actor,
              e->action, e->target, ok ? "ok" : "FAILED ",
              ok    ? ""
              : why ? why
                    : "?");
    if (*e->detail)
        gk_printf("control: log %llu: detail: %s\n", (unsigned long long)e->seq, e->detail);
    return e->seq;
}

uint64_t ctl_log_next_seq(void)
{
    return next_seq;
}

static struct hvcbor_str str_of(const char *s)
{
    return (struct hvcbor_str){(const uint8_t *)s, (uint32_t)strlen(s)};
}

void ctl_log_query(uint64_t since_seq, uint32_t max, struct proto_log_entries *out)
{
    uint64_t oldest = next_seq > CTL_LOG_ENTRIES ? next_seq - CTL_LOG_ENTRIES : 1;
    if (since_seq < oldest)
        since_seq = oldest;
    if (max > 64)
        max = 64;
    out->entries.count = 0;
    uint64_t s = since_seq;
    for (; s < next_seq && out->entries.count < max; s++) {
        const struct entry *e = &ring[s % CTL_LOG_ENTRIES];
        struct proto_log_entry *o = &out->entries.items[out->entries.count++];
        *o = (struct proto_log_entry){
            .seq = e->seq,
            .time_ns = e->time_ns,
            .actor = str_of(e->actor),
            .action = str_of(*e->action ? e->action : "?"),
            .target = str_of(e->target),
            .ok = e->ok,
            .has_error = !e->ok && proto_error_code_valid(e->error),
            .error = e->error,
            .has_detail = e->detail[0] != 0,
            .detail = str_of(e->detail),
        };
    }
    out->next_seq = s > since_seq ? s : since_seq;
}
