/* sts.c - AssumeRoleWithWebIdentity over libcurl; see sts.h. */
#include "s3/sts.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"
#include "s3/client.h"
#include "s3/xml.h"

#define MOD "s3"
#define FIELD_MAX ((size_t)64 << 10) /* one unescaped XML field */

static pthread_once_t sts_curl_once = PTHREAD_ONCE_INIT;
static CURLcode sts_curl_rc = CURLE_OK;

static void sts_curl_global(void) { sts_curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static void wipe_free(char **p) {
    if (*p) {
        OPENSSL_cleanse(*p, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

static void wipe_buf(dp_buf_t *b) {
    if (b->data) OPENSSL_cleanse(b->data, b->cap);
    dp_buf_fini(b);
}

void s3_sts_credentials_fini(s3_sts_credentials_t *c) {
    wipe_free(&c->access_key);
    wipe_free(&c->secret_key);
    wipe_free(&c->session_token);
    c->expires_ms = 0;
}

void s3_sts_regional_endpoint(const char *region, char *out, size_t n) {
    if (!region || !*region) region = "us-east-1";
    snprintf(out, n, "https://sts.%s.amazonaws.com%s", region,
             strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
}

/* ---- time ------------------------------------------------------------- */

static int digits(const char *s, size_t n, int *out) {
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* days_since_epoch: days from 1970-01-01 to y-m-d in the proleptic
 * Gregorian calendar, counting years from March so that the leap day is the
 * last day of a year. */
static int64_t days_since_epoch(int y, int m, int d) {
    int64_t yy = m <= 2 ? y - 1 : y;
    int64_t era = yy / 400; /* yy >= 1969 here, so no negative rounding */
    int64_t yoe = yy - era * 400;
    int64_t mp = m > 2 ? m - 3 : m + 9;
    int64_t doy = (153 * mp + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int s3_sts_parse_time(const char *s, size_t len, int64_t *ms) {
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    while (len > 0 && (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')) s++, len--;
    while (len > 0 &&
           (s[len - 1] == ' ' || s[len - 1] == '\n' || s[len - 1] == '\t' || s[len - 1] == '\r'))
        len--;
    int y, mo, d, h, mi, sec;
    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':')
        return -1;
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec))
        return -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59) return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap)) return -1;
    size_t i = 19;
    int frac_ms = 0;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (i - start < 3) frac_ms = frac_ms * 10 + (s[i] - '0');
            i++;
        }
        if (i == start || i - start > 9) return -1;
        for (size_t k = i - start; k < 3; k++) frac_ms *= 10;
    }
    const char *zone = s + i;
    size_t zlen = len - i;
    if (!((zlen == 1 && (zone[0] == 'Z' || zone[0] == 'z')) ||
          (zlen == 6 && (memcmp(zone, "+00:00", 6) == 0 || memcmp(zone, "-00:00", 6) == 0))))
        return -1;
    int64_t days = days_since_epoch(y, mo, d);
    *ms = ((days * 24 + h) * 60 + mi) * 60000 + (int64_t)sec * 1000 + frac_ms;
    return 0;
}

/* ---- parsing ---------------------------------------------------------- */

/* field: the unescaped text of <tag> in doc into a new string (NULL when
 * absent). DP_ERR_PROTO on a bad entity. */
static dp_err_t field(const char *doc, size_t len, const char *tag, char **out) {
    s3_xml_span_t v;
    *out = NULL;
    if (!s3_xml_find(doc, len, tag, &v)) return DP_OK;
    dp_buf_t b;
    dp_buf_init(&b, FIELD_MAX);
    dp_err_t err = s3_xml_unescape(v.p, v.len, &b);
    if (!err) {
        /* trim the blanks a pretty-printed answer puts around values */
        const char *p = (const char *)dp_buf_cstr(&b);
        size_t n = b.len;
        while (n > 0 && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++, n--;
        while (n > 0 &&
               (p[n - 1] == ' ' || p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == '\t'))
            n--;
        *out = dp_xmalloc(n + 1);
        memcpy(*out, p, n);
        (*out)[n] = 0;
    }
    wipe_buf(&b);
    return err ? DP_ERR_PROTO : DP_OK;
}

dp_err_t s3_sts_parse_credentials(const char *doc, size_t len, s3_sts_credentials_t *out,
                                  char *errstr, size_t errstr_size) {
    memset(out, 0, sizeof *out);
    s3_xml_span_t cr;
    if (!s3_xml_find(doc, len, "Credentials", &cr))
        return dp_seterr(errstr, errstr_size, DP_ERR_PROTO, "no <Credentials> in the answer");
    char *exp = NULL;
    dp_err_t err = field(cr.p, cr.len, "AccessKeyId", &out->access_key);
    if (!err) err = field(cr.p, cr.len, "SecretAccessKey", &out->secret_key);
    if (!err) err = field(cr.p, cr.len, "SessionToken", &out->session_token);
    if (!err) err = field(cr.p, cr.len, "Expiration", &exp);
    if (err) {
        dp_seterr(errstr, errstr_size, DP_ERR_PROTO, "bad XML entity in <Credentials>");
        goto fail;
    }
    if (!out->access_key || !*out->access_key || !out->secret_key || !*out->secret_key) {
        err = dp_seterr(errstr, errstr_size, DP_ERR_PROTO,
                        "<Credentials> lacks AccessKeyId or SecretAccessKey");
        goto fail;
    }
    if (out->session_token && !*out->session_token) wipe_free(&out->session_token);
    if (exp && *exp && s3_sts_parse_time(exp, strlen(exp), &out->expires_ms) != 0) {
        err = dp_seterr(errstr, errstr_size, DP_ERR_PROTO,
                        "<Expiration> \"%.40s\" is not an ISO 8601 UTC time", exp);
        goto fail;
    }
    free(exp);
    return DP_OK;
fail:
    free(exp);
    s3_sts_credentials_fini(out);
    return err;
}

/* ---- the call --------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *ctx) {
    dp_buf_t *b = ctx;
    return dp_buf_append(b, p, size * n) == DP_OK ? size * n : 0;
}

/* append_param: "&name=value" (no "&" first), value form-encoded. */
static dp_err_t append_param(CURL *h, dp_buf_t *body, const char *name, const char *value) {
    char *esc = curl_easy_escape(h, value, 0);
    if (!esc) return DP_ERR_NOMEM;
    dp_err_t err = dp_buf_printf(body, "%s%s=", body->len ? "&" : "", name);
    if (!err) err = dp_buf_puts(body, esc);
    OPENSSL_cleanse(esc, strlen(esc));
    curl_free(esc);
    return err;
}

static int retriable_code(const char *code) {
    static const char *const codes[] = {"Throttling",           "ThrottlingException",
                                        "RequestLimitExceeded", "IDPCommunicationError",
                                        "ServiceUnavailable",   "InternalFailure",
                                        "InternalError",        NULL};
    for (int i = 0; code && codes[i]; i++)
        if (strcmp(code, codes[i]) == 0) return 1;
    return 0;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {}
}

/* set_request: the POST of body to url, bounded by timeout_ms, the answer
 * into resp */
static void set_request(CURL *h, const char *url, struct curl_slist *hdrs, dp_buf_t *body,
                        long timeout_ms, char *curl_err, dp_buf_t *resp) {
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)dp_buf_cstr(body));
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
}

dp_err_t s3_sts_assume_role_with_web_identity(const s3_sts_request_t *req,
                                              s3_sts_credentials_t *out, char *errstr,
                                              size_t errstr_size) {
    memset(out, 0, sizeof *out);
    dp_err_t err = DP_OK;
    dp_buf_t body, resp, url;
    dp_buf_init(&body, FIELD_MAX * 2);
    dp_buf_init(&resp, S3_STS_MAX_RESPONSE);
    dp_buf_init(&url, 4096);
    CURL *h = NULL;
    struct curl_slist *hdrs = NULL;
    char curl_err[CURL_ERROR_SIZE];
    char what[600];
    snprintf(what, sizeof what, "sts AssumeRoleWithWebIdentity for role \"%.300s\" at \"%.200s\"",
             req->role_arn, req->endpoint);

    pthread_once(&sts_curl_once, sts_curl_global);
    if (sts_curl_rc != CURLE_OK) {
        err = dp_seterr(errstr, errstr_size, DP_ERR_S3, "%s: curl_global_init: %s", what,
                        curl_easy_strerror(sts_curl_rc));
        goto done;
    }
    h = curl_easy_init();
    if (!h) {
        err = dp_seterr(errstr, errstr_size, DP_ERR_S3, "%s: curl_easy_init failed", what);
        goto done;
    }
    size_t elen = strlen(req->endpoint);
    if (dp_buf_puts(&url, req->endpoint) ||
        (elen == 0 || req->endpoint[elen - 1] != '/' ? dp_buf_putc(&url, '/') : DP_OK) ||
        append_param(h, &body, "Action", "AssumeRoleWithWebIdentity") ||
        append_param(h, &body, "Version", S3_STS_VERSION) ||
        append_param(h, &body, "RoleArn", req->role_arn) ||
        append_param(h, &body, "RoleSessionName", req->session_name) ||
        append_param(h, &body, "WebIdentityToken", req->token)) {
        err = dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                        "%s: the endpoint, role ARN or token is too long", what);
        goto done;
    }
    hdrs =
        curl_slist_append(hdrs, "Content-Type: application/x-www-form-urlencoded; charset=utf-8");
    hdrs = curl_slist_append(hdrs, "Accept: text/xml");
    if (!hdrs) {
        err = dp_seterr(errstr, errstr_size, DP_ERR_NOMEM, "%s: out of memory", what);
        goto done;
    }
    long backoff = req->backoff_ms > 0 ? req->backoff_ms : 200;
    set_request(h, dp_buf_cstr(&url), hdrs, &body, req->timeout_ms > 0 ? req->timeout_ms : 30000,
                curl_err, &resp);

    for (int attempt = 0;; attempt++) {
        if (resp.data) OPENSSL_cleanse(resp.data, resp.cap);
        dp_buf_reset(&resp);
        curl_err[0] = 0;
        CURLcode cc = curl_easy_perform(h);
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        const char *doc = (const char *)dp_buf_cstr(&resp);
        int retry = 0;
        char detail[700];
        if (cc != CURLE_OK) {
            snprintf(detail, sizeof detail, "%s",
                     cc == CURLE_WRITE_ERROR ? "answer larger than 256 KiB"
                         : curl_err[0]       ? curl_err
                                             : curl_easy_strerror(cc));
            retry = cc != CURLE_WRITE_ERROR;
            err = DP_ERR_S3_RETRY;
        } else if (status >= 200 && status < 300) {
            char perr[200];
            err = s3_sts_parse_credentials(doc, resp.len, out, perr, sizeof perr);
            if (!err) break;
            err = dp_seterr(errstr, errstr_size, DP_ERR_PROTO, "%s: http %ld: %s", what, status,
                            perr);
            goto done;
        } else {
            char *code = NULL, *msg = NULL;
            field(doc, resp.len, "Code", &code);
            field(doc, resp.len, "Message", &msg);
            /* a message is STS's prose; drop it should it ever echo the token */
            if (msg && req->token && *req->token && strstr(msg, req->token)) wipe_free(&msg);
            snprintf(detail, sizeof detail, "http %ld %s: %s", status, code ? code : "",
                     msg ? msg : "");
            retry = status >= 500 || status == 429 || retriable_code(code);
            err = retry ? DP_ERR_S3_RETRY : DP_ERR_S3;
            free(code);
            free(msg);
        }
        if (!retry || attempt + 1 >= S3_STS_ATTEMPTS) {
            if (retry)
                dp_seterr(errstr, errstr_size, err, "%s: %s (after %d attempts)", what, detail,
                          attempt + 1);
            else
                dp_seterr(errstr, errstr_size, err, "%s: %s", what, detail);
            goto done;
        }
        uint64_t rnd = 0;
        if (RAND_bytes((unsigned char *)&rnd, sizeof rnd) != 1) rnd = (uint64_t)attempt;
        long delay = s3_backoff_ms(backoff, attempt, rnd);
        dp_warn(MOD, "%s: %s; retry %d of %d in %ld ms", what, detail, attempt + 1,
                S3_STS_ATTEMPTS - 1, delay);
        sleep_ms(delay);
    }

done:
    if (h) curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    wipe_buf(&body);
    wipe_buf(&resp);
    dp_buf_fini(&url);
    if (err) s3_sts_credentials_fini(out);
    return err;
}
