/* metrics.c - the registry, the text exposition format and the HTTP
 * server thread declared in metrics.h.
 *
 * Series live in one chained hash table per registry, keyed by (family,
 * label values), and in their family's list in creation order; both are
 * changed and walked only under the registry mutex. Values are atomics:
 * counters a uint64_t, gauges the bits of a double, histograms one
 * uint64_t per bucket (not cumulative; rendering adds them up) and the
 * bits of their double sum. */
#include "common/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

#define MOD "metrics"
#define RATE_SLOTS (DP_METRIC_RATE_WINDOW_S + 1)
#define MAX_REQUEST 8192
#define REQUEST_DEADLINE_MS 5000 /* a connection's whole life: request and answer */
#define MAX_CLIENTS 16 /* connections served at once */
#define MAX_BODY ((size_t)64 << 20)

struct dp_metric_series {
    dp_metric_t *f;
    char *values[DP_METRIC_MAX_LABELS];
    uint64_t hash;
    dp_metric_series_t *hnext; /* hash chain */
    dp_metric_series_t *next; /* family list */
    atomic_int hidden;
    _Atomic uint64_t value; /* counter count, gauge double bits */
    _Atomic uint64_t sum; /* histogram: double bits */
    _Atomic uint64_t *buckets; /* histogram: nbounds + 1 */
    /* rate sampling, only for counters read by a rate family */
    uint64_t sample_v[RATE_SLOTS];
    int64_t sample_ms[RATE_SLOTS];
    unsigned nsamples, sample_head;
    _Atomic uint64_t rate; /* double bits */
};

struct dp_metric {
    dp_metrics_t *reg;
    char *name, *help;
    dp_metric_type_t type;
    dp_metric_t *rate_src; /* a rate family: the counter it reads */
    int sampled; /* a counter some rate family reads */
    size_t nlabels;
    char *labels[DP_METRIC_MAX_LABELS];
    size_t nbounds;
    double bounds[DP_METRIC_MAX_BUCKETS];
    dp_metric_series_t *first, *last, *overflow;
    int warned;
    dp_metric_t *next;
};

struct dp_metrics {
    pthread_mutex_t lock;
    dp_metric_t *first, *last;
    size_t max_series, nseries;
    dp_metric_series_t **table;
    size_t table_size; /* power of two */
    int64_t last_tick_ms;
    pthread_mutex_t health_lock;
    int healthy;
    char reason[256];
};

static uint64_t d2u(double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double u2d(uint64_t u) {
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

dp_metrics_t *dp_metrics_new(size_t max_series) {
    dp_metrics_t *m = dp_xcalloc(1, sizeof *m);
    m->max_series = max_series ? max_series : DP_METRICS_DEFAULT_MAX_SERIES;
    m->table_size = 64;
    while (m->table_size < m->max_series && m->table_size < ((size_t)1 << 20)) m->table_size <<= 1;
    m->table = dp_xcalloc(m->table_size, sizeof *m->table);
    pthread_mutex_init(&m->lock, NULL);
    pthread_mutex_init(&m->health_lock, NULL);
    snprintf(m->reason, sizeof m->reason, "starting");
    return m;
}

static void series_free(dp_metric_series_t *s) {
    for (size_t i = 0; i < s->f->nlabels; i++) free(s->values[i]);
    free(s->buckets);
    free(s);
}

void dp_metrics_destroy(dp_metrics_t *m) {
    if (!m) return;
    dp_metric_t *f = m->first;
    while (f) {
        dp_metric_t *nf = f->next;
        dp_metric_series_t *s = f->first;
        while (s) {
            dp_metric_series_t *ns = s->next;
            series_free(s);
            s = ns;
        }
        for (size_t i = 0; i < f->nlabels; i++) free(f->labels[i]);
        free(f->name);
        free(f->help);
        free(f);
        f = nf;
    }
    free(m->table);
    pthread_mutex_destroy(&m->lock);
    pthread_mutex_destroy(&m->health_lock);
    free(m);
}

static int valid_name(const char *s, int colon) {
    if (!s || !*s) return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
            (colon && c == ':') || (p != s && c >= '0' && c <= '9');
        if (!ok) return 0;
    }
    return 1;
}

static dp_metric_t *find_family(dp_metrics_t *m, const char *name) {
    for (dp_metric_t *f = m->first; f; f = f->next)
        if (strcmp(f->name, name) == 0) return f;
    return NULL;
}

static dp_metric_series_t *series_new(dp_metric_t *f, const char *const *values, uint64_t hash) {
    dp_metric_series_t *s = dp_xcalloc(1, sizeof *s);
    s->f = f;
    s->hash = hash;
    for (size_t i = 0; i < f->nlabels; i++) s->values[i] = dp_xstrdup(values[i] ? values[i] : "");
    if (f->type == DP_METRIC_HISTOGRAM) {
        s->buckets = dp_xcalloc(f->nbounds + 1, sizeof *s->buckets);
        atomic_store(&s->sum, d2u(0.0));
    } else if (f->type == DP_METRIC_GAUGE) {
        atomic_store(&s->value, d2u(0.0));
    }
    atomic_store(&s->rate, d2u(0.0));
    if (f->sampled && f->reg->last_tick_ms > 0) {
        /* it was zero at the last tick: count its first events in the rate */
        s->sample_v[0] = 0;
        s->sample_ms[0] = f->reg->last_tick_ms;
        s->nsamples = 1;
        s->sample_head = 1;
    }
    if (f->last)
        f->last->next = s;
    else
        f->first = s;
    f->last = s;
    return s;
}

static uint64_t hash_values(const dp_metric_t *f, const char *const *values) {
    uint64_t h = 1469598103934665603ULL;
    uintptr_t fp = (uintptr_t)f;
    for (size_t i = 0; i < sizeof fp; i++) h = (h ^ ((fp >> (8 * i)) & 0xff)) * 1099511628211ULL;
    for (size_t i = 0; i < f->nlabels; i++) {
        for (const char *p = values[i] ? values[i] : ""; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        h = (h ^ 0xff) * 1099511628211ULL;
    }
    return h;
}

static dp_metric_t *family_new(dp_metrics_t *m, const char *name, const char *help,
                               dp_metric_type_t type, size_t nlabels, const char *const *labels) {
    if (!m || !valid_name(name, 1) || nlabels > DP_METRIC_MAX_LABELS) return NULL;
    for (size_t i = 0; i < nlabels; i++)
        if (!valid_name(labels[i], 0) || strncmp(labels[i], "__", 2) == 0 ||
            (type == DP_METRIC_HISTOGRAM && strcmp(labels[i], "le") == 0))
            return NULL;
    pthread_mutex_lock(&m->lock);
    if (find_family(m, name)) {
        pthread_mutex_unlock(&m->lock);
        return NULL;
    }
    dp_metric_t *f = dp_xcalloc(1, sizeof *f);
    f->reg = m;
    f->name = dp_xstrdup(name);
    f->help = dp_xstrdup(help ? help : "");
    f->type = type;
    f->nlabels = nlabels;
    for (size_t i = 0; i < nlabels; i++) f->labels[i] = dp_xstrdup(labels[i]);
    if (m->last)
        m->last->next = f;
    else
        m->first = f;
    m->last = f;
    pthread_mutex_unlock(&m->lock);
    return f;
}

dp_metric_t *dp_metric_counter(dp_metrics_t *m, const char *name, const char *help, size_t nlabels,
                               const char *const *labels) {
    dp_metric_t *f = family_new(m, name, help, DP_METRIC_COUNTER, nlabels, labels);
    if (f && !nlabels) dp_metric_series(f, NULL); /* an unlabelled family shows 0 at once */
    return f;
}

dp_metric_t *dp_metric_gauge(dp_metrics_t *m, const char *name, const char *help, size_t nlabels,
                             const char *const *labels) {
    dp_metric_t *f = family_new(m, name, help, DP_METRIC_GAUGE, nlabels, labels);
    if (f && !nlabels) dp_metric_series(f, NULL);
    return f;
}

dp_metric_t *dp_metric_histogram(dp_metrics_t *m, const char *name, const char *help,
                                 size_t nlabels, const char *const *labels, const double *bounds,
                                 size_t nbounds) {
    if (nbounds > DP_METRIC_MAX_BUCKETS || (nbounds && !bounds)) return NULL;
    for (size_t i = 0; i < nbounds; i++)
        if (!isfinite(bounds[i]) || (i && !(bounds[i] > bounds[i - 1]))) return NULL;
    dp_metric_t *f = family_new(m, name, help, DP_METRIC_HISTOGRAM, nlabels, labels);
    if (!f) return NULL;
    f->nbounds = nbounds;
    for (size_t i = 0; i < nbounds; i++) f->bounds[i] = bounds[i];
    if (!nlabels) dp_metric_series(f, NULL);
    return f;
}

dp_metric_t *dp_metric_rate(dp_metrics_t *m, const char *name, const char *help, dp_metric_t *src) {
    if (!src || src->reg != m || src->type != DP_METRIC_COUNTER) return NULL;
    dp_metric_t *f =
        family_new(m, name, help, DP_METRIC_GAUGE, src->nlabels, (const char *const *)src->labels);
    if (!f) return NULL;
    pthread_mutex_lock(&m->lock);
    f->rate_src = src;
    src->sampled = 1;
    pthread_mutex_unlock(&m->lock);
    return f;
}

/* lookup: the visible-or-hidden series of values in f; caller holds lock */
static dp_metric_series_t *lookup(dp_metric_t *f, const char *const *values, uint64_t h) {
    dp_metrics_t *m = f->reg;
    for (dp_metric_series_t *s = m->table[h & (m->table_size - 1)]; s; s = s->hnext) {
        if (s->hash != h || s->f != f) continue;
        size_t i = 0;
        while (i < f->nlabels && strcmp(s->values[i], values[i] ? values[i] : "") == 0) i++;
        if (i == f->nlabels) return s;
    }
    return NULL;
}

dp_metric_series_t *dp_metric_series(dp_metric_t *f, const char *const *values) {
    if (!f) return NULL;
    dp_metrics_t *m = f->reg;
    static const char *const none[DP_METRIC_MAX_LABELS] = {"", "", "", ""};
    if (!values) values = none;
    uint64_t h = hash_values(f, values);
    pthread_mutex_lock(&m->lock);
    dp_metric_series_t *s = lookup(f, values, h);
    if (s) {
        atomic_store(&s->hidden, 0);
    } else if (m->nseries < m->max_series) {
        s = series_new(f, values, h);
        s->hnext = m->table[h & (m->table_size - 1)];
        m->table[h & (m->table_size - 1)] = s;
        m->nseries++;
    } else {
        if (!f->overflow) {
            static const char *const ov[DP_METRIC_MAX_LABELS] = {"overflow", "overflow", "overflow",
                                                                 "overflow"};
            f->overflow = series_new(f, ov, 0);
        }
        s = f->overflow;
        if (!f->warned) {
            f->warned = 1;
            dp_warn(MOD,
                    "more than %zu metric series: new series of \"%s\" are counted in its "
                    "series labelled \"overflow\"",
                    m->max_series, f->name);
        }
    }
    pthread_mutex_unlock(&m->lock);
    return s;
}

void dp_metric_remove(dp_metric_t *f, const char *const *values) {
    if (!f || !f->nlabels) return;
    pthread_mutex_lock(&f->reg->lock);
    dp_metric_series_t *s = lookup(f, values, hash_values(f, values));
    if (s) atomic_store(&s->hidden, 1);
    pthread_mutex_unlock(&f->reg->lock);
}

void dp_metric_add(dp_metric_series_t *s, uint64_t v) {
    if (!s) return;
    if (s->f->type == DP_METRIC_COUNTER) {
        atomic_fetch_add_explicit(&s->value, v, memory_order_relaxed);
    } else if (s->f->type == DP_METRIC_GAUGE) {
        uint64_t old = atomic_load(&s->value);
        while (!atomic_compare_exchange_weak(&s->value, &old, d2u(u2d(old) + (double)v))) {}
    }
}

void dp_metric_set(dp_metric_series_t *s, double v) {
    if (!s) return;
    if (s->f->type == DP_METRIC_COUNTER)
        atomic_store_explicit(&s->value, v > 0 && v < 1.8e19 ? (uint64_t)v : 0,
                              memory_order_relaxed);
    else if (s->f->type == DP_METRIC_GAUGE)
        atomic_store_explicit(&s->value, d2u(v), memory_order_relaxed);
}

void dp_metric_observe(dp_metric_series_t *s, double v) {
    if (!s || s->f->type != DP_METRIC_HISTOGRAM || isnan(v)) return;
    size_t b = 0;
    while (b < s->f->nbounds && v > s->f->bounds[b]) b++;
    atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
    uint64_t old = atomic_load(&s->sum);
    while (!atomic_compare_exchange_weak(&s->sum, &old, d2u(u2d(old) + v))) {}
}

double dp_metric_value(const dp_metric_series_t *s) {
    if (!s) return 0;
    switch (s->f->type) {
    case DP_METRIC_COUNTER: return (double)atomic_load(&s->value);
    case DP_METRIC_GAUGE: return u2d(atomic_load(&s->value));
    case DP_METRIC_HISTOGRAM: {
        uint64_t n = 0;
        for (size_t i = 0; i <= s->f->nbounds; i++) n += atomic_load(&s->buckets[i]);
        return (double)n;
    }
    }
    return 0;
}

void dp_metrics_tick(dp_metrics_t *m, int64_t now_ms) {
    if (!m || (m->last_tick_ms && now_ms - m->last_tick_ms < 1000)) return;
    pthread_mutex_lock(&m->lock);
    m->last_tick_ms = now_ms;
    for (dp_metric_t *f = m->first; f; f = f->next) {
        if (!f->sampled) continue;
        for (dp_metric_series_t *s = f->first; s; s = s->next) {
            uint64_t v = atomic_load(&s->value);
            s->sample_v[s->sample_head] = v;
            s->sample_ms[s->sample_head] = now_ms;
            s->sample_head = (s->sample_head + 1) % RATE_SLOTS;
            if (s->nsamples < RATE_SLOTS) s->nsamples++;
            /* the oldest of the samples kept: up to 10 s back */
            unsigned oldest = (s->sample_head + RATE_SLOTS - s->nsamples) % RATE_SLOTS;
            double dt = (double)(now_ms - s->sample_ms[oldest]) / 1000.0;
            uint64_t old = s->sample_v[oldest];
            double r = dt > 0 && v >= old ? (double)(v - old) / dt : 0.0;
            atomic_store(&s->rate, d2u(r));
        }
    }
    pthread_mutex_unlock(&m->lock);
}

/* ---- the text exposition format ---- */

/* put_double: shortest of %.15g / %.17g that reads back as v; the
 * format's spellings of the non-finite values */
static void put_double(dp_buf_t *b, double v) {
    if (isnan(v)) {
        dp_buf_puts(b, "NaN");
        return;
    }
    if (isinf(v)) {
        dp_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%.15g", v);
    if (strtod(tmp, NULL) != v) snprintf(tmp, sizeof tmp, "%.17g", v);
    dp_buf_puts(b, tmp);
}

/* put_escaped: label values escape backslash, quote and newline; HELP
 * text escapes backslash and newline only */
static void put_escaped(dp_buf_t *b, const char *s, int quote) {
    for (; *s; s++) {
        if (*s == '\\')
            dp_buf_puts(b, "\\\\");
        else if (*s == '\n')
            dp_buf_puts(b, "\\n");
        else if (quote && *s == '"')
            dp_buf_puts(b, "\\\"");
        else
            dp_buf_putc(b, *s);
    }
}

static void put_labels(dp_buf_t *b, const dp_metric_series_t *s, const char *le) {
    const dp_metric_t *f = s->f;
    if (!f->nlabels && !le) return;
    dp_buf_putc(b, '{');
    for (size_t i = 0; i < f->nlabels; i++) {
        if (i) dp_buf_putc(b, ',');
        dp_buf_puts(b, f->labels[i]);
        dp_buf_puts(b, "=\"");
        put_escaped(b, s->values[i], 1);
        dp_buf_putc(b, '"');
    }
    if (le) {
        if (f->nlabels) dp_buf_putc(b, ',');
        dp_buf_puts(b, "le=\"");
        dp_buf_puts(b, le);
        dp_buf_putc(b, '"');
    }
    dp_buf_putc(b, '}');
}

static void render_series(dp_buf_t *b, const dp_metric_t *f, const dp_metric_series_t *s) {
    if (f->rate_src) {
        dp_buf_puts(b, f->name);
        put_labels(b, s, NULL);
        dp_buf_putc(b, ' ');
        put_double(b, u2d(atomic_load(&s->rate)));
        dp_buf_putc(b, '\n');
        return;
    }
    switch (f->type) {
    case DP_METRIC_COUNTER:
        dp_buf_puts(b, f->name);
        put_labels(b, s, NULL);
        dp_buf_printf(b, " %llu\n", (unsigned long long)atomic_load(&s->value));
        break;
    case DP_METRIC_GAUGE:
        dp_buf_puts(b, f->name);
        put_labels(b, s, NULL);
        dp_buf_putc(b, ' ');
        put_double(b, u2d(atomic_load(&s->value)));
        dp_buf_putc(b, '\n');
        break;
    case DP_METRIC_HISTOGRAM: {
        uint64_t cum = 0;
        char le[40];
        for (size_t i = 0; i <= f->nbounds; i++) {
            cum += atomic_load(&s->buckets[i]);
            if (i < f->nbounds) {
                dp_buf_t tb;
                dp_buf_init(&tb, sizeof le - 1);
                put_double(&tb, f->bounds[i]);
                snprintf(le, sizeof le, "%s", dp_buf_cstr(&tb));
                dp_buf_fini(&tb);
            } else {
                snprintf(le, sizeof le, "+Inf");
            }
            dp_buf_printf(b, "%s_bucket", f->name);
            put_labels(b, s, le);
            dp_buf_printf(b, " %llu\n", (unsigned long long)cum);
        }
        dp_buf_printf(b, "%s_sum", f->name);
        put_labels(b, s, NULL);
        dp_buf_putc(b, ' ');
        put_double(b, u2d(atomic_load(&s->sum)));
        dp_buf_printf(b, "\n%s_count", f->name);
        put_labels(b, s, NULL);
        dp_buf_printf(b, " %llu\n", (unsigned long long)cum);
        break;
    }
    }
}

dp_err_t dp_metrics_render(dp_metrics_t *m, dp_buf_t *out) {
    static const char *const types[] = {"counter", "gauge", "histogram"};
    pthread_mutex_lock(&m->lock);
    for (const dp_metric_t *f = m->first; f && !out->overflow; f = f->next) {
        dp_buf_printf(out, "# HELP %s ", f->name);
        put_escaped(out, f->help, 0);
        dp_buf_printf(out, "\n# TYPE %s %s\n", f->name, types[f->type]);
        const dp_metric_t *src = f->rate_src ? f->rate_src : f;
        for (const dp_metric_series_t *s = src->first; s && !out->overflow; s = s->next)
            if (!atomic_load(&s->hidden)) render_series(out, f, s);
    }
    pthread_mutex_unlock(&m->lock);
    return out->overflow ? DP_ERR_NOMEM : DP_OK;
}

/* ---- health ---- */

void dp_metrics_set_health(dp_metrics_t *m, int ok, const char *reason) {
    if (!m) return;
    pthread_mutex_lock(&m->health_lock);
    m->healthy = ok;
    if (ok && reason && *reason)
        snprintf(m->reason, sizeof m->reason, "ok: %s", reason);
    else
        snprintf(m->reason, sizeof m->reason, "%s",
                 ok                      ? "ok"
                     : reason && *reason ? reason
                                         : "unhealthy");
    pthread_mutex_unlock(&m->health_lock);
}

int dp_metrics_health(dp_metrics_t *m, char *reason, size_t reason_size) {
    pthread_mutex_lock(&m->health_lock);
    int ok = m->healthy;
    if (reason && reason_size) snprintf(reason, reason_size, "%s", m->reason);
    pthread_mutex_unlock(&m->health_lock);
    return ok;
}

/* ---- HTTP ---- */

static void respond(dp_buf_t *out, int status, const char *ctype, const char *body, size_t len,
                    int head) {
    const char *text = status == 200 ? "OK"
        : status == 400              ? "Bad Request"
        : status == 404              ? "Not Found"
        : status == 405              ? "Method Not Allowed"
        : status == 431              ? "Request Header Fields Too Large"
        : status == 503              ? "Service Unavailable"
                                     : "Internal Server Error";
    dp_buf_reset(out);
    dp_buf_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n", status,
                  text, ctype, len);
    if (status == 405) dp_buf_puts(out, "Allow: GET, HEAD\r\n");
    dp_buf_puts(out, "Connection: close\r\n\r\n");
    if (!head) dp_buf_append(out, body, len);
}

void dp_metrics_handle(dp_metrics_t *m, const char *req, size_t len, dp_buf_t *out) {
    static const char *const plain = "text/plain; charset=utf-8";
    /* request line: METHOD SP TARGET SP HTTP/x.y CRLF */
    const char *end = memchr(req, '\n', len);
    const char *sp1 = end ? memchr(req, ' ', (size_t)(end - req)) : NULL;
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1)) : NULL;
    if (!sp2 || sp1 == req || sp2 == sp1 + 1 || end - sp2 < 9 ||
        strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
        respond(out, 400, plain, "bad request\n", 12, 0);
        return;
    }
    size_t mlen = (size_t)(sp1 - req);
    int head = mlen == 4 && memcmp(req, "HEAD", 4) == 0;
    if (!head && !(mlen == 3 && memcmp(req, "GET", 3) == 0)) {
        respond(out, 405, plain, "method not allowed\n", 19, 0);
        return;
    }
    const char *path = sp1 + 1;
    size_t plen = (size_t)(sp2 - path);
    const char *q = memchr(path, '?', plen);
    if (q) plen = (size_t)(q - path);
    if (plen == 8 && memcmp(path, "/metrics", 8) == 0) {
        dp_buf_t body;
        dp_buf_init(&body, MAX_BODY);
        if (dp_metrics_render(m, &body)) {
            respond(out, 500, plain, "metrics too large\n", 18, head);
        } else {
            respond(out, 200, "text/plain; version=0.0.4; charset=utf-8", (const char *)body.data,
                    body.len, head);
        }
        dp_buf_fini(&body);
    } else if (plen == 7 && memcmp(path, "/health", 7) == 0) {
        char reason[300];
        int ok = dp_metrics_health(m, reason, sizeof reason - 1);
        size_t rl = strlen(reason);
        reason[rl++] = '\n';
        respond(out, ok ? 200 : 503, plain, reason, rl, head);
    } else {
        respond(out, 404, plain, "not found\n", 10, head);
    }
}

/* The server: one thread, one poll() over the listening socket, the stop
 * pipe and up to MAX_CLIENTS connections, each non-blocking with a total
 * deadline of REQUEST_DEADLINE_MS from its accept. A slow or idle client
 * holds only its own slot, never the others' answers; when every slot is
 * taken, the oldest connection is dropped for the new one. */
typedef struct client {
    int fd; /* -1: free slot */
    int64_t deadline_ms;
    uint64_t seq; /* accept order: the smallest is the oldest */
    size_t len; /* request bytes read */
    int writing; /* the answer is in out, sent up to off */
    size_t off;
    dp_buf_t out;
    char req[MAX_REQUEST + 1];
} client_t;

struct dp_metrics_server {
    dp_metrics_t *m;
    int fd, wake[2], port;
    pthread_t thread;
    uint64_t accepted;
    client_t clients[MAX_CLIENTS];
};

static void client_close(client_t *c) {
    if (c->fd < 0) return;
    close(c->fd);
    c->fd = -1;
    if (c->writing) dp_buf_fini(&c->out);
    c->writing = 0;
}

static void client_answer(dp_metrics_server_t *srv, client_t *c, int complete) {
    dp_buf_init(&c->out, MAX_BODY + 4096);
    c->writing = 1;
    c->off = 0;
    if (complete)
        dp_metrics_handle(srv->m, c->req, c->len, &c->out);
    else
        respond(&c->out, 431, "text/plain; charset=utf-8", "request too large\n", 18, 0);
}

/* client_step: read or write what the socket takes now; 0 when done */
static int client_step(dp_metrics_server_t *srv, client_t *c) {
    if (!c->writing) {
        ssize_t r = recv(c->fd, c->req + c->len, MAX_REQUEST - c->len, 0);
        if (r < 0) return errno == EAGAIN || errno == EINTR;
        if (r == 0) return 0;
        c->len += (size_t)r;
        c->req[c->len] = 0;
        if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n"))
            client_answer(srv, c, 1);
        else if (c->len >= MAX_REQUEST)
            client_answer(srv, c, 0);
        else
            return 1;
    }
    ssize_t w = send(c->fd, c->out.data + c->off, c->out.len - c->off, MSG_NOSIGNAL);
    if (w < 0) return errno == EAGAIN || errno == EINTR;
    c->off += (size_t)w;
    return c->off < c->out.len;
}

static void client_accept(dp_metrics_server_t *srv, int64_t now) {
    int fd = accept4(srv->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    client_t *slot = NULL;
    for (int i = 0; i < MAX_CLIENTS; i++) {
        client_t *c = &srv->clients[i];
        if (c->fd < 0) {
            slot = c;
            break;
        }
        if (!slot || c->seq < slot->seq) slot = c; /* the oldest */
    }
    client_close(slot);
    slot->fd = fd;
    slot->len = 0;
    slot->seq = ++srv->accepted;
    slot->deadline_ms = now + REQUEST_DEADLINE_MS;
}

static void *server_thread(void *arg) {
    dp_metrics_server_t *srv = arg;
    for (;;) {
        struct pollfd p[2 + MAX_CLIENTS];
        int who[MAX_CLIENTS], n = 2;
        int64_t now = dp_mono_ms(), timeout = -1;
        p[0] = (struct pollfd){srv->fd, POLLIN, 0};
        p[1] = (struct pollfd){srv->wake[0], POLLIN, 0};
        for (int i = 0; i < MAX_CLIENTS; i++) {
            client_t *c = &srv->clients[i];
            if (c->fd < 0) continue;
            int64_t left = c->deadline_ms > now ? c->deadline_ms - now : 0;
            if (timeout < 0 || left < timeout) timeout = left;
            who[n - 2] = i;
            p[n++] = (struct pollfd){c->fd, c->writing ? POLLOUT : POLLIN, 0};
        }
        if (poll(p, (nfds_t)n, (int)timeout) < 0) {
            if (errno == EINTR) continue;
            dp_error(MOD, "poll: %s", strerror(errno));
            break;
        }
        if (p[1].revents) break;
        now = dp_mono_ms();
        for (int k = 2; k < n; k++) {
            client_t *c = &srv->clients[who[k - 2]];
            if ((p[k].revents && !client_step(srv, c)) || now >= c->deadline_ms) client_close(c);
        }
        if (p[0].revents & POLLIN) client_accept(srv, now);
    }
    for (int i = 0; i < MAX_CLIENTS; i++) client_close(&srv->clients[i]);
    return NULL;
}

dp_metrics_server_t *dp_metrics_server_start(dp_metrics_t *m, const char *host, int port,
                                             char *errstr, size_t n) {
    if (!host || !*host) host = "127.0.0.1";
    char ports[16];
    snprintf(ports, sizeof ports, "%d", port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int gai = getaddrinfo(host, ports, &hints, &res);
    if (gai) {
        dp_seterr(errstr, n, DP_ERR_CONFIG, "metrics endpoint %s:%d: %s", host, port,
                  gai_strerror(gai));
        return NULL;
    }
    int fd = -1, e = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 16)) {
            e = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        dp_seterr(errstr, n, DP_ERR_NET, "metrics endpoint %s:%d: %s", host, port, strerror(e));
        return NULL;
    }
    dp_metrics_server_t *srv = dp_xcalloc(1, sizeof *srv);
    srv->m = m;
    srv->fd = fd;
    for (int i = 0; i < MAX_CLIENTS; i++) srv->clients[i].fd = -1;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    srv->port = port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        srv->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                             : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    /* signals stay with the service's threads: the thread starts with all blocked */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int bad = pipe2(srv->wake, O_CLOEXEC) || pthread_create(&srv->thread, NULL, server_thread, srv);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (bad) {
        dp_seterr(errstr, n, DP_ERR_IO, "metrics endpoint %s:%d: cannot start: %s", host, port,
                  strerror(errno));
        close(fd);
        if (srv->wake[0] > 0) {
            close(srv->wake[0]);
            close(srv->wake[1]);
        }
        free(srv);
        return NULL;
    }
    dp_info(MOD, "serving /metrics and /health on %s:%d", host, srv->port);
    return srv;
}

int dp_metrics_server_port(const dp_metrics_server_t *srv) { return srv ? srv->port : 0; }

void dp_metrics_server_stop(dp_metrics_server_t *srv) {
    if (!srv) return;
    ssize_t w;
    do w = write(srv->wake[1], "x", 1);
    while (w < 0 && errno == EINTR);
    pthread_join(srv->thread, NULL);
    close(srv->fd);
    close(srv->wake[0]);
    close(srv->wake[1]);
    free(srv);
}
