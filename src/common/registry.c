/* registry.c - the schema registry client: two REST calls over libcurl,
 * bounded answers, retries of what may pass, errors that name the
 * registry and the subject. */
#include "common/registry.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/json.h"

#define MAX_ANSWER (16u << 20)
#define ATTEMPTS 3

struct dp_registry {
    char **urls;
    size_t nurls;
    long timeout_ms;
    char *ca_file, *user_info; /* NULL: the system's CAs; no basic auth of our own */
    CURL *curl;
};

static pthread_once_t reg_once = PTHREAD_ONCE_INIT;
static CURLcode reg_global_rc = CURLE_OK;
static void reg_global(void) { reg_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

void dp_registry_redact(const char *url, char *out, size_t out_size) {
    const char *p = strstr(url, "://");
    const char *host = p ? p + 3 : url;
    const char *slash = strchr(host, '/');
    const char *at = strchr(host, '@');
    if (at && (!slash || at < slash))
        snprintf(out, out_size, "%.*s***@%s", (int)(host - url), url, at + 1);
    else
        snprintf(out, out_size, "%s", url);
}

dp_err_t dp_registry_opts_of(const cfg_registry_side_t *keys, const char *side,
                             dp_registry_opts_t *out, char *errstr, size_t errstr_size) {
    memset(out, 0, sizeof *out);
    out->ca_file = keys->ca_location && *keys->ca_location ? keys->ca_location : NULL;
    if (keys->auth_source && strcasecmp(keys->auth_source, "USER_INFO") == 0) {
        if (!keys->user_info || !strchr(keys->user_info, ':'))
            return dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                             "\"%s.converter.basic.auth.credentials.source\" is USER_INFO: set "
                             "\"%s.converter.basic.auth.user.info\" to user:password",
                             side, side);
        out->user_info = keys->user_info;
    }
    return DP_OK;
}

dp_registry_t *dp_registry_new(const char *urls, const dp_registry_opts_t *opts, char *errstr,
                               size_t errstr_size) {
    long timeout_ms = opts ? opts->timeout_ms : 0;
    pthread_once(&reg_once, reg_global);
    if (reg_global_rc != CURLE_OK) {
        dp_seterr(errstr, errstr_size, DP_ERR_IO, "schema registry: curl_global_init: %s",
                  curl_easy_strerror(reg_global_rc));
        return NULL;
    }
    dp_registry_t *r = dp_xcalloc(1, sizeof *r);
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
    if (opts && opts->ca_file) r->ca_file = dp_xstrdup(opts->ca_file);
    if (opts && opts->user_info) r->user_info = dp_xstrdup(opts->user_info);
    char *copy = dp_xstrdup(urls ? urls : ""), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        size_t l = strlen(tok);
        while (l && (tok[l - 1] == ' ' || tok[l - 1] == '/')) tok[--l] = 0;
        if (!l) continue;
        r->urls = dp_xrealloc(r->urls, sizeof *r->urls * (r->nurls + 1));
        r->urls[r->nurls++] = dp_xstrdup(tok);
    }
    free(copy);
    if (!r->nurls) {
        dp_seterr(errstr, errstr_size, DP_ERR_CONFIG, "schema registry: no url");
        dp_registry_destroy(r);
        return NULL;
    }
    if (!(r->curl = curl_easy_init())) {
        dp_seterr(errstr, errstr_size, DP_ERR_IO, "schema registry: curl_easy_init failed");
        dp_registry_destroy(r);
        return NULL;
    }
    return r;
}

void dp_registry_destroy(dp_registry_t *r) {
    if (!r) return;
    for (size_t i = 0; i < r->nurls; i++) free(r->urls[i]);
    free(r->urls);
    free(r->ca_file);
    if (r->user_info) {
        memset(r->user_info, 0, strlen(r->user_info)); /* a secret */
        free(r->user_info);
    }
    if (r->curl) curl_easy_cleanup(r->curl);
    free(r);
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud) {
    dp_buf_t *b = ud;
    return dp_buf_append(b, p, size * nmemb) ? 0 : size * nmemb;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* request: method path (body may be NULL) against each registry in turn,
 * up to ATTEMPTS rounds; on success *status is the HTTP status (any) and
 * resp the answer. what names the call for messages. */
static dp_err_t request(dp_registry_t *r, const char *path, const char *body, size_t blen,
                        long *status, dp_buf_t *resp, const char *what, char *errstr,
                        size_t errstr_size) {
    char cerr[CURL_ERROR_SIZE];
    dp_err_t err = DP_ERR_NET;
    char shown[512] = "";
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        if (attempt) sleep_ms(250L << attempt);
        for (size_t u = 0; u < r->nurls; u++) {
            char url[2048];
            snprintf(url, sizeof url, "%s%s", r->urls[u], path);
            dp_registry_redact(r->urls[u], shown, sizeof shown);
            struct curl_slist *h = NULL;
            h = curl_slist_append(h,
                                  "Accept: application/vnd.schemaregistry.v1+json, "
                                  "application/vnd.schemaregistry+json, application/json");
            if (body)
                h = curl_slist_append(h, "Content-Type: application/vnd.schemaregistry.v1+json");
            h = curl_slist_append(h, "Expect:");
            CURL *c = r->curl;
            curl_easy_reset(c);
            cerr[0] = 0;
            dp_buf_reset(resp);
            curl_easy_setopt(c, CURLOPT_URL, url);
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
            curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
            curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
            curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, r->timeout_ms);
            curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, r->timeout_ms);
            curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
            curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
            if (r->ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, r->ca_file);
            if (r->user_info) {
                curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
                curl_easy_setopt(c, CURLOPT_USERPWD, r->user_info);
            }
            if (body) {
                curl_easy_setopt(c, CURLOPT_POST, 1L);
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
            }
            CURLcode rc = curl_easy_perform(c);
            curl_slist_free_all(h);
            if (rc != CURLE_OK) {
                err = dp_seterr(errstr, errstr_size, DP_ERR_NET, "schema registry %s: %s: %s",
                                shown, what, cerr[0] ? cerr : curl_easy_strerror(rc));
                if (rc == CURLE_WRITE_ERROR)
                    return dp_seterr(errstr, errstr_size, DP_ERR_PROTO,
                                     "schema registry %s: %s: answer larger than %u bytes", shown,
                                     what, MAX_ANSWER);
                continue;
            }
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
            if (*status >= 500) {
                err = dp_seterr(errstr, errstr_size, DP_ERR_NET,
                                "schema registry %s: %s: HTTP %ld %.*s", shown, what, *status,
                                (int)(resp->len > 300 ? 300 : resp->len), (const char *)resp->data);
                continue;
            }
            dp_buf_cstr(resp);
            return DP_OK;
        }
    }
    return err;
}

void dp_registry_parse_error(const char *body, size_t len, long long *code, dp_buf_t *msg) {
    dp_json_t j = {0};
    char jerr[64];
    *code = 0;
    dp_buf_reset(msg);
    if (dp_json_parse(&j, body, len, 4096, jerr, sizeof jerr) == DP_OK) {
        uint32_t m = dp_json_get(&j, 0, "message"), c = dp_json_get(&j, 0, "error_code");
        if (m) dp_json_str(&j, m, msg);
        int64_t v;
        if (c && dp_json_int64(&j, c, &v) == DP_OK) *code = v;
    }
    dp_json_fini(&j);
}

int dp_registry_parse_id(const char *body, size_t len, int32_t *id) {
    dp_json_t j = {0};
    char jerr[128];
    int64_t v = -1;
    uint32_t n;
    int rc = -1;
    if (dp_json_parse(&j, body, len, 4096, jerr, sizeof jerr) == DP_OK &&
        (n = dp_json_get(&j, 0, "id")) && dp_json_int64(&j, n, &v) == DP_OK && v >= 0 &&
        v <= INT32_MAX) {
        *id = (int32_t)v;
        rc = 0;
    }
    dp_json_fini(&j);
    return rc;
}

dp_err_t dp_registry_parse_schema(const char *body, size_t len, dp_buf_t *out) {
    dp_json_t j = {0};
    char jerr[128];
    uint32_t n = 0;
    dp_err_t err = DP_OK;
    if (dp_json_parse(&j, body, len, 1u << 20, jerr, sizeof jerr) != DP_OK ||
        !(n = dp_json_get(&j, 0, "schema")) || dp_json_str(&j, n, out) != DP_OK)
        err = DP_ERR_PROTO;
    else
        dp_buf_cstr(out);
    dp_json_fini(&j);
    return err;
}

/* answer_error: the registry's {"error_code", "message"} as an error */
static dp_err_t answer_error(dp_registry_t *r, long status, dp_buf_t *resp, const char *what,
                             char *errstr, size_t errstr_size) {
    char shown[512];
    dp_registry_redact(r->urls[0], shown, sizeof shown);
    dp_buf_t msg;
    dp_buf_init(&msg, 1024);
    long long code = 0;
    dp_registry_parse_error((const char *)resp->data, resp->len, &code, &msg);
    if (!msg.len) dp_buf_append(&msg, resp->data, resp->len > 300 ? 300 : resp->len);
    dp_err_t err = dp_seterr(errstr, errstr_size, DP_ERR_PROTO,
                             "schema registry %s: %s: HTTP %ld (error code %lld): %.*s", shown,
                             what, status, code, (int)msg.len, (const char *)msg.data);
    dp_buf_fini(&msg);
    return err;
}

dp_err_t dp_registry_register(dp_registry_t *r, const char *subject, const char *schema,
                              size_t schema_len, int32_t *id, char *errstr, size_t errstr_size) {
    char what[600];
    snprintf(what, sizeof what, "register a schema under subject \"%s\"", subject);
    char *esc = curl_easy_escape(r->curl, subject, (int)strlen(subject));
    if (!esc) return dp_seterr(errstr, errstr_size, DP_ERR_NOMEM, "schema registry: escape failed");
    char path[2048];
    snprintf(path, sizeof path, "/subjects/%s/versions", esc);
    curl_free(esc);
    dp_buf_t body, resp;
    dp_buf_init(&body, schema_len * 6 + 64);
    dp_buf_init(&resp, MAX_ANSWER);
    dp_buf_puts(&body, "{\"schema\":");
    dp_json_put_str(&body, schema, schema_len);
    dp_buf_putc(&body, '}');
    long status = 0;
    dp_err_t err = request(r, path, (const char *)body.data, body.len, &status, &resp, what, errstr,
                           errstr_size);
    if (!err && status != 200) err = answer_error(r, status, &resp, what, errstr, errstr_size);
    if (!err && dp_registry_parse_id((const char *)resp.data, resp.len, id) != 0) {
        char shown[512];
        dp_registry_redact(r->urls[0], shown, sizeof shown);
        err =
            dp_seterr(errstr, errstr_size, DP_ERR_PROTO,
                      "schema registry %s: %s: no id in "
                      "the answer %.*s",
                      shown, what, (int)(resp.len > 200 ? 200 : resp.len), (const char *)resp.data);
    }
    dp_buf_fini(&body);
    dp_buf_fini(&resp);
    return err;
}

dp_err_t dp_registry_register_cb(void *ctx, const char *subject, const char *schema,
                                 size_t schema_len, int32_t *id, char *errstr, size_t errstr_size) {
    return dp_registry_register(ctx, subject, schema, schema_len, id, errstr, errstr_size);
}

dp_err_t dp_registry_schema(dp_registry_t *r, int32_t id, dp_buf_t *out, char *errstr,
                            size_t errstr_size) {
    char what[128], path[64];
    snprintf(what, sizeof what, "fetch the schema with id %d", (int)id);
    snprintf(path, sizeof path, "/schemas/ids/%d", (int)id);
    dp_buf_t resp;
    dp_buf_init(&resp, MAX_ANSWER);
    long status = 0;
    dp_err_t err = request(r, path, NULL, 0, &status, &resp, what, errstr, errstr_size);
    if (!err && status != 200) err = answer_error(r, status, &resp, what, errstr, errstr_size);
    if (!err && dp_registry_parse_schema((const char *)resp.data, resp.len, out) != DP_OK)
        err = dp_seterr(errstr, errstr_size, DP_ERR_PROTO,
                        "schema registry: %s: no schema in the answer", what);
    dp_buf_fini(&resp);
    return err;
}
