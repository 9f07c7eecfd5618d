/* Console histories, attach/detach and streaming (see consoles.h). */
#include "consoles.h"

#include <string.h>

#include "gk/gk.h"
#include "transport.h"

#define DATA_CHUNK 4096u

static uint64_t next_stream = 1;
static uint64_t input_dropped;
static struct proto_msg out; /* large: static */
static char rd[DATA_CHUNK];

void con_watch(struct dom *d)
{
    int64_t rc = gk_console_watch(d->built.console_slot);
    if (rc != HV_OK)
        gk_printf("control: HV_CONSOLE_WATCH for %s failed (%lld): polling it\n", d->name,
                  (long long)rc);
}

static void send_data(const struct dom *d, const uint8_t *p, uint32_t n)
{
    out.type = PROTO_MSG_CONSOLE_DATA;
    out.u.console_data = (struct proto_console_data){
        .request_id = d->attach_request_id, .stream = d->stream, .data = {p, n}};
    transport_send(&out);
}

static void history_append(struct dom *d, const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        d->history[(d->history_total + i) % CON_HISTORY_BYTES] = p[i];
    d->history_total += n;
}

void con_pump(struct dom *d)
{
    if (!d->has_domain)
        return;
    for (int rounds = 0; rounds < 16; rounds++) {
        int64_t n = gk_console_read_output(d->built.console_slot, rd, sizeof rd);
        if (n <= 0)
            return;
        history_append(d, (const uint8_t *)rd, (uint32_t)n);
        if (d->attached)
            send_data(d, (const uint8_t *)rd, (uint32_t)n);
    }
}

const char *con_attach(struct dom *d, uint64_t request_id, bool force, enum proto_error_code *code)
{
    if (d->attached && !force) {
        *code = PROTO_ERROR_CODE_CONFLICT;
        return "another client is attached to this console";
    }
    con_pump(d); /* history first, so nothing is sent twice */
    if (d->attached)
        con_domain_gone(d, "another client took the console over (--force)");
    d->attached = true;
    d->stream = next_stream++;
    d->attach_request_id = request_id;
    uint64_t hist = d->history_total < CON_HISTORY_BYTES ? d->history_total : CON_HISTORY_BYTES;
    out.type = PROTO_MSG_CONSOLE_ATTACH_REPLY;
    out.u.console_attach_reply = (struct proto_console_attach_reply){
        .request_id = request_id, .stream = d->stream, .history_bytes = hist};
    transport_send(&out);
    /* Replay, oldest byte first, in chunks that do not wrap. */
    uint64_t pos = d->history_total - hist;
    while (pos < d->history_total) {
        uint64_t at = pos % CON_HISTORY_BYTES;
        uint64_t n = d->history_total - pos;
        if (n > CON_HISTORY_BYTES - at)
            n = CON_HISTORY_BYTES - at;
        if (n > DATA_CHUNK)
            n = DATA_CHUNK;
        send_data(d, d->history + at, (uint32_t)n);
        pos += n;
    }
    return NULL;
}

static struct dom *by_stream(uint64_t stream)
{
    for (uint32_t i = 0; i < DOM_MAX; i++) {
        struct dom *d = registry_at(i);
        if (d && d->attached && d->stream == stream)
            return d;
    }
    return NULL;
}

const char *con_input(uint64_t stream, struct hvcbor_str data, enum proto_error_code *code)
{
    struct dom *d = by_stream(stream);
    if (!d) {
        *code = PROTO_ERROR_CODE_NOT_FOUND;
        return "no attached console stream with that id";
    }
    if (!d->has_domain) {
        *code = PROTO_ERROR_CODE_WRONG_STATE;
        return "the domain is not running";
    }
    int64_t n =
        data.len ? gk_console_write_input(d->built.console_slot, (const char *)data.ptr, data.len)
                 : 0;
    if (n < (int64_t)data.len)
        input_dropped += data.len - (uint64_t)(n > 0 ? n : 0);
    return NULL;
}

const char *con_detach(uint64_t stream, enum proto_error_code *code)
{
    struct dom *d = by_stream(stream);
    if (!d) {
        *code = PROTO_ERROR_CODE_NOT_FOUND;
        return "no attached console stream with that id";
    }
    d->attached = false;
    return NULL;
}

void con_domain_gone(struct dom *d, const char *reason)
{
    if (!d->attached)
        return;
    out.type = PROTO_MSG_CONSOLE_DETACH;
    out.u.console_detach = (struct proto_console_detach){
        .request_id = d->attach_request_id,
        .stream = d->stream,
        .has_reason = true,
        .reason = {(const uint8_t *)reason, (uint32_t)strlen(reason)}};
    transport_send(&out);
    d->attached = false;
}

void con_session_end(void)
{
    for (uint32_t i = 0; i < DOM_MAX; i++) {
        struct dom *d = registry_at(i);
        if (d)
            d->attached = false;
    }
}

uint64_t con_input_dropped(void)
{
    return input_dropped;
}
