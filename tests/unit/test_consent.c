/* test_consent.c: the consent record, its life cycle, the cache encoding, and
 * the store on SQLite (a file in a temporary directory). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "pds_test.h"
#include "pds_consent.h"
#include "pds_consent_store.h"
#include "pds_audit.h"
#include "pds_disclosure_store.h"

#define DAY apr_time_from_sec(86400)

typedef struct fixture_t {
    apr_pool_t *p;
    apr_time_t now;
    char dir[64];
    const char *db;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));

    apr_pool_create(&f->p, pds_test_root());
    f->now = apr_time_from_sec(1795996800);      /* 2026-11-30T00:00:00Z */
    strcpy(f->dir, "/tmp/pds-consent-test.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->db = apr_pstrcat(f->p, f->dir, "/consent.db", NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    apr_pool_destroy(f->p);
    {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        (void)!system(cmd);
    }
    free(f);
    return 0;
}

static pds_consent_t *grant(fixture_t *f, const char *body, pds_error_t *err)
{
    pds_consent_t *c = NULL;

    pds_error_clear(err);
    if (pds_consent_from_grant(&c, f->p, body, strlen(body), "alice", "person", f->now, err)
        != APR_SUCCESS)
        return NULL;
    return c;
}

#define GOOD "{\"organisation\":\"nhs-fife\",\"purpose\":\"direct-care\"," \
             "\"fields\":[\"name\",\"dob\"],\"notice\":\"privacy-notice-v3\"}"

/* --- the record ---------------------------------------------------------------- */

static void test_grant_builds_an_active_record(void **state)
{
    fixture_t *f = *state;
    pds_error_t err;
    pds_consent_t *c = grant(f, GOOD, &err);

    assert_non_null(c);
    assert_int_equal(strlen(c->id), 34);
    assert_memory_equal(c->id, "c-", 2);
    assert_string_equal(c->subject, "alice");
    assert_string_equal(c->organisation, "nhs-fife");
    assert_null(c->agreement);
    assert_string_equal(c->purpose, "direct-care");
    assert_int_equal(c->fields->nelts, 2);
    assert_string_equal(c->legal_basis, "consent");
    assert_string_equal(c->notice, "privacy-notice-v3");
    assert_string_equal(c->state, "active");
    assert_int_equal(c->version, 1);
    assert_true(c->expires == f->now + 365 * DAY);
    assert_string_equal(pds_consent_state_at(c, f->now), "active");
    assert_string_equal(pds_consent_state_at(c, c->expires), "expired");
    /* two grants never share an id */
    assert_string_not_equal(c->id, grant(f, GOOD, &err)->id);
}

/* A grant that would be good but for the members appended (JSON text). */
#define GOOD_WITH(members) \
    "{\"organisation\":\"nhs-fife\",\"purpose\":\"p\",\"fields\":[\"a\"],\"notice\":\"n\"," \
    members "}"

static void test_grant_refuses_bad_bodies(void **state)
{
    fixture_t *f = *state;
    static const struct { const char *body, *code, *source, *text; } cases[] = {
        { "", "bad-consent-body", "body", "not JSON" },
        { "[1]", "bad-consent-body", "body", "JSON object" },
        { "{\"purpose\":\"a\",\"purpose\":\"b\"}", "bad-consent-body", "body", "duplicate" },
        { "{\"organisation\":\"nhs-fife\",\"purpose\":\"direct-care\",\"fields\":[\"name\"],"
          "\"notice\":\"n\",\"colour\":\"red\"}", "invalid-consent", "body", "unknown member" },
        { "{\"purpose\":\"direct-care\",\"fields\":[\"name\"],\"notice\":\"n\"}",
          "invalid-consent", "organisation", "organisation" },
        { "{\"organisation\":\"nhs fife\",\"purpose\":\"direct-care\",\"fields\":[\"name\"],"
          "\"notice\":\"n\"}", "invalid-consent", "organisation", "organisation" },
        { "{\"organisation\":\"nhs-fife\",\"purpose\":7,\"fields\":[\"name\"],\"notice\":\"n\"}",
          "invalid-consent", "purpose", "purpose" },
        { "{\"organisation\":\"nhs-fife\",\"purpose\":\"p\",\"fields\":[],\"notice\":\"n\"}",
          "invalid-consent", "fields", "non-empty" },
        { "{\"organisation\":\"nhs-fife\",\"purpose\":\"p\",\"fields\":[\"name..x\"],"
          "\"notice\":\"n\"}", "invalid-consent", "fields", "fields[0]" },
        { "{\"organisation\":\"nhs-fife\",\"purpose\":\"p\",\"fields\":[\"a\"]}",
          "invalid-consent", "notice", "notice" },
        { GOOD_WITH("\"expires\":\"tomorrow\""), "invalid-consent", "expires", "RFC 3339" },
        { GOOD_WITH("\"expires\":\"2020-01-01T00:00:00Z\""),
          "invalid-consent", "expires", "future" },
        { GOOD_WITH("\"expires\":\"2040-01-01T00:00:00Z\""),
          "invalid-consent", "expires", "five years" },
        { GOOD_WITH("\"agreement\":\"x y\""), "invalid-consent", "agreement", "agreement" },
    };
    pds_error_t err;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_null(grant(f, cases[i].body, &err));
        assert_string_equal(err.code, cases[i].code);
        assert_string_equal(err.source, cases[i].source);
        if (strstr(err.text, cases[i].text) == NULL)
            fail_msg("case %d: \"%s\" lacks \"%s\"", (int)i, err.text, cases[i].text);
    }
}

static void test_grant_with_agreement_and_expiry(void **state)
{
    fixture_t *f = *state;
    pds_error_t err;
    pds_consent_t *c = grant(f, "{\"organisation\":\"nhs-fife\",\"purpose\":\"direct-care\","
                             "\"fields\":[\"address.postcode\"],\"notice\":\"v3\","
                             "\"agreement\":\"council-to-fife\","
                             "\"expires\":\"2027-01-01T01:00:00+01:00\"}", &err);

    assert_non_null(c);
    assert_string_equal(c->agreement, "council-to-fife");
    assert_string_equal(pds_time_format(f->p, c->expires), "2027-01-01T00:00:00Z");
    assert_true(pds_consent_covers(c, "alice", "nhs-fife", "council-to-fife", "direct-care",
                                   f->now));
    assert_false(pds_consent_covers(c, "alice", "nhs-fife", "other-agreement", "direct-care",
                                    f->now));
}

static void test_life_cycle(void **state)
{
    fixture_t *f = *state;
    pds_error_t err;
    pds_consent_t *c = grant(f, GOOD, &err), *paused, *resumed, *revoked, *x;

    assert_int_equal(pds_consent_transition(&paused, f->p, c, "pause", "person", f->now + 1,
                                            &err), APR_SUCCESS);
    assert_string_equal(paused->state, "paused");
    assert_int_equal(paused->version, 2);
    assert_string_equal(c->state, "active");              /* the input is unchanged */
    assert_false(pds_consent_covers(paused, "alice", "nhs-fife", NULL, "direct-care",
                                    f->now + 2));
    pds_error_clear(&err);
    assert_int_equal(pds_consent_transition(&x, f->p, paused, "pause", "person", f->now, &err),
                     APR_EINVAL);
    assert_string_equal(err.code, "consent-state-conflict");
    assert_int_equal(pds_consent_transition(&resumed, f->p, paused, "resume",
                                            "manager:brixham-trust", f->now + 2, &err),
                     APR_SUCCESS);
    assert_string_equal(resumed->state, "active");
    assert_string_equal(resumed->actor, "manager:brixham-trust");
    assert_int_equal(pds_consent_transition(&revoked, f->p, resumed, "revoke", "person",
                                            f->now + 3, &err), APR_SUCCESS);
    assert_int_equal(revoked->version, 4);
    /* revoked is final */
    pds_error_clear(&err);
    assert_int_equal(pds_consent_transition(&x, f->p, revoked, "resume", "person", f->now,
                                            &err), APR_EINVAL);
    assert_string_equal(err.code, "consent-state-conflict");
    assert_non_null(strstr(err.text, "revoked"));
    /* an expired consent cannot be resumed or paused, but can be revoked */
    pds_error_clear(&err);
    assert_int_equal(pds_consent_transition(&x, f->p, c, "pause", "person", c->expires, &err),
                     APR_EINVAL);
    assert_int_equal(pds_consent_transition(&x, f->p, c, "revoke", "person", c->expires,
                                            &err), APR_EINVAL);
    pds_error_clear(&err);
    assert_int_equal(pds_consent_transition(&x, f->p, c, "delete", "person", f->now, &err),
                     APR_EINVAL);
    assert_string_equal(err.code, "invalid-consent");
}

/* A manager's mandate never widens its own access: no grant to itself, no
 * resume of a consent to itself; pause and revoke (narrowing) stay allowed,
 * and grants to other organisations too. */
static void test_a_manager_cannot_consent_for_itself(void **state)
{
    fixture_t *f = *state;
    pds_error_t err;
    pds_consent_t *c = NULL, *paused, *x;

    pds_error_clear(&err);
    assert_int_equal(pds_consent_from_grant(&c, f->p, GOOD, strlen(GOOD), "alice",
                                            "manager:nhs-fife", f->now, &err), APR_EACCES);
    assert_string_equal(err.code, "mandate-not-for-self");
    assert_non_null(strstr(err.text, "nhs-fife"));
    pds_error_clear(&err);
    assert_int_equal(pds_consent_from_grant(&c, f->p, GOOD, strlen(GOOD), "alice",
                                            "manager:brixham-trust", f->now, &err),
                     APR_SUCCESS);
    /* a prefix or a longer name is another organisation */
    pds_error_clear(&err);
    assert_int_equal(pds_consent_from_grant(&x, f->p, GOOD, strlen(GOOD), "alice",
                                            "manager:nhs-fif", f->now, &err), APR_SUCCESS);
    assert_int_equal(pds_consent_from_grant(&x, f->p, GOOD, strlen(GOOD), "alice",
                                            "manager:nhs-fife2", f->now, &err), APR_SUCCESS);

    /* the consent is to nhs-fife: nhs-fife, as a manager, may pause but not resume */
    assert_int_equal(pds_consent_transition(&paused, f->p, c, "pause", "manager:nhs-fife",
                                            f->now + 1, &err), APR_SUCCESS);
    pds_error_clear(&err);
    assert_int_equal(pds_consent_transition(&x, f->p, paused, "resume", "manager:nhs-fife",
                                            f->now + 2, &err), APR_EACCES);
    assert_string_equal(err.code, "mandate-not-for-self");
    assert_int_equal(pds_consent_transition(&x, f->p, paused, "resume", "person",
                                            f->now + 2, &err), APR_SUCCESS);
    assert_int_equal(pds_consent_transition(&x, f->p, paused, "revoke", "manager:nhs-fife",
                                            f->now + 2, &err), APR_SUCCESS);
    assert_string_equal(x->state, "revoked");
}

static void test_covers_binds_every_member(void **state)
{
    fixture_t *f = *state;
    pds_error_t err;
    pds_consent_t *c = grant(f, GOOD, &err);

    assert_true(pds_consent_covers(c, "alice", "nhs-fife", "any", "direct-care", f->now));
    assert_false(pds_consent_covers(c, "bob", "nhs-fife", "any", "direct-care", f->now));
    assert_false(pds_consent_covers(c, "alice", "brixham-trust", "any", "direct-care", f->now));
    assert_false(pds_consent_covers(c, "alice", "nhs-fife", "any", "research", f->now));
    assert_false(pds_consent_covers(c, "alice", "nhs-fife", "any", "direct-care",
                                    c->expires));
    assert_false(pds_consent_covers(c, "alice", "nhs-fife", "any", "direct-care",
                                    f->now - 1));   /* before it was given */
    assert_false(pds_consent_covers(c, NULL, "nhs-fife", "any", "direct-care", f->now));
}

static void test_time_parse(void **state)
{
    apr_time_t t;

    (void)state;
    assert_int_equal(pds_time_parse(&t, "2026-11-30T00:00:00Z"), APR_SUCCESS);
    assert_true(t == apr_time_from_sec(1795996800));
    assert_int_equal(pds_time_parse(&t, "2026-11-30T00:00:00.123456Z"), APR_SUCCESS);
    assert_int_equal(pds_time_parse(&t, "2026-11-30T01:30:00+01:30"), APR_SUCCESS);
    assert_true(t == apr_time_from_sec(1795996800));
    assert_int_equal(pds_time_parse(&t, "2028-02-29T00:00:00Z"), APR_SUCCESS);
    assert_int_equal(pds_time_parse(&t, "2027-02-29T00:00:00Z"), APR_EINVAL);
    assert_int_equal(pds_time_parse(&t, "2026-13-01T00:00:00Z"), APR_EINVAL);
    assert_int_equal(pds_time_parse(&t, "2026-11-30 00:00:00Z"), APR_EINVAL);
    assert_int_equal(pds_time_parse(&t, "2026-11-30T00:00:00"), APR_EINVAL);
    assert_int_equal(pds_time_parse(&t, "2026-11-30T00:00:00Zjunk"), APR_EINVAL);
    assert_int_equal(pds_time_parse(&t, NULL), APR_EINVAL);
}

/* --- the cache ----------------------------------------------------------------- */

#define CONSENT_KEY_ALICE "a7af690ee7d370011fc492aa0da8780be1f192d3bfdcd1192ebf30b3567322ab"
#define OPTOUT_KEY_ALICE "c98e0cf63c841c79c4acb6c96d15d3505595a4dcb79bf8465a95b2015b436dc4"

static void test_cache_keys_and_encoding(void **state)
{
    fixture_t *f = *state;
    pds_error_t err;
    pds_consent_lookup_t l, *back;
    pds_consent_t *c = grant(f, GOOD, &err), *paused;
    const pds_consent_t *live;
    const char *reason = NULL;
    char *data;
    apr_size_t len;

    /* sha256("alice/nhs-fife/direct-care"), sha256("alice/research"): no
     * subject in clear (printf ... | sha256sum) */
    assert_string_equal(pds_consent_cache_key(f->p, "alice", "nhs-fife", "direct-care"),
                        "consent/2/" CONSENT_KEY_ALICE);
    assert_string_equal(pds_optout_cache_key(f->p, "alice", "research"),
                        "optout/2/" OPTOUT_KEY_ALICE);
    assert_null(strstr(pds_consent_cache_key(f->p, "alice", "b", "c"), "alice"));
    assert_int_equal(strlen(pds_consent_cache_key(f->p, "alice", "b", "c")), 10 + 64);
    /* components cannot run into each other: "/" is in none of them */
    assert_string_not_equal(pds_consent_cache_key(f->p, "a", "b-c", "d"),
                            pds_consent_cache_key(f->p, "a-b", "c", "d"));

    l.consents = apr_array_make(f->p, 2, sizeof(pds_consent_t *));
    APR_ARRAY_PUSH(l.consents, pds_consent_t *) = c;
    data = pds_consent_lookup_encode(f->p, &l, &len);
    assert_non_null(data);
    assert_int_equal(pds_consent_lookup_decode(&back, f->p, data, len, &err), APR_SUCCESS);
    assert_int_equal(back->consents->nelts, 1);
    live = pds_consent_lookup_decide(back, "alice", "nhs-fife", "a1", "direct-care", f->now,
                                     &reason);
    assert_non_null(live);
    assert_string_equal(live->id, c->id);
    assert_int_equal(live->fields->nelts, 2);
    assert_true(live->expires == c->expires);

    /* the reason names the state of the most recent consent */
    assert_int_equal(pds_consent_transition(&paused, f->p, c, "pause", "person", f->now,
                                            &err), APR_SUCCESS);
    APR_ARRAY_IDX(l.consents, 0, pds_consent_t *) = paused;
    assert_null(pds_consent_lookup_decide(&l, "alice", "nhs-fife", "a1", "direct-care",
                                          f->now, &reason));
    assert_string_equal(reason, "consent-paused");
    assert_null(pds_consent_lookup_decide(&l, "alice", "nhs-fife", "a1", "direct-care",
                                          c->expires, &reason));
    assert_string_equal(reason, "consent-expired");
    assert_null(pds_consent_lookup_decide(&l, "alice", "nhs-fife", "a1", "research",
                                          f->now, &reason));
    assert_string_equal(reason, "consent-missing");

    pds_error_clear(&err);
    assert_int_equal(pds_consent_lookup_decode(&back, f->p, "{}", 2, &err), APR_EINVAL);
    assert_string_equal(err.code, "bad-consent-cache");
    assert_int_equal(pds_consent_lookup_decode(&back, f->p, "[{\"id\":1}]", 10, &err),
                     APR_EINVAL);
}

/* --- the store on SQLite ----------------------------------------------------------- */

static pds_consent_store_t *open_store(fixture_t *f)
{
    pds_consent_store_t *s = NULL;
    pds_error_t err;

    pds_error_clear(&err);
    if (pds_consent_store_open(&s, f->p, "sqlite3", f->db, 2000, 1, &err) != APR_SUCCESS)
        fail_msg("open: %s: %s", err.code, err.text);
    return s;
}

static void test_store_migrates_and_keeps_history(void **state)
{
    fixture_t *f = *state;
    pds_consent_store_t *s = open_store(f), *again;
    pds_consent_t *c, *got, *paused, *revoked;
    apr_array_header_t *hist, *list;
    pds_consent_lookup_t *l;
    pds_error_t err;
    const char *reason;

    assert_int_equal(pds_consent_store_schema_version(s), PDS_CONSENT_SCHEMA_VERSION);
    c = grant(f, GOOD, &err);
    assert_int_equal(pds_consent_store_insert(s, f->p, c, &err), APR_SUCCESS);
    assert_int_equal(pds_consent_store_get(s, f->p, c->id, &got, &hist, &err), APR_SUCCESS);
    assert_string_equal(got->subject, "alice");
    assert_string_equal(got->notice, "privacy-notice-v3");
    assert_int_equal(got->fields->nelts, 2);
    assert_null(got->agreement);
    assert_true(got->expires == c->expires);
    assert_int_equal(hist->nelts, 1);
    assert_string_equal(APR_ARRAY_IDX(hist, 0, pds_consent_event_t).action, "grant");

    assert_int_equal(pds_consent_transition(&paused, f->p, got, "pause", "person",
                                            f->now + 10, &err), APR_SUCCESS);
    assert_int_equal(pds_consent_store_update(s, f->p, got, paused, "pause", &err),
                     APR_SUCCESS);
    /* a second change from the same stale read loses, and writes nothing */
    assert_int_equal(pds_consent_transition(&revoked, f->p, got, "revoke", "person",
                                            f->now + 20, &err), APR_SUCCESS);
    pds_error_clear(&err);
    assert_int_equal(pds_consent_store_update(s, f->p, got, revoked, "revoke", &err),
                     APR_EAGAIN);
    assert_string_equal(err.code, "consent-conflict");
    assert_int_equal(pds_consent_store_get(s, f->p, c->id, &got, &hist, &err), APR_SUCCESS);
    assert_string_equal(got->state, "paused");
    assert_int_equal(hist->nelts, 2);

    /* reopening (as another process would) finds the schema current */
    pds_error_clear(&err);
    assert_int_equal(pds_consent_store_open(&again, f->p, "sqlite3", f->db, 2000, 0, &err),
                     APR_SUCCESS);
    assert_int_equal(pds_consent_store_list(again, f->p, "alice", &list, &err), APR_SUCCESS);
    assert_int_equal(list->nelts, 1);
    assert_int_equal(pds_consent_store_list(again, f->p, "bob", &list, &err), APR_SUCCESS);
    assert_int_equal(list->nelts, 0);
    assert_int_equal(pds_consent_store_lookup(again, f->p, "alice", "nhs-fife", "direct-care",
                                              &l, &err), APR_SUCCESS);
    assert_null(pds_consent_lookup_decide(l, "alice", "nhs-fife", "a", "direct-care",
                                          f->now + 30, &reason));
    assert_string_equal(reason, "consent-paused");

    pds_error_clear(&err);
    assert_int_equal(pds_consent_store_get(s, f->p, "c-nosuch", &got, NULL, &err),
                     APR_NOTFOUND);
    assert_string_equal(err.code, "consent-not-found");
    pds_consent_store_close(again);
    pds_consent_store_close(s);
}

static void test_store_mandates_and_optouts(void **state)
{
    fixture_t *f = *state;
    pds_consent_store_t *s = open_store(f);
    apr_array_header_t *names, *times;
    pds_error_t err;
    int changed, held;

    pds_error_clear(&err);
    assert_int_equal(pds_consent_store_list_held(s, f->p, PDS_CONSENT_MANDATES,
                                                 "alice", "brixham-trust", &held,
                                                    &err), APR_SUCCESS);
    assert_false(held);
    assert_int_equal(pds_consent_store_list_set(s, f->p, PDS_CONSENT_MANDATES,
                                                "alice", "brixham-trust", 1,
                                                   f->now, &changed, &err), APR_SUCCESS);
    assert_true(changed);
    assert_int_equal(pds_consent_store_list_set(s, f->p, PDS_CONSENT_MANDATES,
                                                "alice", "brixham-trust", 1,
                                                   f->now + 1, &changed, &err), APR_SUCCESS);
    assert_false(changed);                        /* already held */
    assert_int_equal(pds_consent_store_list_held(s, f->p, PDS_CONSENT_MANDATES,
                                                 "alice", "brixham-trust", &held,
                                                    &err), APR_SUCCESS);
    assert_true(held);
    assert_int_equal(pds_consent_store_list_held(s, f->p, PDS_CONSENT_MANDATES,
                                                 "bob", "brixham-trust", &held,
                                                    &err), APR_SUCCESS);
    assert_false(held);
    assert_int_equal(pds_consent_store_list_names(s, f->p, PDS_CONSENT_MANDATES,
                                                  "alice", &names, &times, &err),
                     APR_SUCCESS);
    assert_int_equal(names->nelts, 1);
    assert_string_equal(APR_ARRAY_IDX(names, 0, const char *), "brixham-trust");
    assert_true(APR_ARRAY_IDX(times, 0, apr_time_t) == f->now);
    assert_int_equal(pds_consent_store_list_set(s, f->p, PDS_CONSENT_MANDATES,
                                                "alice", "brixham-trust", 0,
                                                   f->now + 2, &changed, &err), APR_SUCCESS);
    assert_true(changed);
    assert_int_equal(pds_consent_store_list_held(s, f->p, PDS_CONSENT_MANDATES,
                                                 "alice", "brixham-trust", &held,
                                                    &err), APR_SUCCESS);
    assert_false(held);

    assert_int_equal(pds_consent_store_list_set(s, f->p, PDS_CONSENT_OPTOUTS,
                                                "alice", "research", 1, f->now,
                                                  &changed, &err), APR_SUCCESS);
    assert_int_equal(pds_consent_store_list_held(s, f->p, PDS_CONSENT_OPTOUTS,
                                                 "alice", "research", &held, &err),
                     APR_SUCCESS);
    assert_true(held);
    assert_int_equal(pds_consent_store_list_held(s, f->p, PDS_CONSENT_OPTOUTS,
                                                 "alice", "direct-care", &held,
                                                 &err), APR_SUCCESS);
    assert_false(held);
    assert_int_equal(pds_consent_store_list_names(s, f->p, PDS_CONSENT_OPTOUTS,
                                                  "alice", &names, NULL, &err),
                     APR_SUCCESS);
    assert_int_equal(names->nelts, 1);
    assert_false(pds_error_is_set(&err));
    pds_consent_store_close(s);
}

static void test_store_refuses_newer_schema_and_bad_driver(void **state)
{
    fixture_t *f = *state;
    pds_consent_store_t *s = open_store(f), *x;
    pds_error_t err;
    char cmd[256];

    pds_consent_store_close(s);
    snprintf(cmd, sizeof(cmd), "sqlite3 '%s' 'INSERT INTO pds_schema VALUES (99)'", f->db);
    assert_int_equal(system(cmd), 0);
    pds_error_clear(&err);
    assert_int_not_equal(pds_consent_store_open(&x, f->p, "sqlite3", f->db, 500, 1, &err),
                         APR_SUCCESS);
    assert_string_equal(err.code, "consent-store-schema");
    assert_non_null(strstr(err.text, "newer"));

    pds_error_clear(&err);
    assert_int_not_equal(pds_consent_store_open(&x, f->p, "mysql", "x", 500, 1, &err),
                         APR_SUCCESS);
    assert_string_equal(err.code, "bad-argument");

    /* a file that is not a database: unavailable, never a crash */
    snprintf(cmd, sizeof(cmd), "printf 'not a database at all, not at all......' > '%s/junk.db'",
             f->dir);
    assert_int_equal(system(cmd), 0);
    pds_error_clear(&err);
    assert_int_not_equal(pds_consent_store_open(&x, f->p, "sqlite3",
                                                apr_pstrcat(f->p, f->dir, "/junk.db", NULL),
                                                500, 1, &err), APR_SUCCESS);
    assert_string_equal(err.code, "consent-store-unavailable");
}

/* The health check's read: answers while the schema is there, and says so
 * when it is gone or changed under an open connection. */
static void test_store_ping(void **state)
{
    fixture_t *f = *state;
    pds_consent_store_t *s = open_store(f);
    pds_error_t err;
    char cmd[256];

    pds_error_clear(&err);
    assert_int_equal(pds_consent_store_ping(s, f->p, &err), APR_SUCCESS);
    snprintf(cmd, sizeof(cmd), "sqlite3 '%s' 'INSERT INTO pds_schema VALUES (7)'", f->db);
    assert_int_equal(system(cmd), 0);
    assert_int_not_equal(pds_consent_store_ping(s, f->p, &err), APR_SUCCESS);
    assert_string_equal(err.code, "consent-store-schema");
    snprintf(cmd, sizeof(cmd), "sqlite3 '%s' 'DROP TABLE pds_schema'", f->db);
    assert_int_equal(system(cmd), 0);
    pds_error_clear(&err);
    assert_int_not_equal(pds_consent_store_ping(s, f->p, &err), APR_SUCCESS);
    assert_string_not_equal(err.code, "");
    pds_consent_store_close(s);
}

/* Schema 1 exactly as the previous release made it (its schema_v1[]), with
 * one consent of alice's. */
static const char v1_store[] =
    "CREATE TABLE pds_schema (version INTEGER NOT NULL);\n"
    "CREATE TABLE pds_consents ( id VARCHAR(64) PRIMARY KEY, subject VARCHAR(64) NOT NULL,"
    " organisation VARCHAR(64) NOT NULL, agreement VARCHAR(64), purpose VARCHAR(64) NOT NULL,"
    " fields TEXT NOT NULL, legal_basis VARCHAR(32) NOT NULL, notice VARCHAR(128) NOT NULL,"
    " created BIGINT NOT NULL, expires BIGINT NOT NULL, state VARCHAR(16) NOT NULL,"
    " version INTEGER NOT NULL, updated BIGINT NOT NULL, actor VARCHAR(100) NOT NULL);\n"
    "CREATE INDEX pds_consents_by_subject ON pds_consents (subject, organisation, purpose);\n"
    "CREATE TABLE pds_consent_history ( consent_id VARCHAR(64) NOT NULL REFERENCES"
    " pds_consents (id), version INTEGER NOT NULL, action VARCHAR(16) NOT NULL,"
    " state VARCHAR(16) NOT NULL, actor VARCHAR(100) NOT NULL, time BIGINT NOT NULL,"
    " PRIMARY KEY (consent_id, version));\n"
    "CREATE TABLE pds_mandates ( subject VARCHAR(64) NOT NULL, manager VARCHAR(64) NOT NULL,"
    " granted BIGINT NOT NULL, revoked BIGINT, PRIMARY KEY (subject, manager, granted));\n"
    "CREATE TABLE pds_optouts ( subject VARCHAR(64) NOT NULL, purpose VARCHAR(64) NOT NULL,"
    " granted BIGINT NOT NULL, revoked BIGINT, PRIMARY KEY (subject, purpose, granted));\n"
    "INSERT INTO pds_schema (version) VALUES (1);\n"
    "INSERT INTO pds_consents VALUES ('c-1', 'alice', 'nhs-fife', NULL, 'direct-care',"
    " '[\"name.given\"]', 'consent', 'n-1', 1, 9999999999999999, 'active', 1, 1, 'alice');\n"
    "INSERT INTO pds_consent_history VALUES ('c-1', 1, 'grant', 'active', 'alice', 1);\n";

static void test_store_migrates_from_schema_1(void **state)
{
    fixture_t *f = *state;
    pds_consent_store_t *s, *x;
    apr_array_header_t *list;
    pds_error_t err;
    char cmd[512];
    FILE *sql;

    snprintf(cmd, sizeof(cmd), "sqlite3 '%s'", f->db);
    assert_non_null(sql = popen(cmd, "w"));
    assert_int_equal(fputs(v1_store, sql) >= 0, 1);
    assert_int_equal(pclose(sql), 0);
    /* not allowed to migrate: refused, left at 1 */
    pds_error_clear(&err);
    assert_int_not_equal(pds_consent_store_open(&x, f->p, "sqlite3", f->db, 500, 0, &err),
                         APR_SUCCESS);
    assert_string_equal(err.code, "consent-store-schema");
    /* migrated: at 3, the consent kept, the index there and empty */
    s = open_store(f);
    assert_int_equal(pds_consent_store_schema_version(s), 3);
    assert_int_equal(pds_consent_store_list(s, f->p, "alice", &list, &err), APR_SUCCESS);
    assert_int_equal(list->nelts, 1);
    assert_string_equal(APR_ARRAY_IDX(list, 0, pds_consent_t *)->id, "c-1");
    pds_consent_store_close(s);
    snprintf(cmd, sizeof(cmd), "test \"$(sqlite3 '%s' 'SELECT group_concat(version) FROM "
             "pds_schema; SELECT COUNT(*) FROM pds_disclosures')\" = \"$(printf '1,2,3\\n0')\"",
             f->db);
    assert_int_equal(system(cmd), 0);
}

/* Schema 2's index exactly as the previous release made it (its
 * pds_store_schema_v2[]), with a record about two people indexed by gw1
 * and gw1's cursor, on top of v1_store. */
static const char v2_index[] =
    "CREATE TABLE pds_disclosures ( node TEXT NOT NULL, seq BIGINT NOT NULL,"
    " subject TEXT NOT NULL, time TEXT NOT NULL, month TEXT NOT NULL, agreement TEXT NOT NULL,"
    " visible_from BIGINT NOT NULL, entry TEXT NOT NULL, PRIMARY KEY (node, seq, subject));\n"
    "CREATE INDEX pds_disclosures_by_subject ON pds_disclosures (subject, time);\n"
    "CREATE INDEX pds_disclosures_by_month ON pds_disclosures (agreement, month);\n"
    "CREATE TABLE pds_disclosure_cursors ( node TEXT PRIMARY KEY, file_first BIGINT NOT NULL,"
    " file_offset BIGINT NOT NULL, last_seq BIGINT NOT NULL, lines BIGINT NOT NULL,"
    " updated BIGINT NOT NULL);\n"
    "INSERT INTO pds_schema (version) VALUES (2);\n"
    "INSERT INTO pds_disclosures VALUES ('gw1', 7, 'alice', '2026-12-01T10:00:00Z', '2026-12',"
    " 'a', 0, '{\"seq\":7}');\n"
    "INSERT INTO pds_disclosures VALUES ('gw1', 7, 'bob', '2026-12-01T10:00:00Z', '2026-12',"
    " 'a', 0, '{\"seq\":7}');\n"
    "INSERT INTO pds_disclosure_cursors VALUES ('gw1', 1, 900, 9, 9, 1);\n";

static void test_store_migrates_from_schema_2(void **state)
{
    fixture_t *f = *state;
    pds_consent_store_t *s;
    pds_disclosure_cursor_t c;
    apr_array_header_t *list;
    const char *adopted = "x";
    apr_uint64_t n;
    pds_error_t err;
    json_t *got;
    char cmd[512];
    FILE *sql;

    snprintf(cmd, sizeof(cmd), "sqlite3 '%s'", f->db);
    assert_non_null(sql = popen(cmd, "w"));
    assert_int_equal(fputs(v1_store, sql) >= 0, 1);
    assert_int_equal(fputs(v2_index, sql) >= 0, 1);
    assert_int_equal(pclose(sql), 0);
    s = open_store(f);
    assert_int_equal(pds_consent_store_schema_version(s), 3);
    pds_error_clear(&err);
    /* the consents, the rows and the cursor kept */
    assert_int_equal(pds_consent_store_list(s, f->p, "alice", &list, &err), APR_SUCCESS);
    assert_int_equal(list->nelts, 1);
    assert_int_equal(pds_disclosure_store_of(s, f->p, "bob", f->now, &got, &err), APR_SUCCESS);
    assert_int_equal(json_array_size(got), 1);
    json_decref(got);
    assert_int_equal(pds_disclosure_store_in_month(s, f->p, "a", "2026-12", &n, &err),
                     APR_SUCCESS);
    assert_true(n == 1);
    assert_int_equal(pds_disclosure_store_cursor(s, f->p, "gw1", NULL, NULL, &c, &adopted,
                                                 &err), APR_SUCCESS);
    assert_null(adopted);
    assert_true(c.file_first == 1 && c.offset == 900 && c.last_seq == 9 && c.lines == 9);
    assert_string_equal(c.file_id, "");
    assert_true(c.behind_since == 0);
    pds_consent_store_close(s);
    snprintf(cmd, sizeof(cmd), "test \"$(sqlite3 '%s' 'SELECT group_concat(version) FROM "
             "pds_schema; SELECT group_concat(line) FROM pds_disclosures')\" = "
             "\"$(printf '1,2,3\\nv2 gw1 7,v2 gw1 7')\"", f->db);
    assert_int_equal(system(cmd), 0);
}

static const char FILE_ID[] =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/* mine_cb: the file that begins at seq 1 with FILE_ID. */
static int mine(void *baton, apr_uint64_t first, const char *id)
{
    (void)baton;
    return first == 1 && strcmp(id, FILE_ID) == 0;
}

static pds_disclosure_row_t row(apr_pool_t *p, apr_uint64_t seq, const char *subject,
                                apr_time_t visible, const char *time)
{
    pds_disclosure_row_t r;

    r.line = apr_psprintf(p, "line-%" APR_UINT64_T_FMT, seq);
    r.seq = seq;
    r.subject = subject;
    r.time = time;
    r.agreement = "a";
    r.visible_from = visible;
    r.entry = apr_psprintf(p, "{\"time\":\"%s\","
                           "\"seq\":%" APR_UINT64_T_FMT "}", time, seq);
    return r;
}

static void test_store_indexes_disclosures_once(void **state)
{
    fixture_t *f = *state;
    pds_consent_store_t *s = open_store(f), *other = open_store(f);
    pds_disclosure_cursor_t zero, c, next;
    apr_array_header_t *rows = apr_array_make(f->p, 4, sizeof(pds_disclosure_row_t));
    apr_time_t embargo = f->now + apr_time_from_sec(3600);
    apr_uint64_t n;
    pds_error_t err;
    json_t *got;

    pds_error_clear(&err);
    assert_int_equal(pds_disclosure_store_cursor(s, f->p, "gw1", mine, NULL, &zero, NULL, &err),
                     APR_SUCCESS);
    assert_true(zero.file_first == 0 && zero.offset == 0 && zero.lines == 0);
    APR_ARRAY_PUSH(rows, pds_disclosure_row_t) = row(f->p, 1, "alice", 0,
                                                     "2026-11-30T10:00:00Z");
    APR_ARRAY_PUSH(rows, pds_disclosure_row_t) = row(f->p, 3, "alice", PDS_AUDIT_NEVER,
                                                     "2026-12-01T10:00:00Z");
    APR_ARRAY_PUSH(rows, pds_disclosure_row_t) = row(f->p, 4, "alice", embargo,
                                                     "2026-12-01T11:00:00Z");
    APR_ARRAY_PUSH(rows, pds_disclosure_row_t) = row(f->p, 4, "bob", embargo,
                                                     "2026-12-01T11:00:00Z");
    next = zero;
    next.file_first = 1;
    next.offset = 400;
    next.last_seq = 4;
    next.lines = 4;
    apr_cpystrn(next.file_id, FILE_ID, sizeof(next.file_id));
    assert_int_equal(pds_disclosure_store_advance(s, f->p, "gw1", &zero, &next, 1, rows, &err),
                     APR_SUCCESS);
    /* another process that read the same lines gives way, writing nothing */
    pds_error_clear(&err);
    assert_int_equal(pds_disclosure_store_advance(other, f->p, "gw1", &zero, &next, 1, rows,
                                                  &err), APR_EAGAIN);
    assert_int_equal(pds_disclosure_store_cursor(other, f->p, "gw1", mine, NULL, &c, NULL,
                                                 &err), APR_SUCCESS);
    assert_true(c.file_first == 1 && c.offset == 400 && c.last_seq == 4 && c.lines == 4);
    assert_string_equal(c.file_id, FILE_ID);
    /* the same rows again (a cursor moved back): no row twice */
    next.lines = 5;
    assert_int_equal(pds_disclosure_store_advance(other, f->p, "gw1", &c, &next, 1, rows, &err),
                     APR_SUCCESS);

    /* restricted never; embargoed from its date; oldest first */
    assert_int_equal(pds_disclosure_store_of(s, f->p, "alice", f->now, &got, &err),
                     APR_SUCCESS);
    assert_int_equal(json_array_size(got), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(got, 0), "seq")), 1);
    json_decref(got);
    assert_int_equal(pds_disclosure_store_of(s, f->p, "alice", f->now + apr_time_from_sec(7200),
                                             &got, &err), APR_SUCCESS);
    assert_int_equal(json_array_size(got), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(got, 1), "seq")), 4);
    json_decref(got);
    assert_int_equal(pds_disclosure_store_of(s, f->p, "carol", f->now, &got, &err),
                     APR_SUCCESS);
    assert_int_equal(json_array_size(got), 0);
    json_decref(got);

    /* a record about two people counts once; another node's count adds */
    assert_int_equal(pds_disclosure_store_in_month(s, f->p, "a", "2026-12", &n, &err),
                     APR_SUCCESS);
    assert_true(n == 2);
    assert_int_equal(pds_disclosure_store_cursor(s, f->p, "gw2", NULL, NULL, &zero, NULL, &err),
                     APR_SUCCESS);
    next = zero;
    next.lines = 1;
    apr_array_clear(rows);
    APR_ARRAY_PUSH(rows, pds_disclosure_row_t) = row(f->p, 3, "alice", 0, "2026-12-02T10:00:00Z");
    APR_ARRAY_IDX(rows, 0, pds_disclosure_row_t).line = "gw2-line-3";
    assert_int_equal(pds_disclosure_store_advance(s, f->p, "gw2", &zero, &next, 1, rows, &err),
                     APR_SUCCESS);
    assert_int_equal(pds_disclosure_store_in_month(s, f->p, "a", "2026-12", &n, &err),
                     APR_SUCCESS);
    assert_true(n == 3);
    assert_int_equal(pds_disclosure_store_in_month(s, f->p, "a", "2026-11", &n, &err),
                     APR_SUCCESS);
    assert_true(n == 1);
    pds_consent_store_close(other);
    pds_consent_store_close(s);
}

/* A renamed node: its cursor found by its file, renamed, nothing read again;
 * its lines, indexed again under any name, no row twice. */
static void test_store_a_renamed_node_goes_on(void **state)
{
    fixture_t *f = *state;
    pds_consent_store_t *s = open_store(f);
    pds_disclosure_cursor_t zero, c, next;
    apr_array_header_t *rows = apr_array_make(f->p, 4, sizeof(pds_disclosure_row_t));
    const char *adopted = NULL;
    pds_error_t err;
    json_t *got;

    pds_error_clear(&err);
    assert_int_equal(pds_disclosure_store_cursor(s, f->p, "old", mine, NULL, &zero, &adopted,
                                                 &err), APR_SUCCESS);
    assert_null(adopted);
    APR_ARRAY_PUSH(rows, pds_disclosure_row_t) = row(f->p, 2, "alice", 0,
                                                     "2026-12-01T10:00:00Z");
    next = zero;
    next.file_first = 1;
    next.offset = 300;
    next.last_seq = 3;
    next.lines = 3;
    apr_cpystrn(next.file_id, FILE_ID, sizeof(next.file_id));
    assert_int_equal(pds_disclosure_store_advance(s, f->p, "old", &zero, &next, 1, rows, &err),
                     APR_SUCCESS);
    /* another chain's node is not given it */
    assert_int_equal(pds_disclosure_store_cursor(s, f->p, "other", NULL, NULL, &c, &adopted,
                                                 &err), APR_SUCCESS);
    assert_null(adopted);
    assert_true(c.lines == 0);
    /* the renamed one is */
    assert_int_equal(pds_disclosure_store_cursor(s, f->p, "new", mine, NULL, &c, &adopted,
                                                 &err), APR_SUCCESS);
    assert_string_equal(adopted, "old");
    assert_true(c.file_first == 1 && c.offset == 300 && c.lines == 3);
    assert_int_equal(pds_disclosure_store_cursor(s, f->p, "new", mine, NULL, &c, &adopted,
                                                 &err), APR_SUCCESS);
    assert_null(adopted);
    assert_true(c.lines == 3);
    /* the same line under the new name (a cursor started again): once */
    next = c;
    next.lines = 4;
    assert_int_equal(pds_disclosure_store_advance(s, f->p, "new", &c, &next, 1, rows, &err),
                     APR_SUCCESS);
    assert_int_equal(pds_disclosure_store_of(s, f->p, "alice", f->now, &got, &err),
                     APR_SUCCESS);
    assert_int_equal(json_array_size(got), 1);
    json_decref(got);
    pds_consent_store_close(s);
}

/* Which nodes a view may lack: one behind a backlog, one silent too long,
 * one whose catch-up just failed; none once they are current. */
static void test_store_says_which_nodes_are_behind(void **state)
{
    fixture_t *f = *state;
    pds_consent_store_t *s = open_store(f);
    pds_disclosure_cursor_t a, b, next;
    apr_time_t now = apr_time_now();
    pds_error_t err;
    json_t *behind, *e;
    char cmd[512];

    pds_error_clear(&err);
    assert_int_equal(pds_disclosure_store_cursor(s, f->p, "gw1", NULL, NULL, &a, NULL, &err),
                     APR_SUCCESS);
    assert_int_equal(pds_disclosure_store_cursor(s, f->p, "gw2", NULL, NULL, &b, NULL, &err),
                     APR_SUCCESS);
    assert_int_equal(pds_disclosure_store_behind(s, f->p, now, apr_time_from_sec(30), NULL,
                                                 &behind, &err), APR_SUCCESS);
    assert_int_equal(json_array_size(behind), 0);
    json_decref(behind);
    /* gw1 read a batch, not to the end */
    next = a;
    next.lines = 5000;
    assert_int_equal(pds_disclosure_store_advance(s, f->p, "gw1", &a, &next, 0, NULL, &err),
                     APR_SUCCESS);
    assert_int_equal(pds_disclosure_store_behind(s, f->p, now, apr_time_from_sec(30), "gw2",
                                                 &behind, &err), APR_SUCCESS);
    assert_int_equal(json_array_size(behind), 2);
    e = json_array_get(behind, 0);
    assert_string_equal(json_string_value(json_object_get(e, "node")), "gw1");
    assert_string_equal(json_string_value(json_object_get(e, "reason")), "indexing");
    assert_non_null(json_string_value(json_object_get(e, "since")));
    e = json_array_get(behind, 1);
    assert_string_equal(json_string_value(json_object_get(e, "node")), "gw2");
    assert_string_equal(json_string_value(json_object_get(e, "reason")), "unreadable");
    json_decref(behind);
    /* gw2 has not looked for a minute; gw1 then reads to the end */
    snprintf(cmd, sizeof(cmd), "sqlite3 '%s' \"UPDATE pds_disclosure_cursors SET updated = "
             "updated - 60000000 WHERE node = 'gw2'\"", f->db);
    assert_int_equal(system(cmd), 0);
    a = next;
    assert_int_equal(pds_disclosure_store_cursor(s, f->p, "gw1", NULL, NULL, &a, NULL, &err),
                     APR_SUCCESS);
    assert_true(a.behind_since != 0);
    next = a;
    next.lines = 6000;
    assert_int_equal(pds_disclosure_store_advance(s, f->p, "gw1", &a, &next, 1, NULL, &err),
                     APR_SUCCESS);
    assert_int_equal(pds_disclosure_store_behind(s, f->p, apr_time_now(), apr_time_from_sec(30),
                                                 NULL, &behind, &err), APR_SUCCESS);
    assert_int_equal(json_array_size(behind), 1);
    e = json_array_get(behind, 0);
    assert_string_equal(json_string_value(json_object_get(e, "node")), "gw2");
    assert_string_equal(json_string_value(json_object_get(e, "reason")), "not-checked");
    json_decref(behind);
    pds_consent_store_close(s);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_grant_builds_an_active_record),
        T(test_grant_refuses_bad_bodies),
        T(test_grant_with_agreement_and_expiry),
        T(test_life_cycle),
        T(test_a_manager_cannot_consent_for_itself),
        T(test_covers_binds_every_member),
        T(test_time_parse),
        T(test_cache_keys_and_encoding),
        T(test_store_migrates_and_keeps_history),
        T(test_store_mandates_and_optouts),
        T(test_store_refuses_newer_schema_and_bad_driver),
        T(test_store_ping),
        T(test_store_migrates_from_schema_1),
        T(test_store_indexes_disclosures_once),
        T(test_store_migrates_from_schema_2),
        T(test_store_a_renamed_node_goes_on),
        T(test_store_says_which_nodes_are_behind),
    };
#undef T

    return pds_test_main(tests, NULL, NULL);
}
