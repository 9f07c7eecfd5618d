/* diff/apply planning (plan.h). */
#include "hvctl/plan.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void copy_str(char *out, size_t cap, struct hvcbor_str s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    memcpy(out, s.ptr, n);
    out[n] = '\0';
}

void plan_domain_from_config(struct plan_domain *d, uint64_t id,
                             const struct proto_domain_config *c)
{
    memset(d, 0, sizeof *d);
    d->id = id;
    copy_str(d->name, sizeof d->name, c->name);
    copy_str(d->kernel, sizeof d->kernel, c->kernel);
    copy_str(d->cmdline, sizeof d->cmdline, c->cmdline);
    d->memory_bytes = c->memory_bytes;
    d->max_memory_bytes = c->max_memory_bytes;
    d->vcpus = (uint32_t)c->vcpus;
    d->weight = (uint32_t)c->weight;
    d->cap_percent = (uint32_t)c->cap_percent;
    d->gang = c->gang;
    d->on_poweroff = c->on_poweroff;
    d->on_reboot = c->on_reboot;
    d->on_crash = c->on_crash;
    d->pci_count = c->has_pci && c->pci.count <= MANIFEST_PCI_MAX ? c->pci.count : 0;
    for (uint32_t i = 0; i < d->pci_count; i++)
        d->pci[i] = c->pci.items[i];
    d->bus_digest = manifest_bus_digest(c);
}

static void add_change(struct plan_item *it, const char *field, bool live, const char *from,
                       const char *to)
{
    if (it->change_count >= PLAN_MAX_CHANGES)
        return;
    struct plan_change *c = &it->changes[it->change_count++];
    c->field = field;
    c->live = live;
    /* Shown to the user; a long value is cut (explicitly, for -O2's warning). */
    snprintf(c->from, sizeof c->from, "%.*s", (int)(sizeof c->from - 1), from);
    snprintf(c->to, sizeof c->to, "%.*s", (int)(sizeof c->to - 1), to);
}

static void cmp_u64(struct plan_item *it, const char *field, bool live, uint64_t have,
                    uint64_t want, bool size)
{
    if (have == want)
        return;
    char a[40], b[40];
    if (size) {
        manifest_format_size(a, sizeof a, have);
        manifest_format_size(b, sizeof b, want);
    } else {
        snprintf(a, sizeof a, "%" PRIu64, have);
        snprintf(b, sizeof b, "%" PRIu64, want);
    }
    add_change(it, field, live, a, b);
}

static void cmp_str(struct plan_item *it, const char *field, const char *have, const char *want)
{
    if (strcmp(have, want))
        add_change(it, field, false, have, want);
}

static void cmp_policy(struct plan_item *it, const char *field, enum proto_stop_policy have,
                       enum proto_stop_policy want)
{
    if (have != want)
        add_change(it, field, false,
                   proto_stop_policy_name(have) ? proto_stop_policy_name(have) : "?",
                   proto_stop_policy_name(want));
}

static void compare(struct plan_item *it, const struct manifest *m, const struct plan_domain *d)
{
    struct proto_domain_config c;
    manifest_to_config(m, &c);
    char kernel[MANIFEST_IMAGE_NAME_MAX + 1];
    copy_str(kernel, sizeof kernel, c.kernel);
    cmp_str(it, "kernel", d->kernel, kernel);
    cmp_str(it, "cmdline", d->cmdline, m->cmdline);
    cmp_u64(it, "memory", false, d->memory_bytes, m->memory_bytes, true);
    cmp_u64(it, "max_memory", false, d->max_memory_bytes, m->max_memory_bytes, true);
    cmp_u64(it, "vcpus", false, d->vcpus, m->vcpus, false);
    cmp_policy(it, "on_poweroff", d->on_poweroff, m->on_poweroff);
    cmp_policy(it, "on_reboot", d->on_reboot, m->on_reboot);
    cmp_policy(it, "on_crash", d->on_crash, m->on_crash);
    uint64_t digest = manifest_bus_digest(&c);
    if (d->bus_digest != digest)
        add_change(it, "config/offers/uses/channels", false, "(as running)", "(as the manifest)");
    cmp_u64(it, "weight", true, d->weight, m->weight, false);
    cmp_u64(it, "cap", true, d->cap_percent, m->cap_percent, false);
    if (d->gang != m->gang)
        add_change(it, "gang", true, d->gang ? "true" : "false", m->gang ? "true" : "false");
    bool pci_same = d->pci_count == c.pci.count;
    for (uint32_t i = 0; pci_same && i < d->pci_count; i++)
        pci_same = proto_pci_assign_equal(&d->pci[i], &c.pci.items[i]);
    if (!pci_same) {
        char a[16], b[16];
        snprintf(a, sizeof a, "%u function%s", d->pci_count, d->pci_count == 1 ? "" : "s");
        snprintf(b, sizeof b, "%u function%s", c.pci.count, c.pci.count == 1 ? "" : "s");
        add_change(it, "pci", false, a, b);
    }
    it->kind = PLAN_UNCHANGED;
    for (uint32_t i = 0; i < it->change_count; i++) {
        if (!it->changes[i].live)
            it->kind = PLAN_RESTART;
        else if (it->kind == PLAN_UNCHANGED)
            it->kind = PLAN_CHANGE;
    }
}

void plan_compute(const struct manifest_set *want, const struct plan_domain *have,
                  uint32_t have_count, bool prune, struct plan *out)
{
    out->count = 0;
    out->items = calloc((size_t)want->count + have_count + 1, sizeof *out->items);
    if (!out->items)
        abort();
    for (uint32_t i = 0; i < want->count; i++) {
        const struct manifest *m = &want->items[i];
        struct plan_item *it = &out->items[out->count++];
        snprintf(it->name, sizeof it->name, "%s", m->name);
        it->want = m;
        for (uint32_t j = 0; j < have_count; j++)
            if (!strcmp(have[j].name, m->name))
                it->have = &have[j];
        if (!it->have)
            it->kind = PLAN_CREATE;
        else
            compare(it, m, it->have);
    }
    if (!prune)
        return;
    for (uint32_t j = 0; j < have_count; j++) {
        if (have[j].id == PLAN_PROTECTED_DOMAIN_ID)
            continue;
        bool named = false;
        for (uint32_t i = 0; i < want->count && !named; i++)
            named = !strcmp(want->items[i].name, have[j].name);
        if (named)
            continue;
        struct plan_item *it = &out->items[out->count++];
        it->kind = PLAN_DESTROY;
        snprintf(it->name, sizeof it->name, "%s", have[j].name);
        it->have = &have[j];
    }
}

void plan_free(struct plan *p)
{
    free(p->items);
    p->items = NULL;
    p->count = 0;
}

bool plan_has_differences(const struct plan *p)
{
    for (uint32_t i = 0; i < p->count; i++)
        if (p->items[i].kind != PLAN_UNCHANGED)
            return true;
    return false;
}

void plan_print(FILE *out, const struct plan *p)
{
    for (uint32_t i = 0; i < p->count; i++) {
        const struct plan_item *it = &p->items[i];
        char mem[40];
        switch (it->kind) {
        case PLAN_UNCHANGED: fprintf(out, "= %s: unchanged\n", it->name); break;
        case PLAN_CREATE:
            manifest_format_size(mem, sizeof mem, it->want->memory_bytes);
            fprintf(out, "+ %s: create (%s, %u vcpus, from %s)\n", it->name, mem, it->want->vcpus,
                    it->want->file);
            break;
        case PLAN_CHANGE: fprintf(out, "~ %s: change live\n", it->name); break;
        case PLAN_RESTART:
            fprintf(out, "! %s: needs a restart to apply (destroy it, then apply again)\n",
                    it->name);
            break;
        case PLAN_DESTROY:
            fprintf(out, "- %s: destroy (id %" PRIu64 ", in no manifest)\n", it->name,
                    it->have->id);
            break;
        }
        for (uint32_t c = 0; c < it->change_count; c++)
            fprintf(out, "    %s: %s -> %s%s\n", it->changes[c].field, it->changes[c].from,
                    it->changes[c].to, it->changes[c].live ? " (live)" : " (restart)");
    }
}
