/* cmd_keygen.c: pds-audit keygen, a new secret audit key (--hmac) or
 * checkpoint signing key pair (--signing, --public), never overwriting. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "pds_chain.h"

#include "pds_audit_tool.h"

static const char help_keygen[] =
"usage: pds-audit keygen --hmac FILE\n"
"       pds-audit keygen --signing FILE [--public FILE]\n"
"\n"
"Writes a new key to a file that must not exist yet (a key is never overwritten).\n"
"  --hmac FILE      secret audit key for PDSAuditKey: 32 random bytes as hex, mode 0600\n"
"  --signing FILE   Ed25519 private key (PEM, mode 0600) for PDSAuditSigningKey\n"
"  --public FILE    with --signing: its public key (PEM), for verify --public-key\n"
"Exit status: 0 written, 2 usage error or the file could not be created.\n";

static int check_keygen_options(options_t *o)
{
    if ((o->hmac_out == NULL) == (o->signing_out == NULL))
        return usage_error("keygen", "keygen needs exactly one of --hmac FILE and "
                           "--signing FILE");
    if (o->public_out != NULL && o->signing_out == NULL)
        return usage_error("keygen", "--public goes with --signing");
    if (o->public_out != NULL && strcmp(o->public_out, o->signing_out) == 0)
        return usage_error("keygen", "--public must name another file than --signing");
    if (o->files->nelts > 0)
        return usage_error("keygen", "keygen takes no file arguments (got %s)",
                           APR_ARRAY_IDX(o->files, 0, const char *));
    return EXIT_OK;
}

/* Creates path, which must not exist. */
static int create_new(const char *path, mode_t mode, int *pfd, apr_pool_t *p)
{
    *pfd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (*pfd >= 0)
        return EXIT_OK;
    if (errno == EEXIST)
        fprintf(stderr, "pds-audit: %s exists: refusing to overwrite it (a key in use "
                "would be lost); move it aside or choose another name\n", tty_safe(p, path));
    else
        fprintf(stderr, "pds-audit: cannot create %s: %s\n", tty_safe(p, path),
                strerror(errno));
    return EXIT_USAGE;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return fsync(fd);
}

/* Writes and closes fd; on failure removes path. */
static int finish_file(int fd, const char *path, const char *data, size_t len, apr_pool_t *p)
{
    int failed = write_all(fd, data, len) != 0;

    failed |= close(fd) != 0;
    if (failed) {
        fprintf(stderr, "pds-audit: cannot write %s: %s\n", tty_safe(p, path),
                strerror(errno));
        unlink(path);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static int keygen_hmac(const char *path, apr_pool_t *p)
{
    pds_error_t err;
    char *hex;
    int fd, rc;

    pds_error_clear(&err);
    if (pds_chain_key_generate(&hex, p, &err) != APR_SUCCESS) {
        fprintf(stderr, "pds-audit: %s\n", err.text);
        return EXIT_USAGE;
    }
    rc = create_new(path, 0600, &fd, p);
    if (rc == EXIT_OK)
        rc = finish_file(fd, path, hex, strlen(hex), p);
    OPENSSL_cleanse(hex, strlen(hex));
    if (rc == EXIT_OK)
        printf("wrote a new audit key to %s (mode 0600): name it in PDSAuditKey, and keep "
               "a copy where the auditors can reach it\n", tty_safe(p, path));
    return rc;
}

/* A key as PEM text in pool memory (the private part cleansed from the BIO). */
static char *pem_of(EVP_PKEY *key, int private_part, size_t *plen, apr_pool_t *p)
{
    BIO *bio = BIO_new(BIO_s_secmem());
    char *data = NULL, *out = NULL;
    long n;

    if (bio == NULL)
        return NULL;
    if ((private_part ? PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)
                      : PEM_write_bio_PUBKEY(bio, key)) == 1
        && (n = BIO_get_mem_data(bio, &data)) > 0) {
        out = apr_pmemdup(p, data, (apr_size_t)n);
        *plen = (size_t)n;
    }
    BIO_free(bio);
    return out;
}

/* Both files are created before either is written, so a refusal to
 * overwrite one leaves nothing behind. */
static int keygen_write_pair(const char *priv_path, const char *priv, size_t plen,
                             const char *pub_path, const char *pub, size_t publen,
                             apr_pool_t *p)
{
    int fd, pubfd = -1, rc;

    if ((rc = create_new(priv_path, 0600, &fd, p)) != EXIT_OK)
        return rc;
    if (pub_path != NULL && (rc = create_new(pub_path, 0644, &pubfd, p)) != EXIT_OK) {
        close(fd);
        unlink(priv_path);
        return rc;
    }
    rc = finish_file(fd, priv_path, priv, plen, p);
    if (pubfd >= 0 && rc != EXIT_OK) {
        close(pubfd);
        unlink(pub_path);
    }
    else if (pubfd >= 0 && (rc = finish_file(pubfd, pub_path, pub, publen, p)) != EXIT_OK) {
        unlink(priv_path);
    }
    return rc;
}

static int keygen_signing(const char *priv_path, const char *pub_path, apr_pool_t *p)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    size_t plen = 0, publen = 0;
    char *priv, *pub;
    int rc;

    if (key == NULL) {
        fprintf(stderr, "pds-audit: cannot generate an Ed25519 key\n");
        return EXIT_USAGE;
    }
    priv = pem_of(key, 1, &plen, p);
    pub = pem_of(key, 0, &publen, p);
    EVP_PKEY_free(key);
    if (priv == NULL || pub == NULL) {
        fprintf(stderr, "pds-audit: cannot encode the new key as PEM\n");
        return EXIT_USAGE;
    }
    rc = keygen_write_pair(priv_path, priv, plen, pub_path, pub, publen, p);
    OPENSSL_cleanse(priv, plen);
    if (rc != EXIT_OK)
        return rc;
    printf("wrote a new Ed25519 signing key to %s (mode 0600): name it in "
           "PDSAuditSigningKey\n", tty_safe(p, priv_path));
    if (pub_path != NULL)
        printf("wrote its public key to %s: give it to whoever verifies the log "
               "(pds-audit verify --public-key)\n", tty_safe(p, pub_path));
    else
        printf("its public key: openssl pkey -in %s -pubout\n", tty_safe(p, priv_path));
    return EXIT_OK;
}

static int cmd_keygen(options_t *o, apr_pool_t *p)
{
    if (o->hmac_out != NULL)
        return keygen_hmac(o->hmac_out, p);
    return keygen_signing(o->signing_out, o->public_out, p);
}

const audit_cmd_t audit_cmd_keygen = {
    "keygen", CMD_KEYGEN, check_keygen_options, cmd_keygen, help_keygen
};
