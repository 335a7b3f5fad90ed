/* cmd_verify_response.c: pds-audit verify-response, a receiver's check of a
 * response the gateway signed: its body, request id and agreement. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <apr_strings.h>

#include "pds_jws.h"
#include "pds_time.h"

#include "pds_audit_tool.h"

static const char help_verify_response[] =
"usage: pds-audit verify-response --jwks FILE --headers FILE --body FILE\n"
"                                 [--expect-request-id ID] [--expect-agreement A]\n"
"       pds-audit verify-response --public-key FILE --headers FILE --body FILE ...\n"
"\n"
"Checks a response a gateway signed (PDSSignResponses on): its PDS-Signature\n"
"header is a JWS with a detached payload over the exact body bytes, whose\n"
"protected header names the request id and the agreement.\n"
"  --jwks FILE               the gateway's public keys (SetHandler pds-jwks); the\n"
"                            key whose kid the signature names is used\n"
"  --public-key FILE         or: the gateway's public key (PEM)\n"
"  --headers FILE            the response headers as saved by curl -D FILE (the\n"
"                            last response in the file counts)\n"
"  --body FILE               the body bytes as saved by curl -o FILE (64 MiB at most)\n"
"  --expect-request-id ID    fail unless the response is for request ID\n"
"  --expect-agreement A      fail unless it was released under agreement A\n"
"                            (\"id\", any version, or \"id;v=N\")\n"
"'-' reads standard input (for one of --headers, --body and --jwks).\n"
"On success prints the signature's algorithm and kid, the request id, the\n"
"agreement and when it was signed; otherwise NOT VERIFIED: CODE: WHY.\n"
"The body itself is never printed.\n"
"Exit status: 0 valid, 1 a check failed, 2 usage or read error, or a key that\n"
"cannot be used.\n";

static int check_response_options(options_t *o)
{
    int stdin_uses = 0;

    if ((o->jwks == NULL) == (o->public_key == NULL))
        return usage_error("verify-response", "verify-response needs exactly one of "
                           "--jwks FILE (the gateway's published keys) and --public-key "
                           "FILE");
    if (o->headers == NULL || o->body == NULL)
        return usage_error("verify-response", "verify-response needs --headers FILE (as "
                           "saved by curl -D) and --body FILE (as saved by curl -o)");
    if (o->files->nelts > 0)
        return usage_error("verify-response", "verify-response takes no file arguments "
                           "(got %s): name the files with --headers and --body",
                           APR_ARRAY_IDX(o->files, 0, const char *));
    stdin_uses += strcmp(o->headers, "-") == 0;
    stdin_uses += strcmp(o->body, "-") == 0;
    stdin_uses += o->jwks != NULL && strcmp(o->jwks, "-") == 0;
    if (stdin_uses > 1)
        return usage_error("verify-response", "standard input ('-') can be read once only");
    if (strcmp(o->headers, o->body) == 0 && stdin_uses == 0)
        return usage_error("verify-response", "--headers and --body name the same file: "
                           "save them apart (curl -D HEADERS -o BODY)");
    return EXIT_OK;
}

/* A receiver's check of a response the gateway signed (PDSSignResponses):
 * PDS-Signature is a JWS with a detached payload (RFC 7515 appendix F) over
 * the exact body bytes; its protected header binds the request id and the
 * agreement. Nothing taken from the response is trusted before the signature
 * verifies, except the kid that picks the key (and the key's thumbprint must
 * be that kid). Values from the response are printed through tty_safe; the
 * body is never printed. */

#define MAX_BODY        (64 * 1024 * 1024)  /* bytes of body read, at most */
#define MAX_SMALL_FILE  (1024 * 1024)       /* a header file, a JWKS */
#define MAX_SIGNATURE   (16 * 1024)         /* lib/pds_jws.c's limit on a JWS */
#define MAX_IAT         APR_INT64_C(253402300799)   /* 9999-12-31T23:59:59Z */
#define RESPONSE_TYP    "pds-response+jws"

static apr_status_t free_cleanup(void *data)
{
    free(data);
    return APR_SUCCESS;
}

/* Reads all of path ('-': standard input), NUL-terminated, into memory the
 * pool releases; more than max bytes is an error. opt names the option. */
static int read_all(char **pdata, size_t *plen, const char *opt, const char *path,
                    size_t max, apr_pool_t *p)
{
    int from_stdin = strcmp(path, "-") == 0;
    FILE *f = from_stdin ? stdin : fopen(path, "rb");
    size_t len = 0, cap = READ_BLOCK;
    char *buf = NULL, *more;
    struct stat st;
    int rc = EXIT_OK;

    if (f == NULL || fstat(fileno(f), &st) != 0) {
        fprintf(stderr, "pds-audit: %s %s: cannot read it: %s\n", opt, tty_safe(p, path),
                strerror(errno));
        return EXIT_USAGE;
    }
    if (S_ISDIR(st.st_mode)) {
        fprintf(stderr, "pds-audit: %s %s is a directory\n", opt, tty_safe(p, path));
        rc = EXIT_USAGE;
    }
    while (rc == EXIT_OK) {
        size_t n;

        if (buf == NULL || len == cap) {
            cap = buf == NULL ? cap : cap * 2;
            if (cap > max + 1)
                cap = max + 1;
            if ((more = realloc(buf, cap + 1)) == NULL) {
                fprintf(stderr, "pds-audit: out of memory reading %s\n", opt);
                rc = EXIT_USAGE;
                break;
            }
            buf = more;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (len > max) {
            fprintf(stderr, "pds-audit: %s %s: larger than %lu bytes; refusing to read it\n",
                    opt, tty_safe(p, path), (unsigned long)max);
            rc = EXIT_USAGE;
        }
        else if (n == 0 && ferror(f)) {
            fprintf(stderr, "pds-audit: %s %s: error reading it: %s\n", opt,
                    tty_safe(p, path), strerror(errno));
            rc = EXIT_USAGE;
        }
        else if (n == 0) {
            break;
        }
    }
    if (!from_stdin)
        fclose(f);
    if (rc != EXIT_OK) {
        free(buf);
        return rc;
    }
    buf[len] = '\0';
    apr_pool_cleanup_register(p, buf, free_cleanup, apr_pool_cleanup_null);
    *pdata = buf;
    *plen = len;
    return EXIT_OK;
}

/* The headers of the last response in a `curl -D` file. */
typedef struct response_headers_t {
    int status;                 /* of the last response; 0 when not a number */
    const char *signature, *request_id, *agreement, *encoding;
    int n_signature, n_request_id, n_agreement;
} response_headers_t;

static int header_name_ok(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7F || strchr("()<>@,;:\\\"/[]?={}", c) != NULL)
            return 0;
    }
    return n > 0;
}

/* Takes one "Name: value" line of a response. */
static void take_header(response_headers_t *h, char *line, char *colon)
{
    char *v = colon + 1, *end = v + strlen(v);

    *colon = '\0';
    while (*v == ' ' || *v == '\t')
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
    if (strcasecmp(line, "PDS-Signature") == 0) {
        h->signature = v;
        h->n_signature++;
    }
    else if (strcasecmp(line, "PDS-Request-Id") == 0) {
        h->request_id = v;
        h->n_request_id++;
    }
    else if (strcasecmp(line, "PDS-Agreement") == 0) {
        h->agreement = v;
        h->n_agreement++;
    }
    else if (strcasecmp(line, "Content-Encoding") == 0) {
        h->encoding = v;
    }
}

/* A `curl -D` file holds one block per response received (1xx responses,
 * redirects, a proxy's CONNECT): a status line "HTTP/...", header lines, an
 * empty line. The last block is the response whose body was saved; lines
 * between blocks (trailers) are not headers of it. */
static int parse_headers(response_headers_t *h, const char *path, char *data, size_t len,
                         apr_pool_t *p)
{
    size_t pos = 0;
    long lineno = 0;
    int in_block = 0, blocks = 0;

    memset(h, 0, sizeof(*h));
    while (pos < len) {
        char *line = data + pos, *nl = memchr(line, '\n', len - pos), *colon;
        size_t n = nl ? (size_t)(nl - line) : len - pos;

        pos += n + (nl != NULL);
        lineno++;
        if (n > 0 && line[n - 1] == '\r')
            n--;
        if (memchr(line, '\0', n) != NULL) {
            fprintf(stderr, "pds-audit: --headers %s:%ld: a NUL byte: not response headers "
                    "as saved by curl -D\n", tty_safe(p, path), lineno);
            return EXIT_USAGE;
        }
        line[n] = '\0';
        if (!in_block) {
            if (strncmp(line, "HTTP/", 5) == 0) {
                const char *sp = strchr(line, ' ');
                memset(h, 0, sizeof(*h));
                h->status = sp != NULL ? atoi(sp + 1) : 0;
                in_block = 1;
                blocks++;
            }
            continue;
        }
        if (n == 0) {
            in_block = 0;
            continue;
        }
        colon = strchr(line, ':');
        if (colon == NULL || !header_name_ok(line, (size_t)(colon - line))) {
            fprintf(stderr, "pds-audit: --headers %s:%ld: not a header line (Name: value)%s\n",
                    tty_safe(p, path), lineno, line[0] == ' ' || line[0] == '\t'
                    ? "; folded header lines are not accepted" : "");
            return EXIT_USAGE;
        }
        take_header(h, line, colon);
    }
    if (blocks == 0) {
        fprintf(stderr, "pds-audit: --headers %s holds no response headers (no status line "
                "HTTP/...): save them with curl -D FILE\n", tty_safe(p, path));
        return EXIT_USAGE;
    }
    if (in_block) {
        fprintf(stderr, "pds-audit: --headers %s ends inside the headers of a response (no "
                "empty line after them): the file was cut short\n", tty_safe(p, path));
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static const char *const jwk_private_members[] = {
    "d", "p", "q", "dp", "dq", "qi", "oth", "k", NULL
};

/* A public JWK as a key (lib: pds_key_from_jwk). Messages name the JWKS and kid. */
static int jwk_to_key(pds_key_t **pkey, json_t *jwk, const char *path, const char *kid,
                      apr_pool_t *p)
{
    pds_error_t err;

    pds_error_clear(&err);
    if (pds_key_from_jwk(pkey, p, jwk, &err) != APR_SUCCESS) {
        fprintf(stderr, "pds-audit: --jwks %s: the key with kid %s: %s\n", tty_safe(p, path),
                tty_safe(p, kid), tty_safe(p, err.text));
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* Releases a JSON document with the pool that holds what points into it. */
static apr_status_t json_pool_cleanup(void *data)
{
    json_decref(data);
    return APR_SUCCESS;
}

/* The JWKS's "keys"; a document holding private key material is refused as
 * a whole: it must not have been published. */
static int jwks_load(json_t **pkeys, const char *path, apr_pool_t *p)
{
    json_t *doc, *keys, *jwk;
    json_error_t jerr;
    char *data;
    size_t len, i;
    int k;

    if (read_all(&data, &len, "--jwks", path, MAX_SMALL_FILE, p) != EXIT_OK)
        return EXIT_USAGE;
    doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        fprintf(stderr, "pds-audit: --jwks %s: not JSON (%s, line %d)\n", tty_safe(p, path),
                tty_safe(p, jerr.text), jerr.line);
        return EXIT_USAGE;
    }
    apr_pool_cleanup_register(p, doc, json_pool_cleanup, apr_pool_cleanup_null);
    keys = json_object_get(doc, "keys");
    if (!json_is_object(doc) || !json_is_array(keys)) {
        fprintf(stderr, "pds-audit: --jwks %s: not a JWKS (a JSON object with a \"keys\" "
                "array)\n", tty_safe(p, path));
        return EXIT_USAGE;
    }
    json_array_foreach(keys, i, jwk) {
        if (!json_is_object(jwk)) {
            fprintf(stderr, "pds-audit: --jwks %s: key %lu is not a JSON object\n",
                    tty_safe(p, path), (unsigned long)i + 1);
            return EXIT_USAGE;
        }
        for (k = 0; jwk_private_members[k] != NULL; k++) {
            if (json_object_get(jwk, jwk_private_members[k]) != NULL) {
                fprintf(stderr, "pds-audit: --jwks %s: key %lu (kid %s) holds private key "
                        "material (\"%s\"): a JWKS for verifying holds public keys only; "
                        "refusing it (and that key is no longer secret)\n",
                        tty_safe(p, path), (unsigned long)i + 1,
                        tty_or_dash(p, str_member(jwk, "kid")), jwk_private_members[k]);
                return EXIT_USAGE;
            }
        }
    }
    *pkeys = keys;
    return EXIT_OK;
}

typedef struct response_sig_t {
    const char *alg, *typ, *kid, *request_id, *agreement;
    apr_int64_t iat;
} response_sig_t;

static const char *sig_string(json_t *header, const char *name, const char **out,
                              apr_pool_t *p)
{
    json_t *v = json_object_get(header, name);

    if (!json_is_string(v) || json_string_length(v) == 0
        || strlen(json_string_value(v)) != json_string_length(v))
        return apr_psprintf(p, "the protected header has no \"%s\" (a non-empty string)",
                            name);
    *out = json_string_value(v);
    return NULL;
}

/* Decodes the protected header of "<protected>..<signature>" without
 * trusting it: NULL when well formed, else why not. */
static const char *parse_signature(response_sig_t *s, const char *compact, apr_pool_t *p)
{
    const char *dots = strstr(compact, ".."), *why;
    unsigned char *raw;
    apr_size_t rawlen;
    json_t *header, *iat, *typ;

    memset(s, 0, sizeof(*s));
    if (strlen(compact) > MAX_SIGNATURE)
        return apr_psprintf(p, "longer than %d bytes", MAX_SIGNATURE);
    if (dots == NULL || dots == compact || dots[2] == '\0' || strchr(dots + 2, '.') != NULL
        || memchr(compact, '.', (size_t)(dots - compact)) != NULL)
        return "not <protected>..<signature> (a JWS with a detached payload, RFC 7515 "
               "appendix F)";
    if (pds_base64url_decode(&raw, &rawlen, p, compact, (apr_size_t)(dots - compact))
        != APR_SUCCESS)
        return "the protected header is not base64url without padding";
    header = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(header)) {
        json_decref(header);
        return "the protected header is not a JSON object (or repeats a member)";
    }
    apr_pool_cleanup_register(p, header, json_pool_cleanup, apr_pool_cleanup_null);
    if ((why = sig_string(header, "alg", &s->alg, p)) != NULL
        || (why = sig_string(header, "kid", &s->kid, p)) != NULL
        || (why = sig_string(header, "pds_request_id", &s->request_id, p)) != NULL
        || (why = sig_string(header, "pds_agreement", &s->agreement, p)) != NULL)
        return why;
    if (json_object_get(header, "crit") != NULL)
        return "the protected header has \"crit\": no extension is understood here";
    iat = json_object_get(header, "iat");
    if (!json_is_integer(iat) || json_integer_value(iat) < 0
        || json_integer_value(iat) > MAX_IAT)
        return "the protected header has no \"iat\" (seconds since 1970, an integer)";
    s->iat = (apr_int64_t)json_integer_value(iat);
    typ = json_object_get(header, "typ");
    s->typ = json_is_string(typ) ? json_string_value(typ) : NULL;
    return NULL;
}

static int response_problem(const char *code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* NOT VERIFIED: CODE: WHY on standard output, as verify reports its lines. */
static int response_problem(const char *code, const char *fmt, ...)
{
    va_list ap;

    printf("NOT VERIFIED: %s: ", code);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    return EXIT_PROBLEM;
}

/* The key the signature names: from the JWKS by kid, or the one given,
 * whose RFC 7638 thumbprint (the gateway's kid) must be the kid. */
static int response_key(pds_key_t **pkey, const options_t *o, json_t *jwks,
                        pds_key_t *given, const response_sig_t *s, apr_pool_t *p)
{
    json_t *jwk, *found = NULL, *mine;
    const char *thumb;
    size_t i;
    int rc;

    if (given == NULL) {
        json_array_foreach(jwks, i, jwk) {
            const char *kid = str_member(jwk, "kid");
            if (found == NULL && kid != NULL && strcmp(kid, s->kid) == 0)
                found = jwk;
        }
        if (found == NULL)
            return response_problem("unknown-key", "the signature names key %s, which is "
                                    "not in %s (%lu key(s)): signed with another key, or "
                                    "the JWKS is out of date", tty_safe(p, s->kid),
                                    tty_safe(p, o->jwks),
                                    (unsigned long)json_array_size(jwks));
        if ((rc = jwk_to_key(&given, found, o->jwks, s->kid, p)) != EXIT_OK)
            return rc;
    }
    mine = pds_key_public_jwk(given, p);
    thumb = mine ? apr_pstrdup(p, str_member(mine, "kid")) : NULL;
    json_decref(mine);
    if (thumb == NULL) {
        fprintf(stderr, "pds-audit: cannot compute the key's thumbprint\n");
        return EXIT_USAGE;
    }
    if (o->jwks != NULL && strcmp(thumb, s->kid) != 0) {
        fprintf(stderr, "pds-audit: --jwks %s: the key listed with kid %s is key %s (its "
                "RFC 7638 thumbprint): the JWKS is mislabelled\n", tty_safe(p, o->jwks),
                tty_safe(p, s->kid), thumb);
        return EXIT_USAGE;
    }
    if (strcmp(thumb, s->kid) != 0)
        return response_problem("wrong-key", "the signature names key %s; --public-key %s "
                                "is key %s", tty_safe(p, s->kid),
                                tty_safe(p, o->public_key), thumb);
    *pkey = given;
    return EXIT_OK;
}

/* pds_jws_verify_detached over the body, its codes told apart. */
static int response_signature(const response_headers_t *h, const response_sig_t *s,
                              const pds_key_t *key, const char *body, size_t blen,
                              apr_pool_t *p)
{
    pds_error_t err;

    pds_error_clear(&err);
    if (pds_jws_verify_detached(NULL, p, h->signature, strlen(h->signature),
                                (const unsigned char *)body, blen, key, &err) == APR_SUCCESS)
        return EXIT_OK;
    if (strcmp(err.code, "alg-mismatch") == 0)
        return response_problem("alg-mismatch", "the signature says alg %s; key %s "
                                "verifies %s only", tty_safe(p, s->alg), tty_safe(p, s->kid),
                                pds_key_alg(key));
    if (strcmp(err.code, "bad-signature") == 0)
        return response_problem("bad-signature", "the signature does not verify over the "
                                "body (%lu bytes) with key %s: the body or the signed header "
                                "was changed%s", (unsigned long)blen, tty_safe(p, s->kid),
                                h->encoding == NULL ? ""
                                : apr_psprintf(p, " (or the body was saved still encoded: "
                                               "the response was Content-Encoding %s and "
                                               "the signature covers the decoded body; "
                                               "save it with curl --compressed)",
                                               tty_safe(p, h->encoding)));
    return response_problem("malformed-signature", "PDS-Signature: %s",
                            tty_safe(p, err.text));
}

/* The id part of "id;v=N". */
static int agreement_matches(const char *want, const char *have)
{
    size_t n = strlen(want);

    if (strstr(want, ";v=") != NULL)
        return strcmp(want, have) == 0;
    return strncmp(want, have, n) == 0 && strncmp(have + n, ";v=", 3) == 0;
}

/* One response header the signature binds: exactly one of it (n), equal to
 * the value signed; otherwise code, with suffix after the mismatch. */
static int header_binds(const char *code, const char *what, const char *header, int n,
                        const char *have, const char *signed_as, const char *suffix,
                        apr_pool_t *p)
{
    if (n != 1)
        return response_problem(code, "the signature names %s %s; the response has %s",
                                what, tty_safe(p, signed_as),
                                n ? apr_psprintf(p, "%d %s headers", n, header)
                                  : apr_psprintf(p, "no %s header", header));
    if (strcmp(have, signed_as) != 0)
        return response_problem(code, "the signature names %s %s; the response's %s is "
                                "%s%s", what, tty_safe(p, signed_as), header,
                                tty_safe(p, have), suffix);
    return EXIT_OK;
}

/* What the verified header binds, against the response's own headers and
 * what the receiver expected. */
static int response_bindings(const options_t *o, const response_headers_t *h,
                             const response_sig_t *s, apr_pool_t *p)
{
    int rc;

    if ((rc = header_binds("request-id-mismatch", "request", "PDS-Request-Id",
                           h->n_request_id, h->request_id, s->request_id,
                           ": the signature was taken from another response", p)) != EXIT_OK
        || (rc = header_binds("agreement-mismatch", "agreement", "PDS-Agreement",
                              h->n_agreement, h->agreement, s->agreement, "", p)) != EXIT_OK)
        return rc;
    if (o->expect_request_id != NULL && strcmp(o->expect_request_id, s->request_id) != 0)
        return response_problem("unexpected-request-id", "the response is for request %s, "
                                "not %s", tty_safe(p, s->request_id),
                                tty_safe(p, o->expect_request_id));
    if (o->expect_agreement != NULL && !agreement_matches(o->expect_agreement, s->agreement))
        return response_problem("unexpected-agreement", "the response was released under "
                                "agreement %s, not %s", tty_safe(p, s->agreement),
                                tty_safe(p, o->expect_agreement));
    return EXIT_OK;
}

/* A JWS "iat": seconds since 1970 as RFC 3339, or as the number itself
 * where RFC 3339 cannot write it (before year 0000, after 9999). */
static const char *rfc3339_utc(apr_int64_t secs, apr_pool_t *p)
{
    const char *t = NULL;

    if (secs > -APR_INT64_C(62167219201) && secs < APR_INT64_C(253402300800))
        t = pds_time_format(p, apr_time_from_sec(secs));
    return t ? t : apr_psprintf(p, "%" APR_INT64_T_FMT " (seconds since 1970)", secs);
}

/* Everything the command reads, read before any check: a file that cannot be
 * read, or a key that cannot be used, is exit 2 whatever the response holds. */
static int response_inputs(response_headers_t *h, char **body, size_t *blen,
                           json_t **jwks, pds_key_t **given, const options_t *o,
                           apr_pool_t *p)
{
    pds_error_t err;
    char *hdata;
    size_t hlen;

    if (read_all(&hdata, &hlen, "--headers", o->headers, MAX_SMALL_FILE, p) != EXIT_OK
        || parse_headers(h, o->headers, hdata, hlen, p) != EXIT_OK
        || read_all(body, blen, "--body", o->body, MAX_BODY, p) != EXIT_OK)
        return EXIT_USAGE;
    pds_error_clear(&err);
    if (o->public_key != NULL
        && pds_key_load_file(given, p, o->public_key, &err) != APR_SUCCESS) {
        fprintf(stderr, "pds-audit: --public-key: %s\n", err.text);
        return EXIT_USAGE;
    }
    if (o->jwks != NULL)
        return jwks_load(jwks, o->jwks, p);
    return EXIT_OK;
}

static int cmd_verify_response(options_t *o, apr_pool_t *p)
{
    response_headers_t h;
    response_sig_t s;
    pds_key_t *given = NULL, *key = NULL;
    json_t *jwks = NULL;
    const char *why;
    char *body;
    size_t blen;
    int rc;

    if ((rc = response_inputs(&h, &body, &blen, &jwks, &given, o, p)) != EXIT_OK)
        return rc;
    if (h.n_signature == 0)
        return response_problem("no-signature", "the response (status %d) has no "
                                "PDS-Signature header: only bodies a gateway released from a "
                                "location with PDSSignResponses on are signed, refusals "
                                "never", h.status);
    if (h.n_signature > 1)
        return response_problem("duplicate-signature", "the response has %d PDS-Signature "
                                "headers; a gateway sends one", h.n_signature);
    if ((why = parse_signature(&s, h.signature, p)) != NULL)
        return response_problem("malformed-signature", "PDS-Signature: %s", why);
    if (s.typ == NULL || strcmp(s.typ, RESPONSE_TYP) != 0)
        return response_problem("wrong-type", "the signature's typ is %s, not "
                                RESPONSE_TYP ": it was not made for a response",
                                s.typ ? tty_safe(p, s.typ) : "missing");
    if ((rc = response_key(&key, o, jwks, given, &s, p)) != EXIT_OK
        || (rc = response_signature(&h, &s, key, body, blen, p)) != EXIT_OK
        || (rc = response_bindings(o, &h, &s, p)) != EXIT_OK)
        return rc;
    printf("signature: valid (%s, kid %s)\n", pds_key_alg(key), tty_safe(p, s.kid));
    printf("request: %s\n", tty_safe(p, s.request_id));
    printf("agreement: %s\n", tty_safe(p, s.agreement));
    printf("signed at: %s\n", rfc3339_utc(s.iat, p));
    return EXIT_OK;
}

const audit_cmd_t audit_cmd_verify_response = {
    "verify-response", CMD_VERIFY_RESPONSE, check_response_options, cmd_verify_response,
    help_verify_response
};
