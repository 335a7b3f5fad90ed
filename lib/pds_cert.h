/* pds_cert.h: what identifies a TLS client certificate.
 *
 * The glue hands over the PEM that mod_ssl verified; this turns it into the
 * facts an organisation can be matched on.
 */
#ifndef PDS_CERT_H
#define PDS_CERT_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "pds_error.h"

typedef struct pds_cert_identity_t {
    const char *subject_dn;   /* RFC 2253, as `openssl x509 -nameopt RFC2253` prints */
    const char *sha256;       /* 64 lowercase hex digits over the DER */
    apr_array_header_t *sans; /* const char *: "DNS:x", "email:x", "URI:x", "IP:x" */
} pds_cert_identity_t;

apr_status_t pds_cert_identity_from_pem(pds_cert_identity_t **pid,
                                        apr_pool_t *p,
                                        const char *pem, apr_size_t len,
                                        pds_error_t *err);

/* Normalises a configured fingerprint ("AB:CD:..." or "abcd...") into 64
 * lowercase hex digits. Returns 0 on success, -1 if it is not 32 bytes of hex. */
int pds_cert_fingerprint_normalise(char out[65], const char *in);

/* Reads a configured cert-subject value (RFC 2253 as certificates are
 * printed, or openssl's "/C=GB/O=x/CN=y" or "C = GB, O = x, CN = y" forms,
 * or RFC 2253 written most significant first) and gives, in *pnormal, the
 * RFC 2253 string a certificate with that subject is matched by. The caller
 * refuses a value unequal to *pnormal, showing it. A value with a
 * multi-valued RDN or a quoted value is returned as it is. */
apr_status_t pds_cert_subject_normalise(const char **pnormal, apr_pool_t *p,
                                        const char *value, pds_error_t *err);

#endif
