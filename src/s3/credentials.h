/* credentials.h - where the S3 client's access key, secret and session token
 * come from, in the AWS SDKs' order:
 *   1. explicit configuration (s3_config_t access_key + secret_key),
 *   2. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 *      AWS_SESSION_TOKEN,
 *   3. the shared credentials file: AWS_SHARED_CREDENTIALS_FILE or
 *      ~/.aws/credentials, profile AWS_PROFILE or "default".
 * Not yet: web identity tokens (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN
 * through STS AssumeRoleWithWebIdentity, what EKS IRSA uses), ECS/EC2
 * instance metadata, credential_process, refresh before expiry. They will
 * come as further steps of this chain.
 * Secrets never reach a log line or an error message. */
#ifndef DP_S3_CREDENTIALS_H
#define DP_S3_CREDENTIALS_H

#include <stddef.h>

#include "common/err.h"
#include "s3/client.h"

typedef struct s3_credentials {
    char *access_key;
    char *secret_key;
    char *session_token;
    char source[160]; /* "config", "environment", "file /path profile \"p\"" */
} s3_credentials_t;

/* s3_credentials_resolve: fill cfg->access_key, secret_key and session_token
 * from the first source above that has them; strings read from the
 * environment or a file are owned by *store, which must outlive every use of
 * those cfg fields (s3_client_new copies them, so s3_credentials_fini may
 * follow right after it). *store is always initialized, even on error, and
 * must be released with s3_credentials_fini. DP_ERR_CONFIG when no source has
 * credentials or one has only half of them (that is never silently skipped);
 * DP_ERR_IO when the named credentials file cannot be read. */
dp_err_t s3_credentials_resolve(s3_config_t *cfg, s3_credentials_t *store, char *errstr,
                                size_t errstr_size);

/* s3_credentials_fini: wipe and free what *store owns; may be called twice. */
void s3_credentials_fini(s3_credentials_t *store);

#endif
