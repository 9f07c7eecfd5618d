/* Token table, minting and revocation (see tokens.h). */
#include "tokens.h"

#include <stdio.h>
#include <string.h>

#include "gk/gk.h"

#define MINTED_SECRET_BYTES 32u

static struct token table[TOKEN_MAX];
static uint64_t next_id = TOKEN_ADMIN_ID + 1;

void token_init_admin(const uint8_t *secret, uint32_t len)
{
    struct token *t = &table[0];
    memset(t, 0, sizeof *t);
    t->live = len > 0;
    t->all_domains = true;
    t->id = TOKEN_ADMIN_ID;
    t->rights = TOKEN_RIGHTS_ALL;
    if (len > TOKEN_SECRET_BYTES)
        len = TOKEN_SECRET_BYTES;
    memcpy(t->secret, secret, len);
    t->secret_len = len;
    strlcpy(t->label, "admin", sizeof t->label);
}

const struct token *token_find(struct hvcbor_str s)
{
    const struct token *found = NULL;
    if (s.len == 0 || s.len > TOKEN_SECRET_BYTES)
        return NULL;
    for (uint32_t i = 0; i < TOKEN_MAX; i++) {
        const struct token *t = &table[i];
        /* Compare every byte of every live token of that length, so the time
         * taken does not tell how much of a guess was right. */
        uint8_t diff = (uint8_t)(t->secret_len != s.len);
        for (uint32_t k = 0; k < s.len; k++)
            diff |= (uint8_t)(t->secret[k] ^ s.ptr[k]);
        if (t->live && diff == 0)
            found = t;
    }
    return found;
}

static bool covers(const struct token *t, const char *dom, size_t len)
{
    if (t->all_domains)
        return true;
    for (uint32_t i = 0; i < t->domains_count; i++)
        if (strlen(t->domains[i]) == len && memcmp(t->domains[i], dom, len) == 0)
            return true;
    return false;
}

bool token_allows(const struct token *t, enum proto_right r, const char *dom)
{
    if (!t || !t->live || !(t->rights & TOKEN_RIGHT(r)))
        return false;
    return dom == NULL || covers(t, dom, strlen(dom));
}

bool token_allows_str(const struct token *t, enum proto_right r, struct hvcbor_str dom)
{
    if (!t || !t->live || !(t->rights & TOKEN_RIGHT(r)))
        return false;
    return covers(t, (const char *)dom.ptr, dom.len);
}

/* 64 random bits: RDRAND when the CPU has it, else the TSC mixed. */
static uint64_t random64(void)
{
    static uint64_t state;
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    if (c & (1u << 30)) {
        for (int tries = 0; tries < 32; tries++) {
            uint64_t v;
            unsigned char ok;
            __asm__ volatile("rdrand %0; setc %1" : "=r"(v), "=qm"(ok));
            if (ok)
                return v ^ state;
        }
    }
    /* splitmix64 over the TSC: not cryptographic; logged at start. */
    state += 0x9e3779b97f4a7c15ull ^ __builtin_ia32_rdtsc();
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

const char *token_mint(const struct token *parent, const struct proto_token_create_request *q,
                       const struct token **out, enum proto_error_code *code)
{
    *code = PROTO_ERROR_CODE_REFUSED;
    if (!(parent->rights & TOKEN_RIGHT(PROTO_RIGHT_TOKEN)))
        return "this token may not mint tokens (no token right)";
    uint32_t rights = 0;
    for (uint32_t i = 0; i < q->rights.count; i++)
        rights |= TOKEN_RIGHT(q->rights.items[i]);
    if (rights & ~parent->rights)
        return "a token cannot grant a right its minter does not hold";
    for (uint32_t i = 0; i < q->domains.count; i++) {
        struct hvcbor_str d = q->domains.items[i];
        if (!covers(parent, (const char *)d.ptr, d.len))
            return "a token cannot cover a domain its minter does not";
    }
    struct token *t = NULL;
    for (uint32_t i = 1; i < TOKEN_MAX && !t; i++)
        if (!table[i].live)
            t = &table[i];
    if (!t) {
        *code = PROTO_ERROR_CODE_NO_RESOURCES;
        return "the token table is full (revoke some tokens)";
    }
    memset(t, 0, sizeof *t);
    t->id = next_id++;
    t->parent = parent->id;
    t->rights = rights;
    for (uint32_t i = 0; i < q->domains.count; i++) {
        memcpy(t->domains[i], q->domains.items[i].ptr, q->domains.items[i].len);
        t->domains[i][q->domains.items[i].len] = 0;
    }
    t->domains_count = q->domains.count;
    if (q->has_label && q->label.len > 0) {
        memcpy(t->label, q->label.ptr, q->label.len);
        t->label[q->label.len] = 0;
    } else {
        snprintf(t->label, sizeof t->label, "token-%llu", (unsigned long long)t->id);
    }
    for (uint32_t k = 0; k < MINTED_SECRET_BYTES; k += 8) {
        uint64_t v = random64();
        memcpy(t->secret + k, &v, 8);
    }
    t->secret_len = MINTED_SECRET_BYTES;
    t->live = true;
    *out = t;
    return NULL;
}

static bool descends(const struct token *t, uint64_t ancestor)
{
    for (uint32_t hops = 0; t && hops < TOKEN_MAX; hops++) {
        if (t->id == ancestor)
            return true;
        const struct token *p = NULL;
        for (uint32_t i = 0; i < TOKEN_MAX; i++)
            if (table[i].id == t->parent && table[i].id != 0)
                p = &table[i];
        t = p;
    }
    return false;
}

const char *token_revoke(const struct token *by, uint64_t id, uint32_t *count,
                         enum proto_error_code *code)
{
    *count = 0;
    struct token *t = NULL;
    for (uint32_t i = 0; i < TOKEN_MAX; i++)
        if (table[i].live && table[i].id == id)
            t = &table[i];
    if (!t) {
        *code = PROTO_ERROR_CODE_NOT_FOUND;
        return "no live token with that id";
    }
    if (id == TOKEN_ADMIN_ID) {
        *code = PROTO_ERROR_CODE_REFUSED;
        return "the admin token cannot be revoked (hvctl down ends it)";
    }
    if (!(by->rights & TOKEN_RIGHT(PROTO_RIGHT_TOKEN)) || !descends(t, by->id)) {
        *code = PROTO_ERROR_CODE_REFUSED;
        return "a token may revoke only itself and tokens minted from it (needs the token right)";
    }
    /* Mark the whole subtree: revoked tokens keep their id and parent (not
     * live) until reused, so a grandchild still finds its way up. */
    bool mark[TOKEN_MAX] = {false};
    for (uint32_t i = 0; i < TOKEN_MAX; i++)
        if (table[i].live && descends(&table[i], id))
            mark[i] = true;
    for (uint32_t i = 0; i < TOKEN_MAX; i++)
        if (mark[i]) {
            table[i].live = false;
            memset(table[i].secret, 0, sizeof table[i].secret);
            (*count)++;
        }
    return NULL;
}
