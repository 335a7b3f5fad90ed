/* test_config.c: the glue's directive handlers, merge functions, getters and
 * configuration cross-checks, called directly.
 *
 * mod_pds_config.c needs four functions of httpd's core; they live in the
 * httpd binary, not a library, so this file gives small stand-ins with the
 * same contract (word splitting with quotes, server-root-relative paths) and
 * captures what would go to the error log so the checks can be asserted.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pds_test.h"
#include "mod_pds_config.h"
#include "util_cfgtree.h"
#include "apr_strings.h"

/* --- stand-ins for httpd ---------------------------------------------------- */

module AP_MODULE_DECLARE_DATA pds_module;

/* The configuration tree httpd read (the Satisfy Any check walks it); the
 * handlers here are called without one. */
AP_DECLARE_DATA ap_directive_t *ap_conftree = NULL;

static char logged[8192];

AP_DECLARE(char *) ap_getword_conf(apr_pool_t *p, const char **line)
{
    const char *s = *line, *start;
    char quote, *out;
    apr_size_t n = 0;

    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '"' || *s == '\'') {
        quote = *s++;
        out = apr_palloc(p, strlen(s) + 1);
        while (*s && *s != quote) {
            if (*s == '\\' && s[1] != '\0')
                s++;
            out[n++] = *s++;
        }
        out[n] = '\0';
        if (*s == quote)
            s++;
    }
    else {
        start = s;
        while (*s && *s != ' ' && *s != '\t')
            s++;
        out = apr_pstrmemdup(p, start, s - start);
    }
    while (*s == ' ' || *s == '\t')
        s++;
    *line = s;
    return out;
}

AP_DECLARE(const char *) ap_check_cmd_context(cmd_parms *cmd, unsigned forbidden)
{
    return NULL;
}

AP_DECLARE(char *) ap_server_root_relative(apr_pool_t *p, const char *fname)
{
    return fname[0] == '/' ? apr_pstrdup(p, fname)
                           : apr_pstrcat(p, "/srv/root/", fname, NULL);
}

/* httpd's level names (server/config.c's ap_parse_log_level). */
AP_DECLARE(const char *) ap_parse_log_level(const char *str, int *val)
{
    static const char *const names[] = { "emerg", "alert", "crit", "error", "warn",
                                         "notice", "info", "debug", "trace1", "trace2",
                                         "trace3", "trace4", "trace5", "trace6",
                                         "trace7", "trace8", NULL };
    int i;

    for (i = 0; names[i] != NULL; i++) {
        if (strcasecmp(str, names[i]) == 0) {
            *val = i;
            return NULL;
        }
    }
    return "not a log level";
}

AP_DECLARE(void) ap_log_error_(const char *file, int line, int module_index,
                               int level, apr_status_t status, const server_rec *s,
                               const char *fmt, ...)
{
    va_list ap;
    apr_size_t used = strlen(logged);

    va_start(ap, fmt);
    vsnprintf(logged + used, sizeof(logged) - used, fmt, ap);
    va_end(ap);
    used = strlen(logged);
    if (used + 1 < sizeof(logged))
        strcat(logged, "\n");
}

/* --- fixtures ------------------------------------------------------------------ */

typedef struct fixture_t {
    apr_pool_t *p;
    server_rec server;
    void *server_config[1];
    ap_directive_t directive;
    cmd_parms cmd;
    pds_dir_conf_t *dir;
} fixture_t;

static apr_status_t remove_file(void *path)
{
    unlink(path);
    return APR_SUCCESS;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_int_equal(apr_pool_create(&f->p, pds_test_root()), APR_SUCCESS);
    pds_module.module_index = 0;
    f->server.module_config = (ap_conf_vector_t *)f->server_config;
    f->server_config[0] = pds_create_server_conf(f->p, &f->server);
    f->directive.filename = "/etc/apache2/pds.conf";
    f->directive.line_num = 12;
    f->cmd.pool = f->p;
    f->cmd.temp_pool = f->p;
    f->cmd.server = &f->server;
    f->cmd.directive = &f->directive;
    f->dir = pds_create_dir_conf(f->p, NULL);
    pds_config_reset();
    logged[0] = '\0';
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    apr_pool_destroy(f->p);
    free(f);
    return 0;
}

static const command_rec *directive(const char *name)
{
    const command_rec *c;

    for (c = pds_directives; c->name != NULL; c++) {
        if (strcmp(c->name, name) == 0)
            return c;
    }
    fail_msg("no directive %s", name);
    return NULL;
}

/* Runs one directive line as httpd would and returns its error, or NULL. */
static const char *run(fixture_t *f, const char *name, const char *args)
{
    const command_rec *c = directive(name);

    f->cmd.cmd = c;
    f->directive.directive = name;
    f->directive.args = args;
    switch (c->args_how) {
    case RAW_ARGS:
        return c->AP_RAW_ARGS(&f->cmd, f->dir, args);
    case TAKE1:
        return c->AP_TAKE1(&f->cmd, f->dir, args);
    case FLAG:
        return c->AP_FLAG(&f->cmd, f->dir, strcmp(args, "on") == 0);
    default:
        fail_msg("unexpected args_how for %s", name);
        return NULL;
    }
}

/* A <PDSAgreement> block: lines are "Keyword args", one per array entry. */
static const char *run_agreement(fixture_t *f, const char *id, const char *const *lines)
{
    ap_directive_t *first = NULL, *prev = NULL;
    int i;

    for (i = 0; lines[i] != NULL; i++) {
        ap_directive_t *d = apr_pcalloc(f->p, sizeof(*d));
        const char *sp = strchr(lines[i], ' ');

        d->directive = apr_pstrmemdup(f->p, lines[i], sp - lines[i]);
        d->args = sp + 1;
        d->filename = "/etc/apache2/agreements.conf";
        d->line_num = 20 + i;
        if (prev)
            prev->next = d;
        else
            first = d;
        prev = d;
    }
    f->directive.first_child = first;
    return run(f, "<PDSAgreement", apr_pstrcat(f->p, id, ">", NULL));
}

static const char *const good_agreement[] = {
    "Party health-board",
    "Purpose direct-care",
    "LegalBasis public-task",
    "Valid 2026-01-01 2027-12-31",
    "Resource GET /citizens/{subject}/record",
    "Release name.given dob",
    NULL
};

static pds_server_conf_t *server_conf(fixture_t *f)
{
    return f->server_config[0];
}

/* --- merge rules: base only, add only, both, add resets ----------------------- */

/* What the getters of the merged m give. */
static void assert_dir(const pds_dir_conf_t *m, int gateway, const char *purpose_header,
                       apr_off_t max_body, int max_depth)
{
    assert_int_equal(pds_conf_gateway(m), gateway);
    assert_string_equal(pds_conf_purpose_header(m), purpose_header);
    assert_int_equal(pds_conf_max_body(m), max_body);
    assert_int_equal(pds_conf_max_depth(m), max_depth);
}

static void test_dir_merge(void **state)
{
    fixture_t *f = *state;
    pds_dir_conf_t *base = pds_create_dir_conf(f->p, NULL);
    pds_dir_conf_t *add = pds_create_dir_conf(f->p, NULL);
    pds_dir_conf_t *m;

    /* nothing set: the getters give the defaults */
    assert_dir(pds_merge_dir_conf(f->p, base, add), 0, "PDS-Purpose", 1048576, 32);

    /* base only */
    base->gateway = 1;
    base->purpose_header = "X-Purpose";
    base->max_body = 4096;
    base->max_depth = 8;
    assert_dir(pds_merge_dir_conf(f->p, base, add), 1, "X-Purpose", 4096, 8);

    /* both: the inner location wins; off resets an enclosing on */
    add->gateway = 0;
    add->max_body = 100;
    assert_dir(pds_merge_dir_conf(f->p, base, add), 0, "X-Purpose", 100, 8);

    /* add only */
    m = pds_merge_dir_conf(f->p, pds_create_dir_conf(f->p, NULL), add);
    assert_dir(m, 0, "PDS-Purpose", 100, 32);

    /* merge never writes to its inputs */
    assert_int_equal(base->gateway, 1);
    assert_int_equal(add->gateway, 0);
    assert_true(m != base && m != add);
}

static void test_server_merge(void **state)
{
    fixture_t *f = *state;
    pds_server_conf_t *base = server_conf(f);
    pds_server_conf_t *add = pds_create_server_conf(f->p, NULL);
    pds_server_conf_t *m;

    assert_null(run(f, "PDSOrganisation", "health-board cert-sha256 "
                    "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:"
                    "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99"));
    assert_null(run_agreement(f, "main-agreement", good_agreement));
    assert_null(run(f, "PDSAuditLog", "logs/audit.jsonl"));
    assert_null(run(f, "PDSTokenClockSkew", "30"));

    m = pds_merge_server_conf(f->p, base, add);
    assert_int_equal(m->organisations->nelts, 1);
    assert_int_equal(m->agreements->nelts, 1);
    assert_string_equal(m->audit_log_path, "/srv/root/logs/audit.jsonl");
    assert_int_equal(pds_conf_clock_skew(m), 30);
    assert_int_equal(pds_conf_max_lifetime(m), 3600);

    /* a virtual host's own agreements come after the main server's */
    f->server_config[0] = add;
    assert_null(run_agreement(f, "vhost-agreement", good_agreement));
    add->token_clock_skew = 5;
    m = pds_merge_server_conf(f->p, base, add);
    assert_int_equal(m->agreements->nelts, 2);
    assert_string_equal(pds_agreement_id(APR_ARRAY_IDX(m->agreements, 0,
                        const pds_agreement_t *)), "main-agreement");
    assert_string_equal(pds_agreement_id(APR_ARRAY_IDX(m->agreements, 1,
                        const pds_agreement_t *)), "vhost-agreement");
    assert_int_equal(pds_conf_clock_skew(m), 5);
    /* inputs untouched */
    assert_int_equal(base->agreements->nelts, 1);
    assert_int_equal(add->agreements->nelts, 1);
    assert_int_equal(base->token_clock_skew, 30);
}

/* --- every member of the lists follows its kind's rule ------------------------
 * Expanded from PDS_SERVER_MEMBERS and PDS_DIR_MEMBERS, so a member added to
 * a list is tested here without a line of its own: create leaves it unset,
 * merge takes add's when add set it and base's otherwise (a WITH member:
 * from the side its leader came from), arrays are base's then add's,
 * runtime members are never inherited, merge writes to neither input, and
 * the getter gives the default until the member is set. */

static char mark_base[] = "base", mark_add[] = "add";
#define MARK(type, side) ((type)(void *)((side) ? mark_add : mark_base))

#define NONE_2(a, b)
#define NONE_3(a, b, c)
#define NONE_4(a, b, c, d)

/* c's members are what create leaves. */
#define UNSET_NUMBER(member)                  assert_true(c->member == -1);
#define UNSET_VALUE(type, member, getter, dflt) UNSET_NUMBER(member)
#define UNSET_FLAG(member, getter, dflt)      UNSET_NUMBER(member)
#define UNSET_STRING(member, getter, dflt)    assert_null(c->member);
#define UNSET_PTR(type, member)               assert_null(c->member);
#define UNSET_WITH(type, member, leader, unset) assert_null(c->member);
#define UNSET_ARRAY(elt_type, member, nalloc) assert_int_equal(c->member->nelts, 0);
#define UNSET_RUNTIME(type, member)           assert_null(c->member);

/* Sets every member of c to side's mark (0 base, 1 add): 7 or 9, on or off,
 * one of two pointers, one element more. */
#define FILL_VALUE(type, member, getter, dflt) c->member = (type)(side ? 9 : 7);
#define FILL_FLAG(member, getter, dflt)       c->member = side ? 0 : 1;
#define FILL_STRING(member, getter, dflt)     c->member = MARK(const char *, side);
#define FILL_PTR(type, member)                c->member = MARK(type, side);
#define FILL_WITH(type, member, leader, unset) c->member = MARK(type, side);
#define FILL_ARRAY(elt_type, member, nalloc) \
    APR_ARRAY_PUSH(c->member, elt_type) = MARK(elt_type, side);
#define FILL_RUNTIME(type, member)            c->member = MARK(type, side);

/* m is the merge of b and a: members from win, WITH members from with_win. */
#define EXPECT_SCALAR(member)                 assert_true(m->member == win->member);
#define EXPECT_VALUE(type, member, getter, dflt) EXPECT_SCALAR(member)
#define EXPECT_FLAG(member, getter, dflt)     EXPECT_SCALAR(member)
#define EXPECT_STRING(member, getter, dflt)   EXPECT_SCALAR(member)
#define EXPECT_PTR(type, member)              EXPECT_SCALAR(member)
#define EXPECT_WITH(type, member, leader, unset) \
    assert_true(m->member == with_win->member);
#define EXPECT_ARRAY(elt_type, member, nalloc) \
    expect_appended(m->member, b->member, a->member);
#define EXPECT_RUNTIME(type, member)          assert_null(m->member);

/* The getters: the default when unset (or no struct), else the member. */
#define GETTER_VALUE(type, member, getter, dflt) \
    assert_true(getter(fresh) == (dflt)); \
    assert_true(getter(NULL) == (dflt)); \
    assert_true(getter(base) == 7 && getter(add) == 9);
#define GETTER_FLAG(member, getter, dflt) \
    assert_int_equal(getter(fresh), (dflt)); \
    assert_int_equal(getter(NULL), (dflt)); \
    assert_true(getter(base) == 1 && getter(add) == 0);
#define GETTER_STRING(member, getter, dflt) \
    assert_string_equal(getter(fresh), (dflt)); \
    assert_string_equal(getter(NULL), (dflt)); \
    assert_ptr_equal(getter(base), mark_base);

static void expect_appended(const apr_array_header_t *m, const apr_array_header_t *b,
                            const apr_array_header_t *a)
{
    assert_int_equal(m->elt_size, b->elt_size);
    assert_int_equal(m->nelts, b->nelts + a->nelts);
    assert_memory_equal(m->elts, b->elts, (size_t)b->nelts * b->elt_size);
    assert_memory_equal(m->elts + (size_t)b->nelts * b->elt_size, a->elts,
                        (size_t)a->nelts * a->elt_size);
}

#define MERGE_CASE(LIST, merge, base_side, add_side, win_side, with_side) \
    b = base_side; a = add_side; win = win_side; with_win = with_side; \
    m = merge(f->p, b, a); \
    LIST(EXPECT_VALUE, EXPECT_FLAG, EXPECT_STRING, EXPECT_PTR, EXPECT_WITH, \
         EXPECT_ARRAY, EXPECT_RUNTIME)

#define MEMBERS_TEST(fn, T, LIST_, create, merge) \
static void fn(void **state) \
{ \
    fixture_t *f = *state; \
    T *fresh = create(f->p, NULL), *base = create(f->p, NULL); \
    T *add = create(f->p, NULL), *with_only = create(f->p, NULL); \
    T *c, *m, *b, *a, *win, *with_win, base_before, add_before; \
    int side; \
    \
    c = fresh; \
    LIST_(UNSET_VALUE, UNSET_FLAG, UNSET_STRING, UNSET_PTR, UNSET_WITH, \
          UNSET_ARRAY, UNSET_RUNTIME) \
    c = base; side = 0; \
    LIST_(FILL_VALUE, FILL_FLAG, FILL_STRING, FILL_PTR, FILL_WITH, FILL_ARRAY, \
          FILL_RUNTIME) \
    c = add; side = 1; \
    LIST_(FILL_VALUE, FILL_FLAG, FILL_STRING, FILL_PTR, FILL_WITH, FILL_ARRAY, \
          FILL_RUNTIME) \
    c = with_only; side = 1; \
    LIST_(NONE_4, NONE_3, NONE_3, NONE_2, FILL_WITH, NONE_3, NONE_2) \
    base_before = *base; \
    add_before = *add; \
    \
    PDS_CONF_GETTERS(LIST_, GETTER_VALUE, GETTER_FLAG, GETTER_STRING) \
    /* base only, add only, both; a WITH member set without its leader */ \
    MERGE_CASE(LIST_, merge, base, fresh, base, base) \
    MERGE_CASE(LIST_, merge, fresh, add, add, add) \
    MERGE_CASE(LIST_, merge, base, add, add, add) \
    MERGE_CASE(LIST_, merge, base, with_only, base, base) \
    /* merge never writes to its inputs */ \
    assert_memory_equal(base, &base_before, sizeof(T)); \
    assert_memory_equal(add, &add_before, sizeof(T)); \
    (void)c; (void)with_win; \
}

MEMBERS_TEST(test_server_members, pds_server_conf_t, PDS_SERVER_MEMBERS,
             pds_create_server_conf, pds_merge_server_conf)
MEMBERS_TEST(test_dir_members, pds_dir_conf_t, PDS_DIR_MEMBERS,
             pds_create_dir_conf, pds_merge_dir_conf)

/* The receipts' issuer comes from configuration: the directive, else the main
 * server's ServerName; a virtual host inherits the main server's. */
static void test_receipt_issuer(void **state)
{
    fixture_t *f = *state;
    pds_server_conf_t *base = server_conf(f);
    pds_server_conf_t *add = pds_create_server_conf(f->p, NULL);
    pds_server_conf_t *m;
    server_rec main_server;
    char hostname[] = "gateway.council.example";

    memset(&main_server, 0, sizeof(main_server));
    main_server.server_hostname = hostname;
    assert_string_equal(pds_conf_receipt_issuer(base, &main_server), "gateway.council.example");
    assert_non_null(run(f, "PDSConsentReceiptIssuer", ""));
    assert_non_null(run(f, "PDSConsentReceiptIssuer", "\"a b\""));
    assert_non_null(run(f, "PDSConsentReceiptIssuer", "caf\xc3\xa9"));
    assert_null(base->consent_receipt_issuer);
    assert_null(run(f, "PDSConsentReceiptIssuer", "https://gateway.council.example"));
    assert_string_equal(pds_conf_receipt_issuer(base, &main_server),
                        "https://gateway.council.example");
    assert_string_equal(pds_conf_receipt_issuer(pds_merge_server_conf(f->p, base, add),
                                                &main_server),
                        "https://gateway.council.example");
    assert_null(add->consent_receipt_issuer);
    /* add only, and both: the virtual host's own wins */
    add->consent_receipt_issuer = "https://vhost.example";
    m = pds_merge_server_conf(f->p, pds_create_server_conf(f->p, NULL), add);
    assert_string_equal(m->consent_receipt_issuer, "https://vhost.example");
    m = pds_merge_server_conf(f->p, base, add);
    assert_string_equal(m->consent_receipt_issuer, "https://vhost.example");
    assert_string_equal(base->consent_receipt_issuer, "https://gateway.council.example");
}

/* --- directives -------------------------------------------------------------------- */

static void test_organisation_kinds(void **state)
{
    fixture_t *f = *state;
    pds_server_conf_t *sc = server_conf(f);
    const pds_organisation_t *org;
    const pds_identity_t *id;

    assert_null(run(f, "PDSOrganisation", "health-board cert-subject "
                    "\"CN=api.health-board.example,O=Fife Health Board\""));
    assert_null(run(f, "PDSOrganisation", "health-board cert-san dns:api.health.example"));
    assert_null(run(f, "PDSOrganisation", "data-trust cert-sha256 "
                    "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF"));
    assert_int_equal(sc->organisations->nelts, 2);
    org = APR_ARRAY_IDX(sc->organisations, 0, pds_organisation_t *);
    assert_string_equal(org->name, "health-board");
    assert_int_equal(org->identities->nelts, 2);
    id = &APR_ARRAY_IDX(org->identities, 0, pds_identity_t);
    assert_int_equal(id->kind, PDS_ID_CERT_SUBJECT);
    assert_string_equal(id->value, "CN=api.health-board.example,O=Fife Health Board");
    id = &APR_ARRAY_IDX(org->identities, 1, pds_identity_t);
    assert_int_equal(id->kind, PDS_ID_CERT_SAN);
    assert_string_equal(id->value, "DNS:api.health.example");
    org = APR_ARRAY_IDX(sc->organisations, 1, pds_organisation_t *);
    id = &APR_ARRAY_IDX(org->identities, 0, pds_identity_t);
    assert_string_equal(id->value,
                        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
}

static void test_organisation_errors(void **state)
{
    fixture_t *f = *state;

    assert_contains(run(f, "PDSOrganisation", "health-board"), "needs a name, a kind");
    assert_contains(run(f, "PDSOrganisation", "bad/name cert-san DNS:x"), "not a valid name");
    assert_contains(run(f, "PDSOrganisation", "x cert-subject nodn"), "RFC 2253");
    assert_contains(run(f, "PDSOrganisation", "x cert-san ftp:x"), "TYPE:value");
    assert_contains(run(f, "PDSOrganisation", "x cert-sha256 abcd"), "64 hex digits");
    assert_contains(run(f, "PDSOrganisation", "x cert-chain y"), "unknown kind");
    assert_contains(run(f, "PDSOrganisation", "x cert-san DNS:a extra"), "unexpected");
    assert_contains(run(f, "PDSOrganisation", "x jwt-key /nonexistent/key.pem"),
                    "/nonexistent/key.pem");
}

static void test_jwt_key(void **state)
{
    fixture_t *f = *state;
    const char *path = PDS_TEST_SRCDIR "/cases/jws/EdDSA/public.pem";
    const pds_organisation_t *org;
    const pds_identity_t *id;

    assert_null(run(f, "PDSOrganisation", apr_pstrcat(f->p, "university jwt-key ", path,
                                                      " issuer=https://uni.example", NULL)));
    org = APR_ARRAY_IDX(server_conf(f)->organisations, 0, pds_organisation_t *);
    id = &APR_ARRAY_IDX(org->identities, 0, pds_identity_t);
    assert_int_equal(id->kind, PDS_ID_JWT_KEY);
    assert_string_equal(id->issuer, "https://uni.example");
    assert_string_equal(pds_key_alg(id->key), "EdDSA");
    assert_contains(run(f, "PDSOrganisation", apr_pstrcat(f->p, "u2 jwt-key ", path,
                                                          " audience=x", NULL)),
                    "issuer=<iss>");
    /* without issuer= the organisation's name is the issuer */
    assert_null(run(f, "PDSOrganisation", apr_pstrcat(f->p, "u3 jwt-key ", path, NULL)));
    org = APR_ARRAY_IDX(server_conf(f)->organisations, 2, pds_organisation_t *);
    assert_string_equal(APR_ARRAY_IDX(org->identities, 0, pds_identity_t).issuer, "u3");
    /* a key needs PDSTokenAudience */
    assert_int_equal(pds_config_check(f->p, f->p, f->p, &f->server),
                     HTTP_INTERNAL_SERVER_ERROR);
    assert_contains(logged, "PDS00003");
    assert_contains(logged, "jwt-key on line 12 of /etc/apache2/pds.conf needs PDSTokenAudience");
}

static void test_scalar_directives(void **state)
{
    fixture_t *f = *state;

    assert_null(run(f, "PDSGateway", "on"));
    assert_true(pds_conf_gateway(f->dir));
    assert_null(run(f, "PDSMaxBodySize", "65536"));
    assert_int_equal(pds_conf_max_body(f->dir), 65536);
    assert_contains(run(f, "PDSMaxBodySize", "0"), "PDSMaxBodySize");
    assert_contains(run(f, "PDSMaxBodySize", "10M"), "whole number");
    assert_contains(run(f, "PDSMaxBodySize", "-5"), "whole number");
    assert_null(run(f, "PDSMaxDepth", "10"));
    assert_int_equal(pds_conf_max_depth(f->dir), 10);
    assert_contains(run(f, "PDSMaxDepth", "1"), "from 2 to 1000");
    assert_null(run(f, "PDSPurposeHeader", "X-Purpose-Of-Use"));
    assert_string_equal(pds_conf_purpose_header(f->dir), "X-Purpose-Of-Use");
    assert_contains(run(f, "PDSPurposeHeader", "bad header"), "not a header name");
    assert_contains(run(f, "PDSAuditLog", "|/usr/bin/logger"), "piped logs");
    assert_contains(run(f, "PDSTokenClockSkew", "601"), "from 0 to 600");
    assert_null(run(f, "PDSTokenMaxLifetime", "600"));
    assert_int_equal(pds_conf_max_lifetime(server_conf(f)), 600);
    /* the spool: a directory that exists, or off; a threshold in range */
    assert_int_equal(pds_conf_spool_threshold(server_conf(f)), 65536);
    assert_null(run(f, "PDSSpoolThreshold", "4096"));
    assert_int_equal(pds_conf_spool_threshold(server_conf(f)), 4096);
    assert_contains(run(f, "PDSSpoolThreshold", "4095"), "from 4096 to 67108864");
    assert_null(run(f, "PDSSpoolDirectory", "/tmp"));
    assert_string_equal(server_conf(f)->spool_dir, "/tmp");
    assert_non_null(server_conf(f)->spool_where);
    assert_null(run(f, "PDSSpoolDirectory", "off"));
    assert_string_equal(server_conf(f)->spool_dir, "");
    assert_contains(run(f, "PDSSpoolDirectory", "/nonexistent/pds-spool"),
                    "not an existing directory");
    assert_contains(run(f, "PDSSpoolDirectory", "/dev/null"), "not an existing directory");
}

static void test_agreement_block(void **state)
{
    fixture_t *f = *state;
    static const char *const bad_date[] = {
        "Party health-board", "Valid 2026-13-01 2027-12-31", NULL
    };
    static const char *const consent[] = {
        "Party health-board", "Purpose direct-care", "LegalBasis consent",
        "Valid 2026-01-01 2027-12-31", "Resource GET /citizens/{subject}/record",
        "Release dob", NULL
    };
    static const char *const write[] = {
        "Party health-board", "Purpose direct-care", "LegalBasis public-task",
        "Valid 2026-01-01 2027-12-31", "Resource PUT /citizens/{subject}/record",
        "Release dob", NULL
    };
    static const char *const incomplete[] = { "Party health-board", NULL };
    const char *err;

    assert_null(run_agreement(f, "good", good_agreement));
    assert_int_equal(server_conf(f)->agreements->nelts, 1);

    /* a bad line is named by its own file and line */
    err = run_agreement(f, "bad-date", bad_date);
    assert_contains(err, "<PDSAgreement bad-date>, line 21 of /etc/apache2/agreements.conf");
    assert_contains(err, "2026-13-01");

    assert_contains(run_agreement(f, "good", good_agreement), "already declared");
    assert_contains(run_agreement(f, "incomplete", incomplete), "Purpose");
    /* consent agreements are accepted here; check_config asks for a store */
    assert_null(run_agreement(f, "consent", consent));
    err = run_agreement(f, "write", write);
    assert_contains(err, "<PDSAgreement write>");
    assert_contains(err, "no Write");
    assert_contains(run(f, "<PDSAgreement", "a b>"), "exactly one argument");
    assert_contains(run(f, "<PDSAgreement", "no-close"), "closing '>'");
    assert_int_equal(server_conf(f)->agreements->nelts, 2);
}

/* --- cross-checks -------------------------------------------------------------- */

static void test_check_unknown_party(void **state)
{
    fixture_t *f = *state;

    assert_null(run_agreement(f, "orphan", good_agreement));
    assert_int_equal(pds_config_check(f->p, f->p, f->p, &f->server),
                     HTTP_INTERNAL_SERVER_ERROR);
    assert_contains(logged, "PDS00001");
    /* the Party line, not the block's, is what the sysadmin must fix */
    assert_contains(logged, "<PDSAgreement orphan>: Party 'health-board' (line 20 of "
                    "/etc/apache2/agreements.conf) is not a declared organisation");
}

/* A key file as `pds-audit keygen --hmac` writes it, with the given mode. */
static const char *key_file(fixture_t *f, mode_t mode, const char *content)
{
    char *path = apr_pstrdup(f->p, "/tmp/pds-test-key-XXXXXX");
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
    assert_int_equal(chmod(path, mode), 0);
    apr_pool_cleanup_register(f->p, path, remove_file, apr_pool_cleanup_null);
    return path;
}

#define GOOD_KEY "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"

static void test_check_passes(void **state)
{
    fixture_t *f = *state;

    assert_null(run(f, "PDSOrganisation", "health-board cert-san DNS:api.example"));
    assert_null(run_agreement(f, "fine", good_agreement));
    assert_null(run(f, "PDSAuditLog", "/var/log/pds.jsonl"));
    assert_null(run(f, "PDSAuditKey", key_file(f, 0600, GOOD_KEY)));
    assert_null(run(f, "PDSGateway", "on"));
    assert_int_equal(pds_config_check(f->p, f->p, f->p, &f->server), OK);
    assert_string_equal(logged, "");
}

static void test_check_audit_log_needs_key(void **state)
{
    fixture_t *f = *state;

    assert_null(run(f, "PDSAuditLog", "/var/log/pds.jsonl"));
    assert_int_equal(pds_config_check(f->p, f->p, f->p, &f->server),
                     HTTP_INTERNAL_SERVER_ERROR);
    assert_contains(logged, "PDS00005: PDSAuditLog /var/log/pds.jsonl needs PDSAuditKey");
}

static void test_audit_directives(void **state)
{
    fixture_t *f = *state;
    pds_server_conf_t *sc = server_conf(f);
    const char *key = key_file(f, 0600, GOOD_KEY);

    assert_null(run(f, "PDSAuditKey", key));
    assert_non_null(sc->audit_key);
    assert_contains(run(f, "PDSAuditKey", key_file(f, 0640, GOOD_KEY)), "chmod 600");
    assert_contains(run(f, "PDSAuditKey", key_file(f, 0600, "abc\n")), "pds-audit keygen");
    assert_contains(run(f, "PDSAuditKey", "/nonexistent/audit.key"), "cannot read");

    /* checkpoints: lines, optionally seconds; defaults 1000 and 60 */
    assert_int_equal(pds_conf_checkpoint_lines(sc), 1000);
    assert_int_equal(pds_conf_checkpoint_seconds(sc), 60);
    f->cmd.cmd = directive("PDSAuditCheckpoint");
    assert_null(f->cmd.cmd->AP_TAKE2(&f->cmd, NULL, "50", "5"));
    assert_int_equal(pds_conf_checkpoint_lines(sc), 50);
    assert_int_equal(pds_conf_checkpoint_seconds(sc), 5);
    assert_contains(f->cmd.cmd->AP_TAKE2(&f->cmd, NULL, "many", NULL), "whole number");

    /* subjects: clear by default, or pseudonyms with a key */
    assert_false(pds_conf_audit_pseudonymous(sc));
    f->cmd.cmd = directive("PDSAuditSubject");
    assert_null(f->cmd.cmd->AP_TAKE2(&f->cmd, NULL, "pseudonym", key));
    assert_true(pds_conf_audit_pseudonymous(sc));
    assert_non_null(sc->audit_pseudonym_key);
    assert_contains(f->cmd.cmd->AP_TAKE2(&f->cmd, NULL, "pseudonym", NULL), "clear");
    assert_null(f->cmd.cmd->AP_TAKE2(&f->cmd, NULL, "clear", NULL));
    assert_false(pds_conf_audit_pseudonymous(sc));

    /* the failure policy: deny unless allow is written out */
    assert_false(pds_conf_audit_fail_open(sc));
    assert_null(run(f, "PDSAuditOnFailure", "allow"));
    assert_true(pds_conf_audit_fail_open(sc));
    assert_contains(run(f, "PDSAuditOnFailure", "maybe"), "deny");
    assert_true(pds_conf_audit_sync(sc));
    assert_null(run(f, "PDSAuditSync", "off"));
    assert_false(pds_conf_audit_sync(sc));

    /* the decision log: off by default, else one of httpd's levels */
    assert_int_equal(pds_conf_decision_log(sc), PDS_DECISION_LOG_OFF);
    assert_null(run(f, "PDSDecisionLog", "info"));
    assert_int_equal(pds_conf_decision_log(sc), APLOG_INFO);
    assert_null(run(f, "PDSDecisionLog", "trace3"));
    assert_int_equal(pds_conf_decision_log(sc), APLOG_TRACE3);
    assert_null(run(f, "PDSDecisionLog", "Off"));
    assert_int_equal(pds_conf_decision_log(sc), PDS_DECISION_LOG_OFF);
    assert_contains(run(f, "PDSDecisionLog", "loud"), "PDSDecisionLog: 'loud' is neither "
                    "off nor a log level");
    assert_int_equal(pds_conf_decision_log(sc), PDS_DECISION_LOG_OFF);
}

/* PDSNodeName: a name, checked when read; the host name when unset. */
static void test_node_name(void **state)
{
    fixture_t *f = *state;
    pds_server_conf_t *sc = server_conf(f);
    const char *why = NULL, *name;
    char host[256];

    memset(host, 0, sizeof(host));
    assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
    name = pds_conf_node_name(&f->server, f->p, &why);
    if (strlen(host) <= 64 && strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
                                     "VWXYZ0123456789._-") == strlen(host))
        assert_string_equal(name, host);
    else {
        assert_null(name);
        assert_contains(why, "set PDSNodeName");
    }

    assert_null(run(f, "PDSNodeName", "gw-1.council_a"));
    assert_string_equal(sc->node_name, "gw-1.council_a");
    assert_string_equal(pds_conf_node_name(&f->server, f->p, &why), "gw-1.council_a");
    assert_contains(run(f, "PDSNodeName", "gw 1"), "PDSNodeName 'gw 1': a node name is 1 "
                    "to 64 characters of A-Z a-z 0-9 . _ -");
    assert_contains(run(f, "PDSNodeName", ""), "a node name is");
    assert_contains(run(f, "PDSNodeName", "gw/1"), "a node name is");
    assert_contains(run(f, "PDSNodeName", "n\xc3\xb6" "de"), "a node name is");
    assert_non_null(run(f, "PDSNodeName", "12345678901234567890123456789012345678901234"
                        "567890123456789012345"));
    assert_null(run(f, "PDSNodeName", "1234567890123456789012345678901234567890123456"
                    "789012345678901234"));
    assert_int_equal(strlen(sc->node_name), 64);
}

static void test_check_gateway_needs_audit_log(void **state)
{
    fixture_t *f = *state;

    f->directive.line_num = 40;
    assert_null(run(f, "PDSGateway", "on"));
    assert_int_equal(pds_config_check(f->p, f->p, f->p, &f->server),
                     HTTP_INTERNAL_SERVER_ERROR);
    assert_contains(logged, "PDS00004");
    assert_contains(logged, "PDSGateway on (line 40 of /etc/apache2/pds.conf)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dir_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receipt_issuer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_organisation_kinds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_organisation_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jwt_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scalar_directives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agreement_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_unknown_party, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_passes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_audit_log_needs_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_directives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_gateway_needs_audit_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_node_name, setup, teardown),
    };

    return pds_test_main(tests, NULL, NULL);
}
