/*
 * A fake control domain for libhvctl/hvctl tests: a thread that speaks the
 * framed protocol on one end of a socketpair, or accepts connections on a
 * temporary Unix socket, and answers from canned data. Each request type can
 * be given a misbehaviour (garbage, truncated frames, silence...).
 */
#ifndef HVCTL_FAKE_SERVER_H
#define HVCTL_FAKE_SERVER_H

#include <hv/abi.h>
#include <hv/proto_msgs.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

enum fake_action {
    FA_REPLY = 0,            /* the normal answer */
    FA_ERROR,                /* error-reply not-found with FAKE_ERROR_TEXT */
    FA_GARBAGE_THEN_REPLY,   /* random non-frame bytes, then the normal answer */
    FA_BAD_CBOR,             /* a valid frame whose payload is not a catalog message */
    FA_TRUNCATE_CLOSE,       /* half of the answer's frame, then close */
    FA_TRUNCATE_THEN_REPLY,  /* half a frame, pause, then the whole answer */
    FA_SPLIT_REPLY,          /* the answer in two writes with a pause between them */
    FA_SILENT,               /* no answer at all */
    FA_WRONG_ID_FIRST,       /* an answer with another request id, then the right one */
    FA_CONTROL_CHARS,        /* error-reply whose message holds an escape sequence */
    FA_OVERSIZED_THEN_REPLY, /* a valid header announcing 1 MiB, junk, then the answer */
    FA_HV_ERROR,             /* error-reply wrong-state with hv-status HV_EBUSY */
};

#define FAKE_CONSOLE_HISTORY "boot: hello\r\n"
#define FAKE_ERROR_TEXT "no domain named \"ghost\""
#define FAKE_HV_ERROR_TEXT "domain-pause web1: the hypervisor refused to pause it"
#define FAKE_MAX_TYPES 64

struct fake_server {
    int fd;        /* socketpair mode: the server's end */
    int listen_fd; /* socket mode: listening socket, -1 otherwise */
    char sock_path[108];
    pthread_t thread;
    enum fake_action action[FAKE_MAX_TYPES]; /* by request type */
    /* What the server saw (read after fake_server_stop). */
    uint32_t requests;
    uint32_t type_count[FAKE_MAX_TYPES];
    uint8_t last_req[65536]; /* the last request's CBOR bytes */
    uint32_t last_req_len;
    uint32_t last_req_type;
    uint8_t create_req[65536]; /* the last domain-create-request's CBOR */
    uint32_t create_req_len;
    uint8_t sched_req[4096];
    uint32_t sched_req_len;
    char console_in[4096]; /* bytes received as console-data */
    uint32_t console_in_len;
    bool console_detached;
};

/* Starts on a socketpair; *client_fd gets the other end. */
void fake_server_start_pair(struct fake_server *s, int *client_fd);
/* Starts on a Unix socket at dir/com2.sock, serving connections until stopped. */
void fake_server_start_socket(struct fake_server *s, const char *dir);
/* Waits for the thread (socketpair: after the client closed its end). */
void fake_server_stop(struct fake_server *s);

#endif
