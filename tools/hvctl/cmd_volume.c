/* hvctl volume (docs/blkback.md#volumes-from-hvctl): the volumes of the disk
 * blkback owns, through the control domain, which relays each request to
 * blkback over its bus. */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

#define VOLUME_NAME_MAX 32u
/* Creating or growing zeroes the new space first: wait at least this long
 * (the control domain waits up to 120 s for blkback). */
#define VOLUME_SLOW_TIMEOUT_MS 130000u

static struct proto_msg g_req; /* large: static */

static void print_volume(struct cli *c, const struct proto_volume_info *v)
{
    char n[80];
    hvctl_str_printable(n, sizeof n, v->name);
    fprintf(c->out, "%-32s %10" PRIu64 " MiB %6" PRIu64 " %7" PRIu64 "\n", n, v->size_bytes >> 20,
            v->id, v->extents);
}

static void print_header(struct cli *c)
{
    fprintf(c->out, "%-32s %14s %6s %7s\n", "VOLUME", "SIZE", "ID", "EXTENTS");
}

static int run_volume(struct cli *c, const struct cli_args *a)
{
    static const struct {
        const char *verb;
        int args; /* positional arguments after the verb */
        enum proto_msg_type req, reply;
    } verbs[] = {
        {"create", 2, PROTO_MSG_VOLUME_CREATE_REQUEST, PROTO_MSG_VOLUME_INFO_REPLY},
        {"grow", 2, PROTO_MSG_VOLUME_GROW_REQUEST, PROTO_MSG_VOLUME_INFO_REPLY},
        {"delete", 1, PROTO_MSG_VOLUME_DELETE_REQUEST, PROTO_MSG_OK_REPLY},
        {"info", 1, PROTO_MSG_VOLUME_INFO_REQUEST, PROTO_MSG_VOLUME_INFO_REPLY},
        {"list", 0, PROTO_MSG_VOLUME_LIST_REQUEST, PROTO_MSG_VOLUME_LIST_REPLY},
    };
    uint32_t k = 0;
    while (k < sizeof verbs / sizeof verbs[0] && strcmp(verbs[k].verb, a->pos[0]) != 0)
        k++;
    if (k == sizeof verbs / sizeof verbs[0])
        return cli_error(c, HVCTL_EXIT_USAGE,
                         "expected create, grow, delete, info or list, got \"%s\"", a->pos[0]);
    if (a->pos_count != verbs[k].args + 1)
        return cli_error(c, HVCTL_EXIT_USAGE, "volume %s takes %s", verbs[k].verb,
                         verbs[k].args == 2   ? "NAME SIZE"
                         : verbs[k].args == 1 ? "NAME"
                                              : "no further arguments");
    const char *name = verbs[k].args ? a->pos[1] : NULL;
    if (name && (strlen(name) == 0 || strlen(name) > VOLUME_NAME_MAX))
        return cli_error(c, HVCTL_EXIT_USAGE, "a volume name is 1..%u bytes", VOLUME_NAME_MAX);
    uint64_t size = 0;
    if (verbs[k].args == 2 && (!cli_parse_size(a->pos[2], &size) || size == 0))
        return cli_error(c, HVCTL_EXIT_USAGE,
                         "SIZE: expected bytes or a size with a unit (64M, 1G), got \"%s\"",
                         a->pos[2]);
    struct cli_session s;
    int rc = cli_session_open(c, &s);
    if (rc)
        return rc;
    memset(&g_req, 0, sizeof g_req);
    g_req.type = verbs[k].req;
    uint64_t id = hvctl_next_id(&s.conn);
    struct hvcbor_str tok = cli_session_token(&s),
                      nm = name ? cli_str(name) : (struct hvcbor_str){0};
    switch (verbs[k].req) {
    case PROTO_MSG_VOLUME_CREATE_REQUEST:
        g_req.u.volume_create_request = (struct proto_volume_create_request){id, tok, nm, size};
        break;
    case PROTO_MSG_VOLUME_GROW_REQUEST:
        g_req.u.volume_grow_request = (struct proto_volume_grow_request){id, tok, nm, size};
        break;
    case PROTO_MSG_VOLUME_DELETE_REQUEST:
        g_req.u.volume_delete_request = (struct proto_volume_delete_request){id, tok, nm};
        break;
    case PROTO_MSG_VOLUME_INFO_REQUEST:
        g_req.u.volume_info_request = (struct proto_volume_info_request){id, tok, nm};
        break;
    default: g_req.u.volume_list_request = (struct proto_volume_list_request){id, tok}; break;
    }
    uint32_t keep = c->timeout_ms;
    if (verbs[k].args == 2 && c->timeout_ms < VOLUME_SLOW_TIMEOUT_MS)
        c->timeout_ms = VOLUME_SLOW_TIMEOUT_MS;
    const struct proto_msg *r;
    rc = cli_call(c, &s, &g_req, verbs[k].reply, &r);
    c->timeout_ms = keep;
    if (!rc && c->json) {
        cli_print_json(c, &s.conn);
    } else if (!rc && verbs[k].reply == PROTO_MSG_VOLUME_LIST_REPLY) {
        const struct proto_volume_list_reply *l = &r->u.volume_list_reply;
        print_header(c);
        for (uint32_t i = 0; i < l->volumes.count; i++)
            print_volume(c, &l->volumes.items[i]);
        fprintf(c->out, "disk %" PRIu64 " MiB, %" PRIu64 " MiB free, table sequence %" PRIu64 "\n",
                l->disk_bytes >> 20, l->free_bytes >> 20, l->table_seq);
    } else if (!rc && verbs[k].reply == PROTO_MSG_VOLUME_INFO_REPLY) {
        if (verbs[k].req != PROTO_MSG_VOLUME_INFO_REQUEST)
            fprintf(c->out, "%s volume %s\n",
                    verbs[k].req == PROTO_MSG_VOLUME_CREATE_REQUEST ? "created" : "grew", name);
        print_header(c);
        print_volume(c, &r->u.volume_info_reply.volume);
    } else if (!rc) {
        fprintf(c->out, "deleted volume %s\n", name);
    }
    hvctl_close(&s.conn);
    return rc;
}

int cli_check_disks(struct cli *c, struct hvctl_conn *conn, struct hvcbor_str tok,
                    const struct manifest *m)
{
    if (m->disks_count == 0)
        return 0;
    memset(&g_req, 0, sizeof g_req);
    g_req.type = PROTO_MSG_VOLUME_LIST_REQUEST;
    g_req.u.volume_list_request = (struct proto_volume_list_request){hvctl_next_id(conn), tok};
    const struct proto_msg *r;
    struct hvctl_error e;
    enum hvctl_status st =
        hvctl_call(conn, &g_req, PROTO_MSG_VOLUME_LIST_REPLY, c->timeout_ms, &r, &e);
    if (st != HVCTL_OK)
        return cli_error(c, st == HVCTL_ERR_SERVER ? HVCTL_EXIT_SERVER : cli_exit_for(st),
                         "%s: disks: cannot list blkback's volumes: %s", m->file, e.message);
    const struct proto_volume_list_reply *l = &r->u.volume_list_reply;
    static struct manifest_diags d;
    memset(&d, 0, sizeof d);
    for (uint32_t i = 0; i < m->disks_count; i++) {
        const struct manifest_disk *k = &m->disks[i];
        const struct proto_volume_info *v = NULL;
        for (uint32_t j = 0; j < l->volumes.count && !v; j++)
            if (l->volumes.items[j].name.len == strlen(k->volume) &&
                !memcmp(l->volumes.items[j].name.ptr, k->volume, strlen(k->volume)))
                v = &l->volumes.items[j];
        char path[32], a[32], b[32];
        snprintf(path, sizeof path, "disks[%u]", i);
        if (!v) {
            manifest_diag_add(&d, m->file, k->line, k->column, path,
                              "volume %s does not exist on blkback's disk "
                              "(hvctl volume create %s SIZE)",
                              k->volume, k->volume);
        } else if (v->size_bytes < k->size_bytes) {
            manifest_format_size(a, sizeof a, v->size_bytes);
            manifest_format_size(b, sizeof b, k->size_bytes);
            manifest_diag_add(&d, m->file, k->line, k->column, path,
                              "volume %s is %s, smaller than size: %s (hvctl volume grow)",
                              k->volume, a, b);
        }
    }
    if (d.count == 0)
        return 0;
    cli_print_diags(c, &d);
    return HVCTL_EXIT_MANIFEST;
}

const struct cli_command cli_cmd_volume = {
    .name = "volume",
    .usage = "create NAME SIZE | grow NAME SIZE | delete NAME | info NAME | list [--json]",
    .summary = "Create, grow, delete and show the volumes of the disk blkback owns.",
    .details =
        "Volumes live in blkback's volume table on the machine's disk and survive a reboot of\n"
        "the machine. Sizes are rounded up to 1 MiB; new space reads as zeros (creating and\n"
        "growing write them first, so a large volume takes a while). A volume only grows.\n"
        "delete is refused while a domain has the volume attached. Needs blkback running\n"
        "(a machine with a disk).\n",
    .min_pos = 1,
    .max_pos = 3,
    .run = run_volume};
