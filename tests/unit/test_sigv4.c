/* test_sigv4 - SigV4 signing against AWS's published vectors (the generic
 * SigV4 test suite and the S3 API reference examples), the S3-versus-generic
 * encoding rules, the header-adding signer, and the s3 module's other pure
 * parts: XML scanning, credential resolution and error classification.
 * Vector files live in tests/unit/data/sigv4 (see its README). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "s3/client.h"
#include "s3/credentials.h"
#include "s3/sigv4.h"
#include "s3/xml.h"
#include "testlib.h"

#define SUITE_AK "AKIDEXAMPLE"
#define SUITE_SK "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define S3_AK "AKIAIOSFODNN7EXAMPLE"
#define S3_SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define T_20130524 ((time_t)1369353600) /* 2013-05-24T00:00:00Z */
#define T_20150830 ((time_t)1440938160) /* 2015-08-30T12:36:00Z */

static char data_dir[4096];

/* ---- helpers ---------------------------------------------------------- */

/* slurp: whole file as a NUL-terminated heap string, NULL if unreadable. */
static char *slurp(const char *path, size_t *len_out) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    dp_buf_t b;
    dp_buf_init(&b, 1 << 20);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (dp_buf_append(&b, chunk, n)) break;
    }
    fclose(f);
    dp_buf_cstr(&b);
    if (len_out) *len_out = b.len;
    return (char *)b.data;
}

static void find_data_dir(void) {
    const char *env = getenv("SIGV4_VECTORS");
    if (env) {
        snprintf(data_dir, sizeof data_dir, "%s", env);
        return;
    }
    if (access("tests/unit/data/sigv4/README.md", R_OK) == 0) {
        snprintf(data_dir, sizeof data_dir, "tests/unit/data/sigv4");
        return;
    }
    /* fall back to the directory of this source file */
    snprintf(data_dir, sizeof data_dir, "%s", __FILE__);
    char *slash = strrchr(data_dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(data_dir, sizeof data_dir, ".");
    size_t l = strlen(data_dir);
    snprintf(data_dir + l, sizeof data_dir - l, "/data/sigv4");
}

#define MAX_REQ_HEADERS 32

/* A parsed .req file: "METHOD target HTTP/1.1", "Name:value" lines (a line
 * starting with a blank continues the previous value, joined with ','), an
 * empty line, the body. Strings point into text, which is modified. */
typedef struct parsed_req {
    char *method, *path, *query, *body;
    size_t body_len;
    s3_sigv4_header_t headers[MAX_REQ_HEADERS];
    char *values[MAX_REQ_HEADERS]; /* owned, for folded values */
    size_t n_headers;
} parsed_req_t;

static void free_req(parsed_req_t *r) {
    for (size_t i = 0; i < r->n_headers; i++) free(r->values[i]);
}

static int parse_req(char *text, size_t len, parsed_req_t *r) {
    memset(r, 0, sizeof *r);
    char *end = text + len;
    char *nl = strchr(text, '\n');
    char *line_end = nl ? nl : end;
    *line_end = 0;
    char *sp = strchr(text, ' ');
    char *ver = strstr(text, " HTTP/");
    if (!sp || !ver || ver < sp) return -1;
    *sp = 0;
    *ver = 0;
    r->method = text;
    r->path = sp + 1;
    char *q = strchr(r->path, '?');
    if (q) {
        *q = 0;
        r->query = q + 1;
    }
    char *p = nl ? nl + 1 : end;
    r->body = end;
    while (p < end) {
        char *e = memchr(p, '\n', (size_t)(end - p));
        char *le = e ? e : end;
        if (le == p) { /* blank line: the body follows */
            r->body = e ? e + 1 : end;
            break;
        }
        *le = 0;
        if ((*p == ' ' || *p == '\t') && r->n_headers > 0) {
            char *prev = r->values[r->n_headers - 1];
            while (*p == ' ' || *p == '\t') p++;
            size_t a = strlen(prev), b = strlen(p);
            char *v = malloc(a + b + 2);
            memcpy(v, prev, a);
            v[a] = ',';
            memcpy(v + a + 1, p, b + 1);
            free(prev);
            r->values[r->n_headers - 1] = v;
            r->headers[r->n_headers - 1].value = v;
        } else {
            char *colon = strchr(p, ':');
            if (!colon || r->n_headers == MAX_REQ_HEADERS) return -1;
            *colon = 0;
            r->values[r->n_headers] = strdup(colon + 1);
            r->headers[r->n_headers].name = p;
            r->headers[r->n_headers].value = r->values[r->n_headers];
            r->n_headers++;
        }
        p = e ? e + 1 : end;
    }
    r->body_len = (size_t)(end - r->body);
    return 0;
}

static const char *header_value(const parsed_req_t *r, const char *name) {
    for (size_t i = 0; i < r->n_headers; i++) {
        if (strcasecmp(r->headers[i].name, name) != 0) continue;
        const char *v = r->headers[i].value;
        while (*v == ' ' || *v == '\t') v++;
        return v;
    }
    return NULL;
}

/* run_vector: load dir/NAME.{req,creq,sts,authz}, sign the request and
 * compare each step with the published text. */
static void run_vector(const char *rel, const s3_sigv4_signer_t *signer, int flags) {
    const char *name = strrchr(rel, '/');
    name = name ? name + 1 : rel;
    char path[4352];
    char *files[4];
    size_t lens[4];
    static const char *const ext[4] = {"req", "creq", "sts", "authz"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s/%s.%s", data_dir, rel, name, ext[i]);
        files[i] = slurp(path, &lens[i]);
        if (!files[i]) {
            tl_failed++;
            fprintf(stderr, "vector %s: cannot read %s: %s\n", rel, path, strerror(errno));
        }
    }
    if (!files[0] || !files[1] || !files[2] || !files[3]) goto done;

    parsed_req_t r;
    if (parse_req(files[0], lens[0], &r) != 0) {
        tl_failed++;
        fprintf(stderr, "vector %s: cannot parse the request\n", rel);
        goto done;
    }
    char payload[S3_SIGV4_HEX_LEN + 1];
    s3_sigv4_sha256_hex(r.body, r.body_len, payload);
    s3_sigv4_request_t req = {.method = r.method,
                              .path = r.path,
                              .query = r.query,
                              .headers = r.headers,
                              .n_headers = r.n_headers,
                              .payload_hash = payload,
                              .flags = flags};
    const char *amz_date = header_value(&r, "x-amz-date");
    char err[256] = "";
    dp_buf_t creq, sts, authz;
    dp_buf_init(&creq, 1 << 16);
    dp_buf_init(&sts, 1 << 16);
    dp_buf_init(&authz, 1 << 16);
    CHECK_EQ_INT(s3_sigv4_canonical_request(&req, &creq, NULL, err, sizeof err), DP_OK);
    if (strcmp(dp_buf_cstr(&creq), files[1]) != 0) {
        tl_failed++;
        fprintf(stderr, "vector %s: canonical request\n--- got\n%s\n--- expected\n%s\n", rel,
                dp_buf_cstr(&creq), files[1]);
    } else {
        tl_passed++;
    }
    CHECK_EQ_INT(s3_sigv4_string_to_sign(amz_date, signer->region, signer->service,
                                         (const char *)creq.data, creq.len, &sts),
                 DP_OK);
    if (strcmp(dp_buf_cstr(&sts), files[2]) != 0) {
        tl_failed++;
        fprintf(stderr, "vector %s: string to sign\n--- got\n%s\n--- expected\n%s\n", rel,
                dp_buf_cstr(&sts), files[2]);
    } else {
        tl_passed++;
    }
    CHECK_EQ_INT(s3_sigv4_authorization(&req, signer, amz_date, &authz, err, sizeof err), DP_OK);
    if (strcmp(dp_buf_cstr(&authz), files[3]) != 0) {
        tl_failed++;
        fprintf(stderr, "vector %s: authorization\n--- got\n%s\n--- expected\n%s\n", rel,
                dp_buf_cstr(&authz), files[3]);
    } else {
        tl_passed++;
    }
    dp_buf_fini(&creq);
    dp_buf_fini(&sts);
    dp_buf_fini(&authz);
    free_req(&r);
done:
    for (int i = 0; i < 4; i++) free(files[i]);
}

/* ---- the vectors ------------------------------------------------------ */

static void test_aws_suite(void) {
    static const char *const generic[] = {
        "get-header-key-duplicate",
        "get-header-value-multiline",
        "get-header-value-order",
        "get-header-value-trim",
        "get-unreserved",
        "get-utf8",
        "get-vanilla",
        "get-vanilla-empty-query-key",
        "get-vanilla-query",
        "get-vanilla-query-order-key",
        "get-vanilla-query-order-key-case",
        "get-vanilla-query-order-value",
        "get-vanilla-query-unreserved",
        "get-vanilla-utf8-query",
        "normalize-path/get-relative",
        "normalize-path/get-relative-relative",
        "normalize-path/get-slash",
        "normalize-path/get-slash-dot-slash",
        "normalize-path/get-slash-pointless-dot",
        "normalize-path/get-slashes",
        "normalize-path/get-space",
        "post-header-key-case",
        "post-header-key-sort",
        "post-header-value-case",
        "post-sts-token/post-sts-header-after",
        "post-sts-token/post-sts-header-before",
        "post-vanilla",
        "post-vanilla-empty-query-value",
        "post-vanilla-query",
        "post-x-www-form-urlencoded",
        "post-x-www-form-urlencoded-parameters",
    };
    s3_sigv4_signer_t signer = {SUITE_AK, SUITE_SK, NULL, "us-east-1", "service"};
    for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++)
        run_vector(generic[i], &signer, S3_SIGV4_DOUBLE_ENCODE | S3_SIGV4_NORMALIZE_PATH);
}

static void test_s3_doc_examples(void) {
    static const char *const s3[] = {"s3-get-object", "s3-put-object", "s3-get-bucket-lifecycle",
                                     "s3-list-objects"};
    s3_sigv4_signer_t signer = {S3_AK, S3_SK, NULL, "us-east-1", "s3"};
    for (size_t i = 0; i < sizeof s3 / sizeof s3[0]; i++) run_vector(s3[i], &signer, 0);
}

/* ---- encoding rules --------------------------------------------------- */

static const char *canon_line(const char *method, const char *path, const char *query, int flags,
                              int line, char *out, size_t outsz) {
    s3_sigv4_header_t h[1] = {{"Host", "example.com"}};
    s3_sigv4_request_t req = {method, path, query, h, 1, S3_SIGV4_EMPTY_SHA256, flags};
    dp_buf_t b;
    dp_buf_init(&b, 1 << 16);
    char err[128];
    out[0] = 0;
    if (s3_sigv4_canonical_request(&req, &b, NULL, err, sizeof err) == DP_OK) {
        const char *p = dp_buf_cstr(&b);
        for (int i = 0; i < line && p; i++) {
            p = strchr(p, '\n');
            if (p) p++;
        }
        if (p) {
            const char *e = strchr(p, '\n');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            if (n >= outsz) n = outsz - 1;
            memcpy(out, p, n);
            out[n] = 0;
        }
    }
    dp_buf_fini(&b);
    return out;
}

static void test_s3_path_is_not_normalized_or_double_encoded(void) {
    char l[512];
    /* the S3 note of the suite: my-object//example//photo.user stays as is */
    CHECK_EQ_STR(canon_line("GET", "/my-object//example//photo.user", NULL, 0, 1, l, sizeof l),
                 "/my-object//example//photo.user");
    CHECK_EQ_STR(canon_line("GET", "/my-object//example//photo.user", NULL, S3_SIGV4_NORMALIZE_PATH,
                            1, l, sizeof l),
                 "/my-object/example/photo.user");
    CHECK_EQ_STR(canon_line("GET", "/a/./b/../c", NULL, 0, 1, l, sizeof l), "/a/./b/../c");
    /* an encoded wire path is used as sent by S3, encoded again by others */
    CHECK_EQ_STR(canon_line("GET", "/a%20b/c%2Bd", NULL, 0, 1, l, sizeof l), "/a%20b/c%2Bd");
    CHECK_EQ_STR(canon_line("GET", "/a%20b/c%2Bd", NULL, S3_SIGV4_DOUBLE_ENCODE, 1, l, sizeof l),
                 "/a%2520b/c%252Bd");
    CHECK_EQ_STR(canon_line("GET", "/a%2fb", NULL, 0, 1, l, sizeof l), "/a%2Fb");
    /* a stray '%' is encoded */
    CHECK_EQ_STR(canon_line("GET", "/100%", NULL, 0, 1, l, sizeof l), "/100%25");
    CHECK_EQ_STR(canon_line("GET", "/a%zz", NULL, 0, 1, l, sizeof l), "/a%25zz");
    CHECK_EQ_STR(canon_line("GET", "", NULL, 0, 1, l, sizeof l), "/");
    CHECK_EQ_STR(canon_line("GET", NULL, NULL, 0, 1, l, sizeof l), "/");
    CHECK_EQ_STR(canon_line("GET", "/a/b/..", NULL, S3_SIGV4_NORMALIZE_PATH, 1, l, sizeof l),
                 "/a/");
    CHECK_EQ_STR(canon_line("GET", "/..", NULL, S3_SIGV4_NORMALIZE_PATH, 1, l, sizeof l), "/");
    CHECK_EQ_STR(canon_line("GET", "/a/b", NULL, S3_SIGV4_NORMALIZE_PATH, 1, l, sizeof l), "/a/b");
}

static void test_query_canonicalization(void) {
    char l[512];
    /* raw continuation tokens (base64) get '/', '+', '=' encoded */
    CHECK_EQ_STR(
        canon_line("GET", "/", "list-type=2&continuation-token=ab/c+d==", 0, 2, l, sizeof l),
        "continuation-token=ab%2Fc%2Bd%3D%3D&list-type=2");
    /* already encoded values are decoded first, so encoding is not doubled */
    CHECK_EQ_STR(canon_line("GET", "/", "prefix=a%2Fb%20c", 0, 2, l, sizeof l), "prefix=a%2Fb%20c");
    CHECK_EQ_STR(canon_line("GET", "/", "prefix=a%2fb", 0, 2, l, sizeof l), "prefix=a%2Fb");
    CHECK_EQ_STR(canon_line("GET", "/", "uploads", 0, 2, l, sizeof l), "uploads=");
    CHECK_EQ_STR(canon_line("GET", "/", "b=2&a=2&a=1&&", 0, 2, l, sizeof l), "a=1&a=2&b=2");
    CHECK_EQ_STR(canon_line("GET", "/", "partNumber=10&uploadId=x", 0, 2, l, sizeof l),
                 "partNumber=10&uploadId=x");
    CHECK_EQ_STR(canon_line("GET", "/", "k=%", 0, 2, l, sizeof l), "k=%25");
    CHECK_EQ_STR(canon_line("GET", "/", "", 0, 2, l, sizeof l), "");
}

static void test_uri_encode(void) {
    dp_buf_t b;
    dp_buf_init(&b, 256);
    const char *key = "dir/a b+c=d&e\xc3\xa9~_-.x$";
    CHECK_EQ_INT(s3_sigv4_uri_encode(&b, key, strlen(key), 1), DP_OK);
    CHECK_EQ_STR(dp_buf_cstr(&b), "dir/a%20b%2Bc%3Dd%26e%C3%A9~_-.x%24");
    dp_buf_reset(&b);
    CHECK_EQ_INT(s3_sigv4_uri_encode(&b, "a/b", 3, 0), DP_OK);
    CHECK_EQ_STR(dp_buf_cstr(&b), "a%2Fb");
    dp_buf_reset(&b);
    CHECK_EQ_INT(s3_sigv4_uri_encode(&b, "\0\x7f\xff", 3, 0), DP_OK);
    CHECK_EQ_STR(dp_buf_cstr(&b), "%00%7F%FF");
    dp_buf_fini(&b);
    /* the bound holds: 4 bytes cannot take one escape plus one more */
    dp_buf_init(&b, 4);
    CHECK_EQ_INT(s3_sigv4_uri_encode(&b, "  ", 2, 0), DP_ERR_NOMEM);
    dp_buf_fini(&b);
}

static void test_hash_date_key(void) {
    char hex[S3_SIGV4_HEX_LEN + 1];
    s3_sigv4_sha256_hex("", 0, hex);
    CHECK_EQ_STR(hex, S3_SIGV4_EMPTY_SHA256);
    s3_sigv4_sha256_hex("Welcome to Amazon S3.", 21, hex);
    CHECK_EQ_STR(hex, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    char d[S3_SIGV4_DATE_LEN + 1];
    s3_sigv4_amz_date(T_20130524, d);
    CHECK_EQ_STR(d, "20130524T000000Z");
    s3_sigv4_amz_date(T_20150830, d);
    CHECK_EQ_STR(d, "20150830T123600Z");
    s3_sigv4_amz_date(0, d);
    CHECK_EQ_STR(d, "19700101T000000Z");
    /* AWS General Reference, "Examples of how to derive a signing key" */
    unsigned char key[32];
    s3_sigv4_signing_key(SUITE_SK, "20120215T000000Z", "us-east-1", "iam", key);
    static const char hexd[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = hexd[key[i] >> 4];
        hex[2 * i + 1] = hexd[key[i] & 15];
    }
    hex[64] = 0;
    CHECK_EQ_STR(hex, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

/* ---- the header-adding signer ----------------------------------------- */

/* find_line: the value of "Name: value" in a NUL-separated header list. */
static const char *find_line(const dp_buf_t *b, const char *name, char *out, size_t outsz) {
    size_t nl = strlen(name);
    const char *p = (const char *)b->data, *end = p + b->len;
    while (p < end) {
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':' && p[nl + 1] == ' ') {
            snprintf(out, outsz, "%s", p + nl + 2);
            return out;
        }
        p += strlen(p) + 1;
    }
    return NULL;
}

static void test_sign_adds_amz_headers(void) {
    s3_sigv4_signer_t s = {S3_AK, S3_SK, NULL, "us-east-1", "s3"};
    char err[256] = "", v[1024];
    dp_buf_t out;
    dp_buf_init(&out, 1 << 16);

    /* GET Object example: only Host and Range given, the rest is added */
    s3_sigv4_header_t get_h[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                                 {"Range", "bytes=0-9"}};
    s3_sigv4_request_t get = {"GET", "/test.txt", NULL, get_h, 2, S3_SIGV4_EMPTY_SHA256, 0};
    CHECK_EQ_INT(s3_sigv4_sign(&s, &get, T_20130524, &out, err, sizeof err), DP_OK);
    CHECK_EQ_STR(find_line(&out, "x-amz-date", v, sizeof v), "20130524T000000Z");
    CHECK_EQ_STR(find_line(&out, "x-amz-content-sha256", v, sizeof v), S3_SIGV4_EMPTY_SHA256);
    CHECK_EQ_STR(find_line(&out, "Range", v, sizeof v), "bytes=0-9");
    CHECK(find_line(&out, "x-amz-security-token", v, sizeof v) == NULL);
    CHECK_EQ_STR(find_line(&out, "Authorization", v, sizeof v),
                 "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
                 "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                 "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");

    /* PUT Object example: the key encoded as the client does, body hashed */
    dp_buf_t path;
    dp_buf_init(&path, 256);
    dp_buf_putc(&path, '/');
    s3_sigv4_uri_encode(&path, "test$file.text", 14, 1);
    char ph[S3_SIGV4_HEX_LEN + 1];
    s3_sigv4_sha256_hex("Welcome to Amazon S3.", 21, ph);
    s3_sigv4_header_t put_h[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                                 {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                                 {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
    s3_sigv4_request_t put = {"PUT", dp_buf_cstr(&path), NULL, put_h, 3, ph, 0};
    CHECK_EQ_INT(s3_sigv4_sign(&s, &put, T_20130524, &out, err, sizeof err), DP_OK);
    CHECK_EQ_STR(find_line(&out, "Authorization", v, sizeof v),
                 "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
                 "aws4_request, SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;"
                 "x-amz-storage-class, "
                 "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    dp_buf_fini(&path);

    /* list objects through the signer, query given unsorted */
    s3_sigv4_header_t list_h[] = {{"Host", "examplebucket.s3.amazonaws.com"}};
    s3_sigv4_request_t list = {"GET", "/", "prefix=J&max-keys=2", list_h, 1, S3_SIGV4_EMPTY_SHA256,
                               0};
    CHECK_EQ_INT(s3_sigv4_sign(&s, &list, T_20130524, &out, err, sizeof err), DP_OK);
    CHECK(strstr(find_line(&out, "Authorization", v, sizeof v),
                 "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7") !=
          NULL);

    /* session token: signed like post-sts-header-before of the suite */
    char *authz_path = NULL;
    size_t alen = 0;
    {
        char p[4352];
        snprintf(p, sizeof p, "%s/%s", data_dir,
                 "post-sts-token/post-sts-header-before/post-sts-header-before.authz");
        authz_path = slurp(p, &alen);
    }
    s3_sigv4_signer_t sts = {SUITE_AK, SUITE_SK,
                             "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQW"
                             "LWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGd"
                             "QrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU"
                             "9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBA"
                             "z+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/"
                             "oLxBA==",
                             "us-east-1", "service"};
    s3_sigv4_header_t sts_h[] = {{"Host", "example.amazonaws.com"}};
    s3_sigv4_request_t sreq = {
        "POST", "/", NULL, sts_h, 1, S3_SIGV4_EMPTY_SHA256, S3_SIGV4_NO_CONTENT_SHA256};
    CHECK_EQ_INT(s3_sigv4_sign(&sts, &sreq, T_20150830, &out, err, sizeof err), DP_OK);
    CHECK(authz_path != NULL);
    if (authz_path) CHECK_EQ_STR(find_line(&out, "Authorization", v, sizeof v), authz_path);
    CHECK_EQ_STR(find_line(&out, "x-amz-security-token", v, sizeof v), sts.session_token);
    CHECK(find_line(&out, "x-amz-content-sha256", v, sizeof v) == NULL);
    free(authz_path);

    /* UNSIGNED-PAYLOAD goes into the header and the canonical request */
    s3_sigv4_request_t up = {"PUT", "/k", NULL, list_h, 1, S3_SIGV4_UNSIGNED_PAYLOAD, 0};
    CHECK_EQ_INT(s3_sigv4_sign(&s, &up, T_20130524, &out, err, sizeof err), DP_OK);
    CHECK_EQ_STR(find_line(&out, "x-amz-content-sha256", v, sizeof v), "UNSIGNED-PAYLOAD");
    dp_buf_t creq;
    dp_buf_init(&creq, 4096);
    s3_sigv4_header_t up_h[] = {{"host", "h"},
                                {"x-amz-content-sha256", "UNSIGNED-PAYLOAD"},
                                {"x-amz-date", "20130524T000000Z"}};
    s3_sigv4_request_t up2 = {"PUT", "/k", NULL, up_h, 3, S3_SIGV4_UNSIGNED_PAYLOAD, 0};
    CHECK_EQ_INT(s3_sigv4_canonical_request(&up2, &creq, NULL, err, sizeof err), DP_OK);
    const char *c = dp_buf_cstr(&creq);
    CHECK(strlen(c) > 16 && strcmp(c + strlen(c) - 17, "\nUNSIGNED-PAYLOAD") == 0);
    dp_buf_fini(&creq);
    dp_buf_fini(&out);
}

static void test_sign_rejects_bad_input(void) {
    s3_sigv4_signer_t s = {S3_AK, S3_SK, NULL, "us-east-1", "s3"};
    char err[256] = "";
    dp_buf_t out;
    dp_buf_init(&out, 1 << 16);
    s3_sigv4_header_t dup[] = {{"Host", "h"}, {"X-Amz-Date", "20130524T000000Z"}};
    s3_sigv4_request_t r1 = {"GET", "/", NULL, dup, 2, S3_SIGV4_EMPTY_SHA256, 0};
    CHECK_EQ_INT(s3_sigv4_sign(&s, &r1, T_20130524, &out, err, sizeof err), DP_ERR_INVALID);
    CHECK(strstr(err, "X-Amz-Date") != NULL);
    s3_sigv4_header_t inj[] = {{"Host", "h"}, {"x-meta", "a\r\nEvil: 1"}};
    s3_sigv4_request_t r2 = {"GET", "/", NULL, inj, 2, S3_SIGV4_EMPTY_SHA256, 0};
    CHECK_EQ_INT(s3_sigv4_sign(&s, &r2, T_20130524, &out, err, sizeof err), DP_ERR_INVALID);
    s3_sigv4_header_t badname[] = {{"Ho st", "h"}};
    s3_sigv4_request_t r3 = {"GET", "/", NULL, badname, 1, S3_SIGV4_EMPTY_SHA256, 0};
    CHECK_EQ_INT(s3_sigv4_sign(&s, &r3, T_20130524, &out, err, sizeof err), DP_ERR_INVALID);
    s3_sigv4_signer_t nosecret = {S3_AK, "", NULL, "us-east-1", "s3"};
    s3_sigv4_header_t ok[] = {{"Host", "h"}};
    s3_sigv4_request_t r4 = {"GET", "/", NULL, ok, 1, S3_SIGV4_EMPTY_SHA256, 0};
    CHECK_EQ_INT(s3_sigv4_sign(&nosecret, &r4, T_20130524, &out, err, sizeof err), DP_ERR_INVALID);
    s3_sigv4_request_t r5 = {"GET", "/", NULL, ok, 1, NULL, 0};
    CHECK_EQ_INT(s3_sigv4_sign(&s, &r5, T_20130524, &out, err, sizeof err), DP_ERR_INVALID);
    /* too many headers: both sides of the limit */
    s3_sigv4_header_t many[S3_SIGV4_MAX_HEADERS];
    char names[S3_SIGV4_MAX_HEADERS][16];
    for (int i = 0; i < S3_SIGV4_MAX_HEADERS; i++) {
        snprintf(names[i], sizeof names[i], "x-h%02d", i);
        many[i] = (s3_sigv4_header_t){names[i], "v"};
    }
    s3_sigv4_request_t r6 = {
        "GET", "/", NULL, many, S3_SIGV4_MAX_HEADERS - 3, S3_SIGV4_EMPTY_SHA256, 0};
    CHECK_EQ_INT(s3_sigv4_sign(&s, &r6, T_20130524, &out, err, sizeof err), DP_OK);
    r6.n_headers++;
    CHECK_EQ_INT(s3_sigv4_sign(&s, &r6, T_20130524, &out, err, sizeof err), DP_ERR_INVALID);
    /* a bounded output buffer is respected */
    dp_buf_t small;
    dp_buf_init(&small, 64);
    CHECK_EQ_INT(s3_sigv4_sign(&s, &r4, T_20130524, &small, err, sizeof err), DP_ERR_NOMEM);
    dp_buf_fini(&small);
    dp_buf_init(&small, 40);
    CHECK_EQ_INT(s3_sigv4_canonical_request(&r4, &small, NULL, err, sizeof err), DP_ERR_NOMEM);
    dp_buf_fini(&small);
    char amz[] = "2013-05-24";
    dp_buf_t a;
    dp_buf_init(&a, 4096);
    CHECK_EQ_INT(s3_sigv4_authorization(&r4, &s, amz, &a, err, sizeof err), DP_ERR_INVALID);
    dp_buf_fini(&a);
    dp_buf_fini(&out);
}

/* ---- XML scanning ----------------------------------------------------- */

static void test_xml(void) {
    const char *doc =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>"
        "<IsTruncated>true</IsTruncated>"
        "<Contents><Key>p/a &amp; b&lt;&gt;&quot;&apos;</Key><Size>5</Size>"
        "<ETag>&quot;abc&quot;</ETag><Owner><ID>x</ID></Owner></Contents>"
        "<Contents><Key>p/caf&#233;&#x2603;&#13;</Key><Size>18446744073709551615</Size></Contents>"
        "<NextContinuationToken>tok/+=</NextContinuationToken><Empty/>"
        "</ListBucketResult>";
    size_t len = strlen(doc);
    s3_xml_span_t v;
    dp_buf_t out;
    dp_buf_init(&out, 1024);
    CHECK(s3_xml_find(doc, len, "IsTruncated", &v));
    CHECK_EQ_MEM(v.p, v.len, "true", 4);
    CHECK(s3_xml_find(doc, len, "KeyCount", &v));
    CHECK_EQ_MEM(v.p, v.len, "2", 1);
    /* <Key> must not match <KeyCount> */
    CHECK(s3_xml_find(doc, len, "Key", &v));
    CHECK_EQ_INT(s3_xml_unescape(v.p, v.len, &out), DP_OK);
    CHECK_EQ_STR(dp_buf_cstr(&out), "p/a & b<>\"'");
    CHECK(s3_xml_find(doc, len, "Empty", &v));
    CHECK_EQ_INT(v.len, 0);
    CHECK(!s3_xml_find(doc, len, "Missing", &v));
    CHECK(!s3_xml_find(doc, len, "Name>", &v));

    /* iterate Contents elements */
    s3_xml_span_t rest = {doc, len}, elem;
    int n = 0;
    while (s3_xml_next(&rest, "Contents", &elem)) {
        s3_xml_span_t k, sz;
        CHECK(s3_xml_find(elem.p, elem.len, "Key", &k));
        CHECK(s3_xml_find(elem.p, elem.len, "Size", &sz));
        uint64_t u = 0;
        CHECK_EQ_INT(s3_xml_u64(sz.p, sz.len, &u), 0);
        if (n == 0) CHECK(u == 5);
        if (n == 1) {
            CHECK(u == UINT64_MAX);
            dp_buf_reset(&out);
            CHECK_EQ_INT(s3_xml_unescape(k.p, k.len, &out), DP_OK);
            CHECK_EQ_STR(dp_buf_cstr(&out), "p/caf\xc3\xa9\xe2\x98\x83\r");
        }
        n++;
    }
    CHECK_EQ_INT(n, 2);
    uint64_t u;
    CHECK_EQ_INT(s3_xml_u64("18446744073709551616", 20, &u), -1);
    CHECK_EQ_INT(s3_xml_u64("", 0, &u), -1);
    CHECK_EQ_INT(s3_xml_u64("12a", 3, &u), -1);

    /* malformed entities are an error, not a guess */
    static const char *const bad[] = {"a &amp b", "&unknown;", "&#;", "&#x110000;",
                                      "&#0;",     "&#xD800;",  "&"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dp_buf_reset(&out);
        CHECK_EQ_INT(s3_xml_unescape(bad[i], strlen(bad[i]), &out), DP_ERR_PROTO);
    }
    /* unterminated elements are not found */
    const char *cut = "<Error><Code>NoSuchKey</Code><Message>The specified";
    CHECK(s3_xml_find(cut, strlen(cut), "Code", &v));
    CHECK(!s3_xml_find(cut, strlen(cut), "Message", &v));
    CHECK(!s3_xml_find(cut, strlen(cut), "Error", &v));

    /* escaping for request bodies */
    dp_buf_reset(&out);
    CHECK_EQ_INT(s3_xml_escape(&out, "\"e&t<>'", 7), DP_OK);
    CHECK_EQ_STR(dp_buf_cstr(&out), "&quot;e&amp;t&lt;&gt;&apos;");
    /* the unescape bound holds */
    dp_buf_t tiny;
    dp_buf_init(&tiny, 3);
    CHECK_EQ_INT(s3_xml_unescape("abcd", 4, &tiny), DP_ERR_NOMEM);
    dp_buf_fini(&tiny);
    dp_buf_fini(&out);
}

/* ---- credentials ------------------------------------------------------ */

static void clear_aws_env(void) {
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_ROLE_ARN");
    unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
}

static void test_credentials(void) {
    char err[256] = "";
    char dir[] = "/tmp/test_sigv4_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char file[256];
    snprintf(file, sizeof file, "%s/credentials", dir);
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs("# comment\n"
          "[default]\n"
          "aws_access_key_id = FILEAK\n"
          "aws_secret_access_key=FILESK\n"
          "\n"
          "[prod]\n"
          "  aws_access_key_id =  PRODAK  \n"
          "aws_secret_access_key = PROD/SK+x=\n"
          "aws_session_token = PRODTOKEN\n"
          "; other\n"
          "[half]\n"
          "aws_access_key_id = HALFAK\n",
          f);
    fclose(f);
    clear_aws_env();
    char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("HOME", dir, 1); /* no ~/.aws under a fresh directory */

    s3_credentials_t cr;
    s3_config_t cfg;

    /* explicit configuration wins over everything */
    memset(&cfg, 0, sizeof cfg);
    cfg.access_key = "CFGAK";
    cfg.secret_key = "CFGSK";
    setenv("AWS_ACCESS_KEY_ID", "ENVAK", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "ENVSK", 1);
    CHECK_EQ_INT(s3_credentials_resolve(&cfg, &cr, err, sizeof err), DP_OK);
    CHECK_EQ_STR(cfg.access_key, "CFGAK");
    CHECK_EQ_STR(cr.source, "config");
    s3_credentials_fini(&cr);

    /* then the environment, with its session token */
    memset(&cfg, 0, sizeof cfg);
    setenv("AWS_SESSION_TOKEN", "ENVTOK", 1);
    CHECK_EQ_INT(s3_credentials_resolve(&cfg, &cr, err, sizeof err), DP_OK);
    CHECK_EQ_STR(cfg.access_key, "ENVAK");
    CHECK_EQ_STR(cfg.secret_key, "ENVSK");
    CHECK_EQ_STR(cfg.session_token, "ENVTOK");
    CHECK_EQ_STR(cr.source, "environment");
    s3_credentials_fini(&cr);

    /* a half-set environment is an error, not a silent fallback */
    unsetenv("AWS_SECRET_ACCESS_KEY");
    memset(&cfg, 0, sizeof cfg);
    CHECK_EQ_INT(s3_credentials_resolve(&cfg, &cr, err, sizeof err), DP_ERR_CONFIG);
    CHECK(strstr(err, "AWS_SECRET_ACCESS_KEY") != NULL);
    s3_credentials_fini(&cr);
    clear_aws_env();

    /* then the shared credentials file, default profile */
    setenv("AWS_SHARED_CREDENTIALS_FILE", file, 1);
    memset(&cfg, 0, sizeof cfg);
    CHECK_EQ_INT(s3_credentials_resolve(&cfg, &cr, err, sizeof err), DP_OK);
    CHECK_EQ_STR(cfg.access_key, "FILEAK");
    CHECK_EQ_STR(cfg.secret_key, "FILESK");
    CHECK(cfg.session_token == NULL);
    CHECK(strstr(cr.source, "default") != NULL);
    s3_credentials_fini(&cr);

    /* named profile, values trimmed, token read */
    setenv("AWS_PROFILE", "prod", 1);
    memset(&cfg, 0, sizeof cfg);
    CHECK_EQ_INT(s3_credentials_resolve(&cfg, &cr, err, sizeof err), DP_OK);
    CHECK_EQ_STR(cfg.access_key, "PRODAK");
    CHECK_EQ_STR(cfg.secret_key, "PROD/SK+x=");
    CHECK_EQ_STR(cfg.session_token, "PRODTOKEN");
    s3_credentials_fini(&cr);

    /* profile without a secret, and a missing profile */
    setenv("AWS_PROFILE", "half", 1);
    memset(&cfg, 0, sizeof cfg);
    CHECK_EQ_INT(s3_credentials_resolve(&cfg, &cr, err, sizeof err), DP_ERR_CONFIG);
    CHECK(strstr(err, "half") != NULL);
    s3_credentials_fini(&cr);
    setenv("AWS_PROFILE", "nope", 1);
    memset(&cfg, 0, sizeof cfg);
    CHECK_EQ_INT(s3_credentials_resolve(&cfg, &cr, err, sizeof err), DP_ERR_CONFIG);
    CHECK(strstr(err, "nope") != NULL);
    s3_credentials_fini(&cr);

    /* nothing anywhere */
    clear_aws_env();
    memset(&cfg, 0, sizeof cfg);
    CHECK_EQ_INT(s3_credentials_resolve(&cfg, &cr, err, sizeof err), DP_ERR_CONFIG);
    s3_credentials_fini(&cr);

    /* ~/.aws/credentials through HOME */
    char awsdir[300], home_file[320];
    snprintf(awsdir, sizeof awsdir, "%s/.aws", dir);
    snprintf(home_file, sizeof home_file, "%s/credentials", awsdir);
    CHECK(mkdir(awsdir, 0700) == 0);
    CHECK(rename(file, home_file) == 0);
    memset(&cfg, 0, sizeof cfg);
    CHECK_EQ_INT(s3_credentials_resolve(&cfg, &cr, err, sizeof err), DP_OK);
    CHECK_EQ_STR(cfg.access_key, "FILEAK");
    s3_credentials_fini(&cr);
    s3_credentials_fini(&cr); /* fini twice is harmless */

    unlink(home_file);
    rmdir(awsdir);
    rmdir(dir);
    if (old_home) {
        setenv("HOME", old_home, 1);
        free(old_home);
    }
}

/* ---- configuration and error classification --------------------------- */

static void test_client_config(void) {
    char err[256] = "";
    s3_config_t cfg = {0};
    cfg.region = "us-east-1";
    cfg.bucket = "b";
    cfg.access_key = "ak";
    cfg.secret_key = "sk";
    cfg.endpoint = "http://127.0.0.1:9";
    cfg.path_style = 1;
    s3_client_t *c = s3_client_new(&cfg, err, sizeof err);
    CHECK(c != NULL);
    s3_client_destroy(c);
    s3_client_destroy(NULL);

    cfg.part_size = S3_MIN_PART_SIZE - 1;
    c = s3_client_new(&cfg, err, sizeof err);
    CHECK(c == NULL);
    CHECK(strstr(err, "part") != NULL);
    cfg.part_size = S3_MIN_PART_SIZE;
    c = s3_client_new(&cfg, err, sizeof err);
    CHECK(c != NULL);
    s3_client_destroy(c);
    cfg.part_size = 0;

    cfg.bucket = NULL;
    CHECK(s3_client_new(&cfg, err, sizeof err) == NULL);
    cfg.bucket = "b";
    cfg.endpoint = "ftp://x";
    CHECK(s3_client_new(&cfg, err, sizeof err) == NULL);
    CHECK(strstr(err, "endpoint") != NULL);
    cfg.endpoint = "http://h:1/path";
    CHECK(s3_client_new(&cfg, err, sizeof err) == NULL);
    cfg.endpoint = "http://127.0.0.1:9";
    cfg.sse = "aws:kms";
    cfg.kms_key_id = "k";
    c = s3_client_new(&cfg, err, sizeof err);
    CHECK(c != NULL);
    s3_client_destroy(c);
    cfg.sse = "rot13";
    CHECK(s3_client_new(&cfg, err, sizeof err) == NULL);
    CHECK(strstr(err, "rot13") != NULL);
    cfg.sse = "AES256";
    cfg.kms_key_id = "k"; /* a KMS key without aws:kms */
    CHECK(s3_client_new(&cfg, err, sizeof err) == NULL);
    cfg.sse = NULL;
    cfg.kms_key_id = NULL;
    cfg.secret_key = NULL;
    CHECK(s3_client_new(&cfg, err, sizeof err) == NULL);
    CHECK(strstr(err, "credentials") != NULL);
}

static void test_classify(void) {
    CHECK_EQ_INT(s3_classify_http(200, NULL), DP_OK);
    CHECK_EQ_INT(s3_classify_http(204, NULL), DP_OK);
    CHECK_EQ_INT(s3_classify_http(500, "InternalError"), DP_ERR_S3_RETRY);
    CHECK_EQ_INT(s3_classify_http(503, "SlowDown"), DP_ERR_S3_RETRY);
    CHECK_EQ_INT(s3_classify_http(429, NULL), DP_ERR_S3_RETRY);
    CHECK_EQ_INT(s3_classify_http(400, "RequestTimeout"), DP_ERR_S3_RETRY);
    CHECK_EQ_INT(s3_classify_http(400, "InvalidArgument"), DP_ERR_S3);
    CHECK_EQ_INT(s3_classify_http(403, "SignatureDoesNotMatch"), DP_ERR_S3);
    CHECK_EQ_INT(s3_classify_http(404, "NoSuchKey"), DP_ERR_S3);
    CHECK_EQ_INT(s3_classify_http(200, "InternalError"), DP_ERR_S3_RETRY); /* 200 + <Error> */
    CHECK_EQ_INT(s3_classify_http(200, "AccessDenied"), DP_ERR_S3);
    /* backoff: exponential, capped, jittered within [d/2, d] */
    for (int attempt = 0; attempt < 20; attempt++) {
        long d = s3_backoff_ms(200, attempt, (uint64_t)attempt * 7919u);
        long full = 200L << (attempt < 10 ? attempt : 10);
        if (full > S3_MAX_BACKOFF_MS) full = S3_MAX_BACKOFF_MS;
        CHECK(d >= full / 2 && d <= full);
    }
    CHECK(s3_backoff_ms(0, 3, 1) >= 0);
}

/* ---- client limits, checked against a closed loopback port -------------- */

/* closed_port: a loopback TCP port nobody listens on (bound, then closed). */
static int closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        return 9;
    close(fd);
    return ntohs(a.sin_port);
}

static dp_err_t never_called(void *ctx, const char *key, uint64_t size) {
    (void)key;
    (void)size;
    ++*(int *)ctx;
    return DP_OK;
}

static void test_client_limits_without_a_server(void) {
    char err[1024] = "", endpoint[64];
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", closed_port());
    s3_config_t cfg = {.endpoint = endpoint,
                       .region = "us-east-1",
                       .bucket = "b",
                       .access_key = "ak",
                       .secret_key = "sk-not-in-messages",
                       .path_style = 1,
                       .part_size = S3_MIN_PART_SIZE,
                       .timeout_ms = 2000,
                       .max_retries = 0,
                       .retry_backoff_ms = 1};
    s3_client_t *c = s3_client_new(&cfg, err, sizeof err);
    CHECK(c != NULL);
    if (!c) return;

    /* key length: 1024 bytes pass validation (and meet the closed port), 1025 do not */
    char key[S3_MAX_KEY_LEN + 2];
    memset(key, 'k', sizeof key);
    key[S3_MAX_KEY_LEN] = 0;
    int exists = 1;
    CHECK_EQ_INT(s3_head_object(c, key, &exists, NULL, err, sizeof err), DP_ERR_S3_RETRY);
    CHECK(exists == 0);
    CHECK(strstr(err, "s3 head \"kkk") != NULL);
    CHECK(strstr(err, "sk-not-in-messages") == NULL);
    key[S3_MAX_KEY_LEN] = 'k';
    key[S3_MAX_KEY_LEN + 1] = 0;
    CHECK_EQ_INT(s3_head_object(c, key, &exists, NULL, err, sizeof err), DP_ERR_INVALID);
    CHECK(strstr(err, "longer than 1024") != NULL);
    CHECK_EQ_INT(s3_put_object(c, "", "x", 1, NULL, err, sizeof err), DP_ERR_INVALID);
    CHECK_EQ_INT(s3_delete_object(c, NULL, err, sizeof err), DP_ERR_INVALID);

    /* a failed get leaves the caller's buffer as it was */
    dp_buf_t out;
    dp_buf_init(&out, 1 << 20);
    dp_buf_puts(&out, "abc");
    CHECK_EQ_INT(s3_get_object(c, "k", &out, err, sizeof err), DP_ERR_S3_RETRY);
    CHECK_EQ_INT(out.len, 3);
    dp_buf_fini(&out);

    /* list: nothing reaches the callback */
    int calls = 0;
    CHECK_EQ_INT(s3_list_objects(c, "p/", never_called, &calls, err, sizeof err), DP_ERR_S3_RETRY);
    CHECK_EQ_INT(calls, 0);
    CHECK(strstr(err, "s3 list \"p/\"") != NULL);

    /* uploads: an invalid key fails on write and on commit, which frees */
    s3_upload_t *u = s3_upload_begin(c, "", NULL);
    CHECK_EQ_INT(s3_upload_write(u, "x", 1, err, sizeof err), DP_ERR_INVALID);
    CHECK_EQ_INT(s3_upload_commit(u, err, sizeof err), DP_ERR_INVALID);
    /* less than a part: nothing is sent before commit */
    u = s3_upload_begin(c, "small", "text/plain");
    CHECK_EQ_INT(s3_upload_write(u, "hello", 5, err, sizeof err), DP_OK);
    CHECK_EQ_INT(s3_upload_commit(u, err, sizeof err), DP_ERR_S3_RETRY);
    CHECK(strstr(err, "s3 put \"small\"") != NULL);
    /* exactly one part is still buffered; one byte more starts the multipart */
    char *part = calloc(1, S3_MIN_PART_SIZE);
    u = s3_upload_begin(c, "big", NULL);
    CHECK_EQ_INT(s3_upload_write(u, part, S3_MIN_PART_SIZE, err, sizeof err), DP_OK);
    CHECK_EQ_INT(s3_upload_write(u, "", 0, err, sizeof err), DP_OK);
    CHECK_EQ_INT(s3_upload_write(u, "x", 1, err, sizeof err), DP_ERR_S3_RETRY);
    CHECK(strstr(err, "create multipart upload") != NULL);
    /* after a failure the upload keeps failing the same way */
    err[0] = 0;
    CHECK_EQ_INT(s3_upload_write(u, "y", 1, err, sizeof err), DP_ERR_S3_RETRY);
    CHECK(strstr(err, "create multipart upload") != NULL);
    s3_upload_abort(u);
    s3_upload_abort(NULL);
    free(part);
    s3_client_destroy(c);

    /* retries are counted in the message (and logged as warnings, muted here) */
    int level = dp_log_level;
    dp_log_level = DP_LOG_ERROR;
    cfg.max_retries = 2;
    c = s3_client_new(&cfg, err, sizeof err);
    CHECK_EQ_INT(s3_delete_object(c, "k", err, sizeof err), DP_ERR_S3_RETRY);
    CHECK(strstr(err, "(after 3 attempts)") != NULL);
    CHECK(strstr(err, "connect") != NULL);
    s3_client_destroy(c);
    dp_log_level = level;
}

int main(void) {
    find_data_dir();
    test_aws_suite();
    test_s3_doc_examples();
    test_s3_path_is_not_normalized_or_double_encoded();
    test_query_canonicalization();
    test_uri_encode();
    test_hash_date_key();
    test_sign_adds_amz_headers();
    test_sign_rejects_bad_input();
    test_xml();
    test_credentials();
    test_client_config();
    test_classify();
    test_client_limits_without_a_server();
    return tl_finish("test_sigv4");
}
