/*
 * Tokens: every request carries one; a token names a set of rights (enum
 * proto_right, as a bit mask) over a set of domains (by name; the admin
 * token covers every domain). Tokens are minted from a token that holds
 * the `token` right, never wider than it, and form a tree: revoking one
 * revokes everything minted from it. The admin token (id 1) is read from
 * fw_cfg at start and cannot be revoked.
 */
#ifndef CONTROL_TOKENS_H
#define CONTROL_TOKENS_H

#include <stdbool.h>
#include <stdint.h>

#include <hv/proto_msgs.h>

#define TOKEN_MAX 64u
#define TOKEN_SECRET_BYTES 64u /* the catalog bound; minted secrets are 32 bytes */
#define TOKEN_DOMAINS_MAX 64u
#define TOKEN_NAME_MAX 64u
#define TOKEN_ADMIN_ID 1u

#define TOKEN_RIGHT(r) (1u << (r))
#define TOKEN_RIGHTS_ALL 0x7fu

struct token {
    bool live;
    bool all_domains;
    uint64_t id, parent;
    uint32_t rights;
    uint8_t secret[TOKEN_SECRET_BYTES];
    uint32_t secret_len;
    char label[TOKEN_NAME_MAX + 1];
    uint32_t domains_count;
    char domains[TOKEN_DOMAINS_MAX][TOKEN_NAME_MAX + 1];
};

/* Installs the admin token (secret of len 1..64 bytes). */
void token_init_admin(const uint8_t *secret, uint32_t len);

/* The live token whose secret is s (compared in constant time per token),
 * or NULL. */
const struct token *token_find(struct hvcbor_str s);

/* Whether t holds right r over the domain named dom (NULL: a right that
 * names no domain, e.g. log or token). */
bool token_allows(const struct token *t, enum proto_right r, const char *dom);
bool token_allows_str(const struct token *t, enum proto_right r, struct hvcbor_str dom);

/* Mints a token under parent from a validated token-create-request. NULL on
 * success (*out set); else a static reason and *code. */
const char *token_mint(const struct token *parent, const struct proto_token_create_request *q,
                       const struct token **out, enum proto_error_code *code);

/* Revokes id and its descendants, if id is by (the caller) or minted under
 * it. NULL on success (*count revoked), else a reason and *code. */
const char *token_revoke(const struct token *by, uint64_t id, uint32_t *count,
                         enum proto_error_code *code);

#endif
