/* credentials.c - the credential chain: config, environment, web identity,
 * shared file. */
#include "s3/credentials.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"
#include "s3/sts.h"

#define CRED_FILE_MAX ((size_t)1 << 20) /* a credentials file is a few lines */
#define TOKEN_FILE_MAX ((size_t)64 << 10) /* a projected JWT is 1-2 KiB */

static void wipe_free(char **p) {
    if (*p) {
        OPENSSL_cleanse(*p, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

void s3_credentials_fini(s3_credentials_t *store) {
    wipe_free(&store->access_key);
    wipe_free(&store->secret_key);
    wipe_free(&store->session_token);
    store->expires_ms = 0;
}

int64_t s3_credentials_expiry(const s3_credentials_t *store) { return store->expires_ms; }

int s3_credentials_refresh_due(const s3_credentials_t *store, int64_t now_ms) {
    return store->expires_ms > 0 && now_ms >= store->expires_ms - S3_CREDENTIALS_REFRESH_MS;
}

static int set(const char *s) { return s && *s; }

static char *trim(char *s, char *end) {
    while (s < end && (*s == ' ' || *s == '\t')) s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) end--;
    *end = 0;
    return s;
}

/* read_file: the whole file into a NUL-terminated dp_buf of at most
 * CRED_FILE_MAX bytes. -1 with errno when it cannot be opened. */
static int read_file(const char *path, dp_buf_t *b) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char chunk[4096];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (dp_buf_append(b, chunk, n)) {
            errno = EFBIG;
            rc = -1;
            break;
        }
    }
    if (ferror(f)) rc = -1;
    fclose(f);
    dp_buf_cstr(b);
    return rc;
}

int s3_credentials_parse_profile(char *text, const char *profile, s3_credentials_t *store) {
    int in = 0, found = 0;
    char *p = text;
    while (*p) {
        char *nl = strchr(p, '\n');
        char *end = nl ? nl : p + strlen(p);
        char *next = nl ? nl + 1 : end;
        char *line = trim(p, end);
        if (*line == '#' || *line == ';' || *line == 0) {
            p = next;
            continue;
        }
        size_t ll = strlen(line);
        if (line[0] == '[' && line[ll - 1] == ']') {
            char *name = trim(line + 1, line + ll - 1);
            if (strncmp(name, "profile ", 8) == 0) name = trim(name + 8, name + strlen(name));
            in = strcmp(name, profile) == 0;
            found |= in;
        } else if (in) {
            char *eq = strchr(line, '=');
            if (eq) {
                char *key = trim(line, eq);
                char *val = trim(eq + 1, line + ll);
                char **slot = NULL;
                if (strcmp(key, "aws_access_key_id") == 0)
                    slot = &store->access_key;
                else if (strcmp(key, "aws_secret_access_key") == 0)
                    slot = &store->secret_key;
                else if (strcmp(key, "aws_session_token") == 0)
                    slot = &store->session_token;
                if (slot && *val) {
                    wipe_free(slot);
                    *slot = dp_xstrdup(val);
                }
            }
        }
        p = next;
    }
    return found;
}

/* sts_endpoint: where AssumeRoleWithWebIdentity goes: the SDKs'
 * service-specific endpoint variable, the global one, else the regional STS
 * endpoint (what the SDKs use by default now). */
static void sts_endpoint(const s3_config_t *cfg, char *out, size_t n) {
    const char *e = getenv("AWS_ENDPOINT_URL_STS");
    if (!set(e)) e = getenv("AWS_ENDPOINT_URL");
    if (set(e)) {
        snprintf(out, n, "%s", e);
        return;
    }
    const char *region = cfg->region;
    if (!set(region)) region = getenv("AWS_REGION");
    if (!set(region)) region = getenv("AWS_DEFAULT_REGION");
    s3_sts_regional_endpoint(region, out, n);
}

/* web_identity: read the token file, call STS, keep the answer in store. */
static dp_err_t web_identity(const s3_config_t *cfg, const char *role, const char *token_file,
                             s3_credentials_t *store, char *errstr, size_t errstr_size) {
    dp_buf_t tok;
    dp_buf_init(&tok, TOKEN_FILE_MAX);
    if (read_file(token_file, &tok) != 0) {
        int e = errno;
        if (tok.data) OPENSSL_cleanse(tok.data, tok.cap);
        dp_buf_fini(&tok);
        return dp_seterr(errstr, errstr_size, DP_ERR_IO,
                         "s3 credentials: cannot read web identity token file \"%s\" "
                         "(AWS_WEB_IDENTITY_TOKEN_FILE): %s",
                         token_file, e == EFBIG ? "larger than 64 KiB" : strerror(e));
    }
    /* the kubelet writes the bare JWT; tolerate surrounding blanks */
    char *token = (char *)tok.data;
    char *end = token + tok.len;
    while (token < end && (*token == ' ' || *token == '\t' || *token == '\n' || *token == '\r'))
        token++;
    while (end > token && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
        end--;
    *end = 0;
    dp_err_t err = DP_OK;
    if (token == end) {
        err = dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                        "s3 credentials: web identity token file \"%s\" is empty", token_file);
        goto done;
    }
    char endpoint[1024], session[128];
    sts_endpoint(cfg, endpoint, sizeof endpoint);
    const char *sn = getenv("AWS_ROLE_SESSION_NAME");
    if (set(sn))
        snprintf(session, sizeof session, "%s", sn);
    else
        snprintf(session, sizeof session, "datapipe-%lld", (long long)time(NULL));
    s3_sts_request_t req = {endpoint, role, session, token, cfg->timeout_ms, cfg->retry_backoff_ms};
    s3_sts_credentials_t sc;
    char detail[1500];
    err = s3_sts_assume_role_with_web_identity(&req, &sc, detail, sizeof detail);
    if (err) {
        dp_seterr(errstr, errstr_size, err, "s3 credentials: %s", detail);
        goto done;
    }
    store->access_key = sc.access_key;
    store->secret_key = sc.secret_key;
    store->session_token = sc.session_token;
    store->expires_ms = sc.expires_ms;
    snprintf(store->source, sizeof store->source, "web identity role \"%.300s\"", role);
    if (sc.expires_ms > 0) {
        time_t secs = (time_t)(sc.expires_ms / 1000);
        struct tm tm;
        char when[32] = "?";
        if (gmtime_r(&secs, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        dp_info("s3", "credentials from web identity: role \"%s\", session \"%s\", until %s", role,
                session, when);
    } else {
        dp_info("s3",
                "credentials from web identity: role \"%s\", session \"%s\", no expiry "
                "given",
                role, session);
    }
done:
    if (tok.data) OPENSSL_cleanse(tok.data, tok.cap);
    dp_buf_fini(&tok);
    return err;
}

dp_err_t s3_credentials_resolve(s3_config_t *cfg, s3_credentials_t *store, char *errstr,
                                size_t errstr_size) {
    memset(store, 0, sizeof *store);
    /* 1. explicit configuration */
    if (set(cfg->access_key) || set(cfg->secret_key)) {
        if (!set(cfg->access_key) || !set(cfg->secret_key))
            return dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                             "s3 credentials: configuration sets only one of access key and "
                             "secret key");
        snprintf(store->source, sizeof store->source, "config");
        return DP_OK;
    }

    /* 2. environment */
    const char *eak = getenv("AWS_ACCESS_KEY_ID"), *esk = getenv("AWS_SECRET_ACCESS_KEY");
    if (set(eak) || set(esk)) {
        if (!set(eak) || !set(esk))
            return dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                             "s3 credentials: %s is set but %s is not",
                             set(eak) ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                             set(eak) ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
        store->access_key = dp_xstrdup(eak);
        store->secret_key = dp_xstrdup(esk);
        const char *etok = getenv("AWS_SESSION_TOKEN");
        if (set(etok)) store->session_token = dp_xstrdup(etok);
        snprintf(store->source, sizeof store->source, "environment");
        goto fill;
    }

    /* 3. web identity (EKS IRSA) */
    const char *role = getenv("AWS_ROLE_ARN"), *token_file = getenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    if (set(role) || set(token_file)) {
        if (!set(role) || !set(token_file))
            return dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                             "s3 credentials: %s is set but %s is not",
                             set(role) ? "AWS_ROLE_ARN" : "AWS_WEB_IDENTITY_TOKEN_FILE",
                             set(role) ? "AWS_WEB_IDENTITY_TOKEN_FILE" : "AWS_ROLE_ARN");
        dp_err_t err = web_identity(cfg, role, token_file, store, errstr, errstr_size);
        if (err) return err;
        goto fill;
    }

    /* 4. shared credentials file */
    char path[4096];
    const char *explicit_file = getenv("AWS_SHARED_CREDENTIALS_FILE");
    const char *home = getenv("HOME");
    if (set(explicit_file)) {
        snprintf(path, sizeof path, "%s", explicit_file);
    } else if (set(home)) {
        snprintf(path, sizeof path, "%s/.aws/credentials", home);
    } else {
        return dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                         "s3 credentials: none configured, none in AWS_ACCESS_KEY_ID/"
                         "AWS_SECRET_ACCESS_KEY, and no HOME for ~/.aws/credentials");
    }
    const char *profile = getenv("AWS_PROFILE");
    if (!set(profile)) profile = "default";
    dp_buf_t text;
    dp_buf_init(&text, CRED_FILE_MAX);
    if (read_file(path, &text) != 0) {
        int e = errno;
        dp_buf_fini(&text);
        if (!set(explicit_file) && e == ENOENT)
            return dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                             "s3 credentials: none configured, none in AWS_ACCESS_KEY_ID/"
                             "AWS_SECRET_ACCESS_KEY, and no file \"%s\"",
                             path);
        return dp_seterr(errstr, errstr_size,
                         set(explicit_file) && e == ENOENT ? DP_ERR_CONFIG : DP_ERR_IO,
                         "s3 credentials: cannot read \"%s\": %s", path, strerror(e));
    }
    int found = s3_credentials_parse_profile((char *)text.data, profile, store);
    OPENSSL_cleanse(text.data, text.len);
    dp_buf_fini(&text);
    if (!found) {
        s3_credentials_fini(store);
        return dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                         "s3 credentials: profile \"%s\" not in \"%s\"", profile, path);
    }
    if (!set(store->access_key) || !set(store->secret_key)) {
        s3_credentials_fini(store);
        return dp_seterr(errstr, errstr_size, DP_ERR_CONFIG,
                         "s3 credentials: profile \"%s\" in \"%s\" lacks aws_access_key_id or "
                         "aws_secret_access_key",
                         profile, path);
    }
    snprintf(store->source, sizeof store->source, "file \"%.100s\" profile \"%.40s\"", path,
             profile);

fill:
    cfg->access_key = store->access_key;
    cfg->secret_key = store->secret_key;
    cfg->session_token = store->session_token;
    return DP_OK;
}
