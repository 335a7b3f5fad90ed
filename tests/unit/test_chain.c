/* test_chain.c: the audit chain (lib/pds_chain.h): sealing, recovery,
 * checkpoints, rotation, pseudonyms, and every way of tampering with a log
 * the verifier must catch, each with the code it must report. */
#include <stdio.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "pds_test.h"
#include "pds_chain.h"

#define KEY_A "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define KEY_B "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

typedef struct log_t {
    apr_pool_t *p;
    pds_chain_state_t st;
    pds_chain_key_t *key;
    pds_key_t *signer;
    apr_array_header_t *lines;      /* char *, each without its "\n" */
} log_t;

static pds_chain_key_t *key_of(apr_pool_t *p, const char *hex)
{
    pds_chain_key_t *key = NULL;

    assert_int_equal(pds_chain_key_from_hex(&key, p, hex, strlen(hex), NULL), APR_SUCCESS);
    return key;
}

static pds_key_t *ed25519_signer(apr_pool_t *p)
{
    /* The private key of RFC 8032's first test vector. */
    static const char pem[] =
        "-----BEGIN PRIVATE KEY-----\n"
        "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
        "-----END PRIVATE KEY-----\n";

    return pds_test_load_key(p, pem);
}

static int setup(void **state)
{
    log_t *lg;
    apr_pool_t *p;

    assert_int_equal(apr_pool_create(&p, pds_test_root()), APR_SUCCESS);
    lg = apr_pcalloc(p, sizeof(*lg));
    lg->p = p;
    pds_chain_state_init(&lg->st);
    lg->key = key_of(p, KEY_A);
    lg->signer = ed25519_signer(p);
    lg->lines = apr_array_make(p, 16, sizeof(char *));
    *state = lg;
    return 0;
}

static int teardown(void **state)
{
    log_t *lg = *state;

    apr_pool_destroy(lg->p);
    return 0;
}

static void keep(log_t *lg, const char *line, apr_size_t len)
{
    assert_true(len > 0 && line[len - 1] == '\n');
    pds_chain_commit(&lg->st, line, len, apr_time_now());
    APR_ARRAY_PUSH(lg->lines, char *) = apr_pstrmemdup(lg->p, line, len - 1);
}

static void add_record(log_t *lg, int n)
{
    json_t *rec = json_pack("{sssiss}", "request_id", apr_psprintf(lg->p, "r-%d", n),
                            "status", 200, "decision", "allow");
    char *line;
    apr_size_t len;

    assert_non_null(rec);
    assert_int_equal(pds_chain_seal(&line, &len, &lg->st, lg->key, rec, lg->p, NULL),
                     APR_SUCCESS);
    json_decref(rec);
    keep(lg, line, len);
}

static void add_checkpoint(log_t *lg)
{
    char *line;
    apr_size_t len;

    assert_int_equal(pds_chain_checkpoint(&line, &len, &lg->st, lg->key, lg->signer,
                                          apr_time_now(), lg->p, NULL), APR_SUCCESS);
    keep(lg, line, len);
}

static pds_key_t *public_of(apr_pool_t *p)
{
    /* The public half of ed25519_signer's key. */
    static const char pem[] =
        "-----BEGIN PUBLIC KEY-----\n"
        "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
        "-----END PUBLIC KEY-----\n";

    return pds_test_load_key(p, pem);
}

/* Verifies lines; returns the index of the first bad line (-1: all good). */
static int verify(log_t *lg, apr_array_header_t *lines, const pds_chain_key_t *key,
                  const pds_key_t *pub, pds_error_t *err, pds_chain_summary_t *sum)
{
    pds_chain_verifier_t *v;
    int i;

    pds_error_clear(err);
    assert_int_equal(pds_chain_verifier_create(&v, lg->p, key, pub, err), APR_SUCCESS);
    for (i = 0; i < lines->nelts; i++) {
        const char *l = APR_ARRAY_IDX(lines, i, const char *);
        if (pds_chain_verify_line(v, l, strlen(l), err) != APR_SUCCESS)
            return i;
    }
    if (sum != NULL)
        pds_chain_verifier_summary(v, sum);
    return -1;
}

static apr_array_header_t *copy_lines(log_t *lg)
{
    return apr_array_copy(lg->p, lg->lines);
}

static void make_log(log_t *lg, int n)
{
    int i;

    for (i = 1; i <= n; i++)
        add_record(lg, i);
}

/* A log of n records, and a copy of its lines to tamper with. */
static apr_array_header_t *log_to_tamper(log_t *lg, int n)
{
    make_log(lg, n);
    return copy_lines(lg);
}

static void assert_bad(log_t *lg, apr_array_header_t *lines, int at, const char *code)
{
    pds_error_t err;
    int bad = verify(lg, lines, lg->key, NULL, &err, NULL);

    if (bad != at || strcmp(err.code, code) != 0)
        fail_msg("expected %s at line %d, got %s at line %d (%s)", code, at, err.code,
                 bad, err.text);
}

/* --- sealing ---------------------------------------------------------------- */

static void test_seal_format(void **state)
{
    log_t *lg = *state;
    const char *first, *second;
    apr_size_t n;

    make_log(lg, 2);
    first = APR_ARRAY_IDX(lg->lines, 0, const char *);
    second = APR_ARRAY_IDX(lg->lines, 1, const char *);
    assert_true(strncmp(first, "{\"seq\":1,\"prev\":\"000000", 23) == 0);
    assert_non_null(strstr(first, "\"request_id\":\"r-1\",\"status\":200,\"decision\":\"allow\""));
    n = strlen(first);
    assert_true(n > 74);
    assert_true(strncmp(first + n - 74, ",\"mac\":\"", 8) == 0);
    assert_true(strcmp(first + n - 2, "\"}") == 0);
    assert_true(strncmp(second, "{\"seq\":2,\"prev\":\"", 17) == 0);
    assert_int_equal(lg->st.seq, 2);
    /* a record may not bring its own chain members */
    {
        json_t *forged = json_pack("{si}", "seq", 7);
        char *line;
        apr_size_t len;
        assert_int_not_equal(pds_chain_seal(&line, &len, &lg->st, lg->key, forged,
                                            lg->p, NULL), APR_SUCCESS);
        json_decref(forged);
    }
}

static void test_intact_log_verifies(void **state)
{
    log_t *lg = *state;
    pds_error_t err;
    pds_chain_summary_t sum;

    make_log(lg, 5);
    add_checkpoint(lg);
    make_log(lg, 3);
    assert_int_equal(verify(lg, lg->lines, lg->key, public_of(lg->p), &err, &sum), -1);
    assert_int_equal(sum.lines, 9);
    assert_int_equal(sum.first_seq, 1);
    assert_int_equal(sum.last_seq, 9);
    assert_int_equal(sum.checkpoints, 1);
    assert_int_equal(sum.last_checkpoint_seq, 6);
    assert_false(sum.starts_mid_chain);
}

/* --- tampering ---------------------------------------------------------------- */

static void test_changed_value(void **state)
{
    log_t *lg = *state;
    apr_array_header_t *lines;
    char *l;

    lines = log_to_tamper(lg, 4);
    l = apr_pstrdup(lg->p, APR_ARRAY_IDX(lines, 2, char *));
    *strstr(l, "r-3") = 'x';
    APR_ARRAY_IDX(lines, 2, char *) = l;
    assert_bad(lg, lines, 2, "bad-mac");
}

static void test_whitespace_added(void **state)
{
    log_t *lg = *state;
    apr_array_header_t *lines;

    lines = log_to_tamper(lg, 3);
    APR_ARRAY_IDX(lines, 1, char *) = apr_pstrcat(lg->p, "{ ",
                                                   APR_ARRAY_IDX(lines, 1, char *) + 1, NULL);
    assert_bad(lg, lines, 1, "bad-format");
}

static void test_deleted_line(void **state)
{
    log_t *lg = *state;
    apr_array_header_t *lines = apr_array_make(lg->p, 4, sizeof(char *));

    make_log(lg, 4);
    APR_ARRAY_PUSH(lines, char *) = APR_ARRAY_IDX(lg->lines, 0, char *);
    APR_ARRAY_PUSH(lines, char *) = APR_ARRAY_IDX(lg->lines, 2, char *);
    APR_ARRAY_PUSH(lines, char *) = APR_ARRAY_IDX(lg->lines, 3, char *);
    assert_bad(lg, lines, 1, "seq-gap");
}

static void test_swapped_lines(void **state)
{
    log_t *lg = *state;
    apr_array_header_t *lines;
    char *tmp;

    lines = log_to_tamper(lg, 4);
    tmp = APR_ARRAY_IDX(lines, 1, char *);
    APR_ARRAY_IDX(lines, 1, char *) = APR_ARRAY_IDX(lines, 2, char *);
    APR_ARRAY_IDX(lines, 2, char *) = tmp;
    assert_bad(lg, lines, 1, "seq-gap");
}

static void test_duplicated_line(void **state)
{
    log_t *lg = *state;
    apr_array_header_t *lines;

    lines = log_to_tamper(lg, 3);
    APR_ARRAY_PUSH(lines, char *) = APR_ARRAY_IDX(lg->lines, 2, char *);
    assert_bad(lg, lines, 3, "seq-gap");
}

static void test_inserted_forgery(void **state)
{
    log_t *lg = *state;
    log_t forger = *lg;
    apr_array_header_t *lines;

    make_log(lg, 3);
    /* someone with another key seals a line that continues the chain */
    forger.key = key_of(lg->p, KEY_B);
    forger.lines = apr_array_make(lg->p, 1, sizeof(char *));
    forger.st = lg->st;
    add_record(&forger, 99);
    lines = copy_lines(lg);
    APR_ARRAY_PUSH(lines, char *) = APR_ARRAY_IDX(forger.lines, 0, char *);
    assert_bad(lg, lines, 3, "bad-mac");
}

static void test_second_mac_member(void **state)
{
    log_t *lg = *state;
    apr_array_header_t *lines;
    const char *l;

    lines = log_to_tamper(lg, 2);
    l = APR_ARRAY_IDX(lines, 1, const char *);
    APR_ARRAY_IDX(lines, 1, char *) = apr_pstrcat(lg->p, "{\"mac\":\"x\",", l + 1, NULL);
    assert_true(verify(lg, lines, lg->key, NULL, &(pds_error_t){0}, NULL) == 1);
}

static void test_prev_rewritten_without_the_key(void **state)
{
    log_t *lg = *state;
    apr_array_header_t *lines;
    pds_error_t err;
    char *l;

    /* Without the HMAC key, a verifier still follows the hash chain: a
     * changed line breaks the next line's prev. */
    make_log(lg, 2);
    add_checkpoint(lg);
    lines = copy_lines(lg);
    l = apr_pstrdup(lg->p, APR_ARRAY_IDX(lines, 0, char *));
    *strstr(l, "r-1") = 'x';
    APR_ARRAY_IDX(lines, 0, char *) = l;
    assert_int_equal(verify(lg, lines, NULL, public_of(lg->p), &err, NULL), 1);
    assert_string_equal(err.code, "broken-chain");
}

static void test_last_line_after_checkpoint_needs_the_key(void **state)
{
    log_t *lg = *state;
    apr_array_header_t *lines;
    pds_error_t err;
    pds_chain_summary_t sum;
    char *l;

    /* A change to a line after the last checkpoint is invisible to the
     * public key alone (nothing signs it yet); the summary says so, and the
     * HMAC key catches it. */
    make_log(lg, 2);
    add_checkpoint(lg);
    add_record(lg, 3);
    lines = copy_lines(lg);
    l = apr_pstrdup(lg->p, APR_ARRAY_IDX(lines, 3, char *));
    *strstr(l, "r-3") = 'x';
    APR_ARRAY_IDX(lines, 3, char *) = l;
    assert_int_equal(verify(lg, lines, NULL, public_of(lg->p), &err, &sum), -1);
    assert_int_equal(sum.last_checkpoint_seq, 3);
    assert_int_equal(sum.last_seq, 4);
    assert_bad(lg, lines, 3, "bad-mac");
}

static void test_forged_checkpoint(void **state)
{
    log_t *lg = *state;
    apr_array_header_t *lines;
    pds_error_t err;
    log_t other;

    /* A checkpoint signed for another position of the chain. */
    make_log(lg, 2);
    other = *lg;
    other.lines = apr_array_make(lg->p, 2, sizeof(char *));
    add_checkpoint(&other);         /* signs seq 3 after r-2 */
    add_record(lg, 3);
    other.st = lg->st;
    other.st.seq = 2;               /* re-seal the old signature at seq 4 */
    lines = copy_lines(lg);
    {
        /* take the sig of the real checkpoint at seq 3 and seal it at seq 4 */
        json_t *doc = json_loads(APR_ARRAY_IDX(other.lines, 0, char *), 0, NULL);
        json_t *cp = json_pack("{ssssss}", "type", "checkpoint", "time", "x", "sig",
                               json_string_value(json_object_get(doc, "sig")));
        char *line;
        apr_size_t len;

        assert_int_equal(pds_chain_seal(&line, &len, &lg->st, lg->key, cp, lg->p, NULL),
                         APR_SUCCESS);
        APR_ARRAY_PUSH(lines, char *) = apr_pstrmemdup(lg->p, line, len - 1);
        json_decref(cp);
        json_decref(doc);
    }
    assert_int_equal(verify(lg, lines, lg->key, public_of(lg->p), &err, NULL), 3);
    assert_string_equal(err.code, "bad-checkpoint");
}

/* --- rotation ------------------------------------------------------------------ */

static void test_rotation(void **state)
{
    log_t *lg = *state;
    pds_chain_verifier_t *v;
    pds_error_t err;
    char *line;
    apr_size_t len;
    int i, first_of_second;
    pds_chain_summary_t sum;

    make_log(lg, 3);
    first_of_second = lg->lines->nelts;
    assert_int_equal(pds_chain_file_start(&line, &len, &lg->st, lg->key, "/var/log/audit",
                                          apr_time_now(), lg->p, NULL), APR_SUCCESS);
    keep(lg, line, len);
    make_log(lg, 2);

    pds_error_clear(&err);
    assert_int_equal(pds_chain_verifier_create(&v, lg->p, lg->key, NULL, &err), APR_SUCCESS);
    for (i = 0; i < lg->lines->nelts; i++) {
        const char *l = APR_ARRAY_IDX(lg->lines, i, const char *);
        if (i == first_of_second)
            pds_chain_verifier_next_file(v);
        assert_int_equal(pds_chain_verify_line(v, l, strlen(l), &err), APR_SUCCESS);
    }
    pds_chain_verifier_summary(v, &sum);
    assert_int_equal(sum.last_seq, 6);

    /* the second file alone starts mid-chain, and says so */
    pds_error_clear(&err);
    assert_int_equal(pds_chain_verifier_create(&v, lg->p, lg->key, NULL, &err), APR_SUCCESS);
    for (i = first_of_second; i < lg->lines->nelts; i++) {
        const char *l = APR_ARRAY_IDX(lg->lines, i, const char *);
        assert_int_equal(pds_chain_verify_line(v, l, strlen(l), &err), APR_SUCCESS);
    }
    pds_chain_verifier_summary(v, &sum);
    assert_true(sum.starts_mid_chain);
    assert_int_equal(sum.first_seq, 4);

    /* a file-start line in the middle of a file is refused */
    {
        apr_array_header_t *lines = apr_array_make(lg->p, 8, sizeof(char *));
        for (i = 0; i < lg->lines->nelts; i++)
            APR_ARRAY_PUSH(lines, char *) = APR_ARRAY_IDX(lg->lines, i, char *);
        assert_bad(lg, lines, first_of_second, "bad-file-start");
    }

    /* a log cut in two (the second part without a file-start) is not a series */
    pds_error_clear(&err);
    assert_int_equal(pds_chain_verifier_create(&v, lg->p, lg->key, NULL, &err), APR_SUCCESS);
    for (i = 0; i < first_of_second; i++) {
        const char *l = APR_ARRAY_IDX(lg->lines, i, const char *);
        if (i == 2)
            pds_chain_verifier_next_file(v);
        if (i < 2)
            assert_int_equal(pds_chain_verify_line(v, l, strlen(l), &err), APR_SUCCESS);
        else {
            assert_int_equal(pds_chain_verify_line(v, l, strlen(l), &err), APR_EINVAL);
            assert_string_equal(err.code, "missing-file-start");
        }
    }
}

/* --- rotated keys (issue #15 item 3) --------------------------------------------- */

/* Feeds every line, the second file from first_of_second; 0 or the error's code. */
static const char *verify_rotated(log_t *lg, int first_of_second, const char *const *keys,
                                  int nkeys, const pds_key_t *const *pubs, int npubs,
                                  pds_chain_summary_t *sum)
{
    static pds_error_t err;
    pds_chain_verifier_t *v;
    int i;

    pds_error_clear(&err);
    assert_int_equal(pds_chain_verifier_create(&v, lg->p, nkeys ? key_of(lg->p, keys[0]) : NULL,
                                               npubs ? pubs[0] : NULL, &err), APR_SUCCESS);
    for (i = 1; i < nkeys; i++)
        assert_int_equal(pds_chain_verifier_add_key(v, key_of(lg->p, keys[i]), &err),
                         APR_SUCCESS);
    for (i = 1; i < npubs; i++)
        assert_int_equal(pds_chain_verifier_add_public_key(v, pubs[i], &err), APR_SUCCESS);
    for (i = 0; i < lg->lines->nelts; i++) {
        const char *l = APR_ARRAY_IDX(lg->lines, i, const char *);
        if (i == first_of_second)
            pds_chain_verifier_next_file(v);
        if (pds_chain_verify_line(v, l, strlen(l), &err) != APR_SUCCESS)
            return err.code;
    }
    if (sum != NULL)
        pds_chain_verifier_summary(v, sum);
    return "";
}

static pds_key_t *other_signer(apr_pool_t *p)
{
    static const char pem[] =
        "-----BEGIN PRIVATE KEY-----\n"
        "MC4CAQAwBQYDK2VwBCIEIP+Sg5Wt3ydYPBt2RoDqE7FtmJvWicAsbsdq5SidAhrk\n"
        "-----END PRIVATE KEY-----\n";

    return pds_test_load_key(p, pem);
}

static void test_rotated_keys(void **state)
{
    log_t *lg = *state;
    static const char *const a_then_b[] = { KEY_A, KEY_B }, *const b_then_a[] = { KEY_B, KEY_A };
    static const char *const only_a[] = { KEY_A }, *const only_b[] = { KEY_B };
    pds_key_t *signer_a = lg->signer, *signer_b = other_signer(lg->p);
    const pds_key_t *pubs[2];
    pds_chain_summary_t sum;
    char *line;
    apr_size_t len;
    int first_of_second;

    assert_non_null(signer_b);
    pubs[0] = public_of(lg->p);
    pubs[1] = signer_b;                 /* a private key verifies as its public half */
    /* file 1 sealed with A and checkpointed by signer A; file 2 with B, signer B */
    make_log(lg, 2);
    add_checkpoint(lg);
    first_of_second = lg->lines->nelts;
    lg->key = key_of(lg->p, KEY_B);
    lg->signer = signer_b;
    assert_int_equal(pds_chain_file_start(&line, &len, &lg->st, lg->key, "/var/log/audit",
                                          apr_time_now(), lg->p, NULL), APR_SUCCESS);
    keep(lg, line, len);
    make_log(lg, 2);
    add_checkpoint(lg);
    lg->signer = signer_a;

    /* both keys, in either order: intact, one change counted */
    assert_string_equal(verify_rotated(lg, first_of_second, a_then_b, 2, pubs, 2, &sum), "");
    assert_int_equal(sum.key_changes, 1);
    assert_int_equal(sum.checkpoints, 2);
    assert_int_equal(sum.last_checkpoint_seq, (apr_uint64_t)lg->lines->nelts);
    assert_string_equal(verify_rotated(lg, first_of_second, b_then_a, 2, pubs, 2, &sum), "");
    /* one key alone does not verify the other's file */
    assert_string_equal(verify_rotated(lg, first_of_second, only_a, 1, NULL, 0, NULL), "bad-mac");
    assert_string_equal(verify_rotated(lg, first_of_second, only_b, 1, NULL, 0, NULL), "bad-mac");
    /* one public key alone: the other's checkpoint does not verify */
    assert_string_equal(verify_rotated(lg, first_of_second, NULL, 0, pubs, 1, NULL),
                        "bad-checkpoint");
    /* read as one file, the key changes within it: refused at the change */
    assert_string_equal(verify_rotated(lg, -1, a_then_b, 2, NULL, 0, NULL), "bad-mac");
}

static void test_key_changed_within_a_file(void **state)
{
    log_t *lg = *state;
    static const char *const a_then_b[] = { KEY_A, KEY_B };
    pds_error_t err;
    pds_chain_verifier_t *v;
    int i;

    make_log(lg, 2);
    lg->key = key_of(lg->p, KEY_B);
    make_log(lg, 2);
    pds_error_clear(&err);
    assert_int_equal(pds_chain_verifier_create(&v, lg->p, key_of(lg->p, a_then_b[0]), NULL,
                                               &err), APR_SUCCESS);
    assert_int_equal(pds_chain_verifier_add_key(v, key_of(lg->p, a_then_b[1]), &err),
                     APR_SUCCESS);
    for (i = 0; i < 2; i++) {
        const char *l = APR_ARRAY_IDX(lg->lines, i, const char *);
        assert_int_equal(pds_chain_verify_line(v, l, strlen(l), &err), APR_SUCCESS);
    }
    {
        const char *l = APR_ARRAY_IDX(lg->lines, 2, const char *);
        assert_int_equal(pds_chain_verify_line(v, l, strlen(l), &err), APR_EINVAL);
        assert_string_equal(err.code, "bad-mac");
        assert_non_null(strstr(err.text, "changed within a file"));
    }
    /* at most PDS_CHAIN_MAX_KEYS keys */
    assert_int_equal(pds_chain_verifier_create(&v, lg->p, lg->key, NULL, &err), APR_SUCCESS);
    for (i = 1; i < PDS_CHAIN_MAX_KEYS; i++)
        assert_int_equal(pds_chain_verifier_add_key(v, lg->key, &err), APR_SUCCESS);
    assert_int_equal(pds_chain_verifier_add_key(v, lg->key, &err), APR_EINVAL);
}

/* --- recovery -------------------------------------------------------------------- */

static void test_recover(void **state)
{
    log_t *lg = *state;
    pds_chain_state_t st;
    pds_error_t err;
    const char *tail;
    int i;

    make_log(lg, 3);
    tail = "";
    for (i = 0; i < lg->lines->nelts; i++)
        tail = apr_pstrcat(lg->p, tail, APR_ARRAY_IDX(lg->lines, i, char *), "\n", NULL);

    pds_error_clear(&err);
    assert_int_equal(pds_chain_recover(&st, tail, strlen(tail), lg->key, &err), APR_SUCCESS);
    assert_int_equal(st.seq, 3);
    assert_memory_equal(st.prev, lg->st.prev, sizeof(st.prev));

    /* a write cut short leaves a partial line: the last whole one counts */
    {
        const char *torn = apr_pstrcat(lg->p, tail, "{\"seq\":4,\"pr", NULL);
        assert_int_equal(pds_chain_recover(&st, torn, strlen(torn), lg->key, &err),
                         APR_SUCCESS);
        assert_int_equal(st.seq, 3);
    }
    /* an empty log starts the chain */
    assert_int_equal(pds_chain_recover(&st, "", 0, lg->key, &err), APR_SUCCESS);
    assert_int_equal(st.seq, 0);
    /* a last line this key did not seal is never continued */
    assert_int_equal(pds_chain_recover(&st, tail, strlen(tail), key_of(lg->p, KEY_B), &err),
                     APR_EINVAL);
    assert_string_equal(err.code, "bad-audit-log");
    pds_error_clear(&err);
    assert_int_not_equal(pds_chain_recover(&st, "hello\n", 6, lg->key, &err), APR_SUCCESS);
    assert_string_equal(err.code, "bad-audit-log");
}

/* --- the head of the log, at its start (issue #10 item 4) ------------------------ */

/* Feeds lines from..to-1 and finishes: 0 all good, else the error's code. */
static const char *verify_and_finish(log_t *lg, int from, int to, apr_uint64_t anchor_seq,
                                     int anchor_line)
{
    pds_chain_verifier_t *v;
    static pds_error_t err;
    int i;

    pds_error_clear(&err);
    assert_int_equal(pds_chain_verifier_create(&v, lg->p, lg->key, NULL, &err), APR_SUCCESS);
    if (anchor_seq > 0) {
        const char *l = APR_ARRAY_IDX(lg->lines, anchor_line, const char *);
        unsigned char mac[32];
        int k;

        for (k = 0; k < 32; k++) {
            unsigned int byte;
            assert_int_equal(sscanf(l + strlen(l) - 66 + 2 * k, "%2x", &byte), 1);
            mac[k] = (unsigned char)byte;
        }
        pds_chain_verifier_anchor(v, anchor_seq, mac);
    }
    for (i = from; i < to; i++) {
        const char *l = APR_ARRAY_IDX(lg->lines, i, const char *);
        if (pds_chain_verify_line(v, l, strlen(l), &err) != APR_SUCCESS)
            return err.code;
    }
    if (pds_chain_verifier_finish(v, &err) != APR_SUCCESS)
        return err.code;
    return "";
}

static void test_head_removed(void **state)
{
    log_t *lg = *state;

    make_log(lg, 6);
    assert_string_equal(verify_and_finish(lg, 0, 6, 0, 0), "");
    /* the first lines removed: found only once the whole log was read */
    assert_string_equal(verify_and_finish(lg, 2, 6, 0, 0), "missing-head");
    /* the operator's anchor says the log may begin at seq 3 */
    assert_string_equal(verify_and_finish(lg, 2, 6, 3, 2), "");
    /* ... and not at seq 4: one more line was removed */
    assert_string_equal(verify_and_finish(lg, 3, 6, 3, 2), "missing-head");
    /* an anchor is also checked where the log holds it ... */
    assert_string_equal(verify_and_finish(lg, 0, 6, 5, 4), "");
    /* ... with its own MAC (line 3's MAC given for seq 5) */
    assert_string_equal(verify_and_finish(lg, 0, 6, 5, 2), "anchor-mismatch");
    /* and the log must reach it */
    assert_string_equal(verify_and_finish(lg, 0, 4, 5, 4), "anchor-not-found");
    /* nothing read, nothing to vouch for */
    assert_string_equal(verify_and_finish(lg, 0, 0, 0, 0), "");
}

static void test_head_file(void **state)
{
    log_t *lg = *state;
    pds_chain_head_t h;
    pds_chain_state_t st;
    pds_error_t err;
    char buf[PDS_CHAIN_HEAD_LEN], copy[PDS_CHAIN_HEAD_LEN];
    const char *tail;
    int i;

    /* no record yet */
    pds_chain_head_format(buf, &lg->st);
    assert_int_equal(pds_chain_head_parse(&h, buf, sizeof(buf), NULL), APR_SUCCESS);
    assert_int_equal(h.seq, 0);
    make_log(lg, 4);
    pds_chain_head_format(buf, &lg->st);
    assert_memory_equal(buf, "pds-audit-head 1 seq=00000000000000000004 mac=", 46);
    assert_int_equal(buf[PDS_CHAIN_HEAD_LEN - 1], '\n');
    assert_int_equal(pds_chain_head_parse(&h, buf, sizeof(buf), NULL), APR_SUCCESS);
    assert_int_equal(h.seq, 4);
    assert_memory_equal(h.hash, lg->st.prev, 32);
    assert_memory_equal(h.mac, lg->st.last_mac, 32);
    /* the MAC is the last line's own */
    {
        const char *l = APR_ARRAY_IDX(lg->lines, 3, const char *);
        assert_memory_equal(buf + 46, l + strlen(l) - 66, 64);
    }
    /* a damaged head is not read as one */
    memcpy(copy, buf, sizeof(copy));
    copy[30] = 'x';
    pds_error_clear(&err);
    assert_int_equal(pds_chain_head_parse(&h, copy, sizeof(copy), &err), APR_EINVAL);
    assert_string_equal(err.code, "bad-audit-head");
    assert_int_equal(pds_chain_head_parse(&h, buf, sizeof(buf) - 1, NULL), APR_EINVAL);
    assert_int_equal(pds_chain_head_parse(&h, buf, sizeof(buf), NULL), APR_SUCCESS);

    /* the log against its head: whole, ahead, cut, empty, replaced */
    tail = "";
    for (i = 0; i < lg->lines->nelts; i++)
        tail = apr_pstrcat(lg->p, tail, APR_ARRAY_IDX(lg->lines, i, char *), "\n", NULL);
    assert_int_equal(pds_chain_recover(&st, tail, strlen(tail), lg->key, NULL), APR_SUCCESS);
    assert_memory_equal(st.last_mac, lg->st.last_mac, 32);
    assert_int_equal(pds_chain_head_check(&h, &st, NULL), APR_SUCCESS);
    st.seq = 5;
    assert_int_equal(pds_chain_head_check(&h, &st, NULL), APR_SUCCESS);
    st.seq = 3;
    pds_error_clear(&err);
    assert_int_equal(pds_chain_head_check(&h, &st, &err), APR_EINVAL);
    assert_string_equal(err.code, "audit-log-cut");
    assert_non_null(strstr(err.text, "1 line(s) are missing"));
    pds_chain_state_init(&st);
    pds_error_clear(&err);
    assert_int_equal(pds_chain_head_check(&h, &st, &err), APR_EINVAL);
    assert_non_null(strstr(err.text, "missing or holds no record"));
    st.seq = 4;
    pds_error_clear(&err);
    assert_int_equal(pds_chain_head_check(&h, &st, &err), APR_EINVAL);
    assert_non_null(strstr(err.text, "replaced"));
}

/* recovery is handed the last line, however long (issue #10 item 5) */
static void test_recover_a_long_line(void **state)
{
    log_t *lg = *state;
    pds_chain_state_t st;
    json_t *rec = json_object(), *arr = json_array();
    char *line;
    apr_size_t len;
    int i;

    for (i = 0; i < 9000; i++)
        json_array_append_new(arr, json_string(apr_psprintf(lg->p, "%010d", i)));
    json_object_set_new(rec, "subjects", arr);
    make_log(lg, 2);
    assert_int_equal(pds_chain_seal(&line, &len, &lg->st, lg->key, rec, lg->p, NULL),
                     APR_SUCCESS);
    json_decref(rec);
    assert_true(len > 65536 + 4096);
    keep(lg, line, len);
    assert_int_equal(pds_chain_recover(&st, line, len, lg->key, NULL), APR_SUCCESS);
    assert_int_equal(st.seq, 3);
    assert_memory_equal(st.prev, lg->st.prev, 32);
}

/* --- checkpoints due ------------------------------------------------------------ */

static void test_checkpoint_due(void **state)
{
    log_t *lg = *state;
    apr_time_t now = apr_time_now();

    assert_false(pds_chain_checkpoint_due(&lg->st, 3, 0, now));
    make_log(lg, 2);
    assert_false(pds_chain_checkpoint_due(&lg->st, 3, 0, now));
    add_record(lg, 3);
    assert_true(pds_chain_checkpoint_due(&lg->st, 3, 0, now));
    add_checkpoint(lg);
    assert_false(pds_chain_checkpoint_due(&lg->st, 3, 0, apr_time_now()));
    add_record(lg, 4);
    assert_true(pds_chain_checkpoint_due(&lg->st, 0, apr_time_from_sec(10),
                                         apr_time_now() + apr_time_from_sec(11)));
    assert_false(pds_chain_checkpoint_due(&lg->st, 0, apr_time_from_sec(10), apr_time_now()));
    /* a verify-only key cannot sign */
    {
        char *line;
        apr_size_t len;
        pds_error_t err;

        pds_error_clear(&err);
        assert_int_not_equal(pds_chain_checkpoint(&line, &len, &lg->st, lg->key,
                                                  public_of(lg->p), now, lg->p, &err),
                             APR_SUCCESS);
        assert_string_equal(err.code, "not-a-private-key");
    }
}

/* --- keys and pseudonyms ------------------------------------------------------------ */

static void test_keys(void **state)
{
    log_t *lg = *state;
    pds_chain_key_t *key;
    pds_error_t err;
    char *hex;
    static const char *const bad[] = {
        "0011", KEY_A "0", KEY_A "zz", "g" KEY_A "f", KEY_A " trailing", "", NULL
    };
    int i;

    for (i = 0; bad[i] != NULL; i++) {
        pds_error_clear(&err);
        assert_int_not_equal(pds_chain_key_from_hex(&key, lg->p, bad[i], strlen(bad[i]), &err),
                             APR_SUCCESS);
        assert_string_equal(err.code, "bad-audit-key");
        assert_null(strstr(err.text, "0011"));      /* no key material in messages */
    }
    assert_int_equal(pds_chain_key_from_hex(&key, lg->p, KEY_A "\n", strlen(KEY_A) + 1, NULL),
                     APR_SUCCESS);
    assert_int_equal(pds_chain_key_generate(&hex, lg->p, NULL), APR_SUCCESS);
    assert_int_equal(strlen(hex), 65);
    assert_int_equal(pds_chain_key_from_hex(&key, lg->p, hex, strlen(hex), NULL), APR_SUCCESS);
    pds_error_clear(&err);
    assert_int_not_equal(pds_chain_key_load(&key, lg->p, "/nonexistent/key", &err),
                         APR_SUCCESS);
}

static void test_pseudonym(void **state)
{
    log_t *lg = *state;
    const char *a1 = pds_chain_pseudonym(lg->p, lg->key, "9434765919");
    const char *a2 = pds_chain_pseudonym(lg->p, lg->key, "9434765919");
    const char *b = pds_chain_pseudonym(lg->p, key_of(lg->p, KEY_B), "9434765919");
    const char *other = pds_chain_pseudonym(lg->p, lg->key, "9434765920");
    int i;

    assert_string_equal(a1, a2);
    assert_string_not_equal(a1, b);
    assert_string_not_equal(a1, other);
    assert_int_equal(strlen(a1), 35);
    assert_true(strncmp(a1, "ps:", 3) == 0);
    for (i = 3; i < 35; i++)
        assert_non_null(strchr("0123456789abcdef", a1[i]));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_seal_format),
        T(test_intact_log_verifies),
        T(test_changed_value),
        T(test_whitespace_added),
        T(test_deleted_line),
        T(test_swapped_lines),
        T(test_duplicated_line),
        T(test_inserted_forgery),
        T(test_second_mac_member),
        T(test_prev_rewritten_without_the_key),
        T(test_last_line_after_checkpoint_needs_the_key),
        T(test_forged_checkpoint),
        T(test_rotation),
        T(test_rotated_keys),
        T(test_key_changed_within_a_file),
        T(test_recover),
        T(test_head_removed),
        T(test_head_file),
        T(test_recover_a_long_line),
        T(test_checkpoint_due),
        T(test_keys),
        T(test_pseudonym),
    };
#undef T

    return pds_test_main(tests, NULL, NULL);
}
