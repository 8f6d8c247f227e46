/* credentials.h - where the S3 client's access key, secret and session token
 * come from, in the order of the AWS SDKs' default chain (Java, PHP, botocore:
 * environment, then web identity, then the shared files):
 *   1. explicit configuration (s3_config_t access_key + secret_key),
 *   2. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 *      AWS_SESSION_TOKEN,
 *   3. web identity, what EKS IRSA sets up: AWS_ROLE_ARN and
 *      AWS_WEB_IDENTITY_TOKEN_FILE (both, or it is an error) -> an unsigned
 *      STS AssumeRoleWithWebIdentity call (s3/sts.h) with the file's token and
 *      RoleSessionName AWS_ROLE_SESSION_NAME or "datapipe-<unix seconds>", to
 *      AWS_ENDPOINT_URL_STS, else AWS_ENDPOINT_URL, else
 *      https://sts.<region>.amazonaws.com (region: the config's, else
 *      AWS_REGION, AWS_DEFAULT_REGION, us-east-1). These credentials expire
 *      (s3_credentials_expiry); the token file is read anew on every resolve,
 *      as the kubelet rotates it,
 *   4. the shared credentials file: AWS_SHARED_CREDENTIALS_FILE or
 *      ~/.aws/credentials, profile AWS_PROFILE or "default".
 * Not yet: role_arn/web_identity_token_file/credential_process in profiles,
 * SSO, ECS/EC2 instance metadata.
 * Secrets (keys, session tokens, the web identity token) never reach a log
 * line or an error message. */
#ifndef DP_S3_CREDENTIALS_H
#define DP_S3_CREDENTIALS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "s3/client.h"

typedef struct s3_credentials {
    char *access_key;
    char *secret_key;
    char *session_token;
    int64_t expires_ms; /* Unix ms when they expire; 0 = no expiry known */
    char source[400]; /* "config", "environment", "web identity role \"arn\"",
                         "file \"/path\" profile \"p\"" */
} s3_credentials_t;

/* How long before expiry the SDKs refresh temporary credentials. */
#define S3_CREDENTIALS_REFRESH_MS ((int64_t)5 * 60 * 1000)

/* s3_credentials_resolve: fill cfg->access_key, secret_key and session_token
 * from the first source above that has them; strings read from the
 * environment or a file are owned by *store, which must outlive every use of
 * those cfg fields (s3_client_new copies them, so s3_credentials_fini may
 * follow right after it). *store is always initialized, even on error, and
 * must be released with s3_credentials_fini. DP_ERR_CONFIG when no source has
 * credentials or one has only half of them (that is never silently skipped);
 * DP_ERR_IO when the named credentials file or the web identity token file
 * cannot be read (the detail names the file); from the STS call, DP_ERR_S3
 * when STS refuses and DP_ERR_S3_RETRY when it cannot be reached or keeps
 * failing, the detail naming the role ARN and the endpoint, never the token;
 * DP_ERR_PROTO for an STS answer without credentials. */
dp_err_t s3_credentials_resolve(s3_config_t *cfg, s3_credentials_t *store, char *errstr,
                                size_t errstr_size);

/* s3_credentials_expiry: when the resolved credentials expire, in Unix
 * milliseconds (CLOCK_REALTIME), or 0 when they do not (config, environment,
 * file) or STS gave no Expiration. A long-running caller resolves again and
 * builds a new client before it, e.g. S3_CREDENTIALS_REFRESH_MS ahead. Call
 * it before s3_credentials_fini, which clears it. */
int64_t s3_credentials_expiry(const s3_credentials_t *store);

/* s3_credentials_refresh_due: 1 when store's credentials expire and now_ms
 * (Unix ms) is within S3_CREDENTIALS_REFRESH_MS of that, or past it. */
int s3_credentials_refresh_due(const s3_credentials_t *store, int64_t now_ms);

/* s3_credentials_parse_profile: scan the NUL-terminated text of an INI
 * credentials file for the section [profile] ("[profile name]" is accepted
 * too, as in ~/.aws/config) and take its aws_access_key_id,
 * aws_secret_access_key and aws_session_token into store (each a trimmed,
 * non-empty value, replacing one set before; a later line wins). Lines are
 * trimmed of blanks; '#' or ';' starts a comment line. Returns 1 when the
 * section exists, 0 if not. Writes NULs into text (keep it to wipe it). */
int s3_credentials_parse_profile(char *text, const char *profile, s3_credentials_t *store);

/* s3_credentials_fini: wipe and free what *store owns; may be called twice. */
void s3_credentials_fini(s3_credentials_t *store);

#endif
