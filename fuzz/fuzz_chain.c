/* Audit chain verification on arbitrary lines: never crashes; a line that
 * verifies must carry a MAC made with the key (impossible for random input
 * beyond the first, so only shapes are exercised) and the verifier stays
 * consistent. Recovery from an arbitrary tail never crashes either. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pds_chain.h"

#define KEY "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = pds_fuzz_pool();
    pds_chain_key_t *key;
    pds_chain_verifier_t *v;
    pds_chain_state_t st;
    pds_chain_summary_t sum;
    const char *s = (const char *)data, *end = s + size;

    if (pds_chain_key_from_hex(&key, p, KEY, strlen(KEY), NULL) != APR_SUCCESS
        || pds_chain_verifier_create(&v, p, key, NULL, NULL) != APR_SUCCESS)
        abort();
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);

        if (pds_chain_verify_line(v, s, len, NULL) != APR_SUCCESS)
            break;
        s += len + 1;
    }
    pds_chain_verifier_summary(v, &sum);
    if (sum.lines > 0 && sum.last_seq < sum.first_seq)
        abort();
    (void)pds_chain_recover(&st, (const char *)data, size, key, NULL);
    return 0;
}
