/*
 * The client of the fileserver example (docs/bus.md, "Declared channels"):
 * its manifest declares the channel and names what to fetch:
 *
 *   channels:
 *     - {name: files, peer: fileserver, size: 1MiB}
 *   config:
 *     fetch: "readme,data"      # NAME (stream) or NAME:m (as messages)
 *
 * The control domain sets the channel up once both domains are connected;
 * the client waits for it, fetches each file, checks the server's checksum
 * against its own, prints "fileclient: NAME: SIZE bytes, checksum ... ok"
 * and "fileclient: done", and powers off.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fileserver/files.h"
#include "gk/bus.h"
#include "gk/gk.h"

static uint8_t buf[FILES_MSG_MAX];

static bool ask(struct gk_conn *c, const char *text)
{
    return gk_conn_send(c, text, (uint32_t)strlen(text), GK_BUS_FOREVER) == GK_CHAN_OK;
}

static bool answer(struct gk_conn *c, char *out, uint32_t cap)
{
    uint32_t len = 0;
    if (gk_conn_recv(c, out, cap - 1, &len, GK_BUS_FOREVER) != GK_CHAN_OK)
        return false;
    out[len] = 0;
    return true;
}

static bool fetch(struct gk_conn *c, const char *name, bool messages)
{
    char line[96];
    snprintf(line, sizeof line, "%s %s", messages ? "GETM" : "GET", name);
    if (!ask(c, line) || !answer(c, line, sizeof line))
        return false;
    if (strncmp(line, "OK ", 3)) {
        gk_printf("fileclient: %s: %s\n", name, line);
        return false;
    }
    uint64_t size = strtoull(line + 3, NULL, 10), got = 0;
    struct files_sum sum = {0};
    uint64_t t0 = gk_now_ns();
    while (got < size) {
        uint32_t n = 0;
        enum gk_chan_status st = messages
                                     ? gk_conn_recv(c, buf, sizeof buf, &n, GK_BUS_FOREVER)
                                     : gk_conn_read(c, buf,
                                                    size - got < sizeof buf ? (uint32_t)(size - got)
                                                                            : (uint32_t)sizeof buf,
                                                    &n, GK_BUS_FOREVER);
        if (st != GK_CHAN_OK)
            return false;
        files_sum_add(&sum, buf, n);
        got += n;
    }
    uint64_t ns = gk_now_ns() - t0;
    if (!answer(c, line, sizeof line) || strncmp(line, "SUM ", 4))
        return false;
    uint64_t theirs = strtoull(line + 4, NULL, 16), ours = files_sum_value(&sum);
    gk_printf("fileclient: %s: %llu bytes as %s, checksum %016llx %s (%llu ms)\n", name,
              (unsigned long long)got, messages ? "messages" : "a stream", (unsigned long long)ours,
              ours == theirs ? "ok" : "MISMATCH", (unsigned long long)(ns / 1000000));
    return ours == theirs;
}

int main(const struct hv_start_info *si)
{
    (void)si;
    static char list[256];
    if (gk_config_get("fetch", list, sizeof list) != 1) {
        gk_printf("fileclient: no `fetch` in my config\n");
        return 1;
    }
    struct gk_conn *c = gk_conn_wait(FILES_CHANNEL, gk_now_ns() + 60ull * GK_NS_PER_SEC);
    if (!c) {
        gk_printf("fileclient: no channel \"%s\" after 60 s\n", FILES_CHANNEL);
        return 1;
    }
    gk_printf("fileclient: connected to %s (messages up to %u bytes)\n", gk_conn_peer(c),
              gk_conn_max_msg(c));
    bool ok = true;
    for (char *p = list; *p && ok;) {
        char *end = strchr(p, ',');
        if (end)
            *end = 0;
        size_t n = strlen(p);
        bool messages = n > 2 && !strcmp(p + n - 2, ":m");
        if (messages)
            p[n - 2] = 0;
        ok = fetch(c, p, messages);
        if (!end)
            break;
        p = end + 1;
    }
    ask(c, "BYE");
    gk_conn_close(c);
    gk_printf("fileclient: %s\n", ok ? "done" : "FAILED");
    return ok ? 0 : 1;
}
