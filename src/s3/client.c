/* client.c - S3 requests over one kept-alive curl handle, signed with SigV4,
 * retried with exponential backoff and jitter, multipart above part_size. */
#include "s3/client.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/retry.h"
#include "common/log.h"
#include "s3/sigv4.h"
#include "s3/xml.h"

#define ERR_BODY_MAX ((size_t)64 << 10) /* an S3 <Error> document is < 1 KiB */
#define SMALL_BODY_MAX ((size_t)1 << 20) /* create/complete multipart answers */
#define LIST_BODY_MAX ((size_t)16 << 20) /* 1000 keys of 1 KiB plus markup */
#define HEADERS_MAX ((size_t)64 << 10)
#define ETAG_MAX 256

struct s3_client {
    char *scheme_host; /* "https://bucket.s3.eu-west-1.amazonaws.com" */
    char *host; /* Host header value, exactly what is signed */
    char *bucket, *region, *access_key, *secret_key, *session_token;
    char *sse, *kms_key_id;
    char *ca_file; /* NULL: the system's CAs */
    int path_style;
    size_t part_size;
    long timeout_ms, backoff_ms;
    int max_retries, list_max_keys;
    int create_only;
    CURL *curl;
    uint64_t rng;
    long clock_skew_s; /* server clock minus ours, learned from RequestTimeTooSkewed */
    char curl_err[CURL_ERROR_SIZE];
};

/* One request as the operations describe it. */
typedef struct s3_req {
    const char *op; /* "put", "get", ... for messages */
    const char *method; /* HTTP method */
    const char *key; /* raw object key, NULL for the bucket itself */
    const char *label; /* what messages name instead of the key (list prefix) */
    const char *query; /* already encoded, NULL for none */
    const void *body; /* PUT/POST body */
    size_t body_len;
    const char *content_type; /* sent and signed when not NULL */
    int sse; /* add the server-side encryption headers */
    int ok404; /* a 404 is an answer (HEAD), not an error */
    int error_in_body; /* a 200 may carry <Error> (CompleteMultipartUpload) */
    int if_none_match; /* create only: If-None-Match: *, a 412 is DP_ERR_EXISTS */
    const char *range; /* Range header value, NULL for none */
    dp_buf_t *out; /* 2xx body sink; NULL = discard */
} s3_req_t;

/* What came back from the last attempt. */
typedef struct s3_resp {
    long status;
    int attempts;
    char etag[ETAG_MAX];
    int has_length;
    uint64_t content_length;
    char code[128]; /* S3 <Code>, "" if none */
    char request_id[128]; /* x-amz-request-id */
    char date[80]; /* Date header */
} s3_resp_t;

/* Transfer state shared with the curl callbacks. */
typedef struct xfer {
    CURL *curl;
    s3_resp_t *resp;
    dp_buf_t *out;
    int overflow;
    dp_buf_t errbody;
    const uint8_t *body;
    size_t body_len, body_pos;
    long stall_ms; /* abort when no byte moved for this long */
    curl_off_t last_dl, last_ul;
    struct timespec last_move;
    int stalled;
} xfer_t;

/* ---- small helpers ---------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_global_rc = CURLE_OK;

static void curl_global(void) { curl_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static char *dup_or_null(const char *s) { return s && *s ? dp_xstrdup(s) : NULL; }

static void wipe_free(char *s) {
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

static uint64_t next_rand(s3_client_t *c) {
    /* splitmix64: enough to decorrelate retries of many clients */
    uint64_t z = (c->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* printable_key: key for messages: at most 200 bytes, control bytes as '?'. */
static const char *printable_key(const char *key, char *buf, size_t n) {
    if (!key) return "";
    size_t i = 0;
    for (; key[i] && i + 4 < n && i < 200; i++)
        buf[i] = ((unsigned char)key[i] < 0x20 || key[i] == 0x7f) ? '?' : key[i];
    if (key[i]) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = 0;
    return buf;
}

static int is_retriable_code(const char *code) {
    static const char *const codes[] = {"SlowDown",
                                        "RequestTimeout",
                                        "InternalError",
                                        "ServiceUnavailable",
                                        "Throttling",
                                        "ThrottlingException",
                                        "RequestLimitExceeded",
                                        "TooManyRequestsException",
                                        "OperationAborted",
                                        "RequestTimeTooSkewed"};
    if (!code) return 0;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(code, codes[i]) == 0) return 1;
    return 0;
}

dp_err_t s3_classify_http(long status, const char *code) {
    if (code && *code && is_retriable_code(code)) return DP_ERR_S3_RETRY;
    if (status >= 200 && status < 300 && !(code && *code)) return DP_OK;
    if (status >= 500 || status == 429) return DP_ERR_S3_RETRY;
    return DP_ERR_S3;
}

long s3_backoff_ms(long base_ms, int attempt, uint64_t rnd) {
    return dp_backoff_ms(base_ms, S3_MAX_BACKOFF_MS, attempt, rnd);
}

/* curl_retriable: transport failures that another attempt may not meet. */
static int curl_retriable(CURLcode rc) {
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY: return 1;
    default: return 0;
    }
}

static int valid_key(const char *key) {
    if (!key || !*key) return 0;
    return strlen(key) <= S3_MAX_KEY_LEN;
}

/* ---- client ----------------------------------------------------------- */

s3_client_t *s3_client_new(const s3_config_t *cfg, char *errstr, size_t errstr_size) {
    if (!cfg->bucket || !*cfg->bucket) {
        dp_seterr(errstr, errstr_size, DP_ERR_CONFIG, "s3: no bucket configured");
        return NULL;
    }
    if (!cfg->access_key || !*cfg->access_key || !cfg->secret_key || !*cfg->secret_key) {
        dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                  "s3: no credentials (access key and secret key) for bucket \"%s\"", cfg->bucket);
        return NULL;
    }
    size_t part = cfg->part_size ? cfg->part_size : S3_DEFAULT_PART_SIZE;
    if (part < S3_MIN_PART_SIZE || part > S3_MAX_PART_SIZE) {
        dp_seterr(errstr, errstr_size, DP_ERR_CONFIG, "s3: part size %zu out of range [%zu, %zu]",
                  part, S3_MIN_PART_SIZE, S3_MAX_PART_SIZE);
        return NULL;
    }
    if (cfg->sse && *cfg->sse && strcmp(cfg->sse, "AES256") != 0 &&
        strcmp(cfg->sse, "aws:kms") != 0) {
        dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                  "s3: server-side encryption \"%s\" is neither \"AES256\" nor \"aws:kms\"",
                  cfg->sse);
        return NULL;
    }
    if (cfg->kms_key_id && *cfg->kms_key_id && !(cfg->sse && strcmp(cfg->sse, "aws:kms") == 0)) {
        dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                  "s3: a kms key id needs server-side encryption \"aws:kms\"");
        return NULL;
    }
    if (cfg->max_retries < 0 || cfg->max_retries > 100 || cfg->timeout_ms < 0 ||
        cfg->retry_backoff_ms < 0 || cfg->list_max_keys < 0 || cfg->list_max_keys > 1000) {
        dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                  "s3: retries, timeout, backoff or list page size out of range");
        return NULL;
    }
    const char *region = cfg->region && *cfg->region ? cfg->region : "us-east-1";

    /* endpoint: scheme://authority, no path */
    char scheme[8], authority[512];
    if (cfg->endpoint && *cfg->endpoint) {
        const char *ep = cfg->endpoint, *rest;
        if (strncasecmp(ep, "http://", 7) == 0) {
            snprintf(scheme, sizeof scheme, "http");
            rest = ep + 7;
        } else if (strncasecmp(ep, "https://", 8) == 0) {
            snprintf(scheme, sizeof scheme, "https");
            rest = ep + 8;
        } else {
            dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                      "s3: endpoint \"%s\" is not an http:// or https:// url", ep);
            return NULL;
        }
        size_t alen = strcspn(rest, "/?#");
        size_t tail = strspn(rest + alen, "/");
        if (alen == 0 || alen >= sizeof authority || rest[alen + tail] != 0) {
            dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                      "s3: endpoint \"%s\" must be scheme://host[:port] without a path", ep);
            return NULL;
        }
        memcpy(authority, rest, alen);
        authority[alen] = 0;
    } else {
        snprintf(scheme, sizeof scheme, "https");
        if (snprintf(authority, sizeof authority, "s3.%s.amazonaws.com", region) >=
            (int)sizeof authority) {
            dp_seterr(errstr, errstr_size, DP_ERR_CONFIG, "s3: region name too long");
            return NULL;
        }
    }

    pthread_once(&curl_once, curl_global);
    if (curl_global_rc != CURLE_OK) {
        dp_seterr(errstr, errstr_size, DP_ERR_S3, "s3: curl_global_init: %s",
                  curl_easy_strerror(curl_global_rc));
        return NULL;
    }
    CURL *curl = curl_easy_init();
    if (!curl) {
        dp_seterr(errstr, errstr_size, DP_ERR_S3, "s3: curl_easy_init failed");
        return NULL;
    }

    s3_client_t *c = dp_xcalloc(1, sizeof *c);
    c->curl = curl;
    c->path_style = cfg->path_style;
    dp_buf_t b;
    dp_buf_init(&b, 4096);
    if (c->path_style)
        dp_buf_puts(&b, authority);
    else
        dp_buf_printf(&b, "%s.%s", cfg->bucket, authority);
    c->host = dp_xstrdup(dp_buf_cstr(&b));
    dp_buf_reset(&b);
    dp_buf_printf(&b, "%s://%s", scheme, c->host);
    c->scheme_host = dp_xstrdup(dp_buf_cstr(&b));
    dp_buf_fini(&b);
    c->bucket = dp_xstrdup(cfg->bucket);
    c->region = dp_xstrdup(region);
    c->access_key = dp_xstrdup(cfg->access_key);
    c->secret_key = dp_xstrdup(cfg->secret_key);
    c->session_token = dup_or_null(cfg->session_token);
    c->sse = dup_or_null(cfg->sse);
    c->kms_key_id = dup_or_null(cfg->kms_key_id);
    c->ca_file = cfg->ca_file && *cfg->ca_file ? dp_xstrdup(cfg->ca_file) : NULL;
    c->part_size = part;
    c->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : S3_DEFAULT_TIMEOUT_MS;
    c->backoff_ms = cfg->retry_backoff_ms ? cfg->retry_backoff_ms : S3_DEFAULT_BACKOFF_MS;
    c->max_retries = cfg->max_retries;
    c->list_max_keys = cfg->list_max_keys;
    c->create_only = cfg->create_only;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    c->rng = (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 20) ^ (uint64_t)(uintptr_t)c ^
        ((uint64_t)getpid() << 40);
    return c;
}

void s3_client_destroy(s3_client_t *c) {
    if (!c) return;
    if (c->curl) curl_easy_cleanup(c->curl);
    free(c->scheme_host);
    free(c->host);
    free(c->bucket);
    free(c->region);
    wipe_free(c->access_key);
    wipe_free(c->secret_key);
    wipe_free(c->session_token);
    free(c->sse);
    free(c->kms_key_id);
    free(c->ca_file);
    free(c);
}

/* ---- one HTTP exchange ------------------------------------------------ */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud) {
    xfer_t *x = ud;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
        if (!x->out) return n;
        if (dp_buf_append(x->out, ptr, n) != DP_OK) {
            x->overflow = 1;
            return 0; /* abort the transfer: CURLE_WRITE_ERROR */
        }
        return n;
    }
    /* error documents are kept up to a bound, the rest dropped */
    size_t room = x->errbody.max - x->errbody.len;
    dp_buf_append(&x->errbody, ptr, n < room ? n : room);
    return n;
}

/* header_value: if line is "Name: value", copy the trimmed value. */
static int header_value(const char *line, size_t len, const char *name, char *out, size_t outsz) {
    size_t nl = strlen(name);
    if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':') return 0;
    const char *v = line + nl + 1, *e = line + len;
    while (v < e && (*v == ' ' || *v == '\t')) v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t')) e--;
    size_t n = (size_t)(e - v);
    if (n >= outsz) n = outsz - 1;
    memcpy(out, v, n);
    out[n] = 0;
    return 1;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *ud) {
    xfer_t *x = ud;
    size_t n = size * nitems;
    s3_resp_t *r = x->resp;
    char num[32];
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) { /* a new response (after 100, redirect) */
        r->etag[0] = r->request_id[0] = r->date[0] = 0;
        r->has_length = 0;
    } else if (header_value(line, n, "etag", r->etag, sizeof r->etag)) {
    } else if (header_value(line, n, "x-amz-request-id", r->request_id, sizeof r->request_id)) {
    } else if (header_value(line, n, "date", r->date, sizeof r->date)) {
    } else if (header_value(line, n, "content-length", num, sizeof num)) {
        r->has_length = s3_xml_u64(num, strlen(num), &r->content_length) == 0;
    }
    return n;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud) {
    xfer_t *x = ud;
    size_t room = size * nitems, left = x->body_len - x->body_pos;
    size_t n = left < room ? left : room;
    if (n) memcpy(buf, x->body + x->body_pos, n);
    x->body_pos += n;
    return n;
}

static long ms_since(const struct timespec *t) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)((now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000);
}

/* on_progress: curl calls this at least once a second; abort the transfer
 * when neither direction moved a byte for stall_ms. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
    xfer_t *x = ud;
    (void)dltotal;
    (void)ultotal;
    if (dlnow != x->last_dl || ulnow != x->last_ul) {
        x->last_dl = dlnow;
        x->last_ul = ulnow;
        clock_gettime(CLOCK_MONOTONIC, &x->last_move);
        return 0;
    }
    if (ms_since(&x->last_move) >= x->stall_ms) {
        x->stalled = 1;
        return 1; /* CURLE_ABORTED_BY_CALLBACK */
    }
    return 0;
}

static int on_seek(void *ud, curl_off_t offset, int origin) {
    xfer_t *x = ud;
    if (origin != SEEK_SET || offset < 0 || (size_t)offset > x->body_len)
        return CURL_SEEKFUNC_CANTSEEK;
    x->body_pos = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

/* request_path: "/bucket/key" (path style) or "/key", key URI-encoded with
 * '/' kept; the bucket itself is "/bucket" or "/". */
static dp_err_t request_path(const s3_client_t *c, const char *key, dp_buf_t *out) {
    dp_err_t err = DP_OK;
    if (c->path_style) {
        err = dp_buf_putc(out, '/');
        if (!err) err = s3_sigv4_uri_encode(out, c->bucket, strlen(c->bucket), 0);
        if (!err && key) err = dp_buf_putc(out, '/');
    } else {
        err = dp_buf_putc(out, '/');
    }
    if (!err && key) err = s3_sigv4_uri_encode(out, key, strlen(key), 1);
    if (!err) dp_buf_cstr(out);
    return err;
}

void s3_parse_error_body(const char *doc, size_t len, char *code, size_t codesz, char *msg,
                         size_t msgsz) {
    s3_xml_span_t v;
    dp_buf_t b;
    dp_buf_init(&b, 4096);
    code[0] = msg[0] = 0;
    if (s3_xml_find(doc, len, "Code", &v) && s3_xml_unescape(v.p, v.len, &b) == DP_OK)
        snprintf(code, codesz, "%s", dp_buf_cstr(&b));
    dp_buf_reset(&b);
    if (s3_xml_find(doc, len, "Message", &v) && s3_xml_unescape(v.p, v.len, &b) == DP_OK) {
        const char *m = dp_buf_cstr(&b);
        size_t ml = strlen(m);
        while (ml > 0 && (m[ml - 1] == '.' || m[ml - 1] == ' ' || m[ml - 1] == '\n')) ml--;
        snprintf(msg, msgsz, "%.*s", (int)ml, m);
    }
    dp_buf_fini(&b);
}

/* set_method: the curl options of req's method; PUT bodies come from x */
static void set_method(CURL *h, const s3_req_t *req, xfer_t *x) {
    if (strcmp(req->method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, x);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, x);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
    } else if (strcmp(req->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    } else if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(req->method, "DELETE") == 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
}

/* attempt: perform req once. Fills resp; on failure writes the detail
 * (without the "s3 op key" prefix) into msg and returns the error class. */
static dp_err_t attempt(s3_client_t *c, const s3_req_t *req, const char *url, const char *path,
                        const char *payload_hash, s3_resp_t *resp, char *msg, size_t msgsz) {
    CURL *h = c->curl;
    xfer_t x = {.curl = h,
                .resp = resp,
                .out = req->out,
                .body = req->body,
                .body_len = req->body_len,
                .stall_ms = c->timeout_ms};
    dp_buf_init(&x.errbody, ERR_BODY_MAX);
    size_t out_start = req->out ? req->out->len : 0;
    struct curl_slist *list = NULL;
    dp_buf_t hdrs;
    dp_buf_init(&hdrs, HEADERS_MAX);
    dp_err_t err = DP_OK;

    /* headers to sign: host, content type, encryption */
    s3_sigv4_header_t hs[10];
    size_t n = 0;
    hs[n++] = (s3_sigv4_header_t){"Host", c->host};
    if (req->if_none_match) hs[n++] = (s3_sigv4_header_t){"If-None-Match", "*"};
    if (req->range) hs[n++] = (s3_sigv4_header_t){"Range", req->range};
    if (req->content_type) hs[n++] = (s3_sigv4_header_t){"Content-Type", req->content_type};
    if (req->sse && c->sse) {
        hs[n++] = (s3_sigv4_header_t){"x-amz-server-side-encryption", c->sse};
        if (c->kms_key_id)
            hs[n++] =
                (s3_sigv4_header_t){"x-amz-server-side-encryption-aws-kms-key-id", c->kms_key_id};
    }
    const char *qmark = strchr(url, '?');
    s3_sigv4_request_t sreq = {.method = req->method,
                               .path = path,
                               .query = qmark ? qmark + 1 : NULL,
                               .headers = hs,
                               .n_headers = n,
                               .payload_hash = payload_hash,
                               .flags = 0};
    s3_sigv4_signer_t signer = {c->access_key, c->secret_key, c->session_token, c->region, "s3"};
    err = s3_sigv4_sign(&signer, &sreq, time(NULL) + c->clock_skew_s, &hdrs, msg, msgsz);
    if (err) goto done;
    for (const char *p = (const char *)hdrs.data; p < (const char *)hdrs.data + hdrs.len;
         p += strlen(p) + 1)
        list = curl_slist_append(list, p);
    list = curl_slist_append(list, "Expect:"); /* no 100-continue round trip */
    if (!list) abort();

    curl_easy_reset(h); /* keeps the connection cache */
    c->curl_err[0] = 0;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L); /* keys may hold "..", "//" */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    if (c->ca_file) curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_err);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    set_method(h, req, &x);

    resp->status = 0;
    resp->etag[0] = resp->code[0] = resp->request_id[0] = resp->date[0] = 0;
    resp->has_length = 0;
    clock_gettime(CLOCK_MONOTONIC, &x.last_move);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    if (rc != CURLE_OK) {
        if (x.overflow) {
            err = dp_seterr(msg, msgsz, DP_ERR_NOMEM, "answer larger than the %zu byte bound",
                            req->out->max);
        } else if (x.stalled) {
            err = dp_seterr(msg, msgsz, DP_ERR_S3_RETRY, "timeout: no byte moved for %ld ms",
                            x.stall_ms);
        } else {
            err = dp_seterr(msg, msgsz, curl_retriable(rc) ? DP_ERR_S3_RETRY : DP_ERR_S3,
                            "curl: %s", c->curl_err[0] ? c->curl_err : curl_easy_strerror(rc));
        }
        goto done;
    }

    char emsg[512] = "";
    int is_2xx = resp->status >= 200 && resp->status < 300;
    if (is_2xx && req->error_in_body && req->out &&
        s3_xml_find((const char *)req->out->data + out_start, req->out->len - out_start, "Error",
                    &(s3_xml_span_t){0})) {
        s3_parse_error_body((const char *)req->out->data + out_start, req->out->len - out_start,
                            resp->code, sizeof resp->code, emsg, sizeof emsg);
        if (!resp->code[0]) snprintf(resp->code, sizeof resp->code, "InternalError");
    } else if (!is_2xx) {
        s3_parse_error_body((const char *)x.errbody.data, x.errbody.len, resp->code,
                            sizeof resp->code, emsg, sizeof emsg);
    }
    if (resp->status == 404 && req->ok404) goto done;
    err = s3_classify_http(resp->status, resp->code);
    if (err == DP_ERR_S3 && req->if_none_match && resp->status == 412) err = DP_ERR_EXISTS;
    if (err) {
        if (strcmp(resp->code, "RequestTimeTooSkewed") == 0 && resp->date[0]) {
            time_t server = curl_getdate(resp->date, NULL);
            long skew = server > 0 ? (long)(server - time(NULL)) : 0;
            /* retriable only when we learned something new about the clock */
            if (skew == c->clock_skew_s) err = DP_ERR_S3;
            c->clock_skew_s = skew;
        }
        dp_seterr(msg, msgsz, err, "http %ld%s%s%s%s%s%s%s", resp->status, resp->code[0] ? " " : "",
                  resp->code, emsg[0] ? ": " : "", emsg, resp->request_id[0] ? " (request id " : "",
                  resp->request_id, resp->request_id[0] ? ")" : "");
    }
done:
    if (err && req->out) req->out->len = out_start; /* no partial bodies */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(list);
    if (hdrs.data) OPENSSL_cleanse(hdrs.data, hdrs.cap); /* holds the session token */
    dp_buf_fini(&hdrs);
    dp_buf_fini(&x.errbody);
    return err;
}

/* request: req with retries. The payload hash is computed once; each attempt
 * is signed anew. On failure errstr reads
 * "s3 <op> \"<key>\" in bucket \"<b>\": <detail> (after N attempts)". */
static dp_err_t request(s3_client_t *c, const s3_req_t *req, s3_resp_t *resp, char *errstr,
                        size_t errstr_size) {
    char kbuf[256];
    const char *name = req->label ? req->label : req->key;
    memset(resp, 0, sizeof *resp);
    dp_buf_t path, url;
    dp_buf_init(&path, 4 * S3_MAX_KEY_LEN + 1024);
    dp_buf_init(&url, 8 * S3_MAX_KEY_LEN + 8192);
    dp_err_t err = request_path(c, req->key, &path);
    if (!err) err = dp_buf_puts(&url, c->scheme_host);
    if (!err) err = dp_buf_append(&url, path.data, path.len);
    if (!err && req->query && *req->query) err = dp_buf_printf(&url, "?%s", req->query);
    if (err) {
        err = dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "s3 %s \"%s\": url too long", req->op,
                        printable_key(name, kbuf, sizeof kbuf));
        goto done;
    }
    char payload[S3_SIGV4_HEX_LEN + 1];
    s3_sigv4_sha256_hex(req->body ? req->body : "", req->body_len, payload);

    char msg[1024];
    for (int i = 0;; i++) {
        resp->attempts = i + 1;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        err =
            attempt(c, req, dp_buf_cstr(&url), dp_buf_cstr(&path), payload, resp, msg, sizeof msg);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        dp_debug("s3", "%s %s \"%s\": http %ld in %ld ms%s%s", req->method, req->op,
                 printable_key(name, kbuf, sizeof kbuf), resp->status,
                 (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000),
                 err ? ": " : "", err ? msg : "");
        if (!err || !dp_err_retriable(err) || i >= c->max_retries) break;
        long delay = s3_backoff_ms(c->backoff_ms, i, next_rand(c));
        if (strcmp(resp->code, "RequestTimeTooSkewed") == 0) delay = 0;
        dp_warn("s3", "%s \"%s\" in bucket \"%s\": %s; retry %d of %d in %ld ms", req->op,
                printable_key(name, kbuf, sizeof kbuf), c->bucket, msg, i + 1, c->max_retries,
                delay);
        sleep_ms(delay);
    }
    if (err) {
        char after[48] = "";
        if (resp->attempts > 1)
            snprintf(after, sizeof after, " (after %d attempts)", resp->attempts);
        dp_seterr(errstr, errstr_size, err, "s3 %s \"%s\" in bucket \"%s\": %s%s", req->op,
                  printable_key(name, kbuf, sizeof kbuf), c->bucket, msg, after);
    }
done:
    dp_buf_fini(&path);
    dp_buf_fini(&url);
    return err;
}

/* ---- simple operations ------------------------------------------------ */

static dp_err_t bad_key(const char *op, const char *key, char *errstr, size_t errstr_size) {
    char kbuf[256];
    if (!key || !*key)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "s3 %s: empty key", op);
    return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "s3 %s \"%s\": key longer than %d bytes",
                     op, printable_key(key, kbuf, sizeof kbuf), S3_MAX_KEY_LEN);
}

static dp_err_t put_single(s3_client_t *c, const char *key, const void *data, size_t len,
                           const char *content_type, char *errstr, size_t errstr_size) {
    s3_req_t req = {.op = "put",
                    .method = "PUT",
                    .key = key,
                    .body = data,
                    .body_len = len,
                    .content_type = content_type ? content_type : "application/octet-stream",
                    .sse = 1,
                    .if_none_match = c->create_only};
    s3_resp_t resp;
    return request(c, &req, &resp, errstr, errstr_size);
}

dp_err_t s3_get_object(s3_client_t *c, const char *key, dp_buf_t *out, char *errstr,
                       size_t errstr_size) {
    if (!valid_key(key)) return bad_key("get", key, errstr, errstr_size);
    s3_req_t req = {.op = "get", .method = "GET", .key = key, .out = out};
    s3_resp_t resp;
    return request(c, &req, &resp, errstr, errstr_size);
}

dp_err_t s3_get_tail(s3_client_t *c, const char *key, size_t n, dp_buf_t *out, char *errstr,
                     size_t errstr_size) {
    if (!valid_key(key)) return bad_key("get", key, errstr, errstr_size);
    char range[48];
    snprintf(range, sizeof range, "bytes=-%zu", n);
    s3_req_t req = {.op = "get", .method = "GET", .key = key, .out = out, .range = range};
    s3_resp_t resp;
    return request(c, &req, &resp, errstr, errstr_size);
}

dp_err_t s3_head_object(s3_client_t *c, const char *key, int *exists, uint64_t *size, char *errstr,
                        size_t errstr_size) {
    *exists = 0;
    if (size) *size = 0;
    if (!valid_key(key)) return bad_key("head", key, errstr, errstr_size);
    s3_req_t req = {.op = "head", .method = "HEAD", .key = key, .ok404 = 1};
    s3_resp_t resp;
    dp_err_t err = request(c, &req, &resp, errstr, errstr_size);
    if (err) return err;
    *exists = resp.status != 404;
    if (*exists && size) {
        if (!resp.has_length)
            return dp_seterr(errstr, errstr_size, DP_ERR_PROTO,
                             "s3 head \"%s\": answer without content-length", key);
        *size = resp.content_length;
    }
    return DP_OK;
}

dp_err_t s3_delete_object(s3_client_t *c, const char *key, char *errstr, size_t errstr_size) {
    if (!valid_key(key)) return bad_key("delete", key, errstr, errstr_size);
    s3_req_t req = {.op = "delete", .method = "DELETE", .key = key};
    s3_resp_t resp;
    return request(c, &req, &resp, errstr, errstr_size);
}

/* query_param: append "&name=value" (no '&' when out is empty), value encoded. */
static dp_err_t query_param(dp_buf_t *out, const char *name, const char *value) {
    dp_err_t err = DP_OK;
    if (out->len) err = dp_buf_putc(out, '&');
    if (!err) err = dp_buf_puts(out, name);
    if (!err) err = dp_buf_putc(out, '=');
    if (!err) err = s3_sigv4_uri_encode(out, value, strlen(value), 0);
    if (!err) dp_buf_cstr(out);
    return err;
}

dp_err_t s3_list_parse(const char *doc, size_t len, s3_list_fn fn, void *ctx, dp_buf_t *key,
                       dp_buf_t *token, int *truncated, int *stopped) {
    s3_xml_span_t rest = {doc, len}, elem, v;
    *truncated = *stopped = 0;
    dp_buf_reset(token);
    while (s3_xml_next(&rest, "Contents", &elem)) {
        uint64_t size = 0;
        dp_buf_reset(key);
        if (!s3_xml_find(elem.p, elem.len, "Key", &v) ||
            s3_xml_unescape(v.p, v.len, key) != DP_OK ||
            !s3_xml_find(elem.p, elem.len, "Size", &v) || s3_xml_u64(v.p, v.len, &size))
            return DP_ERR_PROTO;
        dp_err_t err = fn(ctx, dp_buf_cstr(key), size);
        if (err) {
            *stopped = 1;
            return err;
        }
    }
    *truncated =
        s3_xml_find(doc, len, "IsTruncated", &v) && v.len == 4 && memcmp(v.p, "true", 4) == 0;
    if (*truncated &&
        !(s3_xml_find(doc, len, "NextContinuationToken", &v) && v.len > 0 &&
          s3_xml_unescape(v.p, v.len, token) == DP_OK))
        dp_buf_reset(token);
    return DP_OK;
}

dp_err_t s3_list_objects(s3_client_t *c, const char *prefix, s3_list_fn fn, void *ctx, char *errstr,
                         size_t errstr_size) {
    if (!prefix) prefix = "";
    if (strlen(prefix) > S3_MAX_KEY_LEN) return bad_key("list", prefix, errstr, errstr_size);
    dp_buf_t body, query, token, next, key;
    dp_buf_init(&body, LIST_BODY_MAX);
    dp_buf_init(&query, 16384);
    dp_buf_init(&token, 8192);
    dp_buf_init(&next, 8192);
    dp_buf_init(&key, 4 * S3_MAX_KEY_LEN);
    dp_err_t err = DP_OK;
    char kbuf[256];
    for (int page = 0;; page++) {
        dp_buf_reset(&body);
        dp_buf_reset(&query);
        if (token.len) err = query_param(&query, "continuation-token", dp_buf_cstr(&token));
        if (!err) err = query_param(&query, "list-type", "2");
        if (!err && c->list_max_keys) {
            char mk[16];
            snprintf(mk, sizeof mk, "%d", c->list_max_keys);
            err = query_param(&query, "max-keys", mk);
        }
        if (!err) err = query_param(&query, "prefix", prefix);
        if (err) {
            err = dp_seterr(errstr, errstr_size, DP_ERR_PROTO,
                            "s3 list \"%s\": continuation token too long",
                            printable_key(prefix, kbuf, sizeof kbuf));
            break;
        }
        s3_req_t req = {.op = "list",
                        .method = "GET",
                        .key = NULL,
                        .label = prefix,
                        .query = dp_buf_cstr(&query),
                        .out = &body};
        s3_resp_t resp;
        err = request(c, &req, &resp, errstr, errstr_size);
        if (err) break;

        int truncated = 0, stopped = 0;
        err = s3_list_parse(body.data ? (const char *)body.data : "", body.len, fn, ctx, &key,
                            &next, &truncated, &stopped);
        if (err == DP_ERR_PROTO && !stopped)
            dp_seterr(errstr, errstr_size, DP_ERR_PROTO,
                      "s3 list \"%s\" in bucket \"%s\": page %d has an entry without a "
                      "readable Key and Size",
                      printable_key(prefix, kbuf, sizeof kbuf), c->bucket, page + 1);
        else if (err)
            dp_seterr(errstr, errstr_size, err,
                      "s3 list \"%s\" in bucket \"%s\": stopped by the caller (%s)",
                      printable_key(prefix, kbuf, sizeof kbuf), c->bucket, dp_err_name(err));
        if (err || !truncated) break;
        /* a server repeating its token would loop forever */
        int repeated =
            next.len > 0 && next.len == token.len && memcmp(next.data, token.data, token.len) == 0;
        dp_buf_t prev = token;
        token = next;
        next = prev;
        if (token.len == 0 || repeated) {
            err = dp_seterr(errstr, errstr_size, DP_ERR_PROTO,
                            "s3 list \"%s\" in bucket \"%s\": truncated page %d without a "
                            "new continuation token",
                            printable_key(prefix, kbuf, sizeof kbuf), c->bucket, page + 1);
            break;
        }
    }
    dp_buf_fini(&body);
    dp_buf_fini(&query);
    dp_buf_fini(&token);
    dp_buf_fini(&next);
    dp_buf_fini(&key);
    return err;
}

/* ---- multipart -------------------------------------------------------- */

typedef struct mpu {
    s3_client_t *c;
    char *key;
    char *upload_id; /* NULL until created */
    char **etags; /* etags[i] of part i + 1 */
    int nparts, cap;
    uint64_t total; /* bytes in uploaded parts */
} mpu_t;

static void mpu_fini(mpu_t *m) {
    for (int i = 0; i < m->nparts; i++) free(m->etags[i]);
    free(m->etags);
    free(m->upload_id);
    free(m->key);
    memset(m, 0, sizeof *m);
}

static dp_err_t mpu_create(mpu_t *m, const char *content_type, char *errstr, size_t errstr_size) {
    dp_buf_t body, id;
    dp_buf_init(&body, SMALL_BODY_MAX);
    dp_buf_init(&id, 4096);
    s3_req_t req = {.op = "create multipart upload",
                    .method = "POST",
                    .key = m->key,
                    .query = "uploads",
                    .content_type = content_type ? content_type : "application/octet-stream",
                    .sse = 1,
                    .out = &body};
    s3_resp_t resp;
    s3_xml_span_t v;
    dp_err_t err = request(m->c, &req, &resp, errstr, errstr_size);
    if (!err) {
        if (s3_xml_find((const char *)body.data, body.len, "UploadId", &v) && v.len > 0 &&
            s3_xml_unescape(v.p, v.len, &id) == DP_OK) {
            m->upload_id = dp_xstrdup(dp_buf_cstr(&id));
        } else {
            char kbuf[256];
            err = dp_seterr(errstr, errstr_size, DP_ERR_PROTO,
                            "s3 create multipart upload \"%s\": no UploadId in the answer",
                            printable_key(m->key, kbuf, sizeof kbuf));
        }
    }
    dp_buf_fini(&body);
    dp_buf_fini(&id);
    return err;
}

/* mpu_query: "partNumber=N&uploadId=ID" (part 0: just the upload id). */
static void mpu_query(const mpu_t *m, int part, dp_buf_t *q) {
    dp_buf_reset(q);
    if (part > 0) dp_buf_printf(q, "partNumber=%d", part);
    query_param(q, "uploadId", m->upload_id);
}

static dp_err_t mpu_part(mpu_t *m, const void *data, size_t len, char *errstr, size_t errstr_size) {
    char kbuf[256];
    if (m->nparts >= S3_MAX_PARTS)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "s3 upload \"%s\": more than %d parts; raise the part size",
                         printable_key(m->key, kbuf, sizeof kbuf), S3_MAX_PARTS);
    dp_buf_t q;
    dp_buf_init(&q, 8192);
    mpu_query(m, m->nparts + 1, &q);
    char op[48];
    snprintf(op, sizeof op, "upload part %d", m->nparts + 1);
    s3_req_t req = {.op = op,
                    .method = "PUT",
                    .key = m->key,
                    .query = dp_buf_cstr(&q),
                    .body = data,
                    .body_len = len};
    s3_resp_t resp;
    dp_err_t err = request(m->c, &req, &resp, errstr, errstr_size);
    dp_buf_fini(&q);
    if (err) return err;
    if (!resp.etag[0])
        return dp_seterr(errstr, errstr_size, DP_ERR_PROTO,
                         "s3 upload part %d \"%s\": answer without an ETag", m->nparts + 1,
                         printable_key(m->key, kbuf, sizeof kbuf));
    if (m->nparts == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->etags = dp_xrealloc(m->etags, (size_t)m->cap * sizeof *m->etags);
    }
    m->etags[m->nparts++] = dp_xstrdup(resp.etag);
    m->total += len;
    return DP_OK;
}

static dp_err_t mpu_complete(mpu_t *m, char *errstr, size_t errstr_size) {
    dp_buf_t xml, q, body;
    dp_buf_init(&xml, (size_t)S3_MAX_PARTS * (ETAG_MAX + 80) + 256);
    dp_buf_init(&q, 8192);
    dp_buf_init(&body, SMALL_BODY_MAX);
    dp_buf_puts(&xml, "<CompleteMultipartUpload>");
    for (int i = 0; i < m->nparts; i++) {
        dp_buf_printf(&xml, "<Part><PartNumber>%d</PartNumber><ETag>", i + 1);
        s3_xml_escape(&xml, m->etags[i], strlen(m->etags[i]));
        dp_buf_puts(&xml, "</ETag></Part>");
    }
    dp_buf_puts(&xml, "</CompleteMultipartUpload>");
    mpu_query(m, 0, &q);
    s3_req_t req = {.op = "complete multipart upload",
                    .method = "POST",
                    .key = m->key,
                    .query = dp_buf_cstr(&q),
                    .body = xml.data,
                    .body_len = xml.len,
                    .content_type = "application/xml",
                    .error_in_body = 1,
                    .out = &body,
                    .if_none_match = m->c->create_only};
    s3_resp_t resp;
    dp_err_t err = request(m->c, &req, &resp, errstr, errstr_size);
    if (err == DP_ERR_S3 && resp.attempts > 1 && strcmp(resp.code, "NoSuchUpload") == 0) {
        /* an earlier attempt may have completed it and lost the answer */
        int exists = 0;
        uint64_t size = 0;
        char herr[256];
        if (s3_head_object(m->c, m->key, &exists, &size, herr, sizeof herr) == DP_OK && exists &&
            size == m->total) {
            dp_warn("s3",
                    "complete multipart upload: retry found the upload gone and the "
                    "object in place with the expected size; taking it as completed");
            err = DP_OK;
        }
    }
    dp_buf_fini(&xml);
    dp_buf_fini(&q);
    dp_buf_fini(&body);
    return err;
}

/* mpu_abort: best effort; a failure only leaves parts that a bucket
 * lifecycle rule (AbortIncompleteMultipartUpload) cleans up. */
static void mpu_abort(mpu_t *m) {
    if (!m->upload_id) return;
    dp_buf_t q;
    dp_buf_init(&q, 8192);
    mpu_query(m, 0, &q);
    s3_req_t req = {.op = "abort multipart upload",
                    .method = "DELETE",
                    .key = m->key,
                    .query = dp_buf_cstr(&q)};
    s3_resp_t resp;
    char err[1024];
    if (request(m->c, &req, &resp, err, sizeof err) != DP_OK && resp.status != 404)
        dp_warn("s3", "%s", err);
    dp_buf_fini(&q);
}

dp_err_t s3_put_object(s3_client_t *c, const char *key, const void *data, size_t len,
                       const char *content_type, char *errstr, size_t errstr_size) {
    if (!valid_key(key)) return bad_key("put", key, errstr, errstr_size);
    if (len <= c->part_size)
        return put_single(c, key, data, len, content_type, errstr, errstr_size);

    /* keep within S3's part count: grow the part size for very large objects */
    size_t part = c->part_size;
    if ((len + part - 1) / part > S3_MAX_PARTS) {
        size_t mib = (size_t)1 << 20;
        part = ((len + S3_MAX_PARTS - 1) / S3_MAX_PARTS + mib - 1) / mib * mib;
    }
    if (part > S3_MAX_PART_SIZE) {
        char kbuf[256];
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "s3 put \"%s\": %zu bytes is more than S3 takes in one object",
                         printable_key(key, kbuf, sizeof kbuf), len);
    }
    mpu_t m = {.c = c, .key = dp_xstrdup(key)};
    dp_err_t err = mpu_create(&m, content_type, errstr, errstr_size);
    const uint8_t *p = data;
    for (size_t off = 0; !err && off < len; off += part) {
        size_t n = len - off < part ? len - off : part;
        err = mpu_part(&m, p + off, n, errstr, errstr_size);
    }
    if (!err) err = mpu_complete(&m, errstr, errstr_size);
    if (err) mpu_abort(&m);
    mpu_fini(&m);
    return err;
}

/* ---- streaming upload ------------------------------------------------- */

struct s3_upload {
    mpu_t m;
    char *content_type;
    dp_buf_t buf; /* the part being filled, at most part_size bytes */
    dp_err_t failed;
    char failmsg[1024];
};

s3_upload_t *s3_upload_begin(s3_client_t *c, const char *key, const char *content_type) {
    s3_upload_t *u = dp_xcalloc(1, sizeof *u);
    u->m.c = c;
    u->m.key = dp_xstrdup(key ? key : "");
    u->content_type = dup_or_null(content_type);
    dp_buf_init(&u->buf, c->part_size);
    return u;
}

static dp_err_t upload_fail(s3_upload_t *u, dp_err_t err, const char *msg, char *errstr,
                            size_t errstr_size) {
    u->failed = err;
    snprintf(u->failmsg, sizeof u->failmsg, "%s", msg);
    return dp_seterr(errstr, errstr_size, err, "%s", msg);
}

/* upload_flush: send the full buffer as the next part (starting the
 * multipart upload first if needed). */
static dp_err_t upload_flush(s3_upload_t *u, char *errstr, size_t errstr_size) {
    char msg[1024];
    dp_err_t err = DP_OK;
    if (!u->m.upload_id) err = mpu_create(&u->m, u->content_type, msg, sizeof msg);
    if (!err) err = mpu_part(&u->m, u->buf.data, u->buf.len, msg, sizeof msg);
    if (err) return upload_fail(u, err, msg, errstr, errstr_size);
    dp_buf_reset(&u->buf);
    return DP_OK;
}

dp_err_t s3_upload_write(s3_upload_t *u, const void *data, size_t len, char *errstr,
                         size_t errstr_size) {
    if (u->failed) return dp_seterr(errstr, errstr_size, u->failed, "%s", u->failmsg);
    if (!valid_key(u->m.key)) {
        char msg[512];
        dp_err_t err = bad_key("upload", u->m.key, msg, sizeof msg);
        return upload_fail(u, err, msg, errstr, errstr_size);
    }
    size_t part = u->m.c->part_size;
    if (len && !u->buf.data) { /* one allocation of exactly one part */
        u->buf.data = dp_xmalloc(part + 1);
        u->buf.cap = part + 1;
    }
    const uint8_t *p = data;
    while (len > 0) {
        /* a full part goes out only when more data follows, so an object of
         * exactly part_size bytes is still one PUT */
        if (u->buf.len == part) {
            dp_err_t err = upload_flush(u, errstr, errstr_size);
            if (err) return err;
        }
        size_t n = part - u->buf.len < len ? part - u->buf.len : len;
        dp_buf_append(&u->buf, p, n);
        p += n;
        len -= n;
    }
    return DP_OK;
}

static void upload_free(s3_upload_t *u) {
    mpu_fini(&u->m);
    free(u->content_type);
    dp_buf_fini(&u->buf);
    free(u);
}

dp_err_t s3_upload_commit(s3_upload_t *u, char *errstr, size_t errstr_size) {
    dp_err_t err = u->failed;
    if (err) {
        dp_seterr(errstr, errstr_size, err, "%s", u->failmsg);
    } else if (!valid_key(u->m.key)) {
        err = bad_key("upload", u->m.key, errstr, errstr_size);
    } else if (!u->m.upload_id) {
        err = put_single(u->m.c, u->m.key, u->buf.data ? u->buf.data : (const uint8_t *)"",
                         u->buf.len, u->content_type, errstr, errstr_size);
    } else {
        if (u->buf.len > 0) err = mpu_part(&u->m, u->buf.data, u->buf.len, errstr, errstr_size);
        if (!err) err = mpu_complete(&u->m, errstr, errstr_size);
    }
    if (err) mpu_abort(&u->m);
    upload_free(u);
    return err;
}

void s3_upload_abort(s3_upload_t *u) {
    if (!u) return;
    mpu_abort(&u->m);
    upload_free(u);
}

dp_err_t s3_client_set_credentials(s3_client_t *c, const char *access_key, const char *secret_key,
                                   const char *session_token, char *errstr, size_t errstr_size) {
    if (!access_key || !*access_key || !secret_key || !*secret_key)
        return dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                         "s3: new credentials need an access key and a secret key");
    wipe_free(c->access_key);
    wipe_free(c->secret_key);
    wipe_free(c->session_token);
    c->access_key = dp_xstrdup(access_key);
    c->secret_key = dp_xstrdup(secret_key);
    c->session_token = dup_or_null(session_token);
    return DP_OK;
}
