/*
 * Manifests: every kind of mistake gives the right FILE:LINE:COLUMN: PATH:
 * MESSAGE; valid manifests give the right values and defaults; a manifest
 * compiles to a domain-create-request that proto's decoder reads back equal;
 * the shipped examples validate; duplicate names across a directory are
 * refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvctl/manifest.h"

static struct manifest g_m;
static struct manifest_diags g_d;

static bool parse(const char *yaml)
{
    memset(&g_d, 0, sizeof g_d);
    return manifest_parse("t.yaml", yaml, strlen(yaml), &g_m, &g_d);
}

/* A mistake: the YAML, and the one diagnostic it must produce. */
struct bad_case {
    const char *what;
    const char *yaml;
    uint32_t line, column;
    const char *path;
    const char *message;
};

#define HEAD "name: web1\nkernel: k.elf\n"
#define SIZE_HELP "bytes, or a whole number with a unit: K, M, G, KiB, MiB, GiB"
#define KNOWN                                                                                      \
    "unknown key (known keys: name, kernel, cmdline, memory, max_memory, vcpus, weight, cap, "     \
    "gang, "                                                                                       \
    "on_poweroff, on_reboot, on_crash, restart, net, disks, pci, config, offers, uses, channels)"

static const struct bad_case BAD[] = {
    {"unknown key", HEAD "memory: 16M\nmemroy: 16M\n", 4, 1, "memroy", KNOWN},
    {"wrong type (list for a size)", HEAD "memory: [1, 2]\n", 3, 9, "memory",
     "expected a size (" SIZE_HELP "), got a list"},
    {"bad unit", HEAD "memory: 16X\n", 3, 9, "memory",
     "unknown unit \"X\" in \"16X\" (use K, M, G, KiB, MiB, GiB, or plain bytes)"},
    {"lower-case unit", HEAD "memory: 16mb\n", 3, 9, "memory",
     "unknown unit \"mb\" in \"16mb\" (use K, M, G, KiB, MiB, GiB, or plain bytes)"},
    {"vcpus zero", HEAD "memory: 16M\nvcpus: 0\n", 4, 8, "vcpus", "0 is out of range 1..64"},
    {"vcpus too many", HEAD "memory: 16M\nvcpus: 65\n", 4, 8, "vcpus", "65 is out of range 1..64"},
    {"vcpus negative", HEAD "memory: 16M\nvcpus: -1\n", 4, 8, "vcpus", "-1 is out of range 1..64"},
    {"vcpus fractional", HEAD "memory: 16M\nvcpus: 1.5\n", 4, 8, "vcpus",
     "expected an integer, got \"1.5\""},
    {"vcpus quoted", HEAD "memory: 16M\nvcpus: \"2\"\n", 4, 8, "vcpus",
     "expected an integer, got the string \"2\" (remove the quotes)"},
    {"weight zero", HEAD "memory: 16M\nweight: 0\n", 4, 9, "weight", "0 is out of range 1..65535"},
    {"weight too big", HEAD "memory: 16M\nweight: 65536\n", 4, 9, "weight",
     "65536 is out of range 1..65535"},
    {"cap above 100 per vcpu", HEAD "memory: 16M\ncap: 201\nvcpus: 2\n", 4, 6, "cap",
     "201 is out of range 0..200"},
    {"duplicate key", HEAD "memory: 16M\nvcpus: 1\nmemory: 32M\n", 5, 1, "memory",
     "duplicate key (first at line 3, column 1)"},
    {"missing kernel", "name: web1\nmemory: 16M\n", 1, 1, "kernel", "required key is missing"},
    {"missing memory", "name: web1\nkernel: k\n", 1, 1, "memory", "required key is missing"},
    {"bad policy", HEAD "memory: 16M\non_crash: explode\n", 4, 11, "on_crash",
     "\"explode\" is not one of destroy, restart, preserve"},
    {"yes is not a boolean", HEAD "memory: 16M\ngang: yes\n", 4, 7, "gang",
     "expected true or false, got \"yes\""},
    {"max_memory below memory", HEAD "memory: 16M\nmax_memory: 8M\n", 4, 13, "max_memory",
     "8 MiB is below memory (16 MiB)"},
    {"memory not page-aligned", HEAD "memory: 1048577\n", 3, 9, "memory",
     "1048577 bytes is not a multiple of 4 KiB"},
    {"memory too small", HEAD "memory: 4K\n", 3, 9, "memory",
     "4 KiB is out of range 1 MiB..1024 GiB"},
    {"memory overflows", HEAD "memory: 99999999999999999999G\n", 3, 9, "memory",
     "\"99999999999999999999G\" does not fit in 64 bits"},
    {"fractional size", HEAD "memory: 1.5G\n", 3, 9, "memory",
     "\"1.5G\": fractional sizes are not supported (use a smaller unit)"},
    {"invalid name", "name: web 1\nkernel: k\nmemory: 16M\n", 1, 7, "name",
     "\"web 1\" is not a valid domain name (letters, digits, '-', '_', '.'; starting with a letter "
     "or digit)"},
    {"name too long",
     "name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nkernel: k\nmemory: "
     "16M\n",
     1, 7, "name", "65 bytes is out of range 1..64 bytes"},
    {"null string", HEAD "memory: 16M\ncmdline:\n", 4, 9, "cmdline", "expected a string, got null"},
    {"kernel is a directory", "name: a\nkernel: boot/\nmemory: 16M\n", 2, 9, "kernel",
     "\"boot/\" names a directory, not an ELF file"},
    {"net not a mapping", HEAD "memory: 16M\nnet: br0\n", 4, 6, "net",
     "expected a mapping {ports: [...]}"},
    {"net: an unknown key", HEAD "memory: 16M\nnet: {bridge: br0}\n", 4, 7, "net",
     "unknown key (known keys: ports, rules, tx, rx)"},
    {"net.ports not a list", HEAD "memory: 16M\nnet: {ports: 80}\n", 4, 14, "net.ports",
     "expected a list of ports and \"LO-HI\" ranges"},
    {"net.ports auto (not done)", HEAD "memory: 16M\nnet: {ports: {auto: 100}}\n", 4, 14,
     "net.ports",
     "ports: {auto: N} (a range chosen by the control domain) is not done yet: list the ports"},
    {"net.ports: port 0", HEAD "memory: 16M\nnet: {ports: [0]}\n", 4, 15, "net.ports[0]",
     "expected a port 1..65535 or a range \"LO-HI\" with LO <= HI"},
    {"net.ports: port 65536", HEAD "memory: 16M\nnet: {ports: [80, 65536]}\n", 4, 19,
     "net.ports[1]", "expected a port 1..65535 or a range \"LO-HI\" with LO <= HI"},
    {"net.ports: a reversed range", HEAD "memory: 16M\nnet: {ports: [\"90-80\"]}\n", 4, 15,
     "net.ports[0]", "expected a port 1..65535 or a range \"LO-HI\" with LO <= HI"},
    {"net.ports: a negative port", HEAD "memory: 16M\nnet: {ports: [-80]}\n", 4, 15, "net.ports[0]",
     "expected a port 1..65535 or a range \"LO-HI\" with LO <= HI"},
    {"net.ports: junk in a range", HEAD "memory: 16M\nnet: {ports: [\"80-9x\"]}\n", 4, 15,
     "net.ports[0]", "expected a port 1..65535 or a range \"LO-HI\" with LO <= HI"},
    {"net.ports: a mapping item", HEAD "memory: 16M\nnet: {ports: [{a: 1}]}\n", 4, 15,
     "net.ports[0]", "expected a port 1..65535 or a range \"LO-HI\" with LO <= HI"},
    {"net.ports: overlapping", HEAD "memory: 16M\nnet: {ports: [\"20000-20999\", 20500]}\n", 4, 30,
     "net.ports[1]", "20500-20500 overlaps 20000-20999 listed before it"},
    {"restart not a mapping", HEAD "memory: 16M\nrestart: always\n", 4, 10, "restart",
     "expected a mapping (heartbeat, backoff, backoff_max, limit, stable)"},
    {"restart: an unknown key", HEAD "memory: 16M\nrestart: {tries: 3}\n", 4, 11, "restart",
     "unknown key (known keys: heartbeat, backoff, backoff_max, limit, stable)"},
    {"restart.heartbeat without a unit", HEAD "memory: 16M\nrestart: {heartbeat: 5}\n", 4, 22,
     "restart.heartbeat",
     "expected a duration: a whole number and ms or s, at most 1 h (\"250ms\", \"5s\")"},
    {"restart.heartbeat too short", HEAD "memory: 16M\nrestart: {heartbeat: 50ms}\n", 4, 22,
     "restart.heartbeat", "a heartbeat is at least 100ms (0: none)"},
    {"restart.backoff above an hour", HEAD "memory: 16M\nrestart: {backoff: 3601s}\n", 4, 20,
     "restart.backoff",
     "expected a duration: a whole number and ms or s, at most 1 h (\"250ms\", \"5s\")"},
    {"restart.stable negative", HEAD "memory: 16M\nrestart: {stable: -5s}\n", 4, 19,
     "restart.stable",
     "expected a duration: a whole number and ms or s, at most 1 h (\"250ms\", \"5s\")"},
    {"restart.limit 0", HEAD "memory: 16M\nrestart: {limit: 0}\n", 4, 18, "restart.limit",
     "expected a whole number 1..100"},
    {"restart.limit 101", HEAD "memory: 16M\nrestart: {limit: 101}\n", 4, 18, "restart.limit",
     "expected a whole number 1..100"},
    {"restart.backoff_max below backoff",
     HEAD "memory: 16M\nrestart: {backoff: 2s, backoff_max: 1s}\n", 4, 10, "restart.backoff_max",
     "is below restart.backoff"},
    {"disks not a list", HEAD "memory: 16M\ndisks: data\n", 4, 8, "disks",
     "expected a list of {volume: NAME, mode: rw|ro}, got \"data\""},
    {"disks item not a mapping", HEAD "memory: 16M\ndisks:\n  - a.img\n", 5, 5, "disks[0]",
     "expected a mapping {volume: NAME, mode: rw|ro}, got \"a.img\""},
    {"disks: no volume", HEAD "memory: 16M\ndisks:\n  - {mode: rw}\n", 5, 5, "disks[0]",
     "volume: is required"},
    {"disks: a bad mode", HEAD "memory: 16M\ndisks:\n  - {volume: d, mode: rx}\n", 5, 23,
     "disks[0].mode", "expected rw or ro, got \"rx\""},
    {"disks: a bad volume name", HEAD "memory: 16M\ndisks:\n  - {volume: \"a b\"}\n", 5, 14,
     "disks[0].volume",
     "a volume name is 1..32 letters, digits, '-', '_' or '.', starting with a letter or digit"},
    {"disks: a volume name too long",
     HEAD "memory: 16M\ndisks:\n  - {volume: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}\n", 5, 14,
     "disks[0].volume", "33 bytes is out of range 1..32 bytes"},
    {"disks: a volume twice", HEAD "memory: 16M\ndisks:\n  - {volume: d}\n  - {volume: d}\n", 6, 5,
     "disks[1]", "volume d is listed twice"},
    {"disks: an unknown key", HEAD "memory: 16M\ndisks:\n  - {volume: d, path: x}\n", 5, 17,
     "disks[0].path",
     "unknown key (known keys: volume, mode, size, iops_min, iops_max, bps_max, weight)"},
    {"disks: size 0", HEAD "memory: 16M\ndisks:\n  - {volume: d, size: 0}\n", 5, 23,
     "disks[0].size", "a size of 0 says nothing: leave it out"},
    {"disks: weight 0", HEAD "memory: 16M\ndisks:\n  - {volume: d, weight: 0}\n", 5, 25,
     "disks[0].weight", "0 is out of range 1..1000"},
    {"disks: iops_min above iops_max",
     HEAD "memory: 16M\ndisks:\n  - {volume: d, iops_min: 20, iops_max: 10}\n", 5, 5, "disks[0]",
     "iops_min (20) is above iops_max (10)"},
    {"disks: five",
     HEAD "memory: 16M\ndisks: [{volume: a}, {volume: b}, {volume: c}, {volume: d}, "
          "{volume: e}]\n",
     4, 8, "disks", "5 disks: at most 4"},
#define NETP HEAD "memory: 16M\nnet:\n  ports: [80]\n"
    {"net: an unknown key after ports", HEAD "memory: 16M\nnet: {ports: [80], qos: 1}\n", 4, 20,
     "net", "unknown key (known keys: ports, rules, tx, rx)"},
    {"net.rules not a list", NETP "  rules: {allow: in}\n", 6, 10, "net.rules",
     "expected a list of rules"},
    {"net.rules: neither allow nor deny", NETP "  rules: [{proto: tcp}]\n", 6, 11, "net.rules[0]",
     "a rule needs allow: or deny: (in, out or both)"},
    {"net.rules: allow and deny", NETP "  rules: [{allow: in, deny: out}]\n", 6, 23, "net.rules[0]",
     "a rule has one of allow and deny, once"},
    {"net.rules: a bad direction", NETP "  rules: [{allow: up}]\n", 6, 19, "net.rules[0]",
     "expected in, out or both"},
    {"net.rules: a bad protocol", NETP "  rules: [{deny: in, proto: sctp}]\n", 6, 29,
     "net.rules[0]", "expected tcp, udp, icmp or any"},
    {"net.rules: a bad port", NETP "  rules: [{deny: in, port: 0}]\n", 6, 28, "net.rules[0]",
     "expected a port 1..65535, a range \"LO-HI\" with LO <= HI, or any"},
    {"net.rules: host bits in the peer", NETP "  rules: [{deny: in, peer: \"192.0.2.1/24\"}]\n", 6,
     28, "net.rules[0]", "expected \"A.B.C.D/LEN\" with no bits set past LEN, or any"},
    {"net.rules: a peer without a length", NETP "  rules: [{deny: in, peer: \"192.0.2.1\"}]\n", 6,
     28, "net.rules[0]", "expected \"A.B.C.D/LEN\" with no bits set past LEN, or any"},
    {"net.rules: an unknown key", NETP "  rules: [{deny: in, log: yes}]\n", 6, 22, "net.rules[0]",
     "unknown key (known keys: allow, deny, proto, port, peer)"},
    {"net.rules: nine",
     NETP "  rules: [{deny: in}, {deny: in}, {deny: in}, {deny: in}, {deny: in},"
          " {deny: in}, {deny: in}, {deny: in}, {deny: in}]\n",
     6, 107, "net.rules[8]", "more than 8 rules"},
    {"net.rx not a mapping", NETP "  rx: 100\n", 6, 7, "net.rx",
     "expected a mapping {rate_bps: ..., burst_bytes: ...}"},
    {"net.rx: an unknown key", NETP "  rx: {rate: 100}\n", 6, 8, "net.rx",
     "unknown key (known keys: rate_bps, burst_bytes, rate_pps, burst_pkts, floor_bps, weight)"},
    {"net.rx: a rate without a burst", NETP "  rx: {rate_bps: 100000}\n", 6, 7, "net.rx",
     "rate_bps needs burst_bytes of at least 1514 (one frame)"},
    {"net.tx: packets without a burst", NETP "  tx: {rate_pps: 100}\n", 6, 7, "net.tx",
     "rate_pps needs burst_pkts of at least 1"},
    {"net.tx: a floor above the rate",
     NETP "  tx: {rate_bps: 100000, burst_bytes: 16384, floor_bps: 200000}\n", 6, 7, "net.tx",
     "floor_bps is above rate_bps"},
    {"net.tx: weight 0", NETP "  tx: {weight: 0}\n", 6, 16, "net.tx",
     "weight: expected an integer 1..1000"},
    {"net.tx: a quoted rate", NETP "  tx: {rate_bps: \"1M\", burst_bytes: 2000}\n", 6, 18, "net.tx",
     "rate_bps: expected an integer 0..100000000000"},
    {"net.rx without ports", HEAD "memory: 16M\nnet: {rx: {weight: 2}}\n", 4, 6, "net",
     "rules, tx and rx need ports: (a lease) to apply to"},
    {"pci not a list", HEAD "memory: 16M\npci: 00:03.0\n", 4, 6, "pci",
     "expected a list, got \"00:03.0\""},
    {"pci item not a mapping", HEAD "memory: 16M\npci:\n  - 00:03.0\n", 5, 5, "pci[0]",
     "expected a mapping, got \"00:03.0\""},
    {"pci both address and id",
     HEAD "memory: 16M\npci:\n  - {address: \"00:03.0\", id: \"1af4:1042\"}\n", 5, 5, "pci[0]",
     "give exactly one of address (\"00:03.0\") or id (\"1af4:1042\")"},
    {"pci neither", HEAD "memory: 16M\npci:\n  - {rights: [dma]}\n", 5, 5, "pci[0]",
     "give exactly one of address (\"00:03.0\") or id (\"1af4:1042\")"},
    {"pci bad address", HEAD "memory: 16M\npci:\n  - {address: \"00:20.0\"}\n", 5, 15,
     "pci[0].address",
     "expected bus:device.function like \"00:03.0\" (hex; device up to 1f, function up to 7), got "
     "\"00:20.0\""},
    {"pci address too short", HEAD "memory: 16M\npci:\n  - {address: \"0:3.0\"}\n", 5, 15,
     "pci[0].address", "5 bytes is out of range 7..7 bytes"},
    {"pci bad id", HEAD "memory: 16M\npci:\n  - {id: \"1af4-1042\"}\n", 5, 10, "pci[0].id",
     "expected vendor:device like \"1af4:1042\" (hex), got \"1af4-1042\""},
    {"pci index with address", HEAD "memory: 16M\npci:\n  - {address: \"00:03.0\", index: 1}\n", 5,
     33, "pci[0]", "index goes with id, not with address"},
    {"pci index out of range", HEAD "memory: 16M\npci:\n  - {id: \"1af4:1042\", index: 256}\n", 5,
     30, "pci[0].index", "256 is out of range 0..255"},
    {"pci unknown right", HEAD "memory: 16M\npci:\n  - {id: \"1af4:1042\", rights: [dma, root]}\n",
     5, 37, "pci[0].rights", "unknown right \"root\" (config, mmio, irq or dma)"},
    {"pci right twice", HEAD "memory: 16M\npci:\n  - {id: \"1af4:1042\", rights: [dma, dma]}\n", 5,
     37, "pci[0].rights", "dma is listed twice"},
    {"pci no rights", HEAD "memory: 16M\npci:\n  - {id: \"1af4:1042\", rights: []}\n", 5, 31,
     "pci[0].rights", "expected a non-empty list of config, mmio, irq, dma; got a list"},
    {"pci unknown key", HEAD "memory: 16M\npci:\n  - {id: \"1af4:1042\", slot: 3}\n", 5, 23,
     "pci[0].slot", "unknown key (known keys: address, id, index, rights)"},
    {"pci same function twice",
     HEAD "memory: 16M\npci:\n  - {address: \"00:03.0\"}\n  - {address: \"00:03.0\"}\n", 6, 5,
     "pci[1]", "the same function as pci[0]"},
    {"pci too many",
     HEAD "memory: 16M\npci: [{id: \"1:2\"},{id: \"1:2\"},{id: \"1:2\"},{id: "
          "\"1:2\"},{id: \"1:2\"},{id: \"1:2\"},{id: \"1:2\"},{id: \"1:2\"},{id: \"1:2\"}]\n",
     4, 6, "pci", "9 functions is more than 8"},
    {"top level is a list", "- name: a\n", 1, 1, "(document)",
     "expected a mapping of manifest keys at the top level, got a list"},
    {"two documents", HEAD "memory: 16M\n---\nname: b\n", 4, 1, "(document)",
     "a manifest file holds exactly one YAML document (one domain)"},
    {"empty file", "# nothing\n", 1, 1, "(document)",
     "empty manifest: expected a mapping with name and kernel"},
    {"anchor", HEAD "memory: &m 16M\n", 3, 9, "(yaml)",
     "anchors (&m) are not allowed in manifests"},
    {"tag", HEAD "memory: !!str 16M\n", 3, 9, "(yaml)",
     "tags (tag:yaml.org,2002:str) are not allowed in manifests"},
    {"YAML syntax: unclosed quote", HEAD "memory: 16M\ncmdline: \"abc\n", 5, 1, "(yaml)",
     "found unexpected end of stream while scanning a quoted scalar (line 4)"},
    {"YAML syntax: tab indentation", HEAD "memory: 16M\nnet:\n\t- a: 1\n", 5, 1, "(yaml)",
     "found character that cannot start any token while scanning for the next token (line 5)"},
    /* The bus fields (docs/bus.md). */
    {"config not a mapping", HEAD "memory: 16M\nconfig: [a]\n", 4, 9, "config",
     "expected a mapping of keys to values, got a list"},
    {"config value a list", HEAD "memory: 16M\nconfig:\n  a: [1]\n", 5, 6, "config.a",
     "expected a string value, got a list"},
    {"config value null", HEAD "memory: 16M\nconfig:\n  a:\n", 5, 5, "config.a",
     "expected a string value, got null"},
    {"config value too long",
     HEAD
     "memory: 16M\nconfig:\n  a: "
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
     5, 6, "config.a", "a value is at most 512 bytes, without NUL"},
    {"offers not a list", HEAD "memory: 16M\noffers: kv\n", 4, 9, "offers",
     "expected a list of service names, got a string"},
    {"offers bad name", HEAD "memory: 16M\noffers: [\"k v\"]\n", 4, 10, "offers[0]",
     "a service name is 1..32 bytes: letters, digits, '-', '_', '.', starting with a letter or "
     "digit"},
    {"uses twice", HEAD "memory: 16M\nuses: [kv, kv]\n", 4, 12, "uses[1]",
     "\"kv\" is listed twice"},
    {"channel without size", HEAD "memory: 16M\nchannels:\n  - {name: f, peer: p}\n", 5, 5,
     "channels[0]", "size is missing"},
    {"channel size not a power of two",
     HEAD "memory: 16M\nchannels:\n  - {name: f, peer: p, size: 48K}\n", 5, 30, "channels[0].size",
     "\"48K\": the size is a power of two from 32 KiB to 2 MiB (shared memory of both "
     "directions)"},
    {"channel size too big", HEAD "memory: 16M\nchannels:\n  - {name: f, peer: p, size: 4M}\n", 5,
     30, "channels[0].size",
     "\"4M\": the size is a power of two from 32 KiB to 2 MiB (shared memory of both "
     "directions)"},
    {"channel unknown key",
     HEAD "memory: 16M\nchannels:\n  - {name: f, peer: p, size: 1M, mode: rw}\n", 5, 34,
     "channels[0].mode", "unknown key (known keys: name, peer, size)"},
    {"channel to itself", HEAD "memory: 16M\nchannels:\n  - {name: f, peer: web1, size: 1M}\n", 1,
     1, "channels[0].peer", "\"web1\" is the domain itself"},
    {"channel declared twice",
     HEAD "memory: 16M\nchannels:\n  - {name: f, peer: p, size: 1M}\n  - {name: f, peer: q, "
          "size: 1M}\n",
     6, 5, "channels[1]", "channel \"f\" is declared twice"},
};

static void test_each_mistake(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        const struct bad_case *b = &BAD[i];
        bool ok = parse(b->yaml);
        if (ok || g_d.count != 1 || g_d.items[0].line != b->line ||
            g_d.items[0].column != b->column || strcmp(g_d.items[0].path, b->path) ||
            strcmp(g_d.items[0].message, b->message)) {
            print_error("case \"%s\": ok=%d, %u diags; first: %s\n", b->what, ok, g_d.count,
                        g_d.count ? g_d.items[0].text : "(none)");
            print_error("expected: t.yaml:%u:%u: %s: %s\n", b->line, b->column, b->path,
                        b->message);
            fail();
        }
        char text[600];
        snprintf(text, sizeof text, "t.yaml:%u:%u: %s: %s", b->line, b->column, b->path,
                 b->message);
        assert_string_equal(g_d.items[0].text, text);
    }
    assert_true(sizeof BAD / sizeof BAD[0] >= 15);
}

static void test_all_errors_reported_in_order(void **state)
{
    (void)state;
    assert_false(
        parse("name: x\nkernel: k\nmemory: 512X\nvcpus: 0\nfoo: 1\nvcpus: 2\ngang: yes\n"));
    assert_int_equal(g_d.count, 5);
    assert_string_equal(g_d.items[0].text, "t.yaml:3:9: memory: unknown unit \"X\" in \"512X\" "
                                           "(use K, M, G, KiB, MiB, GiB, or plain bytes)");
    assert_int_equal(g_d.items[1].line, 4);
    assert_int_equal(g_d.items[2].line, 5);
    assert_string_equal(g_d.items[3].path, "vcpus");
    assert_int_equal(g_d.items[4].line, 7);
}

static void test_valid_full(void **state)
{
    (void)state;
    assert_true(parse(
        "name: web1\nkernel: /opt/k/hello\ncmdline: \"a=b c\"\nmemory: 64MiB\nmax_memory: 1G\n"
        "vcpus: 4\nweight: 65535\ncap: 400\ngang: true\non_poweroff: preserve\non_reboot: destroy\n"
        "on_crash: restart\nnet: {ports: [80, \"20000-20999\"]}\ndisks:\n  - {volume: data}\n"
        "  - {volume: logs.1, mode: ro, size: 64M, iops_min: 200, iops_max: 2000, bps_max: 8M, "
        "weight: 3}\n"));
    assert_int_equal(g_d.count, 0);
    assert_string_equal(g_m.name, "web1");
    assert_string_equal(g_m.kernel_path, "/opt/k/hello");
    assert_string_equal(g_m.cmdline, "a=b c");
    assert_int_equal(g_m.memory_bytes, 64ull << 20);
    assert_int_equal(g_m.max_memory_bytes, 1ull << 30);
    assert_int_equal(g_m.vcpus, 4);
    assert_int_equal(g_m.weight, 65535);
    assert_int_equal(g_m.cap_percent, 400);
    assert_true(g_m.gang);
    assert_int_equal(g_m.on_poweroff, PROTO_STOP_POLICY_PRESERVE);
    assert_int_equal(g_m.on_reboot, PROTO_STOP_POLICY_DESTROY);
    assert_int_equal(g_m.on_crash, PROTO_STOP_POLICY_RESTART);
    assert_true(g_m.has_net);
    assert_int_equal(g_m.disks_count, 2);
    assert_string_equal(g_m.disks[0].volume, "data");
    assert_true(g_m.disks[0].writable);
    assert_int_equal(g_m.disks[0].size_bytes, 0);
    assert_int_equal(g_m.disks[0].weight, 1);
    assert_string_equal(g_m.disks[1].volume, "logs.1");
    assert_false(g_m.disks[1].writable);
    assert_int_equal(g_m.disks[1].size_bytes, 64ull << 20);
    assert_int_equal(g_m.disks[1].iops_min, 200);
    assert_int_equal(g_m.disks[1].iops_max, 2000);
    assert_int_equal(g_m.disks[1].bps_max, 8ull << 20);
    assert_int_equal(g_m.disks[1].weight, 3);
    struct proto_domain_config dc;
    manifest_to_config(&g_m, &dc);
    assert_true(dc.has_disks);
    assert_int_equal(dc.disks.count, 2);
    assert_false(dc.disks.items[0].has_size_bytes || dc.disks.items[0].has_weight);
    assert_true(dc.disks.items[1].has_size_bytes && dc.disks.items[1].has_weight);
    assert_int_equal(dc.disks.items[1].iops_min, 200);
    assert_int_equal(g_m.net_ports_count, 2);
    assert_int_equal(g_m.net_ports[0].lo, 80);
    assert_int_equal(g_m.net_ports[0].hi, 80);
    assert_int_equal(g_m.net_ports[1].lo, 20000);
    assert_int_equal(g_m.net_ports[1].hi, 20999);
    assert_int_equal(g_m.name_line, 1);
    assert_int_equal(g_m.name_column, 7);
}

/* restart: the values, the defaults for what is left out, and the
 * domain-config member (absent without restart:). */
static void test_restart(void **state)
{
    (void)state;
    assert_true(parse(HEAD "memory: 16M\nrestart: {heartbeat: 2s, backoff: 100ms, limit: 3}\n"));
    assert_int_equal(g_d.count, 0);
    assert_true(g_m.has_restart);
    assert_int_equal(g_m.restart.heartbeat_ns, 2000000000ull);
    assert_int_equal(g_m.restart.backoff_ns, 100000000ull);
    assert_int_equal(g_m.restart.backoff_max_ns, MANIFEST_RESTART_BACKOFF_MAX_NS);
    assert_int_equal(g_m.restart.limit, 3);
    assert_int_equal(g_m.restart.stable_ns, MANIFEST_RESTART_STABLE_NS);
    struct proto_domain_config c;
    manifest_to_config(&g_m, &c);
    struct hvcbor_error e;
    assert_true(c.has_restart && proto_domain_config_validate(&c, &e));
    assert_int_equal(c.restart.heartbeat_ns, 2000000000ull);
    assert_int_equal(c.restart.limit, 3);
    assert_true(parse(HEAD "memory: 16M\n"));
    manifest_to_config(&g_m, &c);
    assert_false(c.has_restart);
}

static void test_valid_net_policy(void **state)
{
    (void)state;
    assert_true(
        parse(HEAD "memory: 16M\nnet:\n  ports: [80]\n  rules:\n"
                   "    - {deny: in, proto: tcp, port: \"8080-8089\", peer: \"198.51.100.0/24\"}\n"
                   "    - {allow: both, proto: any, port: any, peer: any}\n"
                   "  rx: {rate_bps: 200000, burst_bytes: 16384}\n"
                   "  tx: {rate_pps: 100, burst_pkts: 10, weight: 7}\n"));
    assert_int_equal(g_d.count, 0);
    assert_int_equal(g_m.net_rules_count, 2);
    const struct proto_net_rule *r = &g_m.net_rules[0];
    assert_int_equal(r->action, 2);
    assert_int_equal(r->dir, 1);
    assert_int_equal(r->proto, 6);
    assert_int_equal(r->port_lo, 8080);
    assert_int_equal(r->port_hi, 8089);
    assert_int_equal(r->peer, 0xc6336400);
    assert_int_equal(r->peer_len, 24);
    assert_int_equal(g_m.net_rules[1].action, 1);
    assert_int_equal(g_m.net_rules[1].dir, 3);
    assert_int_equal(g_m.net_rules[1].peer_len, 0);
    assert_true(g_m.has_net_rx && g_m.has_net_tx);
    assert_int_equal(g_m.net_rx.rate_bps, 200000);
    assert_int_equal(g_m.net_rx.burst_bytes, 16384);
    assert_int_equal(g_m.net_rx.weight, 1);
    assert_int_equal(g_m.net_tx.rate_pps, 100);
    assert_int_equal(g_m.net_tx.weight, 7);
    struct proto_domain_config c;
    manifest_to_config(&g_m, &c);
    assert_true(c.has_net && c.net.has_rules && c.net.has_rx && c.net.has_tx);
    assert_int_equal(c.net.rules.count, 2);
    assert_int_equal(c.net.rules.items[0].port_hi, 8089);
    assert_int_equal(c.net.rx.rate_bps, 200000);
    struct hvcbor_error e;
    assert_true(proto_net_spec_validate(&c.net, &e));
}

static void test_valid_pci(void **state)
{
    (void)state;
    assert_true(parse(HEAD
                      "memory: 16M\npci:\n  - address: \"00:1F.2\"\n    rights: [dma, config]\n"
                      "  - id: \"1AF4:1042\"\n    index: 2\n  - id: \"1af4:1042\"\n"));
    assert_int_equal(g_d.count, 0);
    assert_int_equal(g_m.pci_count, 3);
    assert_true(g_m.pci[0].by_address);
    assert_int_equal(g_m.pci[0].bdf, 0x00fa);
    assert_int_equal(g_m.pci[0].rights, MANIFEST_PCI_DMA | MANIFEST_PCI_CONFIG);
    assert_false(g_m.pci[1].by_address);
    assert_int_equal(g_m.pci[1].vendor, 0x1af4);
    assert_int_equal(g_m.pci[1].device, 0x1042);
    assert_int_equal(g_m.pci[1].index, 2);
    assert_int_equal(g_m.pci[1].rights, MANIFEST_PCI_ALL);
    assert_int_equal(g_m.pci[2].index, 0);
    struct proto_domain_config c;
    manifest_to_config(&g_m, &c);
    assert_true(c.has_pci);
    assert_int_equal(c.pci.count, 3);
    assert_true(c.pci.items[0].has_bdf && !c.pci.items[0].has_vendor);
    assert_int_equal(c.pci.items[0].bdf, 0x00fa);
    assert_true(c.pci.items[1].has_vendor && c.pci.items[1].has_device && c.pci.items[1].has_index);
    assert_int_equal(c.pci.items[1].index, 2);
    assert_int_equal(c.pci.items[1].rights, 15);
    struct hvcbor_error e;
    assert_true(proto_domain_config_validate(&c, &e));
    /* Without pci: no member at all. */
    assert_true(parse(HEAD "memory: 16M\n"));
    manifest_to_config(&g_m, &c);
    assert_false(c.has_pci);
}

/* The bus fields: values kept as written, in order; they reach the
 * domain-config and its digest tells equal configurations apart. */
static void test_bus_fields(void **state)
{
    (void)state;
    assert_true(parse(HEAD "memory: 16M\nconfig:\n  greeting: hello world\n  port: 8080\n"
                           "  quoted: \"a: b\"\noffers: [kv, blk]\nuses: [net]\nchannels:\n"
                           "  - {name: files, peer: fileserver, size: 1MiB}\n"
                           "  - {name: logs, peer: logger, size: 32K}\n"));
    assert_int_equal(g_d.count, 0);
    assert_int_equal(g_m.config_count, 3);
    assert_string_equal(g_m.config[0].key, "greeting");
    assert_string_equal(g_m.config[0].value, "hello world");
    assert_string_equal(g_m.config[1].value, "8080");
    assert_string_equal(g_m.config[2].value, "a: b");
    assert_int_equal(g_m.offers_count, 2);
    assert_string_equal(g_m.offers[1], "blk");
    assert_int_equal(g_m.uses_count, 1);
    assert_int_equal(g_m.channels_count, 2);
    assert_string_equal(g_m.channels[0].peer, "fileserver");
    assert_int_equal(g_m.channels[0].size_bytes, 1u << 20);
    assert_int_equal(g_m.channels[1].size_bytes, 32u << 10);
    static struct proto_domain_config c, c2;
    manifest_to_config(&g_m, &c);
    assert_true(c.has_config && c.config.count == 3 && c.has_offers && c.has_uses &&
                c.has_channels && c.channels.count == 2);
    struct hvcbor_error e;
    assert_true(proto_domain_config_validate(&c, &e));
    uint64_t digest = manifest_bus_digest(&c);
    c2 = c;
    c2.channels.items[1].size_bytes = 64u << 10;
    assert_true(manifest_bus_digest(&c2) != digest);
    c2 = c;
    c2.has_uses = false;
    assert_true(manifest_bus_digest(&c2) != digest);
    /* Without bus fields: absent from the message (older servers see the
     * same config as before). */
    assert_true(parse(HEAD "memory: 16M\n"));
    manifest_to_config(&g_m, &c2);
    assert_false(c2.has_config || c2.has_offers || c2.has_uses || c2.has_channels);
    assert_true(manifest_bus_digest(&c2) != digest);
}

static void test_defaults_and_relative_kernel(void **state)
{
    (void)state;
    memset(&g_d, 0, sizeof g_d);
    const char *y = "name: a\nkernel: ../img/k\nmemory: 16777216\n";
    assert_true(manifest_parse("dir/sub/a.yaml", y, strlen(y), &g_m, &g_d));
    assert_string_equal(g_m.kernel_path, "dir/sub/../img/k");
    assert_string_equal(g_m.cmdline, "");
    assert_int_equal(g_m.max_memory_bytes, 16ull << 20);
    assert_int_equal(g_m.vcpus, 1);
    assert_int_equal(g_m.weight, 256);
    assert_int_equal(g_m.cap_percent, 0);
    assert_false(g_m.gang);
    assert_int_equal(g_m.on_poweroff, PROTO_STOP_POLICY_DESTROY);
    assert_int_equal(g_m.on_reboot, PROTO_STOP_POLICY_RESTART);
    assert_int_equal(g_m.on_crash, PROTO_STOP_POLICY_DESTROY);
}

static void test_units(void **state)
{
    (void)state;
    static const struct {
        const char *v;
        uint64_t bytes;
    } T[] = {{"2048K", 2ull << 20},     {"2048KiB", 2ull << 20}, {"3M", 3ull << 20},
             {"3MiB", 3ull << 20},      {"2G", 2ull << 30},      {"2GiB", 2ull << 30},
             {"\"1 GiB\"", 1ull << 30}, {"4194304", 4ull << 20}, {"1024G", 1ull << 40},
             {"5242880B", 5ull << 20}};
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++) {
        char y[128];
        snprintf(y, sizeof y, "name: a\nkernel: k\nmemory: %s\n", T[i].v);
        if (!parse(y))
            print_error("%s: %s\n", T[i].v, g_d.items[0].text);
        assert_int_equal(g_m.memory_bytes, T[i].bytes);
    }
    assert_false(parse("name: a\nkernel: k\nmemory: 1025G\n"));
    assert_string_equal(g_d.items[0].message, "1025 GiB is out of range 1 MiB..1024 GiB");
}

/* The create request decodes (proto's own decoder) to the manifest's values. */
static void test_compile_round_trip(void **state)
{
    (void)state;
    assert_true(parse(
        "name: web1\nkernel: /a/b/hello.elf\ncmdline: x=1\nmemory: 64M\nmax_memory: 96M\nvcpus: 3\n"
        "weight: 7\ncap: 250\ngang: true\non_crash: preserve\n"));
    static uint8_t buf[4096];
    static struct proto_msg out;
    size_t len;
    struct hvcbor_error e;
    const uint8_t tok[] = {1, 2, 3};
    assert_true(manifest_encode_create(&g_m, 99, tok, 3, true, buf, sizeof buf, &len, &e));
    assert_true(proto_msg_decode(buf, len, NULL, &out, &e));
    assert_int_equal(out.type, PROTO_MSG_DOMAIN_CREATE_REQUEST);
    const struct proto_domain_create_request *r = &out.u.domain_create_request;
    assert_int_equal(r->request_id, 99);
    assert_true(r->paused);
    assert_int_equal(r->token.len, 3);
    assert_memory_equal(r->config.name.ptr, "web1", 4);
    assert_int_equal(r->config.kernel.len, strlen("hello.elf"));
    assert_memory_equal(r->config.kernel.ptr, "hello.elf", 9);
    assert_memory_equal(r->config.cmdline.ptr, "x=1", 3);
    assert_int_equal(r->config.memory_bytes, 64ull << 20);
    assert_int_equal(r->config.max_memory_bytes, 96ull << 20);
    assert_int_equal(r->config.vcpus, 3);
    assert_int_equal(r->config.weight, 7);
    assert_int_equal(r->config.cap_percent, 250);
    assert_true(r->config.gang);
    assert_int_equal(r->config.on_crash, PROTO_STOP_POLICY_PRESERVE);
    /* Equal to the config built directly. */
    struct proto_domain_config direct;
    manifest_to_config(&g_m, &direct);
    assert_true(proto_domain_config_equal(&direct, &r->config));
    /* A buffer one byte short is refused, not overrun. */
    assert_false(manifest_encode_create(&g_m, 99, tok, 3, true, buf, len - 1, &len, &e));
}

static void test_examples_validate(void **state)
{
    (void)state;
    struct manifest_set set;
    memset(&g_d, 0, sizeof g_d);
    bool ok = manifest_load_path(HV_SOURCE_DIR "/examples/manifests", &set, &g_d);
    for (uint32_t i = 0; i < g_d.count; i++)
        print_error("%s\n", g_d.items[i].text);
    assert_true(ok);
    /* Every *.yaml in the directory was loaded. */
    DIR *d = opendir(HV_SOURCE_DIR "/examples/manifests");
    assert_non_null(d);
    uint32_t files = 0;
    for (struct dirent *de; (de = readdir(d));)
        files += strstr(de->d_name, ".yaml") != NULL;
    closedir(d);
    assert_true(files >= 3);
    assert_int_equal(set.count, files);
    manifest_set_free(&set);
    /* The declared-channel example (docs/bus.md): a directory of its own. */
    memset(&g_d, 0, sizeof g_d);
    ok = manifest_load_path(HV_SOURCE_DIR "/examples/manifests/files", &set, &g_d);
    for (uint32_t i = 0; i < g_d.count; i++)
        print_error("%s\n", g_d.items[i].text);
    assert_true(ok);
    assert_int_equal(set.count, 2);
    manifest_set_free(&set);
    /* The HTTP example behind netback (docs/net.md): its lease. */
    memset(&g_d, 0, sizeof g_d);
    ok = manifest_load_path(HV_SOURCE_DIR "/examples/manifests/net", &set, &g_d);
    for (uint32_t i = 0; i < g_d.count; i++)
        print_error("%s\n", g_d.items[i].text);
    assert_true(ok);
    assert_int_equal(set.count, 1);
    assert_int_equal(set.items[0].net_ports_count, 3);
    assert_int_equal(set.items[0].net_ports[1].lo, 80);
    manifest_set_free(&set);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_directory_duplicates_and_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/hvctl-manifest-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char a[128], b[128], c[128], k[128];
    snprintf(a, sizeof a, "%s/a.yaml", dir);
    snprintf(b, sizeof b, "%s/b.yml", dir);
    snprintf(c, sizeof c, "%s/notes.txt", dir);
    snprintf(k, sizeof k, "%s/k.elf", dir);
    write_file(a, "name: web\nkernel: k.elf\nmemory: 16M\n");
    write_file(b, "# second\nname:   web\nkernel: k.elf\nmemory: 16M\n");
    write_file(c, "not a manifest");
    struct manifest_set set;
    memset(&g_d, 0, sizeof g_d);
    assert_false(manifest_load_path(dir, &set, &g_d));
    assert_int_equal(set.count, 0);
    assert_int_equal(g_d.count, 1);
    char expect[512];
    snprintf(expect, sizeof expect, "%s:2:9: name: domain name \"web\" is already used by %s:1:7",
             b, a);
    assert_string_equal(g_d.items[0].text, expect);

    /* Distinct names load; the kernel file check is separate. */
    write_file(b, "name: db\nkernel: k.elf\nmemory: 16M\n");
    memset(&g_d, 0, sizeof g_d);
    assert_true(manifest_load_path(dir, &set, &g_d));
    assert_int_equal(set.count, 2);
    assert_string_equal(set.items[0].name, "web");
    assert_string_equal(set.items[1].name, "db");
    assert_false(manifest_check_files(&set.items[0], &g_d));
    assert_int_equal(g_d.count, 1);
    snprintf(expect, sizeof expect,
             "%s:2:9: kernel: cannot read %s/k.elf: No such file or directory", a, dir);
    assert_string_equal(g_d.items[0].text, expect);
    write_file(k, "\x7f"
                  "ELF");
    memset(&g_d, 0, sizeof g_d);
    assert_true(manifest_check_files(&set.items[0], &g_d));
    manifest_set_free(&set);

    /* An empty directory is an error, not a silent success. */
    unlink(a);
    unlink(b);
    memset(&g_d, 0, sizeof g_d);
    assert_false(manifest_load_path(dir, &set, &g_d));
    assert_string_equal(g_d.items[0].message, "no *.yaml or *.yml manifests in this directory");
    unlink(c);
    unlink(k);
    rmdir(dir);
}

static void test_hostile_input(void **state)
{
    (void)state;
    /* Deep nesting, NUL bytes and huge node counts are refused cleanly. */
    char deep[256] = HEAD "memory: 16M\nnet: ";
    for (int i = 0; i < 20; i++)
        strcat(deep, "[");
    assert_false(parse(deep));
    assert_string_equal(g_d.items[0].path, "(yaml)");
    const char nul[] = "name: a\0b\nkernel: k\nmemory: 16M\n";
    memset(&g_d, 0, sizeof g_d);
    assert_false(manifest_parse("t.yaml", nul, sizeof nul - 1, &g_m, &g_d));
    assert_string_equal(g_d.items[0].text,
                        "t.yaml:1:8: (yaml): NUL byte in the file: not a text manifest");
    static char big[200000];
    strcpy(big, HEAD "memory: 16M\nnet: [");
    for (int i = 0; i < 5000; i++)
        strcat(big + strlen(big) - 0, "{},");
    strcat(big, "{}]\n");
    assert_false(parse(big));
    assert_string_equal(g_d.items[0].message, "more than 4096 YAML nodes: not a manifest");
}

/* Random single- and multi-byte mutations of a valid manifest: never a crash
 * (ASan/UBSan watch), and always either a clean manifest or at least one
 * diagnostic with a position inside the text and a non-empty path. */
static void test_mutations(void **state)
{
    (void)state;
    static const char base[] = "name: web1\nkernel: ../k/hello\ncmdline: \"a=b\"\nmemory: 64MiB\n"
                               "max_memory: 128M\nvcpus: 2\nweight: 512\ncap: 150\ngang: true\n"
                               "on_crash: restart\nnet:\n  ports: [80, \"7-9\"]\n";
    static const char alphabet[] = ":-[]{}\"'&*!#\t\n 0123456789abcKMGi.,|>%@`\x01\xff";
    char buf[sizeof base];
    uint32_t seed = 12345, accepted = 0;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(buf, base, sizeof base);
        int edits = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 3;
        for (int k = 0; k < edits; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t pos = (seed >> 8) % (sizeof base - 1);
            seed = seed * 1103515245u + 12345u;
            buf[pos] = alphabet[(seed >> 8) % (sizeof alphabet - 1)];
        }
        memset(&g_d, 0, sizeof g_d);
        bool ok = manifest_parse("m.yaml", buf, sizeof base - 1, &g_m, &g_d);
        if (ok) {
            assert_int_equal(g_d.count, 0);
            accepted++;
            continue;
        }
        assert_true(g_d.count >= 1);
        for (uint32_t i = 0; i < g_d.count; i++) {
            assert_true(g_d.items[i].line >= 1 && g_d.items[i].line <= 14);
            assert_true(g_d.items[i].column >= 1);
            assert_true(g_d.items[i].path[0] != '\0');
        }
    }
    /* Some mutations are harmless (inside a string): both paths ran. */
    assert_true(accepted > 0 && accepted < 3000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_mistake),
        cmocka_unit_test(test_all_errors_reported_in_order),
        cmocka_unit_test(test_valid_full),
        cmocka_unit_test(test_valid_net_policy),
        cmocka_unit_test(test_valid_pci),
        cmocka_unit_test(test_restart),
        cmocka_unit_test(test_bus_fields),
        cmocka_unit_test(test_defaults_and_relative_kernel),
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_compile_round_trip),
        cmocka_unit_test(test_examples_validate),
        cmocka_unit_test(test_directory_duplicates_and_files),
        cmocka_unit_test(test_hostile_input),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
