/* cli.h - `datapipe s3 ...`: a debugging and test entry point that drives the
 * S3 client from the command line (the integration tests compare what it
 * writes with what boto3 reads). */
#ifndef DP_S3_CLI_H
#define DP_S3_CLI_H

/* s3_cli_main: argv[0] is the command's own name, argv[1] the verb:
 *   put KEY FILE   upload FILE ("-" = stdin), streamed in parts
 *   get KEY FILE   download into FILE ("-" = stdout)
 *   head KEY       print the size; exit 3 when there is no such key
 *   ls [PREFIX]    print "SIZE<TAB>KEY" per object, following pages
 *   rm KEY         delete
 * Options (anywhere): --part-size N[k|m|g], --max-keys N, --content-type T,
 * --whole (put reads FILE into memory and uses s3_put_object), --retries N,
 * --timeout-ms N, --max-bytes N[k|m|g] (get bound), --debug.
 * Environment: S3_ENDPOINT_URL (unset = AWS), S3_BUCKET, AWS_REGION or
 * AWS_DEFAULT_REGION, S3_PATH_STYLE (default 1 with an endpoint), S3_SSE,
 * S3_SSE_KMS_KEY_ID, and the credentials chain of s3/credentials.h.
 * Returns the exit status: 0 ok, 1 failure (detail on stderr), 2 usage,
 * 3 head of a missing key. */
int s3_cli_main(int argc, char **argv);

#endif
