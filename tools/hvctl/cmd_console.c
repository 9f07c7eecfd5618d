/* hvctl console: an interactive, raw-terminal console session. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

#define DETACH_BYTE 0x1d /* Ctrl-] */

static struct proto_msg g_msg;

/* Sends console-detach and waits for its ok-reply (request id = the
 * attach's). QEMU drops what the control domain has not read yet when the
 * socket closes, so closing before the answer could lose the last
 * keystrokes. console-data that arrives meanwhile (same request id) is
 * still shown; a console-detach from the server also ends the wait. */
static int send_detach(struct cli *c, struct hvctl_conn *conn, uint64_t id, uint64_t stream)
{
    memset(&g_msg, 0, sizeof g_msg);
    g_msg.type = PROTO_MSG_CONSOLE_DETACH;
    g_msg.u.console_detach.request_id = id;
    g_msg.u.console_detach.stream = stream;
    struct hvctl_error e;
    enum hvctl_status s = hvctl_send(conn, &g_msg, c->timeout_ms, &e);
    if (s != HVCTL_OK)
        return cli_fail(c, s, &e);
    for (;;) {
        const struct proto_msg *r;
        s = hvctl_wait_reply(conn, id, c->timeout_ms, &r, &e);
        if (s == HVCTL_ERR_TIMEOUT)
            return cli_error(c, HVCTL_EXIT_TIMEOUT,
                             "the control domain did not confirm the detach within %u ms",
                             c->timeout_ms);
        if (s != HVCTL_OK)
            return cli_fail(c, s, &e);
        if (r->type == PROTO_MSG_OK_REPLY || r->type == PROTO_MSG_CONSOLE_DETACH)
            return 0;
        if (r->type == PROTO_MSG_CONSOLE_DATA && r->u.console_data.stream == stream) {
            fwrite(r->u.console_data.data.ptr, 1, r->u.console_data.data.len, c->out);
            fflush(c->out);
        }
    }
}

int cli_console_attach(struct cli *c, const char *domain, bool force)
{
    struct hvctl_token tok;
    struct hvctl_conn conn;
    int rc = cli_connect(c, &conn);
    if (rc)
        return rc;
    if ((rc = cli_token(c, &tok))) {
        hvctl_close(&conn);
        return rc;
    }
    memset(&g_msg, 0, sizeof g_msg);
    g_msg.type = PROTO_MSG_CONSOLE_ATTACH_REQUEST;
    struct proto_console_attach_request *q = &g_msg.u.console_attach_request;
    q->request_id = hvctl_next_id(&conn);
    q->token = (struct hvcbor_str){tok.bytes, tok.len};
    q->domain = cli_str(domain);
    q->force = force;
    uint64_t id = q->request_id;
    const struct proto_msg *r;
    struct hvctl_error e;
    enum hvctl_status st =
        hvctl_call(&conn, &g_msg, PROTO_MSG_CONSOLE_ATTACH_REPLY, c->timeout_ms, &r, &e);
    if (st != HVCTL_OK) {
        hvctl_close(&conn);
        if (st == HVCTL_ERR_SERVER && e.server_code == PROTO_ERROR_CODE_CONFLICT)
            return cli_error(c, HVCTL_EXIT_SERVER, "%s (use --force to take over)", e.message);
        return cli_fail(c, st, &e);
    }
    uint64_t stream = r->u.console_attach_reply.stream;
    int in_fd = c->in_fd;
    bool tty = isatty(in_fd);
    struct termios saved;
    if (tty) {
        tcgetattr(in_fd, &saved);
        struct termios raw = saved;
        cfmakeraw(&raw);
        tcsetattr(in_fd, TCSANOW, &raw);
    }
    fprintf(c->err, "[attached to %s; Ctrl-] detaches]\r\n", domain);
    fflush(c->out);
    bool stdin_open = true, server_ended = false;
    rc = 0;
    for (;;) {
        /* Drain what is buffered, then wait on both sides. */
        st = hvctl_recv(&conn, 0, &r, &e);
        if (st == HVCTL_ERR_TIMEOUT) {
            struct pollfd p[2] = {{.fd = conn.fd, .events = POLLIN},
                                  {.fd = in_fd, .events = POLLIN}};
            int n = poll(p, stdin_open ? 2 : 1, -1);
            if (n < 0 && errno != EINTR) {
                rc = cli_error(c, HVCTL_EXIT_LOCAL, "poll: %s", strerror(errno));
                break;
            }
            if (p[0].revents) {
                /* Server bytes first, so output that arrived before a
                 * detach keystroke is shown before detaching. */
                st = hvctl_recv(&conn, 50, &r, &e);
                if (st == HVCTL_ERR_TIMEOUT)
                    continue;
                goto got_message;
            }
            if (stdin_open && (p[1].revents & (POLLIN | POLLHUP))) {
                uint8_t buf[4096];
                ssize_t got = read(in_fd, buf, sizeof buf);
                if (got <= 0) {
                    stdin_open = false; /* input ended: detach */
                    rc = send_detach(c, &conn, id, stream);
                    break;
                }
                uint8_t *det = memchr(buf, DETACH_BYTE, (size_t)got);
                size_t len = det ? (size_t)(det - buf) : (size_t)got;
                if (len) {
                    memset(&g_msg, 0, sizeof g_msg);
                    g_msg.type = PROTO_MSG_CONSOLE_DATA;
                    g_msg.u.console_data =
                        (struct proto_console_data){id, stream, {buf, (uint32_t)len}};
                    st = hvctl_send(&conn, &g_msg, c->timeout_ms, &e);
                    if (st != HVCTL_OK) {
                        rc = cli_fail(c, st, &e);
                        break;
                    }
                }
                if (det) {
                    rc = send_detach(c, &conn, id, stream);
                    break;
                }
            }
            continue;
        }
    got_message:
        if (st != HVCTL_OK) {
            rc = cli_fail(c, st, &e);
            break;
        }
        if (proto_msg_request_id(r) != id)
            continue;
        if (r->type == PROTO_MSG_CONSOLE_DATA && r->u.console_data.stream == stream) {
            /* Raw bytes: the console is the domain's terminal, shown as is. */
            fwrite(r->u.console_data.data.ptr, 1, r->u.console_data.data.len, c->out);
            fflush(c->out);
        } else if (r->type == PROTO_MSG_CONSOLE_DETACH) {
            char reason[160] = "";
            if (r->u.console_detach.has_reason)
                hvctl_str_printable(reason, sizeof reason, r->u.console_detach.reason);
            fprintf(c->err, "\r\n[detached by the control domain%s%s]\n", *reason ? ": " : "",
                    reason);
            server_ended = true;
            break;
        } else if (r->type == PROTO_MSG_ERROR_REPLY) {
            char msg[600];
            hvctl_str_printable(msg, sizeof msg, r->u.error_reply.message);
            rc = cli_error(c, HVCTL_EXIT_SERVER, "the control domain ended the console: %s", msg);
            break;
        }
    }
    if (tty)
        tcsetattr(in_fd, TCSANOW, &saved);
    if (!rc && !server_ended)
        fprintf(c->err, "\r\n[detached from %s]\n", domain);
    hvctl_close(&conn);
    return rc;
}

static int run_console(struct cli *c, const struct cli_args *a)
{
    return cli_console_attach(c, a->pos[0], cli_flag(c, a, "force"));
}

const struct cli_command cli_cmd_console = {
    .name = "console",
    .usage = "DOMAIN [--force]",
    .summary = "Attach to a domain's console (history replayed first); Ctrl-] detaches.",
    .details = "The terminal is put in raw mode while attached. Only one writer at a time:\n"
               "--force takes the console over from the current one.\n",
    .opts = {{"force", 0, false, NULL, "take over from the current writer"}},
    .min_pos = 1,
    .max_pos = 1,
    .run = run_console};
