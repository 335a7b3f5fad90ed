/* pds_token.c: the registered claims of a verified token (RFC 7519 section
 * 4.1), pds_token_check_claims in pds_jws.h. */
#include <string.h>

#include "pds_jws.h"

#define PDS_CLAIMS_SOURCE "token claims"

static apr_status_t claim_missing(pds_error_t *err, const char *name)
{
    pds_error_set(err, "missing-claim", -1, PDS_CLAIMS_SOURCE,
                  "the token has no \"%s\" claim, which is required", name);
    return APR_EINVAL;
}

static apr_status_t claim_bad(pds_error_t *err, const char *name, const char *want)
{
    pds_error_set(err, "bad-claim", -1, PDS_CLAIMS_SOURCE,
                  "the token's \"%s\" claim is not %s", name, want);
    return APR_EINVAL;
}

static apr_status_t check_audience(json_t *aud, const char *expected, pds_error_t *err)
{
    size_t i;
    json_t *v;

    if (json_is_string(aud)) {
        if (strcmp(json_string_value(aud), expected) == 0)
            return APR_SUCCESS;
    }
    else if (json_is_array(aud)) {
        json_array_foreach(aud, i, v) {
            if (!json_is_string(v))
                return claim_bad(err, "aud", "a string or an array of strings");
        }
        json_array_foreach(aud, i, v) {
            if (strcmp(json_string_value(v), expected) == 0)
                return APR_SUCCESS;
        }
    }
    else {
        return claim_bad(err, "aud", "a string or an array of strings");
    }
    pds_error_set(err, "wrong-audience", -1, PDS_CLAIMS_SOURCE,
                  "the token is not meant for this audience (expected \"%s\")",
                  expected);
    return APR_EINVAL;
}

apr_status_t pds_token_check_claims(const pds_jws_t *jws,
                                    const pds_token_expect_t *expect,
                                    pds_error_t *err)
{
    json_t *claims, *exp_j, *iss, *aud, *nbf, *iat;
    json_int_t exp, now, skew, lifetime;
    char shown[64];

    if (jws == NULL || expect == NULL || expect->issuer == NULL
        || expect->audience == NULL) {
        /* Nothing to check against is a refusal, never a pass. */
        pds_error_set(err, "bad-argument", -1, PDS_CLAIMS_SOURCE,
                      "no token, or no expected issuer and audience to check it against");
        return APR_EINVAL;
    }
    claims = pds_jws_payload(jws);
    now = (json_int_t)apr_time_sec(expect->now);
    skew = expect->clock_skew > 0 ? expect->clock_skew : 0;
    lifetime = expect->max_lifetime > 0 ? expect->max_lifetime : 0;

    exp_j = json_object_get(claims, "exp");
    iss = json_object_get(claims, "iss");
    aud = json_object_get(claims, "aud");
    nbf = json_object_get(claims, "nbf");
    iat = json_object_get(claims, "iat");
    if (exp_j == NULL)
        return claim_missing(err, "exp");
    if (iss == NULL)
        return claim_missing(err, "iss");
    if (aud == NULL)
        return claim_missing(err, "aud");
    if (!json_is_integer(exp_j))
        return claim_bad(err, "exp", "an integer number of seconds");
    if (nbf != NULL && !json_is_number(nbf))
        return claim_bad(err, "nbf", "a number");
    if (iat != NULL && !json_is_number(iat))
        return claim_bad(err, "iat", "a number");
    if (!json_is_string(iss))
        return claim_bad(err, "iss", "a string");

    if (strcmp(json_string_value(iss), expect->issuer) != 0) {
        pds_error_set(err, "wrong-issuer", -1, PDS_CLAIMS_SOURCE,
                      "the token's issuer \"%s\" is not \"%s\"",
                      pds_printable(shown, sizeof(shown), json_string_value(iss)),
                      expect->issuer);
        return APR_EINVAL;
    }
    if (check_audience(aud, expect->audience, err) != APR_SUCCESS)
        return APR_EINVAL;

    /* Compare with the skew on now's side: now and skew are small, so
     * nothing overflows whatever the token says. */
    exp = json_integer_value(exp_j);
    if (now - skew > exp) {
        /* In double: a hostile exp near INT64_MIN must not overflow. */
        pds_error_set(err, "token-expired", -1, PDS_CLAIMS_SOURCE,
                      "the token expired %.0f seconds ago", (double)now - (double)exp);
        return APR_EINVAL;
    }
    if (nbf != NULL && (double)(now + skew) < json_number_value(nbf)) {
        pds_error_set(err, "token-not-yet-valid", -1, PDS_CLAIMS_SOURCE,
                      "the token is not valid before its \"nbf\" time");
        return APR_EINVAL;
    }
    if (iat != NULL && json_number_value(iat) > (double)(now + skew)) {
        pds_error_set(err, "token-not-yet-valid", -1, PDS_CLAIMS_SOURCE,
                      "the token was issued in the future (\"iat\")");
        return APR_EINVAL;
    }
    if (lifetime > 0) {
        /* iat <= now + skew here, so iat + lifetime cannot overflow; exp is
         * compared with it rather than subtracted from. */
        double from = iat != NULL ? json_number_value(iat) : (double)now;
        int too_long;

        if (iat != NULL && json_is_integer(iat))
            too_long = exp > json_integer_value(iat) + lifetime;
        else if (iat == NULL)
            too_long = exp > now + lifetime;
        else
            too_long = (double)exp - from > (double)lifetime;
        if (too_long) {
            pds_error_set(err, "token-too-long-lived", -1, PDS_CLAIMS_SOURCE,
                          "the token lives longer than the %d seconds allowed "
                          "(exp - %s)", expect->max_lifetime,
                          iat != NULL ? "iat" : "now");
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}
