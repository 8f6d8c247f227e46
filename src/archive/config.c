/* config.c - the archive service's configuration table: the Confluent S3
 * sink's key names, plus kafka.* pass-through to librdkafka. */
#include <stddef.h>
#include <string.h>

#include "archive/archive.h"
#include "parquet/writer.h"

#include <stdio.h>
#include <stdlib.h>

/* check_timezone: "UTC", or an IANA name whose TZif file the C library
 * finds (under $TZDIR, else /usr/share/zoneinfo): an unknown name would
 * otherwise be taken as UTC without a word */
static dp_err_t check_timezone(const char *v, char *errstr, size_t n) {
    if (!strcmp(v, "UTC")) return DP_OK;
    if (!*v || *v == '/' || strstr(v, "..") ||
        strspn(v,
               "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
               "nopqrstuvwxyz0123456789/_+-") != strlen(v))
        return dp_seterr(errstr, n, DP_ERR_CONFIG,
                         "expected UTC or an IANA time zone name such as "
                         "Europe/Paris");
    const char *dir = getenv("TZDIR");
    char path[1024], magic[4] = {0};
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", v);
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(magic, 1, sizeof magic, f) : 0;
    if (f) fclose(f);
    if (got != sizeof magic || memcmp(magic, "TZif", 4) != 0)
        return dp_seterr(errstr, n, DP_ERR_CONFIG, "no such time zone in %s (is tzdata installed?)",
                         dir && *dir ? dir : "/usr/share/zoneinfo");
    return DP_OK;
}

static const cfg_enum_t codecs[] = {{"none", PQT_CODEC_NONE},
                                    {"snappy", PQT_CODEC_SNAPPY},
                                    {"gzip", PQT_CODEC_GZIP},
                                    {"zstd", PQT_CODEC_ZSTD},
                                    {NULL, 0}};
static const cfg_enum_t null_behaviors[] = {
    {"ignore", ARC_NULL_IGNORE}, {"fail", ARC_NULL_FAIL}, {NULL, 0}};
static const cfg_enum_t ts_extractors[] = {{"Record", ARC_TS_RECORD},
                                           {"RecordField", ARC_TS_RECORD_FIELD},
                                           {"Wallclock", ARC_TS_WALLCLOCK},
                                           {NULL, 0}};
static const cfg_enum_t tolerances[] = {
    {"none", ARC_TOLERATE_NONE}, {"all", ARC_TOLERATE_ALL}, {NULL, 0}};

#define S(f) offsetof(archive_settings_t, f)

static const cfg_def_t defs[] = {
    {"name", CFG_STRING, S(name), 0, 0, "datapipe-archive", NULL, 0, NULL,
     "Connector name; the consumer group is connect-<name>, as Kafka Connect names it.", NULL,
     NULL},
    {"connector.class", CFG_STRING, S(connector_class), 0, 0,
     "io.confluent.connect.s3.S3SinkConnector", "io.confluent.connect.s3.S3SinkConnector", 0, NULL,
     "Accepted for compatibility.", NULL, NULL},
    {"tasks.max", CFG_INT, S(tasks_max), 1, 64, "1", NULL, 0, NULL,
     "Consumers in this process, each a thread with its own Kafka consumer (one group, "
     "connect-<name>), S3 client and open files; processes with the same name share the "
     "partitions too.",
     NULL, NULL},
    {"topics.regex", CFG_STRING, S(topics_regex), 0, 0, NULL, NULL, 0, NULL,
     "Regular expression of the topics to archive.", NULL, NULL},
    {"topics", CFG_STRING, S(topics), 0, 0, NULL, NULL, 0, NULL,
     "Comma-separated topics to archive (instead of topics.regex).", NULL, NULL},
    {"topics.dir", CFG_STRING, S(topics_dir), 0, 0, "topics", NULL, 0, NULL,
     "Top-level prefix of every object key.", NULL, NULL},
    {"s3.region", CFG_STRING, S(s3_region), 0, 0, "us-east-1", NULL, 0, NULL, "AWS region.", NULL,
     NULL},
    {"s3.bucket.name", CFG_STRING, S(s3_bucket), 0, 0, NULL, NULL, CFG_F_REQUIRED, NULL, "Bucket.",
     NULL, NULL},
    {"store.url", CFG_STRING, S(store_url), 0, 0, NULL, NULL, 0, NULL,
     "Endpoint of an S3-compatible store, e.g. http://127.0.0.1:9000; unset = AWS.", NULL, NULL},
    {"s3.path.style.access.enabled", CFG_BOOL, S(path_style), 0, 0, "true", NULL, 0, NULL,
     "Path-style requests (http://host/bucket/key).", NULL, NULL},
    {"s3.part.size", CFG_INT, S(s3_part_size), 5242880, 2147483647, "26214400", NULL, 0, NULL,
     "Multipart part size; files larger than one part are uploaded in parts.", NULL, NULL},
    {"s3.part.retries", CFG_INT, S(s3_retries), 0, 100, "3", NULL, 0, NULL,
     "Retries of a failed S3 request (exponential backoff with jitter).", NULL, NULL},
    {"s3.retry.backoff.ms", CFG_INT, S(s3_retry_backoff_ms), 1, 60000, "200", NULL, 0, NULL,
     "First retry delay; doubles per retry up to 30 s.", NULL, NULL},
    {"flush.size", CFG_INT, S(flush_size), 1, 100000000, NULL, NULL, CFG_F_REQUIRED, NULL,
     "Records per file.", NULL, NULL},
    {"rotate.interval.ms", CFG_INT, S(rotate_interval_ms), -1, 86400000LL * 365, "-1", NULL, 0,
     NULL,
     "Close a file this long after it was opened (wall clock, so quiet topics still "
     "reach S3); -1 = off.",
     NULL, NULL},
    {"rotate.schedule.interval.ms", CFG_INT, S(rotate_schedule_interval_ms), -1, 86400000LL * 365,
     "-1", NULL, 0, NULL,
     "Close every open file at multiples of this interval of wall-clock time; -1 = off.", NULL,
     NULL},
    {"timezone", CFG_STRING, S(timezone), 0, 0, "UTC", NULL, 0, NULL,
     "Time zone of the time-based partitions: UTC or an IANA name (Europe/Paris).",
     .check = check_timezone},
    {"locale", CFG_STRING, S(locale), 0, 0, "en-US", NULL, 0, NULL, "Accepted for compatibility.",
     NULL, NULL},
    {"partition.duration.ms", CFG_INT, S(partition_duration_ms), 1, 86400000LL * 366, "3600000",
     NULL, 0, NULL, "Width of a time partition.", NULL, NULL},
    {"path.format", CFG_STRING, S(path_format), 0, 0, "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH",
     NULL, 0, NULL, "Joda-style pattern of the time partition path.", NULL, NULL},
    {"partitioner.class", CFG_STRING, S(partitioner_class), 0, 0,
     "io.confluent.connect.storage.partitioner.TimeBasedPartitioner",
     "io.confluent.connect.storage.partitioner.TimeBasedPartitioner", 0, NULL,
     "Partitioner; time-based.", NULL, NULL},
    {"timestamp.extractor", CFG_ENUM, S(timestamp_extractor), 0, 0, "Record", NULL, 0, NULL,
     "Which time decides the partition: the Kafka record's, a field of the value "
     "(timestamp.field), or now (Wallclock gives up exactly-once: a replay may pick other paths).",
     .map = ts_extractors},
    {"timestamp.field", CFG_STRING, S(timestamp_field), 0, 0, "", NULL, 0, NULL,
     "With RecordField: dotted path into the event payload, e.g. source.ts_ms; integers are "
     "ms since the epoch, strings ISO-8601.",
     NULL, NULL},
    {"format.class", CFG_STRING, S(format_class), 0, 0,
     "io.confluent.connect.s3.format.parquet.ParquetFormat",
     "io.confluent.connect.s3.format.parquet.ParquetFormat", 0, NULL, "Output format: Parquet.",
     NULL, NULL},
    {"parquet.codec", CFG_ENUM, S(parquet_codec), 0, 0, "snappy", NULL, 0, NULL,
     "Parquet compression codec.", .map = codecs},
    {"filename.offset.zero.pad.width", CFG_INT, S(filename_offset_zero_pad_width), 0, 20, "10",
     NULL, 0, NULL, "Zero padding of the start offset in file names.", NULL, NULL},
    {"key.converter", CFG_ENUM, S(key_converter), 0, 0, CFG_JSON_CONVERTER, NULL, 0, NULL,
     "Key converter class (the archive writes values only; the key is not read).",
     .map = cfg_converters},
    {"value.converter", CFG_ENUM, S(value_converter), 0, 0, CFG_JSON_CONVERTER, NULL, 0, NULL,
     "Value converter class; with AvroConverter (Confluent wire format) the writer schema of "
     "each id is fetched from the registry once.",
     .map = cfg_converters},
    {"key.converter.schemas.enable", CFG_BOOL, S(key_schemas_enable), 0, 0, "true", NULL, 0, NULL,
     "Accepted for compatibility (the archive does not read keys).", NULL, NULL},
    {"value.converter.schemas.enable", CFG_BOOL, S(value_schemas_enable), 0, 0, "true", NULL, 0,
     NULL, "Values carry the {schema, payload} wrapper (both forms are read either way).", NULL,
     NULL},
    {"key.converter.schema.registry.url", CFG_STRING, S(key_registry_url), 0, 0, NULL, NULL, 0,
     NULL, "Schema registry of the Avro key converter.", NULL, NULL},
    {"value.converter.schema.registry.url", CFG_STRING, S(value_registry_url), 0, 0, NULL, NULL, 0,
     NULL,
     "Schema registry (Confluent REST API; comma-separated urls) of the Avro value "
     "converter; required when value.converter is AvroConverter.",
     NULL, NULL},
    {"aws.access.key.id", CFG_STRING, S(aws_access_key_id), 0, 0, NULL, NULL, 0, NULL,
     "Access key; unset = environment, then ~/.aws/credentials.", NULL, NULL},
    {"aws.secret.access.key", CFG_STRING, S(aws_secret_access_key), 0, 0, NULL, NULL, CFG_F_SECRET,
     NULL, "Secret key.", NULL, NULL},
    {"s3.ssea.name", CFG_STRING, S(ssea_name), 0, 0, "", "|AES256|aws:kms", 0, NULL,
     "Server-side encryption.", NULL, NULL},
    {"s3.sse.kms.key.id", CFG_STRING, S(sse_kms_key_id), 0, 0, NULL, NULL, 0, NULL,
     "KMS key for aws:kms.", NULL, NULL},
    {"s3.ssl.ca.location", CFG_STRING, S(s3_ca_location), 0, 0, NULL, NULL, 0, NULL,
     "PEM file of the CA certificates that sign an https store.url's certificate; unset = "
     "the file AWS_CA_BUNDLE names, as the AWS SDKs read it, else the system's CAs.",
     NULL, NULL},
    {"behavior.on.null.values", CFG_ENUM, S(behavior_on_null_values), 0, 0, "ignore", NULL, 0, NULL,
     "Tombstones (null values, Debezium sends one after each delete): skip them or stop.",
     .map = null_behaviors},
    {"errors.tolerance", CFG_ENUM, S(errors_tolerance), 0, 0, "none", NULL, 0, NULL,
     "none: a record that cannot be converted stops the archiver before its offset is "
     "committed; all: it goes to the dead-letter topic.",
     .map = tolerances},
    {"errors.deadletterqueue.topic.name", CFG_STRING, S(dlq_topic), 0, 0, "", NULL, 0, NULL,
     "Dead-letter topic (with errors.tolerance=all).", NULL, NULL},
    {"datapipe.max.record.bytes", CFG_INT, S(max_record_bytes), 1024, 1LL << 30, "16777216", NULL,
     0, NULL, "Largest record value accepted; larger ones are conversion errors.", NULL, NULL},
    {"datapipe.row.group.bytes", CFG_INT, S(row_group_bytes), 1 << 16, 1LL << 30, "8388608", NULL,
     0, NULL, "Uncompressed bytes buffered per open file before a row group is written.", NULL,
     NULL},
    {"datapipe.max.buffer.bytes", CFG_INT, S(max_buffer_bytes), 1 << 20, 1LL << 40, "268435456",
     NULL, 0, NULL,
     "Bound on the bytes held by all open files together (row data buffered in the Parquet "
     "writers plus the part buffers of their uploads) and librdkafka's prefetch queue; each of "
     "the tasks.max consumers gets an equal share, an eighth of it (256 KiB to 8 MiB) for "
     "prefetch. At the bound the largest open file is closed early (uploaded and committed), "
     "however many partitions are open.",
     NULL, NULL},
    {"datapipe.s3.create.only", CFG_BOOL, S(s3_create_only), 0, 0, "true", NULL, 0, NULL,
     "Upload with If-None-Match: * so that no object is ever replaced. An object already at a "
     "file's key (written by an earlier run that died before committing, or by an archiver "
     "that lost its partitions without noticing) is adopted: its footer says which offsets it "
     "holds and the archive goes on after them. Turn off only for an S3-compatible server "
     "that rejects the header; replays then overwrite.",
     NULL, NULL},
};

/* finalize: the rules across the archive's keys */
static dp_err_t finalize(void *settings, char *errstr, size_t n) {
    const archive_settings_t *s = settings;
    if (!s->topics_regex == !s->topics)
        return dp_seterr(errstr, n, DP_ERR_CONFIG,
                         "set exactly one of \"topics.regex\" and \"topics\"");
    if (s->errors_tolerance == ARC_TOLERATE_ALL && !*s->dlq_topic)
        return dp_seterr(errstr, n, DP_ERR_CONFIG,
                         "\"errors.tolerance\" all needs \"errors.deadletterqueue.topic.name\"");
    dp_err_t err =
        cfg_check_converter("value", s->value_converter, s->value_registry_url, errstr, n);
    if (err) return err;
    if (s->timestamp_extractor == ARC_TS_RECORD_FIELD && !*s->timestamp_field)
        return dp_seterr(errstr, n, DP_ERR_CONFIG,
                         "\"timestamp.extractor\" RecordField needs \"timestamp.field\"");
    char probe[512];
    if (arc_format_path(s->path_format, 0, s->partition_duration_ms, s->timezone, probe,
                        sizeof probe))
        return dp_seterr(errstr, n, DP_ERR_CONFIG,
                         "invalid \"path.format\": expected Joda-style fields such as "
                         "'year'=YYYY/'month'=MM in single quotes and pattern letters");
    return DP_OK;
}

const cfg_table_t archive_config_table = {"archive", defs, sizeof defs / sizeof defs[0],
                                          offsetof(archive_settings_t, svc), finalize};

int archive_topic_listed(const char *topics, const char *topic) {
    size_t tl = strlen(topic);
    for (const char *p = topics; p && *p;) {
        while (*p == ' ' || *p == ',') p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        const char *t = e;
        while (t > p && t[-1] == ' ') t--;
        if ((size_t)(t - p) == tl && strncmp(p, topic, tl) == 0) return 1;
        p = e;
    }
    return 0;
}
