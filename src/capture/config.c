/* config.c - the capture service's configuration table: Debezium's key
 * names, plus kafka.* pass-through to librdkafka. */
#include <stddef.h>

#include "capture/capture.h"

#define S(f) offsetof(capture_settings_t, f)

static const cfg_def_t defs[] = {
    {"name", CFG_STRING, S(name), 0, 0, "datapipe-capture", NULL, 0, NULL,
     "Connector name (used in logs and as the Kafka client id)."},
    {"connector.class", CFG_STRING, S(connector_class), 0, 0,
     "io.debezium.connector.postgresql.PostgresConnector",
     "io.debezium.connector.postgresql.PostgresConnector|PostgresConnector", 0, NULL,
     "Accepted for compatibility; must name Debezium's PostgreSQL connector."},
    {"database.hostname", CFG_STRING, S(hostname), 0, 0, NULL, NULL, CFG_F_REQUIRED, NULL,
     "PostgreSQL host."},
    {"database.port", CFG_INT, S(port), 1, 65535, "5432", NULL, 0, NULL, "PostgreSQL port."},
    {"database.user", CFG_STRING, S(user), 0, 0, NULL, NULL, CFG_F_REQUIRED, NULL,
     "User with the REPLICATION attribute."},
    {"database.password", CFG_STRING, S(password), 0, 0, "", NULL, CFG_F_SECRET, NULL,
     "Password; ${file:/path:key} and ${env:NAME} references are resolved."},
    {"database.dbname", CFG_STRING, S(dbname), 0, 0, NULL, NULL, CFG_F_REQUIRED, NULL,
     "Database to capture."},
    {"topic.prefix", CFG_STRING, S(topic_prefix), 0, 0, NULL, NULL, CFG_F_REQUIRED, NULL,
     "Logical server name: topics are <topic.prefix>.<schema>.<table> before transforms."},
    {"database.server.name", CFG_STRING, 0, 0, 0, NULL, NULL, CFG_F_DEPRECATED, "topic.prefix",
     "Deprecated name of topic.prefix."},
    {"table.include.list", CFG_STRING, S(table_include_list), 0, 0, NULL, NULL, 0, NULL,
     "Comma-separated regular expressions matched against <schema>.<table>; empty = all."},
    {"table.exclude.list", CFG_STRING, S(table_exclude_list), 0, 0, NULL, NULL, 0, NULL,
     "Comma-separated regular expressions of tables to leave out."},
    {"message.key.columns", CFG_STRING, S(message_key_columns), 0, 0, "", NULL, 0, NULL,
     "Custom message keys: <schema.table regex>:<column>,<column>;... (tables without a "
     "primary key get a key this way)."},
    {"plugin.name", CFG_STRING, S(plugin_name), 0, 0, "pgoutput", "pgoutput", 0, NULL,
     "Logical decoding plugin; datapipe speaks pgoutput."},
    {"slot.name", CFG_STRING, S(slot_name), 0, 0, "debezium", NULL, 0, NULL,
     "Replication slot name."},
    {"publication.name", CFG_STRING, S(publication_name), 0, 0, "dbz_publication", NULL, 0, NULL,
     "Publication name."},
    {"publication.autocreate.mode", CFG_ENUM, S(publication_autocreate_mode), 0, 0, "all_tables",
     "all_tables|disabled|filtered|no_tables", 0, NULL,
     "How a missing publication is created."},
    {"snapshot.mode", CFG_ENUM, S(snapshot_mode), 0, 0, "initial",
     "initial|initial_only|when_needed|no_data|never", 0, NULL,
     "initial: read the tables (op r) when the slot is created, then stream; initial_only: "
     "read them and stop; when_needed: also when the slot lost its WAL; no_data (never is its "
     "deprecated name): stream only."},
    {"snapshot.fetch.size", CFG_INT, S(snapshot_fetch_size), 1, 1000000, "10240", NULL, 0, NULL,
     "Rows read per round trip while snapshotting (bounds memory for big tables)."},
    {"slot.drop.on.stop", CFG_BOOL, S(slot_drop_on_stop), 0, 0, "false", NULL, 0, NULL,
     "Drop the slot on a clean stop."},
    {"tombstones.on.delete", CFG_BOOL, S(tombstones_on_delete), 0, 0, "true", NULL, 0, NULL,
     "Send a tombstone (null value) after each delete event."},
    {"skipped.operations", CFG_STRING, S(skipped_operations), 0, 0, "t", NULL, 0, NULL,
     "Comma-separated operations not to emit: c, u, d, t, or none."},
    {"decimal.handling.mode", CFG_ENUM, S(decimal_handling_mode), 0, 0, "precise",
     "precise|double|string", 0, NULL,
     "How numeric and money columns are represented: precise (the default) as Kafka Connect's "
     "Decimal (numeric without a scale as io.debezium.data.VariableScaleDecimal); double as a "
     "double, NaN and infinities included; string as the plain decimal text (NaN as \"NAN\")."},
    {"time.precision.mode", CFG_ENUM, S(time_precision_mode), 0, 0, "adaptive",
     "adaptive|adaptive_time_microseconds|connect", 0, NULL,
     "How date, time and timestamp columns are represented: adaptive (the default) by the "
     "column's precision (io.debezium.time.Date, Time, MicroTime, Timestamp, MicroTimestamp); "
     "adaptive_time_microseconds like adaptive, but every time column as MicroTime; connect as "
     "Kafka Connect's Date, Time and Timestamp, in milliseconds whatever the precision. "
     "timestamptz, timetz and interval are not affected."},
    {"binary.handling.mode", CFG_ENUM, S(binary_handling_mode), 0, 0, "bytes",
     "bytes|base64|base64-url-safe|hex", 0, NULL,
     "How bytea columns are represented: bytes (the default; JSON carries them base64-encoded), "
     "or a string of base64, base64-url-safe (RFC 4648 URL alphabet, padded) or hex (lowercase)."},
    {"key.converter", CFG_STRING, S(key_converter), 0, 0,
     "org.apache.kafka.connect.json.JsonConverter", NULL, 0, NULL,
     "Key converter class: org.apache.kafka.connect.json.JsonConverter or "
     "io.confluent.connect.avro.AvroConverter (Confluent wire format, schemas registered as "
     "<topic>-key)."},
    {"value.converter", CFG_STRING, S(value_converter), 0, 0,
     "org.apache.kafka.connect.json.JsonConverter", NULL, 0, NULL,
     "Value converter class: org.apache.kafka.connect.json.JsonConverter or "
     "io.confluent.connect.avro.AvroConverter (Confluent wire format, schemas registered as "
     "<topic>-value)."},
    {"key.converter.schemas.enable", CFG_BOOL, S(key_schemas_enable), 0, 0, "true", NULL, 0,
     NULL, "JsonConverter: wrap keys as {schema, payload}; does not apply to AvroConverter."},
    {"value.converter.schemas.enable", CFG_BOOL, S(value_schemas_enable), 0, 0, "true", NULL, 0,
     NULL, "JsonConverter: wrap values as {schema, payload}; does not apply to AvroConverter."},
    {"key.converter.schema.registry.url", CFG_STRING, S(key_registry_url), 0, 0, NULL, NULL, 0,
     NULL, "Schema registry (Confluent REST API; comma-separated urls) of the Avro key "
     "converter; required when key.converter is AvroConverter."},
    {"value.converter.schema.registry.url", CFG_STRING, S(value_registry_url), 0, 0, NULL, NULL,
     0, NULL, "Schema registry (Confluent REST API; comma-separated urls) of the Avro value "
     "converter; required when value.converter is AvroConverter."},
    {"transforms", CFG_STRING, S(transforms), 0, 0, "", NULL, 0, NULL,
     "Comma-separated transform names, applied in order; "
     "org.apache.kafka.connect.transforms.RegexRouter and "
     "io.debezium.transforms.ExtractNewRecordState are implemented."},
    {"transforms.", CFG_PREFIX, S(transforms_kv), 0, 0, NULL, NULL, 0, NULL,
     "transforms.<name>.type; RegexRouter: .regex, .replacement; ExtractNewRecordState (as "
     "Debezium 3.0.8): .delete.tombstone.handling.mode (drop, tombstone, rewrite, "
     "rewrite-with-tombstone), the deprecated .drop.tombstones (default true) and "
     ".delete.handling.mode (drop, rewrite, none; default drop), .add.fields, "
     ".add.fields.prefix (default __), .add.headers, .add.headers.prefix (default __), "
     ".replace.null.with.default, .drop.fields.header.name, .drop.fields.from.key, "
     ".drop.fields.keep.schema.compatible; .route.by.field is not implemented."},
    {"max.queue.size", CFG_INT, S(max_queue_size), 16, 10000000, "8192", NULL, 0, NULL,
     "Events handed to Kafka but not yet acknowledged; reading the slot pauses at this bound."},
    {"max.queue.size.in.bytes", CFG_INT, S(max_queue_size_bytes), 1 << 20, 1LL << 34,
     "67108864", NULL, 0, NULL, "Bytes of such events; reading pauses at this bound."},
    {"heartbeat.interval.ms", CFG_INT, S(heartbeat_interval_ms), 0, 86400000, "0", NULL, 0, NULL,
     "Send a heartbeat record (and run heartbeat.action.query) this often; 0 = off."},
    {"heartbeat.action.query", CFG_STRING, S(heartbeat_action_query), 0, 0, "", NULL, 0, NULL,
     "SQL run on each heartbeat, e.g. an update of a captured heartbeat table, so the slot "
     "keeps moving on a database whose captured tables are idle."},
    {"topic.heartbeat.prefix", CFG_STRING, S(heartbeat_topic_prefix), 0, 0, "__debezium-heartbeat",
     NULL, 0, NULL, "Heartbeat records go to <topic.heartbeat.prefix>.<topic.prefix>."},
    {"provide.transaction.metadata", CFG_BOOL, S(provide_transaction_metadata), 0, 0, "false",
     NULL, 0, NULL,
     "Send a BEGIN and an END record per transaction to <topic.prefix>.<topic.transaction> "
     "and fill each event's transaction block (id, total_order, data_collection_order)."},
    {"topic.transaction", CFG_STRING, S(topic_transaction), 0, 0, "transaction", NULL, 0, NULL,
     "Transaction metadata records go to <topic.prefix>.<topic.transaction>."},
    {"status.update.interval.ms", CFG_INT, S(status_update_interval_ms), 100, 3600000, "10000",
     NULL, 0, NULL, "Interval of position feedback to PostgreSQL."},
    {"datapipe.exactly.once", CFG_BOOL, S(exactly_once), 0, 0, "true", NULL, 0, NULL,
     "Deliver each change to Kafka exactly once: records go out in Kafka transactions that "
     "also store the stream position in offset.storage.topic, so a restart skips what Kafka "
     "has. Readers need isolation.level=read_committed to see no duplicates (Kafka Connect's "
     "sinks and datapipe archive use it). false: at-least-once, as Debezium."},
    {"offset.storage.topic", CFG_STRING, S(offset_storage_topic), 0, 0, "datapipe-offsets", NULL,
     0, NULL, "Compacted topic holding the stream position of exactly-once capture (key "
     "[\"<name>\",{\"server\":\"<topic.prefix>\"}], as Kafka Connect's offsets)."},
    {"datapipe.transaction.interval.ms", CFG_INT, S(transaction_interval_ms), 1, 60000, "100",
     NULL, 0, NULL, "How often the open Kafka transaction is committed (records become "
     "visible to read_committed readers at commits)."},
    {"datapipe.max.event.bytes", CFG_INT, S(max_event_bytes), 4096, 1LL << 30, "16777216", NULL, 0,
     NULL, "Largest encoded event; a bigger row is an error naming the table."},
    {"datapipe.log.level", CFG_STRING, S(log_level), 0, 0, "info", "error|warn|info|debug", 0,
     NULL, "Log level."},
    {"datapipe.metrics.port", CFG_INT, S(metrics_port), 0, 65535, "0", NULL, 0, NULL,
     "Port of the HTTP endpoint with GET /metrics (Prometheus text format) and GET /health; "
     "0 = no endpoint."},
    {"datapipe.metrics.host", CFG_STRING, S(metrics_host), 0, 0, "127.0.0.1", NULL, 0, NULL,
     "Address the metrics endpoint binds (0.0.0.0 for every interface)."},
    {"kafka.", CFG_PREFIX, S(kafka), 0, 0, NULL, NULL, 0, NULL,
     "Passed to librdkafka without the prefix, e.g. kafka.bootstrap.servers (required)."},
};

const cfg_table_t capture_config_table = {"capture", defs, sizeof defs / sizeof defs[0]};
