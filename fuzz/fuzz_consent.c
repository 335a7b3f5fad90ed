/* Consent API bodies and the decision cache's entries: a grant body from a
 * person (or a consent manager) is accepted or refused with a message, never
 * a crash; an accepted grant round-trips through the cache encoding and its
 * life cycle behaves; any cache entry is decoded or refused. The first byte
 * chooses: 'C' a cache entry, 'T' a time, anything else a grant body. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "fuzz.h"
#include "pds_consent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = pds_fuzz_pool();
    apr_time_t now = apr_time_from_sec(1796000000);
    pds_consent_lookup_t *l, one;
    pds_consent_t *c, *next;
    pds_error_t err;
    const char *reason = NULL;
    char *enc;
    apr_size_t len;

    pds_error_clear(&err);
    if (size > 0 && data[0] == 'C') {
        if (pds_consent_lookup_decode(&l, p, (const char *)data + 1, size - 1, &err)
            == APR_SUCCESS)
            (void)pds_consent_lookup_decide(l, "alice", "org", "agr", "care", now, &reason);
        else if (!pds_error_is_set(&err))
            abort();
        return 0;
    }
    if (size > 0 && data[0] == 'T') {
        apr_time_t t;
        (void)pds_time_parse(&t, apr_pstrmemdup(p, (const char *)data + 1, size - 1));
        return 0;
    }
    if (pds_consent_from_grant(&c, p, (const char *)data, size, "alice", "person", now, &err)
        != APR_SUCCESS) {
        if (!pds_error_is_set(&err))
            abort();
        return 0;
    }
    /* An accepted grant is live, bound to what it names, and survives the cache. */
    if (!pds_consent_covers(c, "alice", c->organisation, c->agreement ? c->agreement : "x",
                            c->purpose, now))
        abort();
    one.consents = apr_array_make(p, 1, sizeof(pds_consent_t *));
    APR_ARRAY_PUSH(one.consents, pds_consent_t *) = c;
    enc = pds_consent_lookup_encode(p, &one, &len);
    if (enc == NULL || pds_consent_lookup_decode(&l, p, enc, len, &err) != APR_SUCCESS
        || l->consents->nelts != 1
        || pds_consent_lookup_decide(l, "alice", c->organisation,
                                     c->agreement ? c->agreement : "x", c->purpose, now,
                                     &reason) == NULL)
        abort();
    if (pds_consent_transition(&next, p, c, "revoke", "person", now, &err) != APR_SUCCESS
        || pds_consent_covers(next, "alice", c->organisation, c->agreement, c->purpose, now))
        abort();
    json_decref(pds_consent_to_json(c, NULL, now, p));
    return 0;
}
