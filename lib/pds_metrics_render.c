/* pds_metrics_render.c: reading the counter block, and its two renderings,
 * Prometheus text format 0.0.4 and JSON (pds_metrics.h). */
#include <string.h>

#include <apr_strings.h>
#include <jansson.h>

#include "pds_metrics_int.h"
#include "pds_time.h"

/* The label names and values of index i of dimension d (two at most). */
static int dim_labels(const pds_metrics_t *m, dim_e d, int i, const char *names[2],
                      const char *values[2])
{
    switch (d) {
    case DIM_WHO:
        names[0] = "agreement";
        names[1] = "organisation";
        if (i == 0) {
            values[0] = values[1] = "";
        }
        else if (i <= m->norgs) {
            values[0] = "";
            values[1] = m->orgs[i - 1];
        }
        else {
            values[0] = m->agreements[i - 1 - m->norgs];
            values[1] = m->parties[i - 1 - m->norgs];
        }
        return 2;
    case DIM_OUTCOME:
        names[0] = "decision";
        names[1] = "reason";
        values[0] = i == 0 ? "allow" : "deny";
        values[1] = i == 0 ? "" : m->reasons[i - 1];
        return 2;
    case DIM_DECISION:
        names[0] = "decision";
        values[0] = pds_metrics_decision_names[i];
        return 1;
    case DIM_RESULT:
        names[0] = "result";
        values[0] = pds_metrics_result_names[i];
        return 1;
    case DIM_LIST:
        names[0] = "list";
        values[0] = pds_metrics_list_names[i];
        return 1;
    case DIM_LOOKUP:
        names[0] = "result";
        values[0] = pds_metrics_lookup_names[i];
        return 1;
    case DIM_BACKEND:
        names[0] = "kind";
        values[0] = m->backend[i];
        return 1;
    case DIM_FILTER:
    default:
        names[0] = "kind";
        values[0] = pds_metrics_kind_names[i];
        return 1;
    }
}

/* One series' labels, as name/value pairs (four at most). */
typedef struct labels_t {
    int n;
    const char *name[4];
    const char *value[4];
} labels_t;

static void series_labels(const pds_metrics_t *m, const family_t *fam, apr_size_t series,
                          labels_t *out)
{
    apr_size_t rest = series;
    int idx[2] = { 0, 0 };
    int d;

    for (d = fam->ndims - 1; d >= 0; d--) {
        apr_size_t size = (apr_size_t)m->dim_size[fam->dims[d]];

        idx[d] = (int)(rest % size);
        rest /= size;
    }
    out->n = 0;
    for (d = 0; d < fam->ndims; d++)
        out->n += dim_labels(m, fam->dims[d], idx[d], out->name + out->n,
                             out->value + out->n);
}

static apr_size_t family_series(const pds_metrics_t *m, const family_t *fam)
{
    apr_size_t n = 1;
    int d;

    for (d = 0; d < fam->ndims; d++)
        n *= (apr_size_t)m->dim_size[fam->dims[d]];
    return n;
}

/* A text being built, in pool memory, doubling as it grows. */
typedef struct text_t {
    apr_pool_t *p;
    char *buf;
    apr_size_t len, cap;
} text_t;

static void put(text_t *t, const char *s, apr_size_t n)
{
    if (t->len + n + 1 > t->cap) {
        apr_size_t cap = t->cap ? t->cap : 4096;
        char *grown;

        while (cap < t->len + n + 1)
            cap *= 2;
        grown = apr_palloc(t->p, cap);
        if (t->len > 0)
            memcpy(grown, t->buf, t->len);
        t->buf = grown;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static void puts_(text_t *t, const char *s)
{
    put(t, s, strlen(s));
}

/* A label value, escaped as the text format asks (\\, \" and \n). */
static void put_value(text_t *t, const char *v)
{
    for (; *v != '\0'; v++) {
        if (*v == '\\')
            puts_(t, "\\\\");
        else if (*v == '"')
            puts_(t, "\\\"");
        else if (*v == '\n')
            puts_(t, "\\n");
        else
            put(t, v, 1);
    }
}

/* {a="x",b="y"} with an extra le label when le is not NULL; nothing when
 * there are no labels at all. */
static void put_labels(text_t *t, const labels_t *l, const char *le)
{
    int k;

    if (l->n == 0 && le == NULL)
        return;
    puts_(t, "{");
    for (k = 0; k < l->n; k++) {
        if (k > 0)
            puts_(t, ",");
        puts_(t, l->name[k]);
        puts_(t, "=\"");
        put_value(t, l->value[k]);
        puts_(t, "\"");
    }
    if (le != NULL) {
        if (l->n > 0)
            puts_(t, ",");
        puts_(t, "le=\"");
        puts_(t, le);
        puts_(t, "\"");
    }
    puts_(t, "}");
}

/* Microseconds as seconds, exactly ("0.0005", "10", "1.234567"). */
static const char *seconds(apr_pool_t *p, apr_uint64_t us)
{
    char *s;
    apr_size_t n;

    s = apr_psprintf(p, "%" APR_UINT64_T_FMT ".%06" APR_UINT64_T_FMT,
                     us / APR_USEC_PER_SEC, us % APR_USEC_PER_SEC);
    n = strlen(s);
    while (s[n - 1] == '0')
        s[--n] = '\0';
    if (s[n - 1] == '.')
        s[--n] = '\0';
    return s;
}

static const char *type_name(ftype_e t)
{
    return t == F_COUNTER ? "counter" : t == F_HISTOGRAM ? "histogram" : "gauge";
}

/* A histogram series: bucket counts (cumulative), count and sum. */
static void hist_read(const pds_metrics_t *m, family_e f, apr_size_t series,
                      apr_uint64_t cumulative[PDS_METRICS_BUCKETS + 1], apr_uint64_t *sum)
{
    apr_size_t base = m->offset[f] + series * HIST_WORDS;
    apr_uint64_t running = 0;
    int b;

    for (b = 0; b <= PDS_METRICS_BUCKETS; b++) {
        running += pds_metrics_word(m, base + b);
        cumulative[b] = running;
    }
    *sum = pds_metrics_word(m, base + PDS_METRICS_BUCKETS + 1);
}

char *pds_metrics_prometheus(const pds_metrics_t *m, apr_pool_t *p, apr_size_t *plen)
{
    text_t t = { p, NULL, 0, 0 };
    int f, b;

    puts_(&t, "");
    for (f = 0; f < FAM_COUNT; f++) {
        const family_t *fam = &pds_metrics_families[f];
        apr_size_t s, n = family_series(m, fam);

        puts_(&t, apr_psprintf(p, "# HELP %s %s\n# TYPE %s %s\n", fam->name, fam->help,
                               fam->name, type_name(fam->type)));
        if (m->mem == NULL)
            continue;
        if (fam->type == F_GAUGE) {
            puts_(&t, apr_psprintf(p, "%s %s\n", fam->name, seconds(p, pds_metrics_word(m, 0))));
            continue;
        }
        for (s = 0; s < n; s++) {
            labels_t l;

            series_labels(m, fam, s, &l);
            if (fam->type == F_COUNTER) {
                apr_uint64_t v = pds_metrics_word(m, m->offset[f] + s);

                if (fam->sparse && v == 0)
                    continue;
                puts_(&t, fam->name);
                put_labels(&t, &l, NULL);
                puts_(&t, apr_psprintf(p, " %" APR_UINT64_T_FMT "\n", v));
            }
            else {
                apr_uint64_t cum[PDS_METRICS_BUCKETS + 1], sum;
                hist_read(m, (family_e)f, s, cum, &sum);
                for (b = 0; b <= PDS_METRICS_BUCKETS; b++) {
                    puts_(&t, fam->name);
                    puts_(&t, "_bucket");
                    put_labels(&t, &l, b < PDS_METRICS_BUCKETS
                               ? seconds(p, (apr_uint64_t)pds_metrics_bucket_us[b]) : "+Inf");
                    puts_(&t, apr_psprintf(p, " %" APR_UINT64_T_FMT "\n", cum[b]));
                }
                puts_(&t, fam->name);
                puts_(&t, "_sum");
                put_labels(&t, &l, NULL);
                puts_(&t, apr_psprintf(p, " %s\n", seconds(p, sum)));
                puts_(&t, fam->name);
                puts_(&t, "_count");
                put_labels(&t, &l, NULL);
                puts_(&t, apr_psprintf(p, " %" APR_UINT64_T_FMT "\n",
                                       cum[PDS_METRICS_BUCKETS]));
            }
        }
    }
    if (plen != NULL)
        *plen = t.len;
    return t.buf;
}

/* Takes value's reference; 0 when either is NULL or the set failed. */
static int set(json_t *obj, const char *key, json_t *value)
{
    if (obj == NULL) {
        json_decref(value);
        return 0;
    }
    return value != NULL && json_object_set_new(obj, key, value) == 0;
}

static json_t *json_labels(const labels_t *l)
{
    json_t *o = json_object();
    int k;

    for (k = 0; o != NULL && k < l->n; k++) {
        if (!set(o, l->name[k], json_string(l->value[k]))) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static json_t *json_series(const pds_metrics_t *m, family_e f, apr_size_t s,
                           apr_pool_t *p)
{
    const family_t *fam = &pds_metrics_families[f];
    labels_t l;
    json_t *o = json_object();
    int b, ok;

    series_labels(m, fam, s, &l);
    ok = set(o, "labels", json_labels(&l));
    if (fam->type == F_COUNTER) {
        ok = ok && set(o, "value", json_integer((json_int_t)pds_metrics_word(m, m->offset[f] + s)));
    }
    else {
        apr_uint64_t cum[PDS_METRICS_BUCKETS + 1], sum;
        json_t *buckets = json_object();

        hist_read(m, f, s, cum, &sum);
        for (b = 0; buckets != NULL && b <= PDS_METRICS_BUCKETS; b++) {
            if (!set(buckets, b < PDS_METRICS_BUCKETS
                     ? seconds(p, (apr_uint64_t)pds_metrics_bucket_us[b]) : "+Inf",
                     json_integer((json_int_t)cum[b]))) {
                json_decref(buckets);
                buckets = NULL;
            }
        }
        ok = ok && set(o, "count", json_integer((json_int_t)cum[PDS_METRICS_BUCKETS]))
            && set(o, "sum", json_real((double)sum / APR_USEC_PER_SEC));
        if (ok)
            ok = set(o, "buckets", buckets);    /* takes buckets either way */
        else
            json_decref(buckets);
    }
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
    put(data, buffer, size);
    return 0;
}

char *pds_metrics_json(const pds_metrics_t *m, apr_pool_t *p, apr_size_t *plen)
{
    json_t *doc = json_object(), *all = json_object();
    text_t t = { p, NULL, 0, 0 };
    char *out = NULL;
    int f, ok;

    ok = doc != NULL && all != NULL;
    if (ok && m->mem != NULL) {
        ok = set(doc, "reset_time", json_string(pds_time_format(p, (apr_time_t)pds_metrics_word(m, 0))));
    }
    for (f = 0; ok && f < FAM_COUNT; f++) {
        const family_t *fam = &pds_metrics_families[f];
        json_t *jf = json_object(), *series = json_array();
        apr_size_t s, n = family_series(m, fam);

        ok = set(jf, "type", json_string(type_name(fam->type)))
            && set(jf, "help", json_string(fam->help))
            && (fam->type == F_GAUGE || series != NULL);
        if (ok && fam->type == F_GAUGE) {
            json_decref(series);
            series = NULL;
            ok = set(jf, "value", m->mem ? json_real((double)pds_metrics_word(m, 0) / APR_USEC_PER_SEC)
                                         : json_null());
        }
        for (s = 0; ok && series != NULL && m->mem != NULL && s < n; s++) {
            if (fam->sparse && pds_metrics_word(m, m->offset[f] + s) == 0)
                continue;
            ok = json_array_append_new(series, json_series(m, (family_e)f, s, p)) == 0;
        }
        if (ok && series != NULL) {
            ok = set(jf, "series", series);     /* takes series either way */
            series = NULL;
        }
        json_decref(series);
        if (!ok) {
            json_decref(jf);
            break;
        }
        ok = set(all, fam->name, jf);
    }
    if (ok)
        ok = set(doc, "metrics", all);      /* takes all either way */
    else
        json_decref(all);
    if (!ok) {
        json_decref(doc);
        return NULL;
    }
    /* Written straight into pool memory: nothing of jansson's to free. */
    if (json_dump_callback(doc, dump_cb, &t, JSON_COMPACT) == 0 && t.buf != NULL) {
        out = t.buf;
        if (plen != NULL)
            *plen = t.len;
    }
    json_decref(doc);
    return out;
}

