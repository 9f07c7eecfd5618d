/*
 * Console rings: every domain has an output ring (what it writes with
 * HC_CONSOLE_WRITE) and an input ring, in hypervisor memory. The holder of
 * the domain's console capability reads the output and writes the input
 * (HC_CONSOLE_OP); events go both ways as HV_VIRQ_CONSOLE. The
 * hypervisor's own log, with each domain's lines, still goes to COM1.
 * ABI: proto/include/hv/domctl.h.
 */
#include <string.h>

#include "arch.h"
#include "domain.h"
#include "objects.h"
#include "console.h"
#include "hypercall.h"
#include "log.h"

static uint64_t ring_used(const struct console_ring *r)
{
    return r->head - r->tail;
}

/* Appends n bytes; the oldest unread bytes make room (drop_oldest) or the
 * tail of buf is refused. Returns the bytes taken. */
static size_t ring_put(struct console_ring *r, const char *buf, size_t n, bool drop_oldest)
{
    if (!drop_oldest && n > HV_CONSOLE_RING_SIZE - ring_used(r))
        n = (size_t)(HV_CONSOLE_RING_SIZE - ring_used(r));
    for (size_t i = 0; i < n; i++) {
        if (ring_used(r) == HV_CONSOLE_RING_SIZE) {
            r->tail++;
            r->dropped++;
        }
        r->buf[r->head++ % HV_CONSOLE_RING_SIZE] = buf[i];
    }
    return n;
}

static size_t ring_get(struct console_ring *r, char *buf, size_t n)
{
    if (n > ring_used(r))
        n = (size_t)ring_used(r);
    for (size_t i = 0; i < n; i++)
        buf[i] = r->buf[r->tail++ % HV_CONSOLE_RING_SIZE];
    return n;
}

void console_output(struct domain *d, const char *buf, size_t n)
{
    if (n == 0 || d->uid == 0)
        return;
    ring_put(&d->con.out, buf, n, true);
    struct domain *w = domain_by_uid(d->con.watcher_uid);
    if (w)
        evtchn_raise_virq(&w->ev, HV_VIRQ_CONSOLE, 0);
}

static int64_t console_op(struct domain *d, struct hypercall *c, void *rec)
{
    static char bounce[HV_CONSOLE_RING_SIZE];
    uint64_t cmd = c->arg[0];
    struct hv_console_args a = *(struct hv_console_args *)rec;
    if (a.reserved != 0)
        return HV_EINVAL;

    struct domain *t;
    if (cmd == HV_CONSOLE_READ_INPUT) {
        if (a.con_slot != HV_CAP_SLOT_SELF)
            return HV_EINVAL;
        t = d;
    } else {
        uint32_t right = cmd == HV_CONSOLE_WRITE ? HV_CAP_R_CON_WRITE : HV_CAP_R_CON_READ;
        struct cap *cap;
        enum hv_status st = cap_lookup(&d->caps, a.con_slot, HV_CAP_CONSOLE, right, &cap);
        if (st != HV_OK)
            return st;
        t = container_of(cap->obj, struct domain, console_obj);
    }
    uint64_t len = a.len < HV_CONSOLE_RING_SIZE ? a.len : HV_CONSOLE_RING_SIZE;

    switch (cmd) {
    case HV_CONSOLE_WATCH:
        if (a.buf != 0 || a.len != 0)
            return HV_EINVAL;
        t->con.watcher_uid = d->uid;
        return HV_OK;
    case HV_CONSOLE_WRITE: {
        if (arch_copy_from_guest(bounce, gva(a.buf), len) != HV_OK)
            return HV_EFAULT;
        size_t n = ring_put(&t->con.in, bounce, len, false);
        if (n)
            evtchn_raise_virq(&t->ev, HV_VIRQ_CONSOLE, 0);
        return (int64_t)n;
    }
    default: { /* READ, READ_INPUT: nothing is consumed if buf is bad */
        struct console_ring *r = cmd == HV_CONSOLE_READ ? &t->con.out : &t->con.in;
        uint64_t tail = r->tail;
        size_t n = ring_get(r, bounce, len);
        if (arch_copy_to_guest(gva(a.buf), bounce, n) != HV_OK) {
            r->tail = tail;
            return HV_EFAULT;
        }
        return (int64_t)n;
    }
    }
}

static const struct hc_cmd console_cmds[] = {
    [HV_CONSOLE_READ] = HC_REC(console_op, struct hv_console_args, 0),
    [HV_CONSOLE_WRITE] = HC_REC(console_op, struct hv_console_args, 0),
    [HV_CONSOLE_READ_INPUT] = HC_REC(console_op, struct hv_console_args, 0),
    [HV_CONSOLE_WATCH] = HC_REC(console_op, struct hv_console_args, 0),
};

int64_t hc_console_op(struct domain *d, struct hypercall *c)
{
    return hypercall_cmd(d, c, console_cmds, ARRAY_SIZE(console_cmds));
}
