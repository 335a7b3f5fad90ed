/* test_cert.c: subject DN, SHA-256 fingerprint and SANs of client certificates.
 *
 * Two groups. Data-driven cases, one per directory under tests/cases/cert/
 * (made once with the openssl command-line tool by make-fixtures.sh there):
 *     cert.pem  the certificate
 *     subject   `openssl x509 -noout -subject -nameopt RFC2253`, after "subject="
 *     sha256    `openssl x509 -noout -fingerprint -sha256`, after "="
 *     sans      the subjectAltNames we must report, one a line, in order
 * and unit tests that build odd certificates with the OpenSSL API (NUL bytes
 * in names, repeated extensions, malformed addresses) that the CLI cannot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pds_test.h"
#include "pds_cert.h"

#define CASES_DIR PDS_TEST_SRCDIR "/cases/cert"

static EVP_PKEY *signing_key;

static int group_setup(void **state)
{
    (void)state;
    signing_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    return signing_key != NULL ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(signing_key);
    return 0;
}

/* ---- helpers -------------------------------------------------------------- */

static char *chomp(char *s)
{
    apr_size_t n = strlen(s);

    if (n > 0 && s[n - 1] == '\n')
        s[n - 1] = '\0';
    return s;
}

static pds_cert_identity_t *identity_ok(apr_pool_t *p, const char *pem)
{
    pds_cert_identity_t *id = NULL;
    pds_error_t err;

    pds_error_clear(&err);
    if (pds_cert_identity_from_pem(&id, p, pem, strlen(pem), &err) != APR_SUCCESS)
        fail_msg("reading a certificate: %s: %s", err.code, err.text);
    assert_non_null(id);
    assert_non_null(id->subject_dn);
    assert_non_null(id->sha256);
    assert_non_null(id->sans);
    assert_int_equal(ERR_peek_error(), 0);
    return id;
}

static const char *identity_error(apr_pool_t *p, const char *pem, apr_size_t len)
{
    pds_cert_identity_t *id = (pds_cert_identity_t *)&id;
    pds_error_t err;

    pds_error_clear(&err);
    if (pds_cert_identity_from_pem(&id, p, pem, len, &err) == APR_SUCCESS)
        fail_msg("a certificate that should be refused was read");
    assert_null(id);
    assert_true(pds_error_is_set(&err));
    assert_true(err.text[0] != '\0');
    assert_int_equal(ERR_peek_error(), 0);
    return apr_pstrdup(p, err.code);
}

/* One subjectAltName entry for make_cert. */
typedef struct san_t {
    int type;              /* GEN_DNS, GEN_EMAIL, GEN_URI, GEN_IPADD, GEN_RID */
    const char *data;
    int len;               /* -1: strlen(data) */
} san_t;

static GENERAL_NAMES *make_sans(const san_t *sans, int n)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    int i;

    assert_non_null(gens);
    for (i = 0; i < n; i++) {
        GENERAL_NAME *g = GENERAL_NAME_new();
        int len = sans[i].len < 0 ? (int)strlen(sans[i].data) : sans[i].len;

        assert_non_null(g);
        if (sans[i].type == GEN_RID) {
            ASN1_OBJECT *oid = OBJ_txt2obj(sans[i].data, 1);
            assert_non_null(oid);
            GENERAL_NAME_set0_value(g, GEN_RID, oid);
        }
        else {
            ASN1_STRING *s = sans[i].type == GEN_IPADD ? ASN1_OCTET_STRING_new()
                                                       : ASN1_IA5STRING_new();
            assert_non_null(s);
            assert_int_equal(ASN1_STRING_set(s, sans[i].data, len), 1);
            GENERAL_NAME_set0_value(g, sans[i].type, s);
        }
        assert_true(sk_GENERAL_NAME_push(gens, g) > 0);
    }
    return gens;
}

/* A self-signed certificate as PEM (malloc'd). cn may hold any bytes (cnlen);
 * with cn NULL the subject is empty. san_copies: how many subjectAltName
 * extensions to add (a valid certificate has at most one). */
static char *make_cert(const char *cn, int cnlen, const san_t *sans, int nsans,
                       int san_copies)
{
    X509 *x = X509_new();
    X509_NAME *name;
    BIO *bio;
    char *data = NULL, *out;
    long len;
    int i;

    assert_non_null(x);
    assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 42), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
    assert_int_equal(X509_set_pubkey(x, signing_key), 1);
    name = X509_get_subject_name(x);
    if (cn != NULL) {
        assert_int_equal(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                                    (const unsigned char *)"Test, Ltd",
                                                    -1, -1, 0), 1);
        assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                                    (const unsigned char *)cn,
                                                    cnlen, -1, 0), 1);
    }
    assert_int_equal(X509_set_issuer_name(x, name), 1);
    for (i = 0; i < san_copies; i++) {
        GENERAL_NAMES *gens = make_sans(sans, nsans);
        assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
                                           X509V3_ADD_APPEND), 1);
        GENERAL_NAMES_free(gens);
    }
    assert_true(X509_sign(x, signing_key, EVP_sha256()) > 0);

    bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_X509(bio, x), 1);
    len = BIO_get_mem_data(bio, &data);
    assert_true(len > 0);
    out = malloc((size_t)len + 1);
    assert_non_null(out);
    memcpy(out, data, (size_t)len);
    out[len] = '\0';
    BIO_free(bio);
    X509_free(x);
    return out;
}

/* make_cert into the pool, so a failing assertion leaks nothing of note. */
static char *cert_pem(apr_pool_t *p, const char *cn, int cnlen, const san_t *sans,
                      int nsans, int san_copies)
{
    char *pem = make_cert(cn, cnlen, sans, nsans, san_copies);
    char *copy = apr_pstrdup(p, pem);

    free(pem);
    return copy;
}

static void assert_sans(const pds_cert_identity_t *id, const char *const *want, int n)
{
    int i;

    if (id->sans->nelts != n) {
        for (i = 0; i < id->sans->nelts; i++)
            fprintf(stderr, "  got %s\n", APR_ARRAY_IDX(id->sans, i, const char *));
        fail_msg("expected %d SANs, got %d", n, id->sans->nelts);
    }
    for (i = 0; i < n; i++)
        assert_string_equal(APR_ARRAY_IDX(id->sans, i, const char *), want[i]);
}

/* ---- data-driven cases ---------------------------------------------------- */

static void run_case(apr_pool_t *p, const char *dir)
{
    char *pem = pds_test_case_file(p, dir, "cert.pem", NULL);
    char *subject = chomp(pds_test_case_file(p, dir, "subject", NULL));
    char *cli_fp = chomp(pds_test_case_file(p, dir, "sha256", NULL));
    char *sans = pds_test_case_file(p, dir, "sans", NULL);
    pds_cert_identity_t *id = identity_ok(p, pem);
    char normalised[65], plain[65];
    char *line, *last;
    int i = 0, j = 0;

    if (strcmp(id->subject_dn, subject) != 0)
        fail_msg("%s: subject\n  got      %s\n  expected %s", dir, id->subject_dn, subject);

    /* The CLI's "AB:CD:..." through our normaliser, and by hand. */
    assert_int_equal(pds_cert_fingerprint_normalise(normalised, cli_fp), 0);
    for (; cli_fp[i] != '\0' && j < 64; i++) {
        if (cli_fp[i] != ':')
            plain[j++] = (char)apr_tolower(cli_fp[i]);
    }
    plain[j] = '\0';
    assert_int_equal(j, 64);
    assert_string_equal(id->sha256, plain);
    assert_string_equal(id->sha256, normalised);

    i = 0;
    for (line = apr_strtok(sans, "\n", &last); line != NULL;
         line = apr_strtok(NULL, "\n", &last), i++) {
        if (i >= id->sans->nelts)
            fail_msg("%s: missing SAN %s", dir, line);
        assert_string_equal(APR_ARRAY_IDX(id->sans, i, const char *), line);
    }
    if (i != id->sans->nelts)
        fail_msg("%s: %d SANs expected, %d reported", dir, i, id->sans->nelts);
}

static void test_cli_cases(void **state)
{
    apr_pool_t *p = *state;
    apr_dir_t *dir;
    apr_finfo_t fi;
    int ncases = 0;

    assert_int_equal(apr_dir_open(&dir, CASES_DIR, p), APR_SUCCESS);
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, dir) == APR_SUCCESS) {
        if (fi.filetype != APR_DIR || fi.name[0] == '.')
            continue;
        run_case(p, apr_pstrcat(p, CASES_DIR "/", fi.name, NULL));
        ncases++;
    }
    apr_dir_close(dir);
    if (ncases < 3)
        fail_msg("expected at least 3 cases under %s, found %d", CASES_DIR, ncases);
}

/* ---- certificates built here ---------------------------------------------- */

static void test_all_san_kinds(void **state)
{
    static const unsigned char v4[4] = { 198, 51, 100, 7 };
    static const unsigned char v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                          0, 0, 0, 0, 0, 0, 0, 1 };
    static const unsigned char loop6[16] = { [15] = 1 };
    static const unsigned char mapped[16] = { [10] = 0xff, [11] = 0xff,
                                              [12] = 10, [13] = 1, [14] = 2, [15] = 3 };
    const san_t sans[] = {
        { GEN_DNS, "a.example", -1 },
        { GEN_RID, "1.2.3.4", -1 },              /* skipped */
        { GEN_EMAIL, "x@a.example", -1 },
        { GEN_URI, "https://a.example/id?x=1", -1 },
        { GEN_IPADD, (const char *)v4, 4 },
        { GEN_IPADD, (const char *)v6, 16 },
        { GEN_IPADD, (const char *)loop6, 16 },
        { GEN_IPADD, (const char *)mapped, 16 },
        { GEN_IPADD, "\x0a\x00\x00\x01\xff", 5 },  /* no address: skipped */
        { GEN_IPADD, "\x0a\x00\x00\x01\xff\xff\xff\x00", 8 },  /* a netmask pair: skipped */
        { GEN_DNS, "", -1 },                     /* empty: "DNS:" */
    };
    static const char *const want[] = {
        "DNS:a.example", "email:x@a.example", "URI:https://a.example/id?x=1",
        "IP:198.51.100.7", "IP:2001:db8::1", "IP:::1", "IP:::ffff:10.1.2.3", "DNS:",
    };
    apr_pool_t *p = *state;
    pds_cert_identity_t *id = identity_ok(p, cert_pem(p, "api.example", -1, sans,
                                                      (int)(sizeof(sans) / sizeof(sans[0])),
                                                      1));

    assert_string_equal(id->subject_dn, "CN=api.example,O=Test\\, Ltd");
    assert_int_equal(strlen(id->sha256), 64);
    assert_int_equal(strspn(id->sha256, "0123456789abcdef"), 64);
    assert_sans(id, want, (int)(sizeof(want) / sizeof(want[0])));
}

static void test_no_subject_no_sans(void **state)
{
    apr_pool_t *p = *state;
    pds_cert_identity_t *id = identity_ok(p, cert_pem(p, NULL, 0, NULL, 0, 0));

    assert_string_equal(id->subject_dn, "");
    assert_int_equal(id->sans->nelts, 0);
}

static void test_nul_in_san_refused(void **state)
{
    static const san_t dns[] = { { GEN_DNS, "ok.example", -1 },
                                 { GEN_DNS, "evil.example\0.good.example", 26 } };
    static const san_t email[] = { { GEN_EMAIL, "a@good.example\0x", 16 } };
    static const san_t uri[] = { { GEN_URI, "https://good.example\0/", 22 } };
    static const san_t trailing[] = { { GEN_DNS, "good.example\0", 13 } };
    apr_pool_t *p = *state;

    const san_t *const sets[] = { dns, email, uri, trailing };
    const int counts[] = { 2, 1, 1, 1 };
    size_t i;

    for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
        char *pem = cert_pem(p, "x", -1, sets[i], counts[i], 1);
        assert_string_equal(identity_error(p, pem, strlen(pem)), "bad-certificate");
    }
}

static void test_repeated_san_extension_refused(void **state)
{
    static const san_t a[] = { { GEN_DNS, "a.example", -1 } };
    apr_pool_t *p = *state;
    char *pem = cert_pem(p, "x", -1, a, 1, 2);

    /* Which of the two would count is ambiguous: neither does. */
    assert_string_equal(identity_error(p, pem, strlen(pem)), "bad-certificate");
}

static void test_subject_escaping(void **state)
{
    apr_pool_t *p = *state;
    pds_cert_identity_t *id;

    /* A NUL or a control byte in the CN is escaped, never passed through. */
    id = identity_ok(p, cert_pem(p, "a\0b\nc", 5, NULL, 0, 0));
    assert_string_equal(id->subject_dn, "CN=a\\00b\\0Ac,O=Test\\, Ltd");
    /* UTF-8 as the CLI's RFC2253 option prints it: escaped bytes. */
    id = identity_ok(p, cert_pem(p, "Zo\xc3\xab, \"+=\"", -1, NULL, 0, 0));
    assert_string_equal(id->subject_dn, "CN=Zo\\C3\\AB\\, \\\"\\+=\\\",O=Test\\, Ltd");
}

static void test_pem_variants(void **state)
{
    static const san_t a[] = { { GEN_DNS, "first.example", -1 } };
    static const san_t b[] = { { GEN_DNS, "second.example", -1 } };
    apr_pool_t *p = *state;
    char *first = cert_pem(p, "first", -1, a, 1, 1);
    char *second = cert_pem(p, "second", -1, b, 1, 1);
    pds_cert_identity_t *id;

    /* Text before the PEM block, and a chain after it: the first certificate. */
    id = identity_ok(p, apr_pstrcat(p, "subject=CN=first\n", first, second, NULL));
    assert_string_equal(id->subject_dn, "CN=first,O=Test\\, Ltd");
    assert_string_equal(APR_ARRAY_IDX(id->sans, 0, const char *), "DNS:first.example");
    /* Only len bytes are read. */
    {
        char *both = apr_pstrcat(p, first, "garbage", NULL);
        pds_cert_identity_t *id2 = NULL;
        pds_error_t err;

        pds_error_clear(&err);
        assert_int_equal(pds_cert_identity_from_pem(&id2, p, both, strlen(first), &err),
                         APR_SUCCESS);
        assert_string_equal(id2->sha256, identity_ok(p, first)->sha256);
    }
    /* Same certificate, same fingerprint; another certificate, another one. */
    assert_string_equal(identity_ok(p, first)->sha256, identity_ok(p, first)->sha256);
    assert_string_not_equal(identity_ok(p, first)->sha256, identity_ok(p, second)->sha256);
}

static void test_bad_input(void **state)
{
    apr_pool_t *p = *state;
    char *pem = cert_pem(p, "x", -1, NULL, 0, 0);
    char *big;
    apr_size_t n = 64 * 1024 + 1;
    pds_cert_identity_t *id;
    pds_error_t err;
    const char *garbage[] = {
        "not a certificate",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n"
            "-----END PUBLIC KEY-----\n",
    };
    size_t i;

    for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++)
        assert_string_equal(identity_error(p, garbage[i], strlen(garbage[i])),
                            "bad-certificate");
    assert_string_equal(identity_error(p, pem, strlen(pem) / 2), "bad-certificate");
    assert_string_equal(identity_error(p, "", 0), "bad-certificate");

    /* Over 64 KiB, though a certificate comes first; at 64 KiB it is read. */
    big = apr_palloc(p, n);
    memset(big, '\n', n);
    memcpy(big, pem, strlen(pem));
    assert_string_equal(identity_error(p, big, n), "bad-certificate");
    pds_error_clear(&err);
    assert_int_equal(pds_cert_identity_from_pem(&id, p, big, n - 1, &err), APR_SUCCESS);

    pds_error_clear(&err);
    assert_int_not_equal(pds_cert_identity_from_pem(&id, p, NULL, 5, &err), APR_SUCCESS);
    assert_string_equal(err.code, "bad-argument");
    assert_int_not_equal(pds_cert_identity_from_pem(NULL, p, pem, strlen(pem), NULL),
                         APR_SUCCESS);
}

/* ---- fingerprints --------------------------------------------------------- */

static void test_fingerprint_normalise(void **state)
{
    static const char want[] =
        "252148abab4a609b1e06873bc726ce726cdea259adbc16e388caf3059feb3860";
    static const char *const good[] = {
        "25:21:48:AB:AB:4A:60:9B:1E:06:87:3B:C7:26:CE:72:6C:DE:A2:59:AD:BC:16:E3:88:CA:F3:05:9F:EB:38:60",
        "252148ABAB4A609B1E06873BC726CE726CDEA259ADBC16E388CAF3059FEB3860",
        "252148abab4a609b1e06873bc726ce726cdea259adbc16e388caf3059feb3860",
        "25:21:48:ab:AB:4a:60:9B:1e:06:87:3B:C7:26:CE:72:6C:DE:A2:59:AD:BC:16:E3:88:CA:F3:05:9F:EB:38:60",
        "2521:48AB:AB4A:609B1E06873BC726CE726CDEA259ADBC16E388CAF3059FEB3860",
    };
    static const char *const bad[] = {
        "",
        "252148abab4a609b1e06873bc726ce726cdea259adbc16e388caf3059feb38",      /* 31 bytes */
        "252148abab4a609b1e06873bc726ce726cdea259adbc16e388caf3059feb386000",  /* 33 bytes */
        "252148abab4a609b1e06873bc726ce726cdea259adbc16e388caf3059feb386",     /* odd */
        ":252148abab4a609b1e06873bc726ce726cdea259adbc16e388caf3059feb3860",
        "252148abab4a609b1e06873bc726ce726cdea259adbc16e388caf3059feb3860:",
        "25::2148abab4a609b1e06873bc726ce726cdea259adbc16e388caf3059feb3860",
        "2:52148abab4a609b1e06873bc726ce726cdea259adbc16e388caf3059feb3860",
        "25 21 48 ab ab 4a 60 9b 1e 06 87 3b c7 26 ce 72 6c de a2 59 ad bc 16 e3 88 ca f3 05 9f eb 38 60",
        " 252148abab4a609b1e06873bc726ce726cdea259adbc16e388caf3059feb3860",
        "252148abab4a609b1e06873bc726ce726cdea259adbc16e388caf3059feb3860\n",
        "g52148abab4a609b1e06873bc726ce726cdea259adbc16e388caf3059feb3860",
        "0x252148abab4a609b1e06873bc726ce726cdea259adbc16e388caf3059feb38",
        "25-21-48-ab-ab-4a-60-9b-1e-06-87-3b-c7-26-ce-72-6c-de-a2-59-ad-bc-16-e3-88-ca-f3-05-9f-eb-38-60",
        "sha256 Fingerprint=25:21:48:AB:AB:4A:60:9B:1E:06:87:3B:C7:26:CE:72:6C:DE:A2:59:AD:BC:16:E3:88:CA:F3:05:9F:EB:38:60",
    };
    char out[65];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        memset(out, 'z', sizeof(out));
        if (pds_cert_fingerprint_normalise(out, good[i]) != 0)
            fail_msg("refused '%s'", good[i]);
        assert_string_equal(out, want);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(out, 'z', sizeof(out));
        if (pds_cert_fingerprint_normalise(out, bad[i]) != -1)
            fail_msg("accepted '%s'", bad[i]);
        assert_string_equal(out, "");
    }
    assert_int_equal(pds_cert_fingerprint_normalise(out, NULL), -1);
    assert_int_equal(pds_cert_fingerprint_normalise(NULL, want), -1);
}

static const char *normal_of(apr_pool_t *p, const char *value)
{
    const char *normal = NULL;
    pds_error_t err;

    pds_error_clear(&err);
    if (pds_cert_subject_normalise(&normal, p, value, &err) != APR_SUCCESS) {
        assert_null(normal);
        assert_string_equal(err.code, "bad-subject-dn");
        return NULL;
    }
    return normal;
}

/* A configured cert-subject is compared exactly with the certificate's RFC
 * 2253 form: other spellings are turned into it, so the glue can refuse
 * them and show what to write (issue #10 item 14). */
static void test_subject_normalise(void **state)
{
    apr_pool_t *p = *state;

    /* already right: unchanged */
    assert_string_equal(normal_of(p, "CN=api.example,O=Example"), "CN=api.example,O=Example");
    assert_string_equal(normal_of(p, "CN=a\\,b,O=Test\\, Ltd,C=GB"),
                        "CN=a\\,b,O=Test\\, Ltd,C=GB");
    /* openssl's slash form and its default print are most significant first */
    assert_string_equal(normal_of(p, "/C=GB/O=Fife Health Board/CN=api.hb.example"),
                        "CN=api.hb.example,O=Fife Health Board,C=GB");
    assert_string_equal(normal_of(p, "C = GB, O = Fife Health Board, CN = api.hb.example"),
                        "CN=api.hb.example,O=Fife Health Board,C=GB");
    /* RFC 2253 syntax in the wrong order */
    assert_string_equal(normal_of(p, "C=GB,O=x,CN=y"), "CN=y,O=x,C=GB");
    assert_string_equal(normal_of(p, "DC=org,DC=example,CN=y"), "CN=y,DC=example,DC=org");
    assert_string_equal(normal_of(p, "O=Fife Health Board,CN=api.hb.example"),
                        "CN=api.hb.example,O=Fife Health Board");
    assert_string_equal(normal_of(p, "CN=b,CN=c"), "CN=b,CN=c");    /* all common names */
    /* spaces, lower-case or long attribute names */
    assert_string_equal(normal_of(p, "CN=a, O=b"), "CN=a,O=b");
    assert_string_equal(normal_of(p, "cn=a,o=b"), "CN=a,O=b");
    assert_string_equal(normal_of(p, "commonName=a,organizationName=b"), "CN=a,O=b");
    /* UTF-8 as certificates print it: escaped bytes */
    assert_string_equal(normal_of(p, "CN=Zo\xc3\xab,O=b"), "CN=Zo\\C3\\AB,O=b");
    assert_string_equal(normal_of(p, "CN=Zo\\C3\\AB,O=b"), "CN=Zo\\C3\\AB,O=b");
    /* multi-valued RDNs and quoted values are taken as written */
    assert_string_equal(normal_of(p, "CN=a+UID=b,O=c"), "CN=a+UID=b,O=c");
    /* not names */
    assert_null(normal_of(p, "nodn"));
    assert_null(normal_of(p, "CN="));
    assert_null(normal_of(p, "=x"));
    assert_null(normal_of(p, "XX=a,O=b"));
    assert_null(normal_of(p, "C=GBR,O=b"));
    assert_null(normal_of(p, "/C=GB//CN=a"));
}

int main(void)
{
#define T(f) pds_test_with_pool(f)
    const struct CMUnitTest tests[] = {
        T(test_cli_cases),
        T(test_all_san_kinds),
        T(test_no_subject_no_sans),
        T(test_nul_in_san_refused),
        T(test_repeated_san_extension_refused),
        T(test_subject_escaping),
        T(test_pem_variants),
        T(test_bad_input),
        T(test_fingerprint_normalise),
        T(test_subject_normalise),
    };
#undef T

    return pds_test_main(tests, group_setup, group_teardown);
}
