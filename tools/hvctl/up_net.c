/* hvctl up --net (see up_net.h). */
#include "up_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FWD_MAX 16

static bool addr_ok(const char *s, bool with_prefix)
{
    char a[32];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof a || (slash != NULL) != with_prefix)
        return false;
    memcpy(a, s, n);
    a[n] = 0;
    struct in_addr in;
    if (inet_pton(AF_INET, a, &in) != 1 || in.s_addr == 0)
        return false;
    if (!slash)
        return true;
    char *end;
    errno = 0;
    long len = strtol(slash + 1, &end, 10);
    return end != slash + 1 && *end == 0 && errno == 0 && len >= 1 && len <= 32;
}

bool up_net_parse(const char *spec, struct up_net *n, char *why, size_t why_cap)
{
    memset(n, 0, sizeof *n);
    snprintf(n->address, sizeof n->address, "%s", UP_NET_DEFAULT_ADDRESS);
    if (spec == NULL || strcmp(spec, "none") == 0)
        return true;
    char buf[512];
    if (strlen(spec) >= sizeof buf) {
        snprintf(why, why_cap, "--net: too long");
        return false;
    }
    snprintf(buf, sizeof buf, "%s", spec);
    char *save = NULL, *kind = strtok_r(buf, ",", &save);
    char ifname[32] = "";
    unsigned long fwd[FWD_MAX];
    int nfwd = 0;
    bool user = false;
    if (kind && strncmp(kind, "tap:", 4) == 0) {
        const char *ifn = kind + 4;
        if (!*ifn || strlen(ifn) >= 16 ||
            strspn(ifn, "abcdefghijklmnopqrstuvwxyz"
                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != strlen(ifn)) {
            snprintf(why, why_cap, "--net tap:IFNAME: \"%s\" is not an interface name", ifn);
            return false;
        }
        snprintf(ifname, sizeof ifname, "%s", ifn);
    } else if (kind && strcmp(kind, "user") == 0) {
        user = true;
    } else {
        snprintf(why, why_cap, "--net: expected none, tap:IFNAME or user, got \"%s\"",
                 kind ? kind : "");
        return false;
    }
    for (char *p = strtok_r(NULL, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (strncmp(p, "address=", 8) == 0 && addr_ok(p + 8, true)) {
            snprintf(n->address, sizeof n->address, "%s", p + 8);
        } else if (strncmp(p, "gateway=", 8) == 0 && addr_ok(p + 8, false)) {
            snprintf(n->gateway, sizeof n->gateway, "%s", p + 8);
        } else if (user && strncmp(p, "fwd=", 4) == 0 && nfwd < FWD_MAX) {
            char *end;
            errno = 0;
            unsigned long port = strtoul(p + 4, &end, 10);
            if (end == p + 4 || *end || errno || port == 0 || port > 65535) {
                snprintf(why, why_cap, "--net: fwd=PORT: \"%s\" is not a port", p + 4);
                return false;
            }
            fwd[nfwd++] = port;
        } else {
            snprintf(why, why_cap,
                     "--net: \"%s\" is not address=A.B.C.D/LEN, gateway=A.B.C.D%s "
                     "(at most %d)",
                     p, user ? " or fwd=PORT" : "", FWD_MAX);
            return false;
        }
    }
    n->on = true;
    snprintf(n->device, sizeof n->device,
             "virtio-net-pci,netdev=n0,disable-legacy=on,iommu_platform=on,mac=52:54:00:12:34:56");
    snprintf(n->fwcfg, sizeof n->fwcfg, "name=" UP_NET_FWCFG_NAME ",file=" UP_NET_FILE);
    if (!user) {
        snprintf(n->netdev, sizeof n->netdev, "tap,id=n0,ifname=%s,script=no,downscript=no",
                 ifname);
        return true;
    }
    /* QEMU's own network: the external address's /24-or-larger subnet is
     * the guest side, 127.0.0.1 forwards to the external address. */
    char a[32];
    snprintf(a, sizeof a, "%s", n->address);
    *strchr(a, '/') = 0;
    size_t len =
        (size_t)snprintf(n->netdev, sizeof n->netdev, "user,id=n0,restrict=on,net=%s", n->address);
    for (int i = 0; i < nfwd && len < sizeof n->netdev; i++)
        len += (size_t)snprintf(n->netdev + len, sizeof n->netdev - len,
                                ",hostfwd=tcp:127.0.0.1:%lu-%s:%lu", fwd[i], a, fwd[i]);
    return true;
}

bool up_net_write(const struct up_net *n, const char *run_dir, char *why, size_t why_cap)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/" UP_NET_FILE, run_dir);
    FILE *f = fopen(path, "w");
    if (!f ||
        fprintf(f, "address=%s\n%s%s%s", n->address, n->gateway[0] ? "gateway=" : "", n->gateway,
                n->gateway[0] ? "\n" : "") < 0 ||
        fclose(f) != 0) {
        snprintf(why, why_cap, "cannot write %s: %s", path, strerror(errno));
        return false;
    }
    return true;
}
