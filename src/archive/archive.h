/* archive.h - `datapipe archive`: Kafka topics -> Parquet files in S3, as
 * the Confluent S3 sink does, configured with its keys. */
#ifndef DP_ARCHIVE_ARCHIVE_H
#define DP_ARCHIVE_ARCHIVE_H

#include <stdint.h>
#include <time.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/json.h"
#include "event/avro.h"
#include "s3/client.h"
#include "s3/credentials.h"

/* behavior.on.null.values */
typedef enum { ARC_NULL_IGNORE, ARC_NULL_FAIL } arc_null_behavior_t;
/* timestamp.extractor */
typedef enum { ARC_TS_RECORD, ARC_TS_RECORD_FIELD, ARC_TS_WALLCLOCK } arc_ts_extractor_t;
/* errors.tolerance */
typedef enum { ARC_TOLERATE_NONE, ARC_TOLERATE_ALL } arc_tolerance_t;

typedef struct archive_settings {
    char *name, *connector_class;
    long long tasks_max;
    char *topics_regex, *topics, *topics_dir;
    char *s3_region, *s3_bucket, *store_url;
    int path_style;
    int s3_create_only; /* datapipe.s3.create.only: If-None-Match on uploads */
    long long s3_part_size, s3_retries, s3_retry_backoff_ms;
    long long flush_size, rotate_interval_ms, rotate_schedule_interval_ms;
    char *timezone, *locale;
    long long partition_duration_ms;
    char *path_format, *partitioner_class, *timestamp_field;
    int timestamp_extractor; /* arc_ts_extractor_t */
    char *format_class;
    int parquet_codec; /* pqt_codec_t */
    long long filename_offset_zero_pad_width;
    int key_converter, value_converter; /* cfg_converter_t */
    int key_schemas_enable, value_schemas_enable;
    char *key_registry_url, *value_registry_url;
    char *aws_access_key_id, *aws_secret_access_key;
    char *ssea_name, *sse_kms_key_id;
    char *s3_ca_location; /* s3.ssl.ca.location; NULL: AWS_CA_BUNDLE, else the system's */
    int behavior_on_null_values; /* arc_null_behavior_t */
    int errors_tolerance; /* arc_tolerance_t */
    char *dlq_topic;
    long long max_record_bytes, row_group_bytes, max_buffer_bytes;
    cfg_service_t svc; /* datapipe.log.level, datapipe.metrics.*, kafka.* */
} archive_settings_t;

extern const cfg_table_t archive_config_table;

/* tasks.max's upper bound: consumer threads in one process */
#define ARCHIVE_MAX_TASKS 64

int archive_main(int argc, char **argv);
/* archive_run: the service on settings s already loaded (archive_main's
 * part after the command line; the in-process tests call it): 0 after a
 * stop or a drain, 1 on failure. */
int archive_run(archive_settings_t *s);
/* archive_request: what SIGTERM (stop) and SIGUSR1 (drain: archive up to
 * the current end of the topics, then stop) ask, set or cleared */
void archive_request(int stop, int drain);
/* archive_topic_listed: topic is one of the comma-separated names of the
 * `topics` key (blanks around names ignored); 0 for a NULL list */
int archive_topic_listed(const char *topics, const char *topic);
/* archive_fail_seeks: the next n seeks of a partition fail, as one can
 * while a rebalance moves it (for tests: librdkafka offers no way to make
 * one fail) */
void archive_fail_seeks(int n);

/* archive_s3_client: an S3 client for the archive settings s (endpoint,
 * region, bucket, credentials through the usual chain, SSE, part size). */
dp_err_t archive_s3_client(const archive_settings_t *s, int max_retries, s3_client_t **out,
                           char *errstr, size_t errstr_size);
/* archive_s3_client_ex: the same, keeping the resolved credentials in
 * *creds (always initialized; release with s3_credentials_fini) so that
 * temporary ones can be refreshed. */
dp_err_t archive_s3_client_ex(const archive_settings_t *s, int max_retries, s3_client_t **out,
                              s3_credentials_t *creds, char *errstr, size_t errstr_size);

/* ---- the row of the seed's s3_cdc_events table ---- */

enum {
    ARC_COL_EVENT_TIMESTAMP,
    ARC_COL_OPERATION_TYPE,
    ARC_COL_TABLE_NAME,
    ARC_COL_CONNECTOR_VERSION,
    ARC_COL_DATABASE_NAME,
    ARC_COL_SCHEMA_NAME,
    ARC_COL_TRANSACTION_ID,
    ARC_COL_LSN,
    ARC_COL_BEFORE_DATA,
    ARC_COL_AFTER_DATA,
    ARC_COL_KAFKA_TOPIC,
    ARC_COL_KAFKA_PARTITION,
    ARC_COL_KAFKA_OFFSET,
    ARC_NCOLS
};

typedef struct arc_span {
    const char *p;
    size_t len;
    int null;
} arc_span_t;

typedef struct arc_row {
    int64_t event_ts_ms;
    arc_span_t op, table, version, db, schema, before, after;
    int64_t txid, lsn;
    int txid_null, lsn_null, ts_null;
    dp_buf_t scratch; /* decoded strings live here */
} arc_row_t;

/* arc_row_parse: a Debezium JSON value (with or without the JsonConverter
 * schema wrapper) into row; spans point into value or row->scratch. Fails
 * with DP_ERR_INVALID and a reason for anything that is not a Debezium
 * envelope. */
dp_err_t arc_row_parse(arc_row_t *row, dp_json_t *j, const char *value, size_t len, char *errstr,
                       size_t errstr_size);

/* arc_row_from_avro: the same row from an AvroConverter record's fields,
 * read by dp_avro_read_fields for the paths arc_row_avro_want (in that
 * order) into g and json; string spans point into the record's bytes,
 * before/after into json. The same checks as arc_row_parse. */
#define ARC_ROW_AVRO_NWANT 10
extern const char *const arc_row_avro_want[ARC_ROW_AVRO_NWANT];
dp_err_t arc_row_from_avro(arc_row_t *row, const dp_avro_got_t *g, const dp_buf_t *json,
                           char *errstr, size_t errstr_size);

/* arc_row_field_ms: after a successful arc_row_parse on j, the value of
 * the dotted field path (relative to the payload, e.g. "source.ts_ms") as
 * ms since the epoch: a JSON integer is taken as ms, a string as an
 * ISO-8601 date-time ("2026-11-24T06:00:00Z", "+01:00" offsets, or a space
 * for the T). DP_ERR_INVALID when absent, null or not a time. */
dp_err_t arc_row_field_ms(const dp_json_t *j, const char *path, int64_t *ms);

/* arc_format_path: the encoded partition of timestamp ts_ms (bucketed to
 * duration_ms) in path.format syntax (Joda: 'literal', YYYY, MM, dd, HH,
 * mm, ss) in time zone tz ("UTC" or an IANA name). */
dp_err_t arc_format_path(const char *format, int64_t ts_ms, long long duration_ms, const char *tz,
                         char *out, size_t outsize);

#endif
