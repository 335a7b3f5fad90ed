/* pds_labels.c: labels from configuration, language negotiation and the
 * pages' message catalogue (pds_labels.h). */
#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "pds_html.h"
#include "pds_labels.h"

struct pds_labels_t {
    apr_pool_t *pool;
    apr_hash_t *texts;              /* "kind\037lang\037key" -> const char * */
    apr_hash_t *keys[PDS_LABEL_KINDS];  /* key -> "" (which keys have a text) */
};

static const char *const langs[] = { "en", "cy", NULL };

int pds_lang_known(const char *lang)
{
    int i;

    for (i = 0; lang != NULL && langs[i] != NULL; i++) {
        if (strcmp(lang, langs[i]) == 0)
            return 1;
    }
    return 0;
}

apr_status_t pds_labels_create(pds_labels_t **pl, apr_pool_t *p)
{
    pds_labels_t *l = apr_pcalloc(p, sizeof(*l));
    int k;

    l->pool = p;
    l->texts = apr_hash_make(p);
    for (k = 0; k < PDS_LABEL_KINDS; k++)
        l->keys[k] = apr_hash_make(p);
    *pl = l;
    return APR_SUCCESS;
}

static char *text_key(apr_pool_t *p, pds_label_kind_e kind, const char *key, const char *lang)
{
    return apr_psprintf(p, "%d\037%s\037%s", (int)kind, lang ? lang : "", key ? key : "");
}

apr_status_t pds_labels_set(pds_labels_t *l, pds_label_kind_e kind, const char *key,
                            const char *text, const char *lang, pds_error_t *err)
{
    apr_size_t max = kind == PDS_LABEL_DESCRIPTION ? PDS_DESCRIPTION_MAX : PDS_LABEL_MAX;
    char *k;

    if (l == NULL || kind < 0 || kind >= PDS_LABEL_KINDS) {
        pds_error_set(err, "bad-label", -1, "label", "no such kind of label");
        return APR_EINVAL;
    }
    if (lang != NULL && !pds_lang_known(lang)) {
        pds_error_set(err, "bad-label", -1, "label", "'%.16s' is not a language the pages "
                      "speak; use one of " PDS_LANGS " (lowercase), or none for the text "
                      "every language shows", lang);
        return APR_EINVAL;
    }
    if (text == NULL || text[0] == '\0' || !pds_html_is_plain_text(text, max)) {
        pds_error_set(err, "bad-label", -1, "label", "the text must be 1 to %d bytes of "
                      "UTF-8 without control characters, in quotes if it has spaces",
                      (int)max);
        return APR_EINVAL;
    }
    k = text_key(l->pool, kind, key, lang);
    if (apr_hash_get(l->texts, k, APR_HASH_KEY_STRING) != NULL) {
        pds_error_set(err, "bad-label", -1, "label", "'%.64s' already has a text%s%s",
                      key && key[0] ? key : "this", lang ? " in " : " without a language",
                      lang ? lang : "");
        return APR_EINVAL;
    }
    apr_hash_set(l->texts, k, APR_HASH_KEY_STRING, apr_pstrdup(l->pool, text));
    apr_hash_set(l->keys[kind], apr_pstrdup(l->pool, key ? key : ""), APR_HASH_KEY_STRING, "");
    return APR_SUCCESS;
}

const char *pds_labels_get(const pds_labels_t *l, pds_label_kind_e kind, const char *key,
                           const char *lang)
{
    char buf[512];
    const char *t;

    if (l == NULL || kind < 0 || kind >= PDS_LABEL_KINDS || key == NULL
        || strlen(key) > 400)
        return NULL;
    if (lang != NULL) {
        apr_snprintf(buf, sizeof(buf), "%d\037%s\037%s", (int)kind, lang, key);
        if ((t = apr_hash_get(l->texts, buf, APR_HASH_KEY_STRING)) != NULL)
            return t;
    }
    apr_snprintf(buf, sizeof(buf), "%d\037\037%s", (int)kind, key);
    return apr_hash_get(l->texts, buf, APR_HASH_KEY_STRING);
}

int pds_labels_each_key(const pds_labels_t *l, pds_label_kind_e kind,
                        int (*cb)(void *baton, const char *key), void *baton)
{
    apr_hash_index_t *hi;
    int rc;

    if (l == NULL || kind < 0 || kind >= PDS_LABEL_KINDS)
        return 0;
    for (hi = apr_hash_first(NULL, l->keys[kind]); hi != NULL; hi = apr_hash_next(hi)) {
        const void *key;
        apr_hash_this(hi, &key, NULL, NULL);
        if ((rc = cb(baton, key)) != 0)
            return rc;
    }
    return 0;
}

/* --- Accept-Language -------------------------------------------------------- */

/* q of one range's parameters ("q=0.8"), 1000ths; -1 when malformed. */
static int parse_q(const char *s, apr_size_t n)
{
    apr_size_t i = 0;
    int q = 0, digits = 0;

    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (n - i < 3 || (s[i] != 'q' && s[i] != 'Q') || s[i + 1] != '=')
        return -1;
    i += 2;
    if (s[i] == '1') {
        i++;
        if (i < n && s[i] == '.')
            for (i++; i < n && s[i] == '0' && digits < 3; i++, digits++)
                ;
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        return i == n ? 1000 : -1;
    }
    if (s[i] != '0')
        return -1;
    i++;
    if (i < n && s[i] == '.') {
        for (i++; i < n && apr_isdigit(s[i]) && digits < 3; i++, digits++)
            q = q * 10 + (s[i] - '0');
    }
    while (digits < 3) {
        q *= 10;
        digits++;
    }
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i == n ? q : -1;
}

const char *pds_lang_negotiate(const char *header)
{
    const char *s = header, *best = PDS_LANG_DEFAULT;
    int best_q = 0;

    if (header == NULL || strlen(header) > 1024)
        return PDS_LANG_DEFAULT;
    while (*s != '\0') {
        const char *end = strchr(s, ','), *semi, *tag = s;
        apr_size_t n = end ? (apr_size_t)(end - s) : strlen(s), tn, i;
        int q = 1000;

        while (n > 0 && (*tag == ' ' || *tag == '\t')) {
            tag++;
            n--;
        }
        semi = memchr(tag, ';', n);
        tn = semi ? (apr_size_t)(semi - tag) : n;
        while (tn > 0 && (tag[tn - 1] == ' ' || tag[tn - 1] == '\t'))
            tn--;
        if (semi != NULL)
            q = parse_q(semi + 1, n - (apr_size_t)(semi - tag) - 1);
        if (q > best_q) {
            if (tn == 1 && tag[0] == '*') {
                best = PDS_LANG_DEFAULT;
                best_q = q;
            }
            for (i = 0; langs[i] != NULL; i++) {
                apr_size_t ln = strlen(langs[i]);
                if (tn >= ln && strncasecmp(tag, langs[i], ln) == 0
                    && (tn == ln || tag[ln] == '-')) {
                    best = langs[i];
                    best_q = q;
                    break;
                }
            }
        }
        if (end == NULL)
            break;
        s = end + 1;
    }
    return best;
}

/* --- the message catalogue ---------------------------------------------------- */

typedef struct message_t {
    const char *id, *en, *cy;
} message_t;

static const message_t messages[] = {
    { "site_title", "My data", "Fy nata" },
    { "skip", "Skip to main content", "Neidio i'r prif gynnwys" },
    { "nav_label", "Pages about your data", "Tudalennau am eich data" },
    { "nav_disclosures", "Who got my data", "Pwy gafodd fy nata" },
    { "nav_consents", "My consents", "Fy nghaniatadau" },
    { "nav_objections", "My objections", "Fy ngwrthwynebiadau" },
    { "signed_in_as", "Signed in as", "Wedi mewngofnodi fel" },
    { "unlabelled", "no plain name configured", "dim enw plaen wedi'i osod" },
    { "home_intro", "See who received data about you, and decide who may.",
      "Gweld pwy sydd wedi cael data amdanoch, a phenderfynu pwy gaiff." },
    { "disclosures_intro", "Each time an organisation received data about you through "
      "this gateway, it is listed here, newest first.",
      "Bob tro y cafodd sefydliad ddata amdanoch drwy'r porth hwn, mae wedi'i restru "
      "yma, y mwyaf diweddar yn gyntaf." },
    { "disclosures_incomplete", "This list may not be complete yet: the most recent "
      "records of part of this service have not reached it.",
      "Efallai nad yw'r rhestr hon yn gyflawn eto: nid yw cofnodion diweddaraf rhan o'r "
      "gwasanaeth hwn wedi'i chyrraedd." },
    { "incomplete_node", "Part of the service:", "Rhan o'r gwasanaeth:" },
    { "incomplete_since", "records since", "cofnodion ers" },
    { "incomplete_later", "Look again in a few minutes.",
      "Edrychwch eto mewn ychydig funudau." },
    { "filter", "Filter the list", "Hidlo'r rhestr" },
    { "organisation", "Organisation", "Sefydliad" },
    { "all_organisations", "All organisations", "Pob sefydliad" },
    { "period", "Period", "Cyfnod" },
    { "period_30", "Last 30 days", "Y 30 diwrnod diwethaf" },
    { "period_365", "Last 12 months", "Y 12 mis diwethaf" },
    { "period_all", "All time", "Pob amser" },
    { "apply", "Show", "Dangos" },
    { "when", "When", "Pryd" },
    { "purpose", "Purpose", "Diben" },
    { "legal_basis", "Legal basis", "Sail gyfreithiol" },
    { "data", "Data", "Data" },
    { "agreement", "Agreement", "Cytundeb" },
    { "version", "version", "fersiwn" },
    { "no_disclosures", "No organisation received data about you in this period.",
      "Ni chafodd unrhyw sefydliad ddata amdanoch yn y cyfnod hwn." },
    { "no_fields", "none", "dim" },
    { "consents_intro", "Organisations that need your consent receive only the data you "
      "tick, and only while your consent is active.",
      "Dim ond y data rydych yn ei dicio y mae sefydliadau sydd angen eich caniatâd yn "
      "ei gael, a dim ond tra bo'ch caniatâd yn weithredol." },
    { "your_consents", "Your consents", "Eich caniatadau" },
    { "state", "State", "Cyflwr" },
    { "expires", "Expires", "Yn dod i ben" },
    { "history", "History", "Hanes" },
    { "state_active", "Active", "Gweithredol" },
    { "state_paused", "Paused", "Wedi'i oedi" },
    { "state_revoked", "Revoked", "Wedi'i dynnu'n ôl" },
    { "state_expired", "Expired", "Wedi dod i ben" },
    { "pause", "Pause", "Oedi" },
    { "resume", "Resume", "Ailddechrau" },
    { "revoke", "Revoke", "Tynnu'n ôl" },
    { "receipt", "Download the signed receipt", "Lawrlwytho'r dderbynneb wedi'i llofnodi" },
    { "grant_heading", "Give consent", "Rhoi caniatâd" },
    { "grant_submit", "Give consent", "Rhoi caniatâd" },
    { "grant_fields", "Which data may it receive?", "Pa ddata y caiff ei dderbyn?" },
    { "no_consents", "You have not given any consent yet.",
      "Nid ydych wedi rhoi unrhyw ganiatâd eto." },
    { "no_offers", "No agreement asks for your consent.",
      "Nid oes unrhyw gytundeb yn gofyn am eich caniatâd." },
    { "action_grant", "Given", "Rhoddwyd" },
    { "action_pause", "Paused", "Oedwyd" },
    { "action_resume", "Resumed", "Ailddechreuwyd" },
    { "action_revoke", "Revoked", "Tynnwyd yn ôl" },
    { "by_you", "by you", "gennych chi" },
    { "by", "by", "gan" },
    { "mandates_heading", "Data trusts acting for you",
      "Ymddiriedolaethau data sy'n gweithredu ar eich rhan" },
    { "mandates_intro", "A data trust you let act for you may give, pause and revoke "
      "consents in your name; it can never give consent to itself.",
      "Gall ymddiriedolaeth ddata rydych yn gadael iddi weithredu ar eich rhan roi, "
      "oedi a thynnu caniatâd yn ôl yn eich enw; ni all byth roi caniatâd iddi hi ei "
      "hun." },
    { "mandate_on", "Acts for you", "Yn gweithredu ar eich rhan" },
    { "mandate_off", "Does not act for you", "Ddim yn gweithredu ar eich rhan" },
    { "mandate_give", "Let it act for me", "Gadael iddi weithredu ar fy rhan" },
    { "mandate_withdraw", "Stop it acting for me", "Ei hatal rhag gweithredu ar fy rhan" },
    { "since", "since", "ers" },
    { "objections_intro", "Some organisations receive data for a public task without "
      "asking for consent. Where an agreement allows it you can object, and the gateway "
      "then refuses them your data.",
      "Mae rhai sefydliadau'n cael data ar gyfer tasg gyhoeddus heb ofyn am ganiatâd. "
      "Lle mae cytundeb yn caniatáu hynny gallwch wrthwynebu, ac yna mae'r porth yn "
      "gwrthod eich data iddynt." },
    { "recipients", "Who receives it", "Pwy sy'n ei gael" },
    { "objecting", "You object", "Rydych yn gwrthwynebu" },
    { "not_objecting", "You do not object", "Nid ydych yn gwrthwynebu" },
    { "object", "Object", "Gwrthwynebu" },
    { "withdraw_objection", "Withdraw my objection", "Tynnu fy ngwrthwynebiad yn ôl" },
    { "no_objections", "No agreement lets you object.",
      "Nid oes unrhyw gytundeb yn gadael i chi wrthwynebu." },
    { "done_grant", "Your consent was recorded.", "Cofnodwyd eich caniatâd." },
    { "done_pause", "Your consent is paused.", "Mae eich caniatâd wedi'i oedi." },
    { "done_resume", "Your consent is active again.",
      "Mae eich caniatâd yn weithredol eto." },
    { "done_revoke", "Your consent is revoked.", "Mae eich caniatâd wedi'i dynnu'n ôl." },
    { "done_saved", "Your choice was saved.", "Cadwyd eich dewis." },
    { "error_title", "Something went wrong", "Aeth rhywbeth o'i le" },
    { "csrf_failed", "This form has expired or did not come from this site. Nothing was "
      "changed. Go back, reload the page and try again.",
      "Mae'r ffurflen hon wedi dod i ben neu ni ddaeth o'r wefan hon. Ni newidiwyd dim. "
      "Ewch yn ôl, ail-lwythwch y dudalen a rhowch gynnig arall arni." },
    { "not_signed_in", "Sign in first: these pages show the data of the person who "
      "signed in.", "Mewngofnodwch yn gyntaf: mae'r tudalennau hyn yn dangos data'r "
      "person a fewngofnododd." },
    { "unavailable", "This cannot be shown just now. Nothing was changed. Try again in "
      "a few minutes.", "Ni ellir dangos hyn ar hyn o bryd. Ni newidiwyd dim. Rhowch "
      "gynnig arall arni mewn ychydig funudau." },
    { "not_found", "There is no such page.", "Nid oes tudalen o'r fath." },
    { "refused", "The change was refused:", "Gwrthodwyd y newid:" },
    { "no_fields_ticked", "Tick at least one kind of data.",
      "Ticiwch o leiaf un math o ddata." },
    { "back", "Back to your consents", "Yn ôl i'ch caniatadau" },
    { "register_title", "Register of data sharing agreements",
      "Cofrestr cytundebau rhannu data" },
    { "register_intro", "Every agreement under which this gateway releases personal "
      "data, generated from its configuration. The counts are numbers of disclosures, "
      "never people.",
      "Pob cytundeb y mae'r porth hwn yn rhyddhau data personol oddi tano, wedi'i "
      "gynhyrchu o'i ffurfweddiad. Niferoedd datgeliadau yw'r cyfrifon, byth pobl." },
    { "shared_by", "Shared by", "Yn cael ei rannu gan" },
    { "shared_with", "Shared with", "Yn cael ei rannu gyda" },
    { "valid", "Valid", "Dilys" },
    { "to", "to", "i" },
    { "consent_needed", "Consent needed", "Angen caniatâd" },
    { "objection_possible", "You may object", "Gallwch wrthwynebu" },
    { "yes", "Yes", "Ie" },
    { "no", "No", "Na" },
    { "changed", "Last changed", "Newidiwyd ddiwethaf" },
    { "not_stated", "not stated", "heb ei nodi" },
    { "disclosures_last_month", "Disclosures last month", "Datgeliadau'r mis diwethaf" },
    { "disclosures_this_month", "Disclosures this month so far",
      "Datgeliadau'r mis hwn hyd yma" },
    { "register_json", "This register as JSON", "Y gofrestr hon fel JSON" },
    { "no_agreements", "No agreement is published.", "Nid oes cytundeb wedi'i gyhoeddi." },
    { NULL, NULL, NULL }
};

static const message_t bases[] = {
    { "consent", "your consent", "eich caniatâd" },
    { "contract", "a contract with you", "contract gyda chi" },
    { "legal-obligation", "a duty in law", "dyletswydd gyfreithiol" },
    { "vital-interests", "to protect someone's life", "i ddiogelu bywyd rhywun" },
    { "public-task", "a public task", "tasg gyhoeddus" },
    { "legitimate-interests", "legitimate interests", "buddiannau dilys" },
    { NULL, NULL, NULL }
};

static const char *pick(const message_t *m, const char *lang)
{
    if (lang != NULL && strcmp(lang, "cy") == 0 && m->cy != NULL)
        return m->cy;
    return m->en;
}

const char *pds_msg(const char *lang, const char *id)
{
    int i;

    for (i = 0; id != NULL && messages[i].id != NULL; i++) {
        if (strcmp(messages[i].id, id) == 0)
            return pick(&messages[i], lang);
    }
    return "[message missing]";
}

const char *pds_msg_missing(void)
{
    int i;

    for (i = 0; messages[i].id != NULL; i++) {
        if (messages[i].en == NULL || messages[i].cy == NULL || !messages[i].en[0]
            || !messages[i].cy[0])
            return messages[i].id;
    }
    for (i = 0; bases[i].id != NULL; i++) {
        if (bases[i].en == NULL || bases[i].cy == NULL)
            return bases[i].id;
    }
    return NULL;
}

const char *pds_legal_basis_words(const char *lang, const char *basis)
{
    int i;

    for (i = 0; basis != NULL && bases[i].id != NULL; i++) {
        if (strcmp(bases[i].id, basis) == 0)
            return pick(&bases[i], lang);
    }
    return NULL;
}
