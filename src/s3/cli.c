/* cli.c - `datapipe s3 put|get|head|ls|rm`, for debugging and for tests. */
#include "s3/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "s3/client.h"
#include "s3/credentials.h"

#define CHUNK ((size_t)1 << 20)

static const char usage_text[] =
    "usage: datapipe s3 [options] put KEY FILE | get KEY FILE | head KEY | ls [PREFIX] | rm KEY\n"
    "  FILE \"-\" is stdin/stdout\n"
    "options:\n"
    "  --part-size N[k|m|g]  multipart above this (min 5m, default 25m)\n"
    "  --whole               put: read FILE into memory, one s3_put_object call\n"
    "  --content-type T      put: object content type\n"
    "  --max-keys N          ls: page size (1..1000)\n"
    "  --max-bytes N[k|m|g]  get: largest object accepted (default 1g)\n"
    "  --retries N           retries after a retriable failure (default 3)\n"
    "  --timeout-ms N        connect/stall timeout (default 30000)\n"
    "  --debug               log every request\n"
    "environment: S3_ENDPOINT_URL S3_BUCKET AWS_REGION S3_PATH_STYLE S3_SSE S3_SSE_KMS_KEY_ID\n"
    "  AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE\n"
    "  AWS_SHARED_CREDENTIALS_FILE AWS_CA_BUNDLE (PEM CAs of an https endpoint)\n";

/* parse_size: decimal with an optional k/m/g (binary) suffix; -1 if invalid. */
static int parse_size(const char *s, uint64_t *out) {
    if (!s || !*s || *s == '-') return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) return -1;
    int shift = 0;
    if (*end == 'k' || *end == 'K')
        shift = 10;
    else if (*end == 'm' || *end == 'M')
        shift = 20;
    else if (*end == 'g' || *end == 'G')
        shift = 30;
    if (shift) end++;
    if (*end == 'i' || *end == 'I') end++; /* "5MiB"-ish */
    if (*end == 'b' || *end == 'B') end++;
    if (*end) return -1;
    if (shift && v > (UINT64_MAX >> shift)) return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

static int usage(const char *why) {
    if (why) fprintf(stderr, "datapipe s3: %s\n", why);
    fputs(usage_text, stderr);
    return 2;
}

static int fail(const char *msg) {
    fprintf(stderr, "datapipe s3: %s\n", msg);
    return 1;
}

static dp_err_t print_entry(void *ctx, const char *key, uint64_t size) {
    (void)ctx;
    if (printf("%" PRIu64 "\t%s\n", size, key) < 0) return DP_ERR_IO;
    return DP_OK;
}

/* cmd_put: stream FILE through s3_upload_*, or with --whole read it all and
 * call s3_put_object. */
static int cmd_put(s3_client_t *c, const char *key, const char *file, const char *ctype,
                   int whole) {
    char err[2048];
    int from_stdin = strcmp(file, "-") == 0;
    FILE *f = from_stdin ? stdin : fopen(file, "rb");
    if (!f) {
        snprintf(err, sizeof err, "cannot open \"%s\": %s", file, strerror(errno));
        return fail(err);
    }
    int rc = 0;
    uint8_t *chunk = dp_xmalloc(CHUNK);
    if (whole) {
        dp_buf_t b;
        dp_buf_init(&b, (size_t)8 << 30);
        size_t n;
        while ((n = fread(chunk, 1, CHUNK, f)) > 0 && dp_buf_append(&b, chunk, n) == DP_OK) {}
        if (ferror(f)) {
            snprintf(err, sizeof err, "cannot read \"%s\": %s", file, strerror(errno));
            rc = fail(err);
        } else if (s3_put_object(c, key, b.data ? b.data : (const uint8_t *)"", b.len, ctype, err,
                                 sizeof err) != DP_OK) {
            rc = fail(err);
        }
        dp_buf_fini(&b);
    } else {
        s3_upload_t *u = s3_upload_begin(c, key, ctype);
        size_t n;
        dp_err_t e = DP_OK;
        while (!e && (n = fread(chunk, 1, CHUNK, f)) > 0)
            e = s3_upload_write(u, chunk, n, err, sizeof err);
        if (!e && ferror(f)) {
            snprintf(err, sizeof err, "cannot read \"%s\": %s", file, strerror(errno));
            s3_upload_abort(u);
            rc = fail(err);
        } else if (e) {
            s3_upload_abort(u);
            rc = fail(err);
        } else if (s3_upload_commit(u, err, sizeof err) != DP_OK) {
            rc = fail(err);
        }
    }
    free(chunk);
    if (!from_stdin) fclose(f);
    return rc;
}

static int cmd_get(s3_client_t *c, const char *key, const char *file, uint64_t max_bytes) {
    char err[2048];
    dp_buf_t b;
    dp_buf_init(&b, (size_t)max_bytes);
    int rc = 0;
    if (s3_get_object(c, key, &b, err, sizeof err) != DP_OK) {
        rc = fail(err);
    } else {
        int to_stdout = strcmp(file, "-") == 0;
        FILE *f = to_stdout ? stdout : fopen(file, "wb");
        int bad = !f;
        if (f) {
            bad = b.len && fwrite(b.data, 1, b.len, f) != b.len;
            bad |= (to_stdout ? fflush(f) : fclose(f)) != 0;
        }
        if (bad) {
            snprintf(err, sizeof err, "cannot write \"%s\": %s", file, strerror(errno));
            rc = fail(err);
        }
    }
    dp_buf_fini(&b);
    return rc;
}

int s3_cli_main(int argc, char **argv) {
    const char *pos[4];
    int npos = 0, whole = 0;
    uint64_t part = 0, max_keys = 0, retries = 3, timeout = 0, max_bytes = (uint64_t)1 << 30;
    const char *ctype = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--whole") == 0) {
            whole = 1;
        } else if (strcmp(a, "--debug") == 0) {
            dp_log_level = DP_LOG_DEBUG;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        } else if (strcmp(a, "--content-type") == 0) {
            if (!val) return usage("--content-type needs a value");
            ctype = val;
            i++;
        } else if (strcmp(a, "--part-size") == 0 || strcmp(a, "--max-keys") == 0 ||
                   strcmp(a, "--retries") == 0 || strcmp(a, "--timeout-ms") == 0 ||
                   strcmp(a, "--max-bytes") == 0) {
            uint64_t v;
            if (parse_size(val, &v) != 0) {
                fprintf(stderr, "datapipe s3: %s needs a number, got \"%s\"\n", a, val ? val : "");
                return 2;
            }
            if (strcmp(a, "--part-size") == 0)
                part = v;
            else if (strcmp(a, "--max-keys") == 0)
                max_keys = v;
            else if (strcmp(a, "--retries") == 0)
                retries = v;
            else if (strcmp(a, "--timeout-ms") == 0)
                timeout = v;
            else
                max_bytes = v;
            i++;
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "datapipe s3: unknown option \"%s\"\n", a);
            return usage(NULL);
        } else {
            if (npos == 4) return usage("too many arguments");
            pos[npos++] = a;
        }
    }
    if (npos == 0) return usage(NULL);
    const char *verb = pos[0];
    int want = strcmp(verb, "put") == 0 || strcmp(verb, "get") == 0 ? 3
        : strcmp(verb, "head") == 0 || strcmp(verb, "rm") == 0      ? 2
        : strcmp(verb, "ls") == 0                                   ? -1
                                                                    : 0;
    if (want == 0) {
        fprintf(stderr, "datapipe s3: unknown command \"%s\"\n", verb);
        return usage(NULL);
    }
    if ((want > 0 && npos != want) || (want < 0 && npos > 2))
        return usage("wrong number of arguments");
    if (max_keys > 1000 || retries > 100 || timeout > 3600000 || part > ((uint64_t)5 << 30) ||
        max_bytes > ((uint64_t)1 << 40) || max_bytes > SIZE_MAX)
        return usage("an option value is out of range");

    s3_config_t cfg = {0};
    cfg.endpoint = getenv("S3_ENDPOINT_URL");
    cfg.bucket = getenv("S3_BUCKET");
    cfg.region = getenv("AWS_REGION");
    if (!cfg.region || !*cfg.region) cfg.region = getenv("AWS_DEFAULT_REGION");
    const char *ps = getenv("S3_PATH_STYLE");
    cfg.path_style = ps && *ps ? strcmp(ps, "0") != 0 : (cfg.endpoint && *cfg.endpoint);
    cfg.sse = getenv("S3_SSE");
    cfg.kms_key_id = getenv("S3_SSE_KMS_KEY_ID");
    cfg.ca_file = getenv("AWS_CA_BUNDLE");
    cfg.part_size = (size_t)part;
    cfg.list_max_keys = (int)max_keys;
    cfg.max_retries = (int)retries;
    cfg.timeout_ms = (long)timeout;
    if (!cfg.bucket || !*cfg.bucket) return fail("S3_BUCKET is not set");

    char err[2048];
    s3_credentials_t cred;
    if (s3_credentials_resolve(&cfg, &cred, err, sizeof err) != DP_OK) {
        s3_credentials_fini(&cred);
        return fail(err);
    }
    s3_client_t *c = s3_client_new(&cfg, err, sizeof err);
    s3_credentials_fini(&cred);
    if (!c) return fail(err);

    int rc = 0;
    if (strcmp(verb, "put") == 0) {
        rc = cmd_put(c, pos[1], pos[2], ctype, whole);
    } else if (strcmp(verb, "get") == 0) {
        rc = cmd_get(c, pos[1], pos[2], max_bytes);
    } else if (strcmp(verb, "head") == 0) {
        int exists = 0;
        uint64_t size = 0;
        if (s3_head_object(c, pos[1], &exists, &size, err, sizeof err) != DP_OK) {
            rc = fail(err);
        } else if (!exists) {
            fprintf(stderr, "datapipe s3: no key \"%s\" in bucket \"%s\"\n", pos[1], cfg.bucket);
            rc = 3;
        } else {
            printf("%" PRIu64 "\n", size);
        }
    } else if (strcmp(verb, "ls") == 0) {
        if (s3_list_objects(c, npos > 1 ? pos[1] : "", print_entry, NULL, err, sizeof err) != DP_OK)
            rc = fail(err);
    } else {
        if (s3_delete_object(c, pos[1], err, sizeof err) != DP_OK) rc = fail(err);
    }
    s3_client_destroy(c);
    if (fflush(stdout) != 0 && rc == 0) rc = fail("cannot write to stdout");
    return rc;
}
