/*
 * The control domain (root): serves the control protocol on COM2
 * (docs/control.md). Start of day: memory management and the heap, events,
 * the admin token from fw_cfg, the boot modules as images, COM2; then one
 * event loop that serves requests, reads consoles and supervises domains.
 *
 * Modules: uart.c (COM2), transport.c (frames), dispatch.c (requests),
 * registry.c (domains), bus.c, bus_conn.c and services.c (every domain's
 * bus, services, introductions), consoles.c, images.c, tokens.c, fwcfg.c,
 * log.c, bootcfg.c (the driver modules and the boot configuration module),
 * drvcfg.c (a driver's values from the host), netstart.c (netback's lease
 * questions).
 * One VCPU; event handlers only set flags, all work is done in the loop.
 */
#include "bootcfg.h"
#include "bus.h"
#include "dispatch.h"
#include "fwcfg.h"
#include "gk/gk.h"
#include "gk/heap.h"
#include "gk/mm.h"
#include "hvlib/hex.h"
#include "images.h"
#include "log.h"
#include "registry.h"
#include "devices.h"
#include "tokens.h"
#include "transport.h"

#define SLOT_FWCFG 12u
/* The safety-net poll: COM2, consoles and domain states are looked at at
 * least this often even if no event arrives. */
#define POLL_NS (20ull * GK_NS_PER_MS)
#define HEAP_VA GK_HEAP_FRAMES_VA_DEFAULT
#define HEAP_MAX_BYTES (1ull << 30)

static volatile bool wake;

static void wake_up(void)
{
    wake = true;
}

static void on_timer(uint32_t port, void *arg)
{
    (void)port;
    (void)arg;
    wake = true;
}

static void read_admin_token(void)
{
    static char hex[160];
    int64_t n = fwcfg_read_file(SLOT_FWCFG, "opt/hv/admin-token", hex, sizeof hex);
    uint8_t secret[TOKEN_SECRET_BYTES];
    uint32_t len = 0;
    if (n > 0 && n <= (int64_t)sizeof hex)
        len = (uint32_t)hv_hex_decode(hex, (size_t)n, secret, sizeof secret, NULL);
    if (len == 0) {
        gk_printf("control: no admin token (fw_cfg file opt/hv/admin-token %s): every request "
                  "will be refused\n",
                  n == -1   ? "unavailable: no fw_cfg"
                  : n == -2 ? "absent"
                            : "malformed");
        token_init_admin(secret, 0);
        return;
    }
    token_init_admin(secret, len);
    gk_printf("control: admin token read from fw_cfg (%u bytes)\n", len);
}

int main(const struct hv_start_info *si)
{
    gk_printf("control: root domain up: %llu MiB, %u boot modules\n",
              (unsigned long long)(si->pages_count >> 8), si->modules_count);
    int64_t rc = gk_mm_init(si);
    if (rc != HV_OK)
        gk_panic("control: gk_mm_init failed (%lld)", (long long)rc);
    if (!gk_heap_global_grow_from_frames(HEAP_VA, HEAP_MAX_BYTES))
        gk_panic("control: the heap cannot grow");
    gk_events_init();

    uint32_t timer_port = 0;
    if (gk_evtchn_bind_virq(HV_VIRQ_TIMER, 0, &timer_port) != HV_OK)
        gk_panic("control: cannot bind the timer VIRQ");
    gk_evtchn_bind_handler(timer_port, on_timer, NULL);
    gk_evtchn_unmask(timer_port);
    /* Console output of the domains we watch wakes the loop too (the
     * default handler of guest-kit only consumes the event). */
    gk_console_virq_port();

    read_admin_token();
    images_init(si);
    for (uint32_t i = 0; i < si->modules_count; i++)
        gk_printf("control: boot module %u \"%s\" (%llu bytes) can be named as a kernel\n", i,
                  si->modules[i].name, (unsigned long long)si->modules[i].size_bytes);
    registry_init(wake_up);
    devices_init();
    bus_init(wake_up, dispatch_answer_later);
    const char *why = transport_init(dispatch_frame);
    if (why)
        gk_panic("control: COM2: %s", why);
    ctl_log_add("control", "start", CONTROL_NAME, true, 0, "serving the control protocol on COM2");
    bootcfg_apply(si, SLOT_FWCFG); /* driver domains (blkback, netback), then the rest */
    gk_printf("control: ready: serving the control protocol on COM2\n");

    for (;;) {
        transport_poll();
        registry_poll();
        bus_poll();
        dispatch_poll();
        gk_events_disable();
        if (!wake && !transport_irq_pending) {
            gk_timer_set(gk_now_ns() + POLL_NS);
            gk_block(); /* returns with events enabled, handlers run */
        } else {
            gk_events_enable();
        }
        wake = false;
    }
}
