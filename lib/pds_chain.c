/* pds_chain.c: the audit log's chain (format in pds_chain.h). */
#include <stdlib.h>
#include <string.h>

#include <apr_file_io.h>
#include <apr_strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "pds_chain.h"
#include "pds_encode.h"
#include "pds_time.h"

#define MAC_SUFFIX_LEN 74               /* ,"mac":"<64 hex>"} */
#define KEY_FILE_MAX   1024

struct pds_chain_key_t {
    unsigned char *bytes;
    apr_size_t len;
    pds_hmac_t *hmac;               /* optional: the same secret made ready */
};

void pds_chain_key_use_hmac(pds_chain_key_t *key, pds_hmac_t *h)
{
    key->hmac = h;
}

const unsigned char *pds_chain_key_bytes(const pds_chain_key_t *key, apr_size_t *plen)
{
    *plen = key->len;
    return key->bytes;
}

static apr_status_t cleanse_key(void *data)
{
    pds_chain_key_t *key = data;

    OPENSSL_cleanse(key->bytes, key->len);
    return APR_SUCCESS;
}

apr_status_t pds_chain_key_from_hex(pds_chain_key_t **pkey, apr_pool_t *p,
                                    const char *hex, apr_size_t len,
                                    pds_error_t *err)
{
    pds_chain_key_t *key;

    /* One line: a trailing newline (and a CR before it) is allowed. */
    if (len > 0 && hex[len - 1] == '\n')
        len--;
    if (len > 0 && hex[len - 1] == '\r')
        len--;
    if (len < 2 * PDS_CHAIN_KEY_MIN || len > 2 * PDS_CHAIN_KEY_MAX || len % 2 != 0) {
        pds_error_set(err, "bad-audit-key", -1, "audit key",
                      "an audit key is one line of 64 to 256 hex digits "
                      "(32 to 128 bytes)");
        return APR_EINVAL;
    }
    key = apr_pcalloc(p, sizeof(*key));
    key->len = len / 2;
    key->bytes = apr_palloc(p, key->len);
    apr_pool_cleanup_register(p, key, cleanse_key, apr_pool_cleanup_null);
    if (pds_hex_decode(key->bytes, hex, key->len) != 0) {
        pds_error_set(err, "bad-audit-key", -1, "audit key",
                      "an audit key holds hex digits only");
        return APR_EINVAL;
    }
    *pkey = key;
    return APR_SUCCESS;
}

pds_chain_key_t *pds_chain_key_over(apr_pool_t *p, const unsigned char *bytes,
                                    apr_size_t len)
{
    pds_chain_key_t *key = apr_pcalloc(p, sizeof(*key));

    key->bytes = (unsigned char *)bytes;
    key->len = len;
    return key;
}

int pds_chain_key_equal(const pds_chain_key_t *a, const pds_chain_key_t *b)
{
    return a->len == b->len && CRYPTO_memcmp(a->bytes, b->bytes, a->len) == 0;
}

apr_status_t pds_chain_key_load(pds_chain_key_t **pkey, apr_pool_t *p,
                                const char *path, pds_error_t *err)
{
    apr_file_t *f;
    char buf[KEY_FILE_MAX + 1];
    apr_size_t n = sizeof(buf);
    apr_status_t rv;

    rv = apr_file_open(&f, path, APR_FOPEN_READ, 0, p);
    if (rv != APR_SUCCESS) {
        pds_error_set(err, "bad-audit-key", -1, path, "cannot open the key file");
        return rv;
    }
    rv = apr_file_read_full(f, buf, sizeof(buf), &n);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF) {
        pds_error_set(err, "bad-audit-key", -1, path, "cannot read the key file");
        return rv;
    }
    if (n > KEY_FILE_MAX) {
        pds_error_set(err, "bad-audit-key", -1, path, "the key file is too large");
        return APR_EINVAL;
    }
    rv = pds_chain_key_from_hex(pkey, p, buf, n, err);
    OPENSSL_cleanse(buf, sizeof(buf));
    return rv;
}

apr_status_t pds_chain_key_generate(char **phex, apr_pool_t *p, pds_error_t *err)
{
    unsigned char raw[32];
    char *hex = apr_palloc(p, 2 * sizeof(raw) + 2);

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        pds_error_set(err, "internal-error", -1, "audit key",
                      "no random bytes for a new key");
        return APR_EGENERAL;
    }
    pds_hex_encode(hex, raw, sizeof(raw));
    OPENSSL_cleanse(raw, sizeof(raw));
    hex[2 * sizeof(raw)] = '\n';
    hex[2 * sizeof(raw) + 1] = '\0';
    *phex = hex;
    return APR_SUCCESS;
}

void pds_chain_state_init(pds_chain_state_t *st)
{
    memset(st, 0, sizeof(*st));
}

static int sha256(const void *data, apr_size_t len, unsigned char out[32])
{
    return pds_sha256(out, data, len);
}

/* HMAC over text, then the closing brace the MAC input always ends with. */
static int line_mac(const pds_chain_key_t *key, const char *text, apr_size_t len,
                    unsigned char out[32])
{
    if (key->hmac != NULL)
        return pds_hmac_mac(key->hmac, out, text, len, "}", 1);
    return pds_hmac_sha256(out, key->bytes, key->len, text, len, "}", 1);
}

apr_status_t pds_chain_seal_text(char **pline, apr_size_t *plen,
                                 const pds_chain_state_t *st,
                                 const pds_chain_key_t *key, const char *members,
                                 apr_size_t mlen, apr_pool_t *p, pds_error_t *err)
{
    char *line, *o;
    unsigned char mac[32];
    apr_size_t hlen, len;

    if (key == NULL || members == NULL || mlen < 2 || members[0] != '{'
        || members[mlen - 1] != '}') {
        pds_error_set(err, "internal-error", -1, "audit", "nothing to seal");
        return APR_EINVAL;
    }
    /* {"seq":<at most 20 digits>,"prev":"<64 hex>" + ("," + members without
     * braces) ; the MAC covers it plus "}", then ,"mac":"<64 hex>"}\n */
    len = 7 + 20 + 9 + 64 + 1 + mlen - 1 + MAC_SUFFIX_LEN + 1;
    line = apr_palloc(p, len + 1);
    o = line + apr_snprintf(line, 7 + 20 + 1, "{\"seq\":%" APR_UINT64_T_FMT, st->seq + 1);
    memcpy(o, ",\"prev\":\"", 9);
    pds_hex_encode(o + 9, st->prev, sizeof(st->prev));
    o += 9 + 64;
    *o++ = '"';
    if (mlen > 2) {
        *o++ = ',';
        memcpy(o, members + 1, mlen - 2);
        o += mlen - 2;
    }
    hlen = (apr_size_t)(o - line);
    if (!line_mac(key, line, hlen, mac)) {
        pds_error_set(err, "internal-error", -1, "audit", "HMAC failed");
        return APR_EGENERAL;
    }
    memcpy(line + hlen, ",\"mac\":\"", 8);
    pds_hex_encode(line + hlen + 8, mac, sizeof(mac));
    memcpy(line + hlen + 72, "\"}\n", 3);
    line[hlen + 75] = '\0';
    *pline = line;
    *plen = hlen + 75;
    return APR_SUCCESS;
}

apr_status_t pds_chain_seal(char **pline, apr_size_t *plen,
                            const pds_chain_state_t *st,
                            const pds_chain_key_t *key, json_t *record,
                            apr_pool_t *p, pds_error_t *err)
{
    char *members;
    apr_status_t rv;

    if (key == NULL || !json_is_object(record)) {
        pds_error_set(err, "internal-error", -1, "audit", "nothing to seal");
        return APR_EINVAL;
    }
    if (json_object_get(record, "seq") || json_object_get(record, "prev")
        || json_object_get(record, "mac")) {
        pds_error_set(err, "internal-error", -1, "audit",
                      "a record must not carry seq, prev or mac itself");
        return APR_EINVAL;
    }
    members = json_dumps(record, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (members == NULL) {
        pds_error_set(err, "internal-error", -1, "audit", "out of memory");
        return APR_ENOMEM;
    }
    rv = pds_chain_seal_text(pline, plen, st, key, members, strlen(members), p, err);
    free(members);
    return rv;
}

void pds_chain_commit(pds_chain_state_t *st, const char *line, apr_size_t len,
                      apr_time_t now)
{
    if (len > 0 && line[len - 1] == '\n')
        len--;
    sha256(line, len, st->prev);
    st->seq++;
    /* Every sealed line ends with ,"mac":"<64 hex>"} */
    if (len < MAC_SUFFIX_LEN || pds_hex_decode(st->last_mac, line + len - MAC_SUFFIX_LEN + 8, 32) != 0)
        memset(st->last_mac, 0, sizeof(st->last_mac));
    /* Is the line just written a checkpoint? Its type member says so. */
    if (strstr(line, "\"type\":\"checkpoint\"") != NULL
        && len > 0 && memchr(line, '\n', len) == NULL) {
        st->since_checkpoint = 0;
        st->last_checkpoint = now;
    }
    else {
        st->since_checkpoint++;
    }
}

apr_uint64_t pds_chain_line_seq(const char *line, apr_size_t len)
{
    apr_uint64_t seq = 0;
    apr_size_t i;

    if (len < 8 || memcmp(line, "{\"seq\":", 7) != 0)
        return 0;
    for (i = 7; i < len && i < 27 && line[i] >= '0' && line[i] <= '9'; i++)
        seq = seq * 10 + (apr_uint64_t)(line[i] - '0');
    return i < len && line[i] == ',' ? seq : 0;
}

int pds_chain_checkpoint_due(const pds_chain_state_t *st, apr_uint64_t every,
                             apr_interval_time_t interval, apr_time_t now)
{
    if (st->since_checkpoint == 0)
        return 0;
    if (every > 0 && st->since_checkpoint >= every)
        return 1;
    return interval > 0 && now - st->last_checkpoint >= interval;
}

static apr_status_t seal_special(char **pline, apr_size_t *plen, const pds_chain_state_t *st,
                                 const pds_chain_key_t *key, json_t *rec, apr_pool_t *p,
                                 pds_error_t *err)
{
    apr_status_t rv;

    if (rec == NULL) {
        pds_error_set(err, "internal-error", -1, "audit", "out of memory");
        return APR_ENOMEM;
    }
    rv = pds_chain_seal(pline, plen, st, key, rec, p, err);
    json_decref(rec);
    return rv;
}

apr_status_t pds_chain_checkpoint(char **pline, apr_size_t *plen,
                                  const pds_chain_state_t *st,
                                  const pds_chain_key_t *key,
                                  const pds_key_t *signer, apr_time_t now,
                                  apr_pool_t *p, pds_error_t *err)
{
    char prev[65];
    const char *when = pds_time_format_usec(p, now);
    char *sig;
    json_t *payload;
    apr_status_t rv;

    if (signer == NULL || !pds_key_is_private(signer)) {
        pds_error_set(err, "not-a-private-key", -1, "audit",
                      "checkpoints need a private signing key");
        return APR_EINVAL;
    }
    pds_hex_encode(prev, st->prev, sizeof(st->prev));
    payload = json_pack("{sIss}", "seq", (json_int_t)(st->seq + 1), "prev", prev);
    if (payload == NULL || when == NULL) {
        json_decref(payload);
        pds_error_set(err, "internal-error", -1, "audit", "out of memory");
        return APR_ENOMEM;
    }
    rv = pds_jws_sign(&sig, p, signer, NULL, payload, err);
    json_decref(payload);
    if (rv != APR_SUCCESS)
        return rv;
    return seal_special(pline, plen, st, key,
                        json_pack("{ssssss}", "type", "checkpoint", "time", when, "sig", sig),
                        p, err);
}

apr_status_t pds_chain_file_start(char **pline, apr_size_t *plen,
                                  const pds_chain_state_t *st,
                                  const pds_chain_key_t *key,
                                  const char *previous_file, apr_time_t now,
                                  apr_pool_t *p, pds_error_t *err)
{
    const char *when = pds_time_format_usec(p, now);

    if (when == NULL || previous_file == NULL) {
        pds_error_set(err, "internal-error", -1, "audit", "bad file-start");
        return APR_EINVAL;
    }
    return seal_special(pline, plen, st, key,
                        json_pack("{ssssss}", "type", "file-start", "previous_file",
                                  previous_file, "time", when),
                        p, err);
}

/* --- reading lines ---------------------------------------------------------- */

typedef struct parsed_line_t {
    apr_uint64_t seq;
    unsigned char prev[32];
    const char *type;           /* NULL for a decision record */
    json_t *doc;
    unsigned char mac[32];
} parsed_line_t;

/* Parses and checks the shape of one line; with key, checks its MAC. */
static apr_status_t parse_line(parsed_line_t *out, const char *line, apr_size_t len,
                               const pds_chain_key_t *key, pds_error_t *err)
{
    json_error_t jerr;
    json_t *seq, *prev, *type;
    const char *last_key = NULL;
    const char *k;
    json_t *v;
    unsigned char *mac = out->mac, want[32];

    memset(out, 0, sizeof(*out));
    out->doc = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(out->doc)) {
        pds_error_set(err, "bad-json", 0, "audit", "the line is not a JSON object");
        return APR_EINVAL;
    }
    json_object_foreach(out->doc, k, v) {
        last_key = k;
    }
    seq = json_object_get(out->doc, "seq");
    prev = json_object_get(out->doc, "prev");
    type = json_object_get(out->doc, "type");
    if (!json_is_integer(seq) || json_integer_value(seq) < 1 || !json_is_string(prev)
        || json_string_length(prev) != 64 || last_key == NULL
        || strcmp(last_key, "mac") != 0 || len < MAC_SUFFIX_LEN
        || memcmp(line + len - MAC_SUFFIX_LEN, ",\"mac\":\"", 8) != 0
        || line[len - 2] != '"' || line[len - 1] != '}'
        || (type != NULL && !json_is_string(type))
        || pds_hex_decode(out->prev, json_string_value(prev), 32) != 0
        || pds_hex_decode(mac, line + len - MAC_SUFFIX_LEN + 8, 32) != 0
        || memcmp(line, "{\"seq\":", 7) != 0) {
        pds_error_set(err, "bad-format", 0, "audit",
                      "seq, prev or mac is missing or malformed, or mac is not last");
        return APR_EINVAL;
    }
    out->seq = (apr_uint64_t)json_integer_value(seq);
    out->type = type ? json_string_value(type) : NULL;
    if (key != NULL) {
        if (!line_mac(key, line, len - MAC_SUFFIX_LEN, want)
            || CRYPTO_memcmp(want, mac, 32) != 0) {
            pds_error_set(err, "bad-mac", 0, "audit",
                          "the MAC does not verify: the line was changed, or was not "
                          "written with this key");
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

apr_status_t pds_chain_recover(pds_chain_state_t *st, const char *tail,
                               apr_size_t len, const pds_chain_key_t *key,
                               pds_error_t *err)
{
    apr_size_t end = len, start;
    parsed_line_t pl;
    apr_status_t rv;

    pds_chain_state_init(st);
    while (end > 0 && tail[end - 1] != '\n')
        end--;                          /* a partial last line is not a record */
    if (end == 0)
        return APR_SUCCESS;
    end--;
    start = end;
    while (start > 0 && tail[start - 1] != '\n')
        start--;
    rv = parse_line(&pl, tail + start, end - start, key, err);
    json_decref(pl.doc);
    if (rv != APR_SUCCESS) {
        pds_error_set(err, "bad-audit-log", (int)start, "audit",
                      "the last line of the audit log is not a record this key sealed");
        /* parse_line set the first error; make the code the recovery's */
        if (err != NULL)
            apr_cpystrn(err->code, "bad-audit-log", sizeof(err->code));
        return APR_EINVAL;
    }
    st->seq = pl.seq;
    memcpy(st->last_mac, pl.mac, sizeof(st->last_mac));
    sha256(tail + start, end - start, st->prev);
    /* Unknown since when: a checkpoint is due with the next record. */
    st->since_checkpoint = 1;
    st->last_checkpoint = 0;
    return APR_SUCCESS;
}

/* --- the chain's head ------------------------------------------------------------ */

#define HEAD_MAGIC "pds-audit-head 1 seq="

void pds_chain_head_format(char buf[PDS_CHAIN_HEAD_LEN], const pds_chain_state_t *st)
{
    char mac[65], hash[65], digits[21];
    apr_uint64_t n = st->seq;
    int i;

    for (i = 19; i >= 0; i--) {
        digits[i] = (char)('0' + n % 10);
        n /= 10;
    }
    digits[20] = '\0';
    if (st->seq == 0) {
        memset(mac, '0', 64);
        memset(hash, '0', 64);
        mac[64] = hash[64] = '\0';
    }
    else {
        pds_hex_encode(mac, st->last_mac, 32);
        pds_hex_encode(hash, st->prev, 32);
    }
    /* 21 + 20 + 5 + 64 + 6 + 64 + 1 = PDS_CHAIN_HEAD_LEN */
    memcpy(buf, HEAD_MAGIC, 21);
    memcpy(buf + 21, digits, 20);
    memcpy(buf + 41, " mac=", 5);
    memcpy(buf + 46, mac, 64);
    memcpy(buf + 110, " hash=", 6);
    memcpy(buf + 116, hash, 64);
    buf[180] = '\n';
}

apr_status_t pds_chain_head_parse(pds_chain_head_t *h, const char *buf, apr_size_t len,
                                  pds_error_t *err)
{
    int i;

    memset(h, 0, sizeof(*h));
    if (len != PDS_CHAIN_HEAD_LEN || memcmp(buf, HEAD_MAGIC, 21) != 0
        || memcmp(buf + 41, " mac=", 5) != 0 || memcmp(buf + 110, " hash=", 6) != 0
        || buf[180] != '\n' || pds_hex_decode(h->mac, buf + 46, 32) != 0
        || pds_hex_decode(h->hash, buf + 116, 32) != 0)
        goto bad;
    for (i = 21; i < 41; i++) {
        if (buf[i] < '0' || buf[i] > '9' || h->seq > (APR_UINT64_MAX - 9) / 10)
            goto bad;
        h->seq = h->seq * 10 + (apr_uint64_t)(buf[i] - '0');
    }
    return APR_SUCCESS;
bad:
    pds_error_set(err, "bad-audit-head", -1, "audit head",
                  "not a head line (pds-audit-head 1 seq=... mac=... hash=...)");
    return APR_EINVAL;
}

apr_status_t pds_chain_head_check(const pds_chain_head_t *h, const pds_chain_state_t *st,
                                  pds_error_t *err)
{
    if (h->seq == 0 || st->seq > h->seq
        || (st->seq == h->seq && CRYPTO_memcmp(st->prev, h->hash, 32) == 0))
        return APR_SUCCESS;
    if (st->seq == 0)
        pds_error_set(err, "audit-log-cut", -1, "audit", "the log is missing or holds no "
                      "record, but the chain had reached seq %" APR_UINT64_T_FMT, h->seq);
    else if (st->seq < h->seq)
        pds_error_set(err, "audit-log-cut", -1, "audit", "the log ends at seq %"
                      APR_UINT64_T_FMT " but the chain had reached seq %" APR_UINT64_T_FMT
                      ": %" APR_UINT64_T_FMT " line(s) are missing at its end", st->seq,
                      h->seq, h->seq - st->seq);
    else
        pds_error_set(err, "audit-log-cut", -1, "audit", "the log's last line (seq %"
                      APR_UINT64_T_FMT ") is not the line the chain's head names: the file "
                      "was replaced", st->seq);
    return APR_EINVAL;
}

/* --- verification ------------------------------------------------------------ */

struct pds_chain_verifier_t {
    /* Rotated keys: an audit key takes over only at a file's first line;
     * any of the public keys may have signed a checkpoint. */
    const pds_chain_key_t *keys[PDS_CHAIN_MAX_KEYS];
    int nkeys;
    int current_key;            /* the key the file being read is sealed with */
    const pds_key_t *public_keys[PDS_CHAIN_MAX_KEYS];
    int npublic_keys;
    apr_pool_t *pool;
    int failed;
    int new_file;               /* the next line is a file's first */
    int must_start;             /* ... and must be a file-start line */
    apr_uint64_t lines_in_file;
    unsigned char last_hash[32];
    pds_chain_summary_t sum;
    int anchored;               /* an anchor was given */
    int anchor_seen;            /* ... and its line checked */
    apr_uint64_t anchor_seq;
    unsigned char anchor_mac[32];
};

apr_status_t pds_chain_verifier_create(pds_chain_verifier_t **pv, apr_pool_t *p,
                                       const pds_chain_key_t *key,
                                       const pds_key_t *public_key,
                                       pds_error_t *err)
{
    pds_chain_verifier_t *v;

    if (key == NULL && public_key == NULL) {
        pds_error_set(err, "bad-argument", -1, "verify",
                      "give the audit key, the checkpoint public key, or both");
        return APR_EINVAL;
    }
    v = apr_pcalloc(p, sizeof(*v));
    if (key != NULL)
        v->keys[v->nkeys++] = key;
    if (public_key != NULL)
        v->public_keys[v->npublic_keys++] = public_key;
    v->pool = p;
    v->new_file = 1;
    *pv = v;
    return APR_SUCCESS;
}

apr_status_t pds_chain_verifier_add_key(pds_chain_verifier_t *v, const pds_chain_key_t *key,
                                        pds_error_t *err)
{
    if (key == NULL || v->nkeys >= PDS_CHAIN_MAX_KEYS) {
        pds_error_set(err, "bad-argument", -1, "verify", "at most %d audit keys",
                      PDS_CHAIN_MAX_KEYS);
        return APR_EINVAL;
    }
    v->keys[v->nkeys++] = key;
    return APR_SUCCESS;
}

apr_status_t pds_chain_verifier_add_public_key(pds_chain_verifier_t *v,
                                               const pds_key_t *public_key,
                                               pds_error_t *err)
{
    if (public_key == NULL || v->npublic_keys >= PDS_CHAIN_MAX_KEYS) {
        pds_error_set(err, "bad-argument", -1, "verify", "at most %d checkpoint public keys",
                      PDS_CHAIN_MAX_KEYS);
        return APR_EINVAL;
    }
    v->public_keys[v->npublic_keys++] = public_key;
    return APR_SUCCESS;
}

void pds_chain_verifier_anchor(pds_chain_verifier_t *v, apr_uint64_t seq,
                               const unsigned char mac[PDS_CHAIN_HASH_LEN])
{
    v->anchored = 1;
    v->anchor_seq = seq;
    memcpy(v->anchor_mac, mac, sizeof(v->anchor_mac));
}

apr_status_t pds_chain_verifier_finish(pds_chain_verifier_t *v, pds_error_t *err)
{
    if (v->failed) {
        pds_error_set(err, "bad-argument", 0, "verify", "the verifier already failed");
        return APR_EINVAL;
    }
    if (v->sum.lines == 0)
        return APR_SUCCESS;
    if (v->sum.starts_mid_chain && !v->sum.starts_at_anchor) {
        if (v->anchored && v->sum.first_seq > v->anchor_seq)
            pds_error_set(err, "missing-head", 0, "audit",
                          "the log begins at seq %" APR_UINT64_T_FMT ", after the anchor's "
                          "seq %" APR_UINT64_T_FMT ": %" APR_UINT64_T_FMT " line(s) are "
                          "missing at its head", v->sum.first_seq, v->anchor_seq,
                          v->sum.first_seq - v->anchor_seq);
        else
            pds_error_set(err, "missing-head", 0, "audit",
                          "the log begins at seq %" APR_UINT64_T_FMT ", not at the chain's "
                          "first line (seq 1): %" APR_UINT64_T_FMT " line(s) before it are "
                          "missing (the first lines, or the first files of a series). Give "
                          "the older files too, or --anchor SEQ:MAC kept from when they "
                          "were checked", v->sum.first_seq, v->sum.first_seq - 1);
        v->failed = 1;
        return APR_EINVAL;
    }
    if (v->anchored && !v->anchor_seen) {
        pds_error_set(err, "anchor-not-found", 0, "audit",
                      "the log ends at seq %" APR_UINT64_T_FMT " and never reaches the "
                      "anchor's seq %" APR_UINT64_T_FMT ": lines are missing at its end",
                      v->sum.last_seq, v->anchor_seq);
        v->failed = 1;
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

void pds_chain_verifier_next_file(pds_chain_verifier_t *v)
{
    v->new_file = 1;
    /* A later file continues the chain only through a file-start line; without
     * this, a log cut in two would verify as a series. */
    v->must_start = v->sum.lines > 0;
    v->lines_in_file = 0;
}

static apr_status_t check_checkpoint(pds_chain_verifier_t *v, const parsed_line_t *pl,
                                     pds_error_t *err)
{
    json_t *sig = json_object_get(pl->doc, "sig");
    pds_jws_t *jws;
    json_t *payload;
    apr_pool_t *scratch;
    char prev[65];
    apr_status_t rv = APR_EINVAL;
    int i;

    if (!json_is_string(sig)) {
        pds_error_set(err, "bad-checkpoint", 0, "audit", "a checkpoint without a signature");
        return APR_EINVAL;
    }
    if (v->npublic_keys == 0)
        return APR_SUCCESS;             /* nothing to check it with */
    if (apr_pool_create(&scratch, v->pool) != APR_SUCCESS)
        return APR_ENOMEM;
    pds_hex_encode(prev, pl->prev, 32);
    if (pds_jws_parse(&jws, scratch, json_string_value(sig), json_string_length(sig), NULL)
        == APR_SUCCESS) {
        for (i = 0; i < v->npublic_keys && rv != APR_SUCCESS; i++) {
            if (pds_jws_verify(jws, v->public_keys[i], NULL) != APR_SUCCESS)
                continue;
            payload = pds_jws_payload(jws);
            if (json_integer_value(json_object_get(payload, "seq")) == (json_int_t)pl->seq
                && json_is_string(json_object_get(payload, "prev"))
                && strcmp(json_string_value(json_object_get(payload, "prev")), prev) == 0
                && json_object_size(payload) == 2)
                rv = APR_SUCCESS;
        }
    }
    apr_pool_destroy(scratch);
    if (rv != APR_SUCCESS)
        pds_error_set(err, "bad-checkpoint", 0, "audit",
                      "the checkpoint's signature does not verify with the public key%s", v->npublic_keys > 1 ? "s" : "");
    return rv;
}

static int mac_matches(const pds_chain_key_t *key, const char *line, apr_size_t len,
                       const unsigned char mac[32])
{
    unsigned char want[32];

    return line_mac(key, line, len - MAC_SUFFIX_LEN, want) && CRYPTO_memcmp(want, mac, 32) == 0;
}

/* The line's MAC with the file's key. A file's first line may be sealed with
 * another of the keys (the key was rotated with the log); that key then
 * holds for the file. */
static apr_status_t check_line_mac(pds_chain_verifier_t *v, const char *line, apr_size_t len,
                                   const unsigned char mac[32], pds_error_t *err)
{
    int i;

    if (v->nkeys == 0 || mac_matches(v->keys[v->current_key], line, len, mac))
        return APR_SUCCESS;
    for (i = 0; i < v->nkeys; i++) {
        if (i == v->current_key || !mac_matches(v->keys[i], line, len, mac))
            continue;
        if (v->new_file) {
            v->current_key = i;
            v->sum.key_changes += v->sum.lines > 0;
            return APR_SUCCESS;
        }
        pds_error_set(err, "bad-mac", 0, "audit",
                      "the line is sealed with another of the given keys than the lines "
                      "before it: the audit key changed within a file (a key is changed "
                      "only when the log is rotated)");
        return APR_EINVAL;
    }
    pds_error_set(err, "bad-mac", 0, "audit", "the MAC does not verify: the line was "
                  "changed, or was not written with %s", v->nkeys > 1 ? "any of these keys"
                                                                      : "this key");
    return APR_EINVAL;
}

apr_status_t pds_chain_verify_line(pds_chain_verifier_t *v, const char *line,
                                   apr_size_t len, pds_error_t *err)
{
    parsed_line_t pl;
    apr_status_t rv;
    int first_ever = v->sum.lines == 0;

    if (v->failed) {
        pds_error_set(err, "bad-argument", 0, "verify", "the verifier already failed");
        return APR_EINVAL;
    }
    rv = parse_line(&pl, line, len, NULL, err);
    if (rv == APR_SUCCESS)
        rv = check_line_mac(v, line, len, pl.mac, err);
    if (rv == APR_SUCCESS && pl.type != NULL && strcmp(pl.type, "file-start") == 0
        && !v->new_file) {
        pds_error_set(err, "bad-file-start", 0, "audit",
                      "a file-start line in the middle of a file");
        rv = APR_EINVAL;
    }
    if (rv == APR_SUCCESS && v->must_start
        && (pl.type == NULL || strcmp(pl.type, "file-start") != 0)) {
        pds_error_set(err, "missing-file-start", 0, "audit",
                      "a later file does not begin with a file-start line");
        rv = APR_EINVAL;
    }
    if (rv == APR_SUCCESS && !first_ever) {
        if (pl.seq != v->sum.last_seq + 1) {
            pds_error_set(err, "seq-gap", 0, "audit",
                          "seq %" APR_UINT64_T_FMT " follows %" APR_UINT64_T_FMT
                          ": a line is missing, inserted or moved", pl.seq, v->sum.last_seq);
            rv = APR_EINVAL;
        }
        else if (CRYPTO_memcmp(pl.prev, v->last_hash, 32) != 0) {
            pds_error_set(err, "broken-chain", 0, "audit",
                          "prev is not the hash of the line before");
            rv = APR_EINVAL;
        }
    }
    else if (rv == APR_SUCCESS && first_ever) {
        static const unsigned char zero[32];

        v->sum.first_seq = pl.seq;
        v->sum.starts_mid_chain = pl.seq != 1;
        memcpy(v->sum.first_mac, pl.mac, 32);
        if (pl.seq == 1 && CRYPTO_memcmp(pl.prev, zero, 32) != 0) {
            pds_error_set(err, "broken-chain", 0, "audit",
                          "the first line of a log must have prev of zeros");
            rv = APR_EINVAL;
        }
    }
    if (rv == APR_SUCCESS && v->anchored && pl.seq == v->anchor_seq) {
        if (CRYPTO_memcmp(pl.mac, v->anchor_mac, 32) != 0) {
            pds_error_set(err, "anchor-mismatch", 0, "audit",
                          "the anchor says line %" APR_UINT64_T_FMT " has another MAC: the "
                          "log was rewritten, or the anchor is another log's",
                          v->anchor_seq);
            rv = APR_EINVAL;
        }
        else {
            v->anchor_seen = 1;
            if (first_ever)
                v->sum.starts_at_anchor = 1;
        }
    }
    if (rv == APR_SUCCESS && pl.type != NULL && strcmp(pl.type, "checkpoint") == 0) {
        rv = check_checkpoint(v, &pl, err);
        if (rv == APR_SUCCESS) {
            v->sum.checkpoints++;
            if (v->npublic_keys > 0)
                v->sum.last_checkpoint_seq = pl.seq;
        }
    }
    json_decref(pl.doc);
    if (rv != APR_SUCCESS) {
        v->failed = 1;
        return rv;
    }
    sha256(line, len, v->last_hash);
    v->sum.last_seq = pl.seq;
    v->sum.lines++;
    v->new_file = 0;
    v->must_start = 0;
    v->lines_in_file++;
    return APR_SUCCESS;
}

void pds_chain_verifier_summary(const pds_chain_verifier_t *v, pds_chain_summary_t *out)
{
    *out = v->sum;
}

const char *pds_chain_pseudonym(apr_pool_t *p, const pds_chain_key_t *key,
                                const char *subject)
{
    unsigned char mac[32];
    unsigned int n = 0;
    char hex[65];

    if (HMAC(EVP_sha256(), key->bytes, (int)key->len, (const unsigned char *)subject,
             strlen(subject), mac, &n) == NULL || n != 32)
        return NULL;
    pds_hex_encode(hex, mac, 16);
    return apr_pstrcat(p, "ps:", hex, NULL);
}
