/* pds_cert.c: the facts a client certificate can be matched on.
 *
 * The certificate has already been verified by mod_ssl; here it is only read.
 * Everything produced is text compared with configuration, so anything that
 * could make two different certificates print the same (an embedded NUL in a
 * name, say) is refused rather than printed.
 */
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pds_cert.h"
#include "pds_encode.h"

/* A PEM certificate above this is not a client certificate we will read. */
#define PDS_CERT_MAX_PEM (64 * 1024)
#define PDS_CERT_SOURCE  "client certificate"

static apr_status_t cert_error(pds_error_t *err, const char *fmt, const char *what)
{
    ERR_clear_error();
    pds_error_set(err, "bad-certificate", -1, PDS_CERT_SOURCE, fmt, what);
    return APR_EINVAL;
}

/* A name as `openssl x509 -noout -subject -nameopt RFC2253` prints it; ""
 * for an empty name, NULL when it cannot be printed. */
static const char *print_rfc2253(apr_pool_t *p, const X509_NAME *name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    const char *out = NULL;
    char *data = NULL;
    long len;

    if (bio == NULL)
        return NULL;
    if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
        len = BIO_get_mem_data(bio, &data);
        /* RFC 2253 escaping leaves no NUL; check rather than assume. */
        if (len == 0)
            out = "";
        else if (len > 0 && data != NULL && memchr(data, '\0', (size_t)len) == NULL)
            out = apr_pstrmemdup(p, data, (apr_size_t)len);
    }
    BIO_free(bio);
    return out;
}

static const char *sha256_hex(apr_pool_t *p, X509 *x)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char *out;

    if (X509_digest(x, EVP_sha256(), md, &n) != 1 || n != 32)
        return NULL;
    out = apr_palloc(p, 2 * n + 1);
    pds_hex_encode(out, md, n);
    return out;
}

/* "prefix:text" from an IA5String, or NULL if it holds a NUL byte (which
 * would let "evil.example\0.good.example" compare as the shorter name). */
static const char *san_string(apr_pool_t *p, const char *prefix,
                              const ASN1_STRING *s)
{
    const unsigned char *data = ASN1_STRING_get0_data(s);
    int len = ASN1_STRING_length(s);

    if (data == NULL || len < 0 || memchr(data, '\0', (size_t)len) != NULL)
        return NULL;
    return apr_pstrcat(p, prefix, apr_pstrmemdup(p, (const char *)data, (apr_size_t)len),
                       NULL);
}

/* "IP:" and inet_ntop's text; "" (skip) for lengths that are no address. */
static const char *san_ip(apr_pool_t *p, const ASN1_OCTET_STRING *s)
{
    char text[INET6_ADDRSTRLEN];
    const unsigned char *data = ASN1_STRING_get0_data(s);
    int len = ASN1_STRING_length(s), af;

    if (len == 4)
        af = AF_INET;
    else if (len == 16)
        af = AF_INET6;
    else
        return "";
    if (data == NULL || inet_ntop(af, data, text, sizeof(text)) == NULL)
        return "";
    return apr_pstrcat(p, "IP:", text, NULL);
}

static apr_status_t collect_sans(apr_array_header_t *sans, apr_pool_t *p, X509 *x,
                                 pds_error_t *err)
{
    GENERAL_NAMES *gens;
    int crit = -1, i;
    apr_status_t rv = APR_SUCCESS;

    gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
    if (gens == NULL) {
        if (crit == -1)          /* no SAN extension: nothing to add */
            return APR_SUCCESS;
        return cert_error(err, "the certificate's %s extension is repeated or "
                          "cannot be decoded", "subjectAltName");
    }
    for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *gen = sk_GENERAL_NAME_value(gens, i);
        const char *entry;

        switch (gen->type) {
        case GEN_DNS:
            entry = san_string(p, "DNS:", gen->d.dNSName);
            break;
        case GEN_EMAIL:
            entry = san_string(p, "email:", gen->d.rfc822Name);
            break;
        case GEN_URI:
            entry = san_string(p, "URI:", gen->d.uniformResourceIdentifier);
            break;
        case GEN_IPADD:
            entry = san_ip(p, gen->d.iPAddress);
            break;
        default:
            entry = "";          /* other name forms are not matched on */
            break;
        }
        if (entry == NULL) {
            rv = cert_error(err, "a %s entry of the certificate holds a NUL byte",
                            "subjectAltName");
            break;
        }
        if (*entry != '\0')
            APR_ARRAY_PUSH(sans, const char *) = entry;
    }
    GENERAL_NAMES_free(gens);
    return rv;
}

apr_status_t pds_cert_identity_from_pem(pds_cert_identity_t **pid,
                                        apr_pool_t *p,
                                        const char *pem, apr_size_t len,
                                        pds_error_t *err)
{
    pds_cert_identity_t *id;
    BIO *bio;
    X509 *x;
    apr_status_t rv;

    if (pid == NULL || p == NULL || pem == NULL) {
        pds_error_set(err, "bad-argument", -1, PDS_CERT_SOURCE, "no certificate given");
        return APR_EINVAL;
    }
    *pid = NULL;
    if (len == 0 || len > PDS_CERT_MAX_PEM) {
        pds_error_set(err, "bad-certificate", -1, PDS_CERT_SOURCE,
                      "a PEM certificate must be between 1 and %d bytes",
                      PDS_CERT_MAX_PEM);
        return APR_EINVAL;
    }
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        return cert_error(err, "out of memory reading the %s", "certificate");
    x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (x == NULL)
        return cert_error(err, "no PEM %s found", "certificate (\"CERTIFICATE\")");

    id = apr_pcalloc(p, sizeof(*id));
    id->sans = apr_array_make(p, 4, sizeof(const char *));
    id->subject_dn = print_rfc2253(p, X509_get_subject_name(x));
    id->sha256 = sha256_hex(p, x);
    if (id->subject_dn == NULL)
        rv = cert_error(err, "the certificate's %s cannot be printed", "subject");
    else if (id->sha256 == NULL)
        rv = cert_error(err, "the certificate's %s cannot be computed",
                        "SHA-256 fingerprint");
    else
        rv = collect_sans(id->sans, p, x, err);
    X509_free(x);
    if (rv != APR_SUCCESS)
        return rv;
    ERR_clear_error();
    *pid = id;
    return APR_SUCCESS;
}

/* Hex digits in pairs; a ':' is allowed only between two pairs. */
int pds_cert_fingerprint_normalise(char out[65], const char *in)
{
    int n = 0;
    const char *s;

    if (out == NULL)
        return -1;
    if (in == NULL)
        goto bad;
    for (s = in; *s != '\0'; s++) {
        if (*s == ':') {
            if (n == 0 || n % 2 != 0 || n == 64 || s[1] == ':' || s[1] == '\0')
                goto bad;
            continue;
        }
        if (pds_hex_value(*s) < 0 || n == 64)
            goto bad;
        out[n++] = "0123456789abcdef"[pds_hex_value(*s)];
    }
    if (n != 64)
        goto bad;
    out[64] = '\0';
    return 0;
bad:
    out[0] = '\0';
    return -1;
}

/* --- configured subjects ------------------------------------------------------ */

#define PDS_DN_MAX 1024

/* One "type=value" into name, at loc (-1: append; 0: prepend). The value is
 * unescaped: `\c` stands for c, and in RFC 2253 `\hh` for a byte. */
static int add_rdn(X509_NAME *name, const char *rdn, apr_size_t len, int loc,
                   int hex_escapes, apr_pool_t *p)
{
    const char *eq;
    char *type, *value;
    apr_size_t tlen, i, n = 0;

    while (len > 0 && *rdn == ' ') {
        rdn++;
        len--;
    }
    eq = memchr(rdn, '=', len);
    if (eq == NULL || eq == rdn)
        return 0;
    tlen = (apr_size_t)(eq - rdn);
    while (tlen > 0 && rdn[tlen - 1] == ' ')
        tlen--;
    type = apr_pstrmemdup(p, rdn, tlen);
    i = (apr_size_t)(eq - rdn) + 1;
    while (i < len && rdn[i] == ' ')
        i++;
    value = apr_palloc(p, len - i + 1);
    for (; i < len; i++) {
        char c = rdn[i];

        if (c == '\\' && i + 1 < len) {
            if (hex_escapes && i + 2 < len && apr_isxdigit(rdn[i + 1])
                && apr_isxdigit(rdn[i + 2])) {
                char hex[3] = { rdn[i + 1], rdn[i + 2], '\0' };
                value[n++] = (char)strtol(hex, NULL, 16);
                i += 2;
                continue;
            }
            c = rdn[++i];
        }
        value[n++] = c;
    }
    value[n] = '\0';
    if (*type == '\0' || n == 0 || memchr(value, '\0', n) != NULL)
        return 0;
    if (X509_NAME_add_entry_by_txt(name, type, MBSTRING_UTF8,
                                   (const unsigned char *)value, (int)n, loc, 0) == 1)
        return 1;
    /* "cn", "ou": the short names are upper case */
    for (i = 0; type[i] != '\0'; i++)
        type[i] = (char)apr_toupper(type[i]);
    return X509_NAME_add_entry_by_txt(name, type, MBSTRING_UTF8,
                                      (const unsigned char *)value, (int)n, loc, 0) == 1;
}

/* Splits at each unescaped sep (a string: "/" or "," or ", ") and adds
 * the parts in order (DER order) or in reverse (RFC 2253 order). */
static int add_rdns(X509_NAME *name, const char *s, const char *sep, int reversed,
                    int hex_escapes, apr_pool_t *p)
{
    apr_size_t seplen = strlen(sep), start = 0, i;
    int count = 0;

    for (i = 0;; i++) {
        int end = s[i] == '\0';

        if (!end && s[i] == '\\' && s[i + 1] != '\0') {
            i++;
            continue;
        }
        if (end || strncmp(s + i, sep, seplen) == 0) {
            if (!add_rdn(name, s + start, i - start, reversed ? 0 : -1, hex_escapes, p))
                return -1;
            count++;
            if (end)
                return count;
            i += seplen - 1;
            start = i + 1;
        }
    }
}

static int rdn_nid(const X509_NAME *name, int loc)
{
    const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, loc);

    return e != NULL ? OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)) : NID_undef;
}

apr_status_t pds_cert_subject_normalise(const char **pnormal, apr_pool_t *p,
                                        const char *value, pds_error_t *err)
{
    X509_NAME *name;
    const char *form, *normal = NULL;
    int n;

    *pnormal = NULL;
    if (value == NULL || strlen(value) > PDS_DN_MAX || strchr(value, '=') == NULL) {
        pds_error_set(err, "bad-subject-dn", -1, "cert-subject", "not a distinguished name");
        return APR_EINVAL;
    }
    /* A multi-valued RDN ("CN=a+UID=b") or a quoted value is taken as
     * written: what it would print as cannot be worked out simply. */
    if (value[0] != '/' && (strchr(value, '+') != NULL || strchr(value, '"') != NULL)) {
        *pnormal = value;
        return APR_SUCCESS;
    }
    name = X509_NAME_new();
    if (name == NULL)
        return APR_ENOMEM;
    if (value[0] == '/') {
        form = "openssl's /type=value form";
        n = add_rdns(name, value + 1, "/", 0, 0, p);
    }
    else if (strstr(value, " = ") != NULL) {
        form = "openssl's default \"type = value, ...\" form";
        n = add_rdns(name, value, ", ", 0, 0, p);
    }
    else {
        form = NULL;
        n = add_rdns(name, value, ",", 1, 1, p);
    }
    if (n > 0)
        normal = print_rfc2253(p, name);
    /* Written most significant first ("O=x,CN=y"), the reverse of RFC 2253:
     * certificates almost never hold their name in that order (the common
     * name is the most specific part, printed first). */
    if (normal != NULL && form == NULL && n > 1
        && rdn_nid(name, 0) == NID_commonName && rdn_nid(name, n - 1) != NID_commonName) {
        X509_NAME *turned = X509_NAME_new();
        int i;

        for (i = 0; turned != NULL && i < n; i++) {
            if (X509_NAME_add_entry(turned, X509_NAME_get_entry(name, i), 0, 0) != 1)
                break;
        }
        normal = turned != NULL && i == n ? print_rfc2253(p, turned) : NULL;
        X509_NAME_free(turned);
    }
    X509_NAME_free(name);
    ERR_clear_error();
    if (normal == NULL) {
        pds_error_set(err, "bad-subject-dn", -1, "cert-subject", "not a distinguished name "
                      "that can be read%s%s", form ? " in " : "", form ? form : "");
        return APR_EINVAL;
    }
    *pnormal = normal;
    return APR_SUCCESS;
}
