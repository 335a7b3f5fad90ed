/* pds_chain.h: tamper evidence for the audit log.
 *
 * Every line of a chained log is one JSON object:
 *
 *   {"seq":N,"prev":"<64 hex>", ...members of the record..., "mac":"<64 hex>"}
 *
 *   seq   1, 2, 3, ... across every file of one gateway's log, never reused
 *   prev  SHA-256 of the previous line's bytes (without its "\n"); 64 zeros
 *         for the very first line of a log
 *   mac   HMAC-SHA-256, with the gateway's secret audit key, over the line's
 *         bytes up to and excluding `,"mac":"...` followed by "}" — i.e. over
 *         the same object with the "mac" member removed, exactly as written.
 *         It is always the last member, so a line ends with
 *         `,"mac":"<64 hex>"}` (74 bytes).
 *
 * The "prev" hashes make the lines one chain anyone can recompute; the MACs
 * make each line authentic to whoever holds the secret key. Checkpoint lines
 * make the chain verifiable with a public key alone:
 *
 *   {"seq":N,"prev":"...","type":"checkpoint","time":"<RFC 3339>",
 *    "sig":"<compact JWS>","mac":"..."}
 *
 * where sig is a JWS (pds_jws_sign, the signing key's algorithm: EdDSA or
 * ES256) whose payload is {"seq":N,"prev":"<the same prev>"}: a signature
 * over the hash of the line before it, and so over every line before that.
 * A file made by rotation starts with
 *
 *   {"seq":N,"prev":"<hash of the previous file's last line>",
 *    "type":"file-start","previous_file":"<name>","time":"...","mac":"..."}
 *
 * A large collection's subjects go in lines of "type":"subjects" just before
 * its record (lib/pds_audit.h). Decision records have no "type" member. Everything in this file is pure
 * computation: no I/O, no locks; the caller serialises appends (the httpd
 * glue holds a global mutex and keeps pds_chain_state_t in shared memory).
 */
#ifndef PDS_CHAIN_H
#define PDS_CHAIN_H

#include <apr_pools.h>
#include <apr_time.h>
#include <jansson.h>

#include "pds_encode.h"
#include "pds_error.h"
#include "pds_jws.h"

#define PDS_CHAIN_HASH_LEN 32
#define PDS_CHAIN_KEY_MIN  32     /* bytes of secret an audit key must have */

/* Plain data with no pointers, so it can live in shared memory. */
typedef struct pds_chain_state_t {
    apr_uint64_t seq;                       /* seq of the last line written; 0: none */
    unsigned char prev[PDS_CHAIN_HASH_LEN]; /* SHA-256 of the last line written */
    apr_uint64_t since_checkpoint;          /* lines since the last checkpoint */
    apr_time_t last_checkpoint;             /* when it was written; 0: never */
    unsigned char last_mac[PDS_CHAIN_HASH_LEN]; /* MAC of the last line written */
} pds_chain_state_t;

typedef struct pds_chain_key_t pds_chain_key_t;

/* Reads a secret key file: 64 to 256 hex digits (32 to 128 bytes), one line,
 * as `pds-audit keygen` writes it. Refused ("bad-audit-key") if the content is
 * anything else. The glue also refuses a file group or others can read; that
 * check is on the file, so it is the caller's. */
apr_status_t pds_chain_key_load(pds_chain_key_t **pkey, apr_pool_t *p,
                                const char *path, pds_error_t *err);
apr_status_t pds_chain_key_from_hex(pds_chain_key_t **pkey, apr_pool_t *p,
                                    const char *hex, apr_size_t len,
                                    pds_error_t *err);
/* A new random key as the hex text a key file holds (with a final "\n"). */
apr_status_t pds_chain_key_generate(char **phex, apr_pool_t *p, pds_error_t *err);
#define PDS_CHAIN_KEY_MAX 128    /* ... and may have at most */
/* A key over the caller's bytes (not copied, not wiped): len bytes that
 * outlive the key and may change under it. */
pds_chain_key_t *pds_chain_key_over(apr_pool_t *p, const unsigned char *bytes,
                                    apr_size_t len);
/* Line MACs under key use h, the same secret made ready once
 * (pds_hmac_create over its bytes), instead of keying HMAC for every line:
 * the same MACs for less. h serves one thread at a time (the caller
 * serialises appends anyway); NULL goes back to keying per line. */
void pds_chain_key_use_hmac(pds_chain_key_t *key, pds_hmac_t *h);
/* The same secret (compared in constant time). */
int pds_chain_key_equal(const pds_chain_key_t *a, const pds_chain_key_t *b);
/* The secret's bytes (the same format serves PDSPseudonymKey). */
const unsigned char *pds_chain_key_bytes(const pds_chain_key_t *key, apr_size_t *plen);

void pds_chain_state_init(pds_chain_state_t *st);

/* The seq a line starts with: every chained line begins {"seq":N, so it can
 * be read from a line that is too long or cut short. 0 if there is none. */
apr_uint64_t pds_chain_line_seq(const char *line, apr_size_t len);

/* Seals one record: record (a JSON object without seq, prev or mac; its
 * members keep their order) becomes a complete line ending in "\n". The state
 * is advanced only by pds_chain_commit(), once the caller has written the
 * line: a line that could not be written takes no seq. */
apr_status_t pds_chain_seal(char **pline, apr_size_t *plen,
                            const pds_chain_state_t *st,
                            const pds_chain_key_t *key, json_t *record,
                            apr_pool_t *p, pds_error_t *err);
/* The same for a record already written as compact JSON text, "{...}"
 * (mlen bytes, as json_dumps(JSON_COMPACT | JSON_ENSURE_ASCII) writes it;
 * pds_audit_record_lines does): the caller vouches that it is one object
 * without seq, prev or mac members. */
apr_status_t pds_chain_seal_text(char **pline, apr_size_t *plen,
                                 const pds_chain_state_t *st,
                                 const pds_chain_key_t *key, const char *members,
                                 apr_size_t mlen, apr_pool_t *p, pds_error_t *err);
void pds_chain_commit(pds_chain_state_t *st, const char *line, apr_size_t len,
                      apr_time_t now);

/* Is a checkpoint due? (every `every` lines or `interval` since the last;
 * 0 disables that trigger) */
int pds_chain_checkpoint_due(const pds_chain_state_t *st, apr_uint64_t every,
                             apr_interval_time_t interval, apr_time_t now);

/* A checkpoint line signed with signer (a private key: EdDSA or ES256). */
apr_status_t pds_chain_checkpoint(char **pline, apr_size_t *plen,
                                  const pds_chain_state_t *st,
                                  const pds_chain_key_t *key,
                                  const pds_key_t *signer, apr_time_t now,
                                  apr_pool_t *p, pds_error_t *err);

/* The first line of a file that continues a log after rotation. */
apr_status_t pds_chain_file_start(char **pline, apr_size_t *plen,
                                  const pds_chain_state_t *st,
                                  const pds_chain_key_t *key,
                                  const char *previous_file, apr_time_t now,
                                  apr_pool_t *p, pds_error_t *err);

/* Restores the state from the last bytes of a log (a partial last line,
 * from a write cut short, is skipped). tail must begin at the start of a line
 * (the start of the file, or just after a "\n") and hold the whole last
 * complete line, however long: the caller reads backwards until it has it. The last complete line must be a chained
 * record whose MAC verifies with key ("bad-audit-log" otherwise): a gateway
 * never continues a chain it cannot vouch for. An empty tail gives the
 * initial state. since_checkpoint is set conservatively (a checkpoint is
 * written soon after a restart). */
apr_status_t pds_chain_recover(pds_chain_state_t *st, const char *tail,
                               apr_size_t len, const pds_chain_key_t *key,
                               pds_error_t *err);

/* --- the chain's head, kept outside the log ------------------------------------
 *
 * A fixed-size line in a file beside the log (PDSAuditLog + ".head"), rewritten
 * in place after every record, so that a log whose last lines (or the whole
 * file) went missing can be told from a new log:
 *
 *   pds-audit-head 1 seq=<20 digits> mac=<64 hex> hash=<64 hex>\n
 *
 * seq and mac of the last line written, hash its SHA-256 (the next line's
 * prev). seq 0 (mac and hash zeros): no line yet. */
#define PDS_CHAIN_HEAD_LEN 181

typedef struct pds_chain_head_t {
    apr_uint64_t seq;
    unsigned char mac[PDS_CHAIN_HASH_LEN];
    unsigned char hash[PDS_CHAIN_HASH_LEN];
} pds_chain_head_t;

/* The head line of st into buf (PDS_CHAIN_HEAD_LEN bytes, no NUL). */
void pds_chain_head_format(char buf[PDS_CHAIN_HEAD_LEN], const pds_chain_state_t *st);
/* Parses a head file's content ("bad-audit-head" unless it is exactly one head
 * line). */
apr_status_t pds_chain_head_parse(pds_chain_head_t *h, const char *buf, apr_size_t len,
                                  pds_error_t *err);
/* Does the log (whose recovered state is st) still hold what the head says
 * was written? APR_SUCCESS when the log reaches the head's seq (a log one or
 * more lines ahead: the head was not rewritten before a crash); otherwise
 * APR_EINVAL and err->code "audit-log-cut": the log is empty, ends before
 * the head's seq, or its line at that seq is another one. */
apr_status_t pds_chain_head_check(const pds_chain_head_t *h, const pds_chain_state_t *st,
                                  pds_error_t *err);

/* --- verification ---------------------------------------------------------- */

typedef struct pds_chain_verifier_t pds_chain_verifier_t;

/* key: check every MAC (NULL: no MAC checks). public_key: check checkpoint
 * signatures (NULL: none). At least one of them must be given. */
apr_status_t pds_chain_verifier_create(pds_chain_verifier_t **pv, apr_pool_t *p,
                                       const pds_chain_key_t *key,
                                       const pds_key_t *public_key,
                                       pds_error_t *err);

/* Keys rotated over a series (at most PDS_CHAIN_MAX_KEYS of each): any of the
 * audit keys may seal a file, the one that seals its first line seals all of
 * it; any of the public keys may have signed a checkpoint. */
#define PDS_CHAIN_MAX_KEYS 16
apr_status_t pds_chain_verifier_add_key(pds_chain_verifier_t *v, const pds_chain_key_t *key,
                                        pds_error_t *err);
apr_status_t pds_chain_verifier_add_public_key(pds_chain_verifier_t *v,
                                               const pds_key_t *public_key,
                                               pds_error_t *err);

/* Feeds one line (without its "\n"). The first line of the first file may
 * start anywhere (a rotated file names what came before); after that each
 * line must follow the last. On failure err->code says why and err->position
 * is 0; the verifier stays failed:
 *   "bad-json"        not a JSON object, or duplicate keys
 *   "bad-format"      seq/prev/mac missing or malformed, mac not last
 *   "bad-mac"         the MAC does not verify (the line was changed)
 *   "seq-gap"         seq is not one more than the previous line's (a line
 *                     was deleted, inserted or moved)
 *   "broken-chain"    prev is not the hash of the previous line
 *   "bad-checkpoint"  a checkpoint's signature or payload does not verify
 *   "bad-file-start"  a file-start line in the middle of a file
 *   "missing-file-start"  a later file that does not begin with one */
apr_status_t pds_chain_verify_line(pds_chain_verifier_t *v, const char *line,
                                   apr_size_t len, pds_error_t *err);
/* The operator vouches for one line of the chain (an anchor kept outside the
 * log): line seq has this MAC. The checked lines must then contain that line,
 * with that MAC ("anchor-mismatch" at the line otherwise), and may begin at it
 * instead of at the chain's genesis. */
void pds_chain_verifier_anchor(pds_chain_verifier_t *v, apr_uint64_t seq,
                               const unsigned char mac[PDS_CHAIN_HASH_LEN]);

/* After the last line: is the log whole at its head? Fails with
 *   "missing-head"      the first line is not the chain's genesis (seq 1, prev
 *                       zeros) nor the anchor line: the lines before it (the
 *                       first lines, the first files of a series) are missing
 *   "anchor-not-found"  an anchor was given and the log never reached its seq
 * A log of no lines passes (there is nothing to vouch for). */
apr_status_t pds_chain_verifier_finish(pds_chain_verifier_t *v, pds_error_t *err);

/* Tells the verifier a new file begins (its first line must be a file-start
 * line continuing the chain, or the chain's very first line). */
void pds_chain_verifier_next_file(pds_chain_verifier_t *v);

typedef struct pds_chain_summary_t {
    apr_uint64_t lines;             /* lines accepted */
    apr_uint64_t first_seq;
    apr_uint64_t last_seq;
    apr_uint64_t checkpoints;
    apr_uint64_t last_checkpoint_seq;  /* lines up to here are covered by a
                                          verified signature */
    apr_uint64_t key_changes;       /* files sealed with another key than the
                                       file before (rotated audit keys) */
    int starts_mid_chain;           /* the first line was not seq 1 */
    int starts_at_anchor;           /* ... and it was the anchor's line */
    unsigned char first_mac[PDS_CHAIN_HASH_LEN];  /* the first line's MAC: the
                                       anchor to give when the lines before it
                                       are gone */
} pds_chain_summary_t;

void pds_chain_verifier_summary(const pds_chain_verifier_t *v,
                                pds_chain_summary_t *out);

/* --- subject pseudonyms ---------------------------------------------------- */

/* "ps:" + the first 32 hex digits of HMAC-SHA-256(key, subject): stable for
 * one key, unlinkable without it. Pool memory. */
const char *pds_chain_pseudonym(apr_pool_t *p, const pds_chain_key_t *key,
                                const char *subject);

#endif
