/* test_credentials - web identity in the credential chain: the STS answer
 * parser, its time format on both sides of every field's range, the order
 * of the chain, token file errors and their bounds, expiry and refresh.
 * No network: the only connections go to a closed port on 127.0.0.1. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "s3/credentials.h"
#include "s3/sts.h"
#include "testlib.h"

static void clear_env(void) {
    const char *vars[] = {"AWS_ACCESS_KEY_ID",
                          "AWS_SECRET_ACCESS_KEY",
                          "AWS_SESSION_TOKEN",
                          "AWS_SHARED_CREDENTIALS_FILE",
                          "AWS_PROFILE",
                          "AWS_ROLE_ARN",
                          "AWS_WEB_IDENTITY_TOKEN_FILE",
                          "AWS_ROLE_SESSION_NAME",
                          "AWS_ENDPOINT_URL_STS",
                          "AWS_ENDPOINT_URL",
                          "AWS_REGION",
                          "AWS_DEFAULT_REGION"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
}

/* ---- time ---- */

static int64_t t(const char *s) {
    int64_t ms = -42;
    return s3_sts_parse_time(s, strlen(s), &ms) == 0 ? ms : -1;
}

static void test_parse_time(void) {
    CHECK_EQ_INT(t("1970-01-01T00:00:00Z"), 0);
    CHECK_EQ_INT(t("2026-11-24T08:00:00Z"), 1795507200000LL);
    CHECK_EQ_INT(t("  2026-11-24T08:00:00Z\n"), 1795507200000LL); /* pretty-printed */
    CHECK_EQ_INT(t("2026-11-24T08:00:00+00:00"), 1795507200000LL);
    CHECK_EQ_INT(t("2026-11-24t08:00:00z"), 1795507200000LL);
    CHECK_EQ_INT(t("2026-11-24T08:00:00.5Z"), 1795507200500LL);
    CHECK_EQ_INT(t("2026-11-24T08:00:00.123Z"), 1795507200123LL);
    CHECK_EQ_INT(t("2026-11-24T08:00:00.123999999Z"), 1795507200123LL); /* 9 digits, truncated */
    CHECK_EQ_INT(t("2026-11-24T08:00:00.1234567890Z"), -1); /* 10 digits */
    CHECK_EQ_INT(t("2026-11-24T08:00:00.Z"), -1);
    CHECK_EQ_INT(t("2024-02-29T12:34:56Z"), 1709210096000LL); /* leap day */
    CHECK_EQ_INT(t("2023-02-29T00:00:00Z"), -1);
    CHECK_EQ_INT(t("2100-02-29T00:00:00Z"), -1); /* century, not leap */
    CHECK(t("2000-02-29T00:00:00Z") == 951868800000LL - 86400000LL); /* 400-year leap */
    CHECK_EQ_INT(t("9999-12-31T23:59:59Z"), 253402300799000LL);
    CHECK_EQ_INT(t("1969-12-31T23:59:59Z"), -1);
    CHECK_EQ_INT(t("2026-04-30T00:00:00Z") > 0, 1);
    CHECK_EQ_INT(t("2026-04-31T00:00:00Z"), -1);
    CHECK_EQ_INT(t("2026-12-31T00:00:00Z") > 0, 1);
    CHECK_EQ_INT(t("2026-13-01T00:00:00Z"), -1);
    CHECK_EQ_INT(t("2026-00-01T00:00:00Z"), -1);
    CHECK_EQ_INT(t("2026-01-00T00:00:00Z"), -1);
    CHECK_EQ_INT(t("2026-01-01T23:59:59Z") > 0, 1);
    CHECK_EQ_INT(t("2026-01-01T24:00:00Z"), -1);
    CHECK_EQ_INT(t("2026-01-01T00:60:00Z"), -1);
    CHECK_EQ_INT(t("2026-01-01T00:00:60Z"), -1);
    CHECK_EQ_INT(t("2026-11-24T08:00:00"), -1); /* no zone */
    CHECK_EQ_INT(t("2026-11-24T08:00:00+01:00"), -1); /* not UTC */
    CHECK_EQ_INT(t("2026-11-24T08:00:00Zjunk"), -1);
    CHECK_EQ_INT(t("2026-11-24 08:00:00Z"), -1);
    CHECK_EQ_INT(t("2026-1a-24T08:00:00Z"), -1);
    CHECK_EQ_INT(t(""), -1);
}

/* ---- the STS answer ---- */

#define ANSWER(creds)                                                                              \
    "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"    \
    "  <AssumeRoleWithWebIdentityResult>\n"                                                        \
    "    "                                                                                         \
    "<SubjectFromWebIdentityToken>system:serviceaccount:cdc:archive</"                             \
    "SubjectFromWebIdentityToken>\n"                                                               \
    "    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn>"                   \
    "<AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>\n"                                    \
    "    <Credentials>\n" creds "    </Credentials>\n"                                             \
    "    <Provider>oidc.eks.amazonaws.com</Provider>\n"                                            \
    "  </AssumeRoleWithWebIdentityResult>\n"                                                       \
    "  <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>\n"                          \
    "</AssumeRoleWithWebIdentityResponse>\n"

static dp_err_t parse(const char *doc, s3_sts_credentials_t *c, char *err, size_t n) {
    return s3_sts_parse_credentials(doc, strlen(doc), c, err, n);
}

static void test_parse_answer(void) {
    char err[256];
    s3_sts_credentials_t c;
    const char *full =
        ANSWER("      <SessionToken>FwoGZX&amp;tok/en==</SessionToken>\n"
               "      <SecretAccessKey> wJal&#x2F;rXUtnFEMI+K&lt;MDENG </SecretAccessKey>\n"
               "      <Expiration>2026-11-24T08:00:00Z</Expiration>\n"
               "      <AccessKeyId>ASIAEXAMPLE</AccessKeyId>\n");
    CHECK_EQ_INT(parse(full, &c, err, sizeof err), DP_OK);
    CHECK_EQ_STR(c.access_key, "ASIAEXAMPLE");
    CHECK_EQ_STR(c.secret_key, "wJal/rXUtnFEMI+K<MDENG");
    CHECK_EQ_STR(c.session_token, "FwoGZX&tok/en==");
    CHECK_EQ_INT(c.expires_ms, 1795507200000LL);
    s3_sts_credentials_fini(&c);
    CHECK(c.access_key == NULL && c.secret_key == NULL && c.session_token == NULL);
    s3_sts_credentials_fini(&c); /* twice is fine */

    /* an empty or absent token is no token; an absent Expiration is 0 */
    CHECK_EQ_INT(parse(ANSWER("<AccessKeyId>A</AccessKeyId><SecretAccessKey>S</SecretAccessKey>"
                              "<SessionToken></SessionToken>"),
                       &c, err, sizeof err),
                 DP_OK);
    CHECK(c.session_token == NULL);
    CHECK_EQ_INT(c.expires_ms, 0);
    s3_sts_credentials_fini(&c);
    CHECK_EQ_INT(parse(ANSWER("<AccessKeyId>A</AccessKeyId><SecretAccessKey>S</SecretAccessKey>"
                              "<SessionToken/>"),
                       &c, err, sizeof err),
                 DP_OK);
    CHECK(c.session_token == NULL);
    s3_sts_credentials_fini(&c);

    /* what is refused */
    struct {
        const char *doc, *needle;
    } bad[] = {
        {ANSWER("<SecretAccessKey>S</SecretAccessKey>"), "AccessKeyId"},
        {ANSWER("<AccessKeyId>A</AccessKeyId>"), "SecretAccessKey"},
        {ANSWER("<AccessKeyId></AccessKeyId><SecretAccessKey>S</SecretAccessKey>"), "AccessKeyId"},
        {ANSWER("<AccessKeyId>A</AccessKeyId><SecretAccessKey>S&bogus;</SecretAccessKey>"),
         "entity"},
        {ANSWER("<AccessKeyId>A</AccessKeyId><SecretAccessKey>S</SecretAccessKey>"
                "<Expiration>tomorrow</Expiration>"),
         "tomorrow"},
        {"<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>",
         "<Credentials>"},
        {"", "<Credentials>"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        CHECK_EQ_INT(parse(bad[i].doc, &c, err, sizeof err), DP_ERR_PROTO);
        CHECK(strstr(err, bad[i].needle) != NULL);
        CHECK(c.access_key == NULL && c.secret_key == NULL && c.session_token == NULL);
    }
    /* the secret never reaches the error detail */
    CHECK_EQ_INT(parse(ANSWER("<AccessKeyId>A</AccessKeyId><SecretAccessKey>TOPSECRET"
                              "</SecretAccessKey><Expiration>x</Expiration>"),
                       &c, err, sizeof err),
                 DP_ERR_PROTO);
    CHECK(strstr(err, "TOPSECRET") == NULL);
}

static void test_regional_endpoint(void) {
    char e[200];
    s3_sts_regional_endpoint(NULL, e, sizeof e);
    CHECK_EQ_STR(e, "https://sts.us-east-1.amazonaws.com");
    s3_sts_regional_endpoint("eu-west-1", e, sizeof e);
    CHECK_EQ_STR(e, "https://sts.eu-west-1.amazonaws.com");
    s3_sts_regional_endpoint("cn-north-1", e, sizeof e);
    CHECK_EQ_STR(e, "https://sts.cn-north-1.amazonaws.com.cn");
}

/* ---- the chain ---- */

static void write_file(const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK_EQ_INT(fwrite(data, 1, len, f), len);
    fclose(f);
}

static dp_err_t resolve(s3_credentials_t *cr, char *err, size_t n) {
    s3_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.retry_backoff_ms = 1; /* the STS retries against a closed port: fast */
    cfg.timeout_ms = 2000;
    err[0] = 0;
    return s3_credentials_resolve(&cfg, cr, err, n);
}

static void test_chain(void) {
    char dir[] = "/tmp/test_credentials_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char token[300], creds[300], big[300], empty[300];
    snprintf(token, sizeof token, "%s/token", dir);
    snprintf(creds, sizeof creds, "%s/credentials", dir);
    snprintf(big, sizeof big, "%s/big", dir);
    snprintf(empty, sizeof empty, "%s/empty", dir);
    const char *jwt = "eyJhbGciOiJSUzI1NiJ9.SECRETJWT.sig";
    write_file(token, jwt, strlen(jwt));
    const char *ini = "[default]\naws_access_key_id=FILEAK\naws_secret_access_key=FILESK\n";
    write_file(creds, ini, strlen(ini));
    write_file(empty, " \n\n", 3);
    clear_env();
    char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("HOME", dir, 1);

    char err[2048];
    s3_credentials_t cr;
    const char *role = "arn:aws:iam::123456789012:role/datapipe-archive";

    /* environment keys come before web identity: no STS call */
    setenv("AWS_ACCESS_KEY_ID", "ENVAK", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "ENVSK", 1);
    setenv("AWS_ROLE_ARN", role, 1);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token", 1);
    setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1", 1);
    CHECK_EQ_INT(resolve(&cr, err, sizeof err), DP_OK);
    CHECK_EQ_STR(cr.source, "environment");
    CHECK_EQ_INT(s3_credentials_expiry(&cr), 0);
    CHECK_EQ_INT(s3_credentials_refresh_due(&cr, INT64_MAX), 0);
    s3_credentials_fini(&cr);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");

    /* half of web identity is an error naming the other half */
    unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    CHECK_EQ_INT(resolve(&cr, err, sizeof err), DP_ERR_CONFIG);
    CHECK(strstr(err, "AWS_WEB_IDENTITY_TOKEN_FILE") != NULL);
    s3_credentials_fini(&cr);
    unsetenv("AWS_ROLE_ARN");
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", token, 1);
    CHECK_EQ_INT(resolve(&cr, err, sizeof err), DP_ERR_CONFIG);
    CHECK(strstr(err, "but AWS_ROLE_ARN is not") != NULL);
    s3_credentials_fini(&cr);
    setenv("AWS_ROLE_ARN", role, 1);

    /* token files that cannot be used, named */
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token", 1);
    CHECK_EQ_INT(resolve(&cr, err, sizeof err), DP_ERR_IO);
    CHECK(strstr(err, "\"/nonexistent/token\"") != NULL);
    CHECK(strstr(err, "No such file") != NULL);
    s3_credentials_fini(&cr);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", dir, 1); /* a directory */
    CHECK_EQ_INT(resolve(&cr, err, sizeof err), DP_ERR_IO);
    CHECK(strstr(err, dir) != NULL);
    s3_credentials_fini(&cr);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", empty, 1);
    CHECK_EQ_INT(resolve(&cr, err, sizeof err), DP_ERR_CONFIG);
    CHECK(strstr(err, empty) != NULL && strstr(err, "empty") != NULL);
    s3_credentials_fini(&cr);

    /* the 64 KiB bound: one byte over is refused before any call, exactly
     * 64 KiB goes to STS (here a closed port: a retriable failure) */
    size_t limit = (size_t)64 << 10;
    char *blob = malloc(limit + 1);
    memset(blob, 'x', limit + 1);
    write_file(big, blob, limit + 1);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", big, 1);
    CHECK_EQ_INT(resolve(&cr, err, sizeof err), DP_ERR_IO);
    CHECK(strstr(err, "larger than 64 KiB") != NULL && strstr(err, big) != NULL);
    s3_credentials_fini(&cr);
    write_file(big, blob, limit);
    CHECK_EQ_INT(resolve(&cr, err, sizeof err), DP_ERR_S3_RETRY);
    CHECK(strstr(err, "(after 3 attempts)") != NULL);
    CHECK(strstr(err, "xxxxxxxx") == NULL);
    s3_credentials_fini(&cr);
    free(blob);

    /* web identity comes before the shared file: with both, STS is asked
     * (and here fails: the error names role and endpoint, not the token) */
    setenv("AWS_SHARED_CREDENTIALS_FILE", creds, 1);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", token, 1);
    CHECK_EQ_INT(resolve(&cr, err, sizeof err), DP_ERR_S3_RETRY);
    CHECK(strstr(err, role) != NULL);
    CHECK(strstr(err, "\"http://127.0.0.1:1\"") != NULL);
    CHECK(strstr(err, "SECRETJWT") == NULL);
    CHECK(cr.access_key == NULL);
    s3_credentials_fini(&cr);

    /* AWS_ENDPOINT_URL_STS before AWS_ENDPOINT_URL */
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:2", 1);
    CHECK_EQ_INT(resolve(&cr, err, sizeof err), DP_ERR_S3_RETRY);
    CHECK(strstr(err, "127.0.0.1:1") != NULL && strstr(err, "127.0.0.1:2") == NULL);
    s3_credentials_fini(&cr);
    unsetenv("AWS_ENDPOINT_URL_STS");
    CHECK_EQ_INT(resolve(&cr, err, sizeof err), DP_ERR_S3_RETRY);
    CHECK(strstr(err, "\"http://127.0.0.1:2\"") != NULL);
    s3_credentials_fini(&cr);
    unsetenv("AWS_ENDPOINT_URL");

    /* without web identity the shared file is used as before */
    unsetenv("AWS_ROLE_ARN");
    unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    CHECK_EQ_INT(resolve(&cr, err, sizeof err), DP_OK);
    CHECK_EQ_STR(cr.access_key, "FILEAK");
    s3_credentials_fini(&cr);

    clear_env();
    if (old_home) setenv("HOME", old_home, 1);
    free(old_home);
    unlink(token);
    unlink(creds);
    unlink(big);
    unlink(empty);
    rmdir(dir);
}

static void test_refresh_due(void) {
    s3_credentials_t cr;
    memset(&cr, 0, sizeof cr);
    CHECK_EQ_INT(s3_credentials_refresh_due(&cr, 0), 0);
    CHECK_EQ_INT(s3_credentials_refresh_due(&cr, INT64_MAX), 0); /* never expires */
    cr.expires_ms = 1795507200000LL;
    CHECK_EQ_INT(s3_credentials_expiry(&cr), 1795507200000LL);
    CHECK_EQ_INT(s3_credentials_refresh_due(&cr, 1795507200000LL - 300001), 0);
    CHECK_EQ_INT(s3_credentials_refresh_due(&cr, 1795507200000LL - 300000), 1);
    CHECK_EQ_INT(s3_credentials_refresh_due(&cr, 1795507200000LL + 1), 1);
    s3_credentials_fini(&cr);
    CHECK_EQ_INT(s3_credentials_expiry(&cr), 0);
}

int main(void) {
    dp_log_level = DP_LOG_ERROR; /* the expected STS retries warn */
    test_parse_time();
    test_parse_answer();
    test_regional_endpoint();
    test_chain();
    test_refresh_due();
    return tl_finish("test_credentials");
}
