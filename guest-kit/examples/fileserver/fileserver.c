/*
 * A file-server-like domain (docs/bus.md, "Declared channels"): serves
 * synthetic files to every domain whose manifest declares a channel named
 * "files" to it. Its own manifest lists the files in its `config:`:
 *
 *   config:
 *     files: "readme:4096,data:8388608"
 *
 * Each client arrives as a connection (gk_conn_wait("files")); the server
 * answers its requests one at a time (files.h), serving clients in turn.
 * A connection that goes away (the client stopped or closed) is closed and
 * forgotten; the server runs until it is shut down.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "gk/bus.h"
#include "gk/gk.h"

#define FILES_MAX 16

static struct {
    char name[32];
    uint64_t size;
} files[FILES_MAX];
static unsigned files_count;
static uint8_t buf[FILES_MSG_MAX];

static void load_files(void)
{
    static char list[512];
    if (gk_config_get("files", list, sizeof list) != 1)
        return;
    for (char *p = list; *p && files_count < FILES_MAX;) {
        char *end = strchr(p, ',');
        if (end)
            *end = 0;
        char *colon = strchr(p, ':');
        if (colon && colon - p < 32) {
            memcpy(files[files_count].name, p, (size_t)(colon - p));
            files[files_count].name[colon - p] = 0;
            files[files_count].size = strtoull(colon + 1, NULL, 10);
            files_count++;
        }
        if (!end)
            break;
        p = end + 1;
    }
}

static int find(const char *name)
{
    for (unsigned i = 0; i < files_count; i++)
        if (!strcmp(files[i].name, name))
            return (int)i;
    return -1;
}

static bool say(struct gk_conn *c, const char *text)
{
    return gk_conn_send(c, text, (uint32_t)strlen(text), GK_BUS_FOREVER) == GK_CHAN_OK;
}

/* Sends file f as a stream (or as messages); false if the client went away. */
static bool send_file(struct gk_conn *c, int f, bool messages)
{
    char line[96];
    snprintf(line, sizeof line, "OK %llu", (unsigned long long)files[f].size);
    if (!say(c, line))
        return false;
    uint64_t seed = files_seed(files[f].name), left = files[f].size, off = 0;
    struct files_sum sum = {0};
    uint32_t chunk = messages && gk_conn_max_msg(c) < sizeof buf ? gk_conn_max_msg(c) : sizeof buf;
    chunk &= ~7u;
    while (left) {
        uint32_t n = left < chunk ? (uint32_t)left : chunk;
        files_fill(seed, off, buf, (n + 7u) & ~7u);
        files_sum_add(&sum, buf, n);
        enum gk_chan_status st = messages ? gk_conn_send(c, buf, n, GK_BUS_FOREVER)
                                          : gk_conn_write(c, buf, n, GK_BUS_FOREVER);
        if (st != GK_CHAN_OK)
            return false;
        left -= n;
        off += n;
    }
    snprintf(line, sizeof line, "SUM %016llx", (unsigned long long)files_sum_value(&sum));
    gk_printf("fileserver: sent %s (%llu bytes as %s) to %s, checksum %016llx\n", files[f].name,
              (unsigned long long)files[f].size, messages ? "messages" : "a stream",
              gk_conn_peer(c), (unsigned long long)files_sum_value(&sum));
    return say(c, line);
}

/* Serves one request of c; false once c is over. */
static bool serve(struct gk_conn *c)
{
    char req[80];
    uint32_t len = 0;
    if (gk_conn_recv(c, req, sizeof req - 1, &len, GK_BUS_FOREVER) != GK_CHAN_OK)
        return false;
    req[len] = 0;
    if (!strcmp(req, "BYE"))
        return false;
    bool messages = !strncmp(req, "GETM ", 5);
    if (strncmp(req, "GET ", 4) && !messages)
        return say(c, "ERR unknown request");
    int f = find(req + (messages ? 5 : 4));
    if (f < 0)
        return say(c, "ERR no such file");
    return send_file(c, f, messages);
}

int main(const struct hv_start_info *si)
{
    (void)si;
    load_files();
    gk_printf("fileserver: %u files, bus %lld; waiting for clients\n", files_count,
              (long long)gk_bus_status());
    for (;;) {
        struct gk_conn *c = gk_conn_wait(FILES_CHANNEL, GK_BUS_FOREVER);
        if (!c)
            continue;
        gk_printf("fileserver: %s connected\n", gk_conn_peer(c));
        while (serve(c))
            ;
        gk_printf("fileserver: %s done\n", gk_conn_peer(c));
        gk_conn_close(c);
    }
}
