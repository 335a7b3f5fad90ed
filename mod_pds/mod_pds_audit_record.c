/* mod_pds_audit_record.c: what a decision's audit record holds
 * (mod_pds_audit_record.h): the request's facts as decided, with people
 * named by pseudonym under PDSAuditSubject pseudonym. */
#include <string.h>

#include "httpd.h"
#include "apr_strings.h"

#include "mod_pds_audit_record.h"

/* PDSAuditSubject pseudonym: no identifier of a person in clear, in the
 * subject or in the path. A path refused before a subject was found may name
 * one in a way nobody can tell, so it is not recorded. */
static void pseudonymise(pds_audit_record_t *rec, const pds_chain_key_t *key,
                         apr_pool_t *p)
{
    const char *pseudonym;
    char *copy, *segment, *last;
    const char *rebuilt = "";

    if (rec->subject == NULL) {
        rec->path = NULL;
        return;
    }
    pseudonym = pds_chain_pseudonym(p, key, rec->subject);
    copy = apr_pstrdup(p, rec->path ? rec->path : "");
    for (segment = apr_strtok(copy, "/", &last); segment != NULL;
         segment = apr_strtok(NULL, "/", &last))
        rebuilt = apr_pstrcat(p, rebuilt, "/",
                              strcmp(segment, rec->subject) == 0 ? pseudonym : segment,
                              NULL);
    if (rec->path != NULL && *rec->path != '\0' && rec->path[strlen(rec->path) - 1] == '/')
        rebuilt = apr_pstrcat(p, rebuilt, "/", NULL);
    rec->path = rebuilt;
    rec->subject = pseudonym;
}

void pds_audit_record_of(pds_audit_record_t *rec, request_rec *r, const pds_request_t *rq,
                         const char *decision, const char *reason, int status,
                         const apr_array_header_t *fields, const char *node)
{
    pds_server_conf_t *sc = pds_server_conf(r->server);
    const pds_agreement_t *a = rq->decision.agreement;

    memset(rec, 0, sizeof(*rec));
    rec->time = r->request_time;
    rec->request_id = rq->request_id;
    rec->client_ip = r->useragent_ip;
    rec->organisation = rq->organisation;
    rec->agreement = a ? pds_agreement_id(a) : NULL;
    rec->agreement_version = a ? pds_agreement_version(a) : NULL;
    rec->purpose = rq->purpose;
    rec->legal_basis = a ? pds_agreement_legal_basis(a) : NULL;
    rec->subject = rq->decision.subject;
    rec->method = r->method;
    /* The path as decided on; before it was accepted, the raw target. */
    rec->path = rq->path ? rq->path : r->unparsed_uri;
    rec->query = rq->query;
    if (pds_conf_audit_pseudonymous(sc)) {
        pseudonymise(rec, sc->audit_pseudonym_key, r->pool);
        rec->query = pds_query_pseudonymised(a ? pds_agreement_query(a) : NULL, rec->query,
                                             sc->audit_pseudonym_key, r->pool);
    }
    rec->decision = decision;
    rec->reason = reason;
    rec->status = status;
    rec->fields = fields;
    rec->consent = rq->consent;
    rec->transforms = rq->transforms;
    rec->deidentified = rq->deidentified;
    rec->written = rq->written;
    rec->subjects = rq->subjects;
    rec->dropped = rq->dropped;
    rec->excluded = rq->excluded;
    rec->node = node;
    if (rec->subjects != NULL && pds_conf_audit_pseudonymous(sc)) {
        apr_array_header_t *ps = apr_array_make(r->pool, rec->subjects->nelts + 1,
                                                sizeof(const char *));
        int k;

        for (k = 0; k < rec->subjects->nelts; k++)
            APR_ARRAY_PUSH(ps, const char *) = pds_chain_pseudonym(
                r->pool, sc->audit_pseudonym_key,
                APR_ARRAY_IDX(rec->subjects, k, const char *));
        rec->subjects = ps;
    }
    if (a != NULL && strcmp(decision, "allow") == 0)
        rec->visible_from = pds_agreement_visible_from(a, r->request_time);
}
