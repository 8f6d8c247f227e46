/* sigv4.c - AWS Signature Version 4 computations on OpenSSL's SHA-256/HMAC. */
#include "s3/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Temporary buffers inside one signing call never need more than this; the
 * caller's output buffers carry their own max. */
#define SCRATCH_MAX ((size_t)16 << 20)

static const char hexdig_upper[] = "0123456789ABCDEF";
static const char hexdig_lower[] = "0123456789abcdef";

static int is_unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~';
}

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static char lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

static int is_blank(char c) { return c == ' ' || c == '\t'; }

static void to_hex(const unsigned char *in, size_t n, char *out) {
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig_lower[in[i] >> 4];
        out[2 * i + 1] = hexdig_lower[in[i] & 15];
    }
    out[2 * n] = 0;
}

void s3_sigv4_sha256_hex(const void *data, size_t len, char out[S3_SIGV4_HEX_LEN + 1]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) abort();
    to_hex(md, 32, out);
}

static void hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                        unsigned char out[32]) {
    unsigned int outlen = 0;
    if (!HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &outlen) || outlen != 32) abort();
}

void s3_sigv4_amz_date(time_t t, char out[S3_SIGV4_DATE_LEN + 1]) {
    struct tm tm;
    gmtime_r(&t, &tm);
    if (strftime(out, S3_SIGV4_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) != S3_SIGV4_DATE_LEN)
        memcpy(out, "19700101T000000Z", S3_SIGV4_DATE_LEN + 1);
}

dp_err_t s3_sigv4_uri_encode(dp_buf_t *out, const char *s, size_t len, int keep_slash) {
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        dp_err_t err;
        if (is_unreserved(c) || (c == '/' && keep_slash)) {
            err = dp_buf_putc(out, (char)c);
        } else {
            char esc[3] = {'%', hexdig_upper[c >> 4], hexdig_upper[c & 15]};
            err = dp_buf_append(out, esc, 3);
        }
        if (err) return err;
    }
    return DP_OK;
}

/* normalize_path: RFC 3986 remove_dot_segments plus folding of empty segments
 * ("//"), as the generic SigV4 rules ask. A trailing slash (or a final "." or
 * "..") leaves the result ending in '/'. */
static dp_err_t normalize_path(const char *p, size_t len, dp_buf_t *out) {
    size_t i = 0;
    int trailing = 0;
    dp_err_t err = DP_OK;
    while (i < len && !err) {
        while (i < len && p[i] == '/') i++;
        size_t start = i;
        while (i < len && p[i] != '/') i++;
        size_t seglen = i - start;
        trailing = (i < len) || seglen == 0;
        if (seglen == 0) continue;
        if (seglen == 1 && p[start] == '.') {
            trailing = 1;
        } else if (seglen == 2 && p[start] == '.' && p[start + 1] == '.') {
            while (out->len > 0 && out->data[--out->len] != '/') {}
            trailing = 1;
        } else {
            err = dp_buf_putc(out, '/');
            if (!err) err = dp_buf_append(out, p + start, seglen);
            trailing = i < len;
        }
    }
    if (!err && (out->len == 0 || trailing)) err = dp_buf_putc(out, '/');
    return err;
}

/* canonical_path: the CanonicalURI line. Bytes outside the unreserved set and
 * '/' are encoded; an existing %XX escape is kept (hex uppercased) unless the
 * generic double-encoding rule asks to encode its '%' too. */
static dp_err_t canonical_path(const char *path, int flags, dp_buf_t *out) {
    if (!path || !*path) return dp_buf_putc(out, '/');
    const char *p = path;
    size_t len = strlen(path);
    dp_buf_t norm;
    dp_buf_init(&norm, len + 2);
    dp_err_t err = DP_OK;
    if (flags & S3_SIGV4_NORMALIZE_PATH) {
        err = normalize_path(path, len, &norm);
        if (err) goto done;
        p = (const char *)norm.data;
        len = norm.len;
    }
    for (size_t i = 0; i < len && !err; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '%' && !(flags & S3_SIGV4_DOUBLE_ENCODE) && i + 2 < len &&
            hexval((unsigned char)p[i + 1]) >= 0 && hexval((unsigned char)p[i + 2]) >= 0) {
            char esc[3] = {'%', hexdig_upper[hexval((unsigned char)p[i + 1])],
                           hexdig_upper[hexval((unsigned char)p[i + 2])]};
            err = dp_buf_append(out, esc, 3);
            i += 2;
        } else {
            err = s3_sigv4_uri_encode(out, (const char *)&p[i], 1, 1);
        }
    }
done:
    dp_buf_fini(&norm);
    return err;
}

/* percent_decode: append s[0..len) to out with valid %XX escapes decoded; a
 * '%' not followed by two hex digits stays literal. */
static dp_err_t percent_decode(const char *s, size_t len, dp_buf_t *out) {
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < len && (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
            (lo = hexval((unsigned char)s[i + 2])) >= 0) {
            dp_err_t err = dp_buf_putc(out, (char)(hi * 16 + lo));
            if (err) return err;
            i += 2;
        } else {
            dp_err_t err = dp_buf_putc(out, s[i]);
            if (err) return err;
        }
    }
    return DP_OK;
}

/* Sort entries point into a scratch buffer once it has stopped growing, so
 * the comparators need no shared state (signing runs on many threads). */
typedef struct qparam {
    size_t name_off, name_len, value_off, value_len; /* into the encoded scratch */
    const uint8_t *name, *value;
} qparam_t;

static int cmp_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c) return c;
    return alen < blen ? -1 : alen > blen;
}

static int cmp_qparam(const void *pa, const void *pb) {
    const qparam_t *a = pa, *b = pb;
    int c = cmp_bytes(a->name, a->name_len, b->name, b->name_len);
    if (c) return c;
    return cmp_bytes(a->value, a->value_len, b->value, b->value_len);
}

/* canonical_query: the CanonicalQueryString line, empty for no query. */
static dp_err_t canonical_query(const char *query, dp_buf_t *out) {
    if (!query || !*query) return DP_OK;
    size_t qlen = strlen(query);
    size_t count = 1;
    for (size_t i = 0; i < qlen; i++) count += query[i] == '&';
    qparam_t *params = dp_xcalloc(count, sizeof *params);
    dp_buf_t enc, tmp;
    dp_buf_init(&enc, SCRATCH_MAX);
    dp_buf_init(&tmp, SCRATCH_MAX);
    size_t n = 0;
    dp_err_t err = DP_OK;
    const char *p = query;
    while (!err && p <= query + qlen) {
        const char *end = strchr(p, '&');
        if (!end) end = query + qlen;
        if (end > p) {
            const char *eq = memchr(p, '=', (size_t)(end - p));
            const char *vstart = eq ? eq + 1 : end;
            const char *nend = eq ? eq : end;
            qparam_t *q = &params[n++];
            dp_buf_reset(&tmp);
            err = percent_decode(p, (size_t)(nend - p), &tmp);
            q->name_off = enc.len;
            if (!err) err = s3_sigv4_uri_encode(&enc, (const char *)tmp.data, tmp.len, 0);
            q->name_len = enc.len - q->name_off;
            dp_buf_reset(&tmp);
            if (!err) err = percent_decode(vstart, (size_t)(end - vstart), &tmp);
            q->value_off = enc.len;
            if (!err) err = s3_sigv4_uri_encode(&enc, (const char *)tmp.data, tmp.len, 0);
            q->value_len = enc.len - q->value_off;
        }
        p = end + 1;
    }
    if (!err && n > 0) {
        for (size_t i = 0; i < n; i++) {
            params[i].name = enc.data + params[i].name_off;
            params[i].value = enc.data + params[i].value_off;
        }
        qsort(params, n, sizeof *params, cmp_qparam);
    }
    for (size_t i = 0; i < n && !err; i++) {
        if (i) err = dp_buf_putc(out, '&');
        if (!err) err = dp_buf_append(out, params[i].name, params[i].name_len);
        if (!err) err = dp_buf_putc(out, '=');
        if (!err) err = dp_buf_append(out, params[i].value, params[i].value_len);
    }
    dp_buf_fini(&enc);
    dp_buf_fini(&tmp);
    free(params);
    return err;
}

typedef struct hent {
    size_t name_off, name_len; /* lowercased name in the scratch */
    const uint8_t *name;
    size_t idx; /* position in the request, for a stable sort */
    const char *value;
} hent_t;

static int cmp_hent(const void *pa, const void *pb) {
    const hent_t *a = pa, *b = pb;
    int c = cmp_bytes(a->name, a->name_len, b->name, b->name_len);
    if (c) return c;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* append_header_value: value trimmed, inner runs of blanks folded to one space. */
static dp_err_t append_header_value(dp_buf_t *out, const char *v) {
    while (is_blank(*v)) v++;
    size_t len = strlen(v);
    while (len > 0 && is_blank(v[len - 1])) len--;
    for (size_t i = 0; i < len; i++) {
        if (is_blank(v[i])) {
            while (i + 1 < len && is_blank(v[i + 1])) i++;
            dp_err_t err = dp_buf_putc(out, ' ');
            if (err) return err;
        } else {
            dp_err_t err = dp_buf_putc(out, v[i]);
            if (err) return err;
        }
    }
    return DP_OK;
}

static int valid_header_name(const char *s) {
    if (!s || !*s) return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c == ':' || c >= 0x7f) return 0;
    }
    return 1;
}

static int valid_header_value(const char *s) {
    if (!s) return 0;
    for (; *s; s++)
        if (*s == '\r' || *s == '\n' || *s == 0x7f) return 0;
    return 1;
}

dp_err_t s3_sigv4_canonical_request(const s3_sigv4_request_t *req, dp_buf_t *out,
                                    dp_buf_t *signed_headers, char *errstr, size_t errstr_size) {
    dp_buf_reset(out);
    if (signed_headers) dp_buf_reset(signed_headers);
    if (!req->method || !*req->method)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "sigv4: no method");
    if (!req->payload_hash || !*req->payload_hash)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "sigv4: no payload hash");
    if (req->n_headers > S3_SIGV4_MAX_HEADERS)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "sigv4: %zu headers to sign, at most %d", req->n_headers,
                         S3_SIGV4_MAX_HEADERS);
    for (size_t i = 0; i < req->n_headers; i++) {
        if (!valid_header_name(req->headers[i].name))
            return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                             "sigv4: header %zu has an invalid name", i);
        if (!valid_header_value(req->headers[i].value))
            return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                             "sigv4: header \"%s\" has an invalid value", req->headers[i].name);
    }

    hent_t hs[S3_SIGV4_MAX_HEADERS];
    dp_buf_t names;
    dp_buf_init(&names, SCRATCH_MAX);
    dp_err_t err = DP_OK;
    for (size_t i = 0; i < req->n_headers && !err; i++) {
        hs[i].name_off = names.len;
        for (const char *s = req->headers[i].name; *s && !err; s++)
            err = dp_buf_putc(&names, lower_ascii(*s));
        hs[i].name_len = names.len - hs[i].name_off;
        hs[i].idx = i;
        hs[i].value = req->headers[i].value;
    }
    if (!err && req->n_headers > 0) {
        for (size_t i = 0; i < req->n_headers; i++) hs[i].name = names.data + hs[i].name_off;
        qsort(hs, req->n_headers, sizeof hs[0], cmp_hent);
    }

    /* HTTPMethod \n CanonicalURI \n CanonicalQueryString \n */
    if (!err) err = dp_buf_puts(out, req->method);
    if (!err) err = dp_buf_putc(out, '\n');
    if (!err) err = canonical_path(req->path, req->flags, out);
    if (!err) err = dp_buf_putc(out, '\n');
    if (!err) err = canonical_query(req->query, out);
    if (!err) err = dp_buf_putc(out, '\n');

    /* CanonicalHeaders: one line per distinct name, values joined by ',' */
    dp_buf_t sh;
    dp_buf_init(&sh, SCRATCH_MAX);
    for (size_t i = 0; i < req->n_headers && !err; i++) {
        const uint8_t *name = hs[i].name;
        int same_as_prev =
            i > 0 && cmp_bytes(name, hs[i].name_len, hs[i - 1].name, hs[i - 1].name_len) == 0;
        if (same_as_prev) {
            err = dp_buf_putc(out, ',');
        } else {
            if (i > 0) err = dp_buf_putc(out, '\n');
            if (!err && sh.len > 0) err = dp_buf_putc(&sh, ';');
            if (!err) err = dp_buf_append(&sh, name, hs[i].name_len);
            if (!err) err = dp_buf_append(out, name, hs[i].name_len);
            if (!err) err = dp_buf_putc(out, ':');
        }
        if (!err) err = append_header_value(out, hs[i].value);
    }
    if (!err && req->n_headers > 0) err = dp_buf_putc(out, '\n');
    /* blank line, SignedHeaders \n HashedPayload */
    if (!err) err = dp_buf_putc(out, '\n');
    if (!err) err = dp_buf_append(out, sh.data, sh.len);
    if (!err) err = dp_buf_putc(out, '\n');
    if (!err) err = dp_buf_puts(out, req->payload_hash);
    if (!err) dp_buf_cstr(out);
    if (!err && signed_headers) {
        err = dp_buf_append(signed_headers, sh.data, sh.len);
        if (!err) dp_buf_cstr(signed_headers);
    }
    dp_buf_fini(&sh);
    dp_buf_fini(&names);
    if (err)
        return dp_seterr(errstr, errstr_size, err, "sigv4: canonical request over %zu bytes",
                         out->max);
    return DP_OK;
}

static int valid_amz_date(const char *d) {
    if (!d || strlen(d) != S3_SIGV4_DATE_LEN || d[8] != 'T' || d[15] != 'Z') return 0;
    for (int i = 0; i < 15; i++)
        if (i != 8 && (d[i] < '0' || d[i] > '9')) return 0;
    return 1;
}

dp_err_t s3_sigv4_string_to_sign(const char *amz_date, const char *region, const char *service,
                                 const char *creq, size_t creq_len, dp_buf_t *out) {
    dp_buf_reset(out);
    if (!valid_amz_date(amz_date) || !region || !service) return DP_ERR_INVALID;
    char hash[S3_SIGV4_HEX_LEN + 1];
    s3_sigv4_sha256_hex(creq, creq_len, hash);
    dp_err_t err = dp_buf_printf(out, "%s\n%s\n%.8s/%s/%s/aws4_request\n%s", S3_SIGV4_ALGORITHM,
                                 amz_date, amz_date, region, service, hash);
    if (!err) dp_buf_cstr(out);
    return err;
}

void s3_sigv4_signing_key(const char *secret_key, const char *amz_date, const char *region,
                          const char *service, unsigned char key[32]) {
    size_t slen = strlen(secret_key);
    unsigned char *k = dp_xmalloc(slen + 4);
    memcpy(k, "AWS4", 4);
    memcpy(k + 4, secret_key, slen);
    unsigned char kdate[32], kregion[32], kservice[32];
    hmac_sha256(k, slen + 4, amz_date, 8, kdate);
    hmac_sha256(kdate, 32, region, strlen(region), kregion);
    hmac_sha256(kregion, 32, service, strlen(service), kservice);
    hmac_sha256(kservice, 32, "aws4_request", 12, key);
    OPENSSL_cleanse(k, slen + 4);
    OPENSSL_cleanse(kdate, sizeof kdate);
    OPENSSL_cleanse(kregion, sizeof kregion);
    OPENSSL_cleanse(kservice, sizeof kservice);
    free(k);
}

void s3_sigv4_signature(const unsigned char key[32], const char *sts, size_t sts_len,
                        char out[S3_SIGV4_HEX_LEN + 1]) {
    unsigned char mac[32];
    hmac_sha256(key, 32, sts, sts_len, mac);
    to_hex(mac, 32, out);
}

dp_err_t s3_sigv4_authorization(const s3_sigv4_request_t *req, const s3_sigv4_signer_t *signer,
                                const char *amz_date, dp_buf_t *out, char *errstr,
                                size_t errstr_size) {
    dp_buf_reset(out);
    if (!signer->access_key || !*signer->access_key || !signer->secret_key || !*signer->secret_key)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "sigv4: no credentials");
    if (!signer->region || !*signer->region || !signer->service || !*signer->service)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID, "sigv4: no region or service");
    if (!valid_amz_date(amz_date))
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "sigv4: date \"%s\" is not YYYYMMDDTHHMMSSZ", amz_date ? amz_date : "");
    dp_buf_t creq, sh, sts;
    dp_buf_init(&creq, SCRATCH_MAX);
    dp_buf_init(&sh, SCRATCH_MAX);
    dp_buf_init(&sts, 4096);
    unsigned char key[32];
    char sig[S3_SIGV4_HEX_LEN + 1];
    dp_err_t err = s3_sigv4_canonical_request(req, &creq, &sh, errstr, errstr_size);
    if (err) goto done;
    err = s3_sigv4_string_to_sign(amz_date, signer->region, signer->service,
                                  (const char *)creq.data, creq.len, &sts);
    if (err) {
        dp_seterr(errstr, errstr_size, err, "sigv4: region or service too long");
        goto done;
    }
    s3_sigv4_signing_key(signer->secret_key, amz_date, signer->region, signer->service, key);
    s3_sigv4_signature(key, (const char *)sts.data, sts.len, sig);
    OPENSSL_cleanse(key, sizeof key);
    err = dp_buf_printf(out,
                        "%s Credential=%s/%.8s/%s/%s/aws4_request, SignedHeaders=%s, "
                        "Signature=%s",
                        S3_SIGV4_ALGORITHM, signer->access_key, amz_date, signer->region,
                        signer->service, dp_buf_cstr(&sh), sig);
    if (err) {
        dp_seterr(errstr, errstr_size, err, "sigv4: authorization header over %zu bytes", out->max);
        goto done;
    }
    dp_buf_cstr(out);
done:
    dp_buf_fini(&creq);
    dp_buf_fini(&sh);
    dp_buf_fini(&sts);
    return err;
}

static int name_is(const char *a, const char *b) { return strcasecmp(a, b) == 0; }

dp_err_t s3_sigv4_sign(const s3_sigv4_signer_t *signer, const s3_sigv4_request_t *req, time_t now,
                       dp_buf_t *out_headers, char *errstr, size_t errstr_size) {
    dp_buf_reset(out_headers);
    if (req->n_headers + 3 > S3_SIGV4_MAX_HEADERS)
        return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                         "sigv4: %zu headers to sign, at most %d", req->n_headers,
                         S3_SIGV4_MAX_HEADERS - 3);
    s3_sigv4_header_t hs[S3_SIGV4_MAX_HEADERS];
    size_t n = 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        const char *name = req->headers[i].name ? req->headers[i].name : "";
        if (name_is(name, "x-amz-date") || name_is(name, "x-amz-content-sha256") ||
            name_is(name, "x-amz-security-token") || name_is(name, "authorization"))
            return dp_seterr(errstr, errstr_size, DP_ERR_INVALID,
                             "sigv4: header \"%s\" is set by the signer", name);
        hs[n++] = req->headers[i];
    }
    char amz_date[S3_SIGV4_DATE_LEN + 1];
    s3_sigv4_amz_date(now, amz_date);
    hs[n++] = (s3_sigv4_header_t){"x-amz-date", amz_date};
    if (!(req->flags & S3_SIGV4_NO_CONTENT_SHA256))
        hs[n++] = (s3_sigv4_header_t){"x-amz-content-sha256", req->payload_hash};
    if (signer->session_token && *signer->session_token)
        hs[n++] = (s3_sigv4_header_t){"x-amz-security-token", signer->session_token};

    s3_sigv4_request_t full = *req;
    full.headers = hs;
    full.n_headers = n;
    dp_buf_t auth;
    dp_buf_init(&auth, 8192);
    dp_err_t err = s3_sigv4_authorization(&full, signer, amz_date, &auth, errstr, errstr_size);
    for (size_t i = 0; i < n && !err; i++) {
        err = dp_buf_printf(out_headers, "%s: %s", hs[i].name, hs[i].value);
        if (!err) err = dp_buf_putc(out_headers, 0);
    }
    if (!err) err = dp_buf_printf(out_headers, "Authorization: %s", dp_buf_cstr(&auth));
    if (!err) err = dp_buf_putc(out_headers, 0);
    if (err == DP_ERR_NOMEM)
        dp_seterr(errstr, errstr_size, err, "sigv4: headers over %zu bytes", out_headers->max);
    dp_buf_fini(&auth);
    return err;
}
