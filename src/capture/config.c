/* config.c - the capture service's configuration table: Debezium's key
 * names, plus kafka.* pass-through to librdkafka. */
#include <stddef.h>
#include <string.h>

#include "capture/capture.h"
#include "capture/transforms.h"
#include "event/debezium.h"
#include "kafka/topics.h"
#include "pg/repl.h"

#define S(f) offsetof(capture_settings_t, f)

/* check_skipped: a comma-separated list of c, u, d, t, or none */
static dp_err_t check_skipped(const char *v, char *errstr, size_t n) {
    if (!strcmp(v, "none")) return DP_OK;
    for (const char *p = v; *p; p++)
        if (!strchr("cudt, ", *p))
            return dp_seterr(errstr, n, DP_ERR_CONFIG,
                             "expected c, u, d, t (comma-separated) or none");
    return DP_OK;
}

/* the names of each enum key, tied to the C enums the code compares with */
static const cfg_enum_t pub_modes[] = {{"all_tables", REPL_PUB_ALL_TABLES},
                                       {"disabled", REPL_PUB_DISABLED},
                                       {"filtered", REPL_PUB_FILTERED},
                                       {"no_tables", REPL_PUB_NO_TABLES},
                                       {NULL, 0}};
static const cfg_enum_t snapshot_modes[] = {{"initial", CAPTURE_SNAPSHOT_INITIAL},
                                            {"initial_only", CAPTURE_SNAPSHOT_INITIAL_ONLY},
                                            {"when_needed", CAPTURE_SNAPSHOT_WHEN_NEEDED},
                                            {"no_data", CAPTURE_SNAPSHOT_NO_DATA},
                                            {"never", CAPTURE_SNAPSHOT_NEVER},
                                            {NULL, 0}};
static const cfg_enum_t decimal_modes[] = {{"precise", DBZ_DECIMAL_PRECISE},
                                           {"double", DBZ_DECIMAL_DOUBLE},
                                           {"string", DBZ_DECIMAL_STRING},
                                           {NULL, 0}};
static const cfg_enum_t time_modes[] = {
    {"adaptive", DBZ_TIME_ADAPTIVE},
    {"adaptive_time_microseconds", DBZ_TIME_ADAPTIVE_TIME_MICROSECONDS},
    {"connect", DBZ_TIME_CONNECT},
    {NULL, 0}};
static const cfg_enum_t binary_modes[] = {{"bytes", DBZ_BINARY_BYTES},
                                          {"base64", DBZ_BINARY_BASE64},
                                          {"base64-url-safe", DBZ_BINARY_BASE64_URL_SAFE},
                                          {"hex", DBZ_BINARY_HEX},
                                          {NULL, 0}};

static const cfg_def_t defs[] = {
    {"name", CFG_STRING, S(name), 0, 0, "datapipe-capture", NULL, 0, NULL,
     "Connector name (used in logs and as the Kafka client id).", NULL, NULL},
    {"connector.class", CFG_STRING, S(connector_class), 0, 0,
     "io.debezium.connector.postgresql.PostgresConnector",
     "io.debezium.connector.postgresql.PostgresConnector|PostgresConnector", 0, NULL,
     "Accepted for compatibility; must name Debezium's PostgreSQL connector.", NULL, NULL},
    {"database.hostname", CFG_STRING, S(hostname), 0, 0, NULL, NULL, CFG_F_REQUIRED, NULL,
     "PostgreSQL host.", NULL, NULL},
    {"database.port", CFG_INT, S(port), 1, 65535, "5432", NULL, 0, NULL, "PostgreSQL port.", NULL,
     NULL},
    {"database.user", CFG_STRING, S(user), 0, 0, NULL, NULL, CFG_F_REQUIRED, NULL,
     "User with the REPLICATION attribute.", NULL, NULL},
    {"database.password", CFG_STRING, S(password), 0, 0, "", NULL, CFG_F_SECRET, NULL,
     "Password; ${file:/path:key} and ${env:NAME} references are resolved.", NULL, NULL},
    {"database.dbname", CFG_STRING, S(dbname), 0, 0, NULL, NULL, CFG_F_REQUIRED, NULL,
     "Database to capture.", NULL, NULL},
    {"database.sslmode", CFG_STRING, S(sslmode), 0, 0, "prefer",
     "disable|allow|prefer|require|verify-ca|verify-full", 0, NULL,
     "TLS to PostgreSQL, as libpq's sslmode: require and stricter refuse a server without TLS "
     "(prefer, the default, falls back to cleartext); verify-ca and verify-full check the "
     "server's certificate against database.sslrootcert.",
     NULL, NULL},
    {"database.sslrootcert", CFG_STRING, S(sslrootcert), 0, 0, "", NULL, 0, NULL,
     "PEM file of the CA certificates that verify the server (verify-ca, verify-full).", NULL,
     NULL},
    {"database.sslcert", CFG_STRING, S(sslcert), 0, 0, "", NULL, 0, NULL,
     "PEM file of the client certificate, for servers that authenticate by certificate.", NULL,
     NULL},
    {"database.sslkey", CFG_STRING, S(sslkey), 0, 0, "", NULL, 0, NULL,
     "PEM file of the client certificate's private key.", NULL, NULL},
    {"database.sslpassword", CFG_STRING, S(sslpassword), 0, 0, "", NULL, CFG_F_SECRET, NULL,
     "Passphrase of database.sslkey; ${file:} and ${env:} references are resolved.", NULL, NULL},
    {"topic.prefix", CFG_STRING, S(topic_prefix), 0, 0, NULL, NULL, CFG_F_REQUIRED, NULL,
     "Logical server name: topics are <topic.prefix>.<schema>.<table> before transforms.", NULL,
     NULL},
    {"database.server.name", CFG_STRING, 0, 0, 0, NULL, NULL, CFG_F_DEPRECATED, "topic.prefix",
     "Deprecated name of topic.prefix.", NULL, NULL},
    {"table.include.list", CFG_STRING, S(table_include_list), 0, 0, NULL, NULL, 0, NULL,
     "Comma-separated regular expressions matched against <schema>.<table>; empty = all.", NULL,
     NULL},
    {"table.exclude.list", CFG_STRING, S(table_exclude_list), 0, 0, NULL, NULL, 0, NULL,
     "Comma-separated regular expressions of tables to leave out.", NULL, NULL},
    {"message.key.columns", CFG_STRING, S(message_key_columns), 0, 0, "", NULL, 0, NULL,
     "Custom message keys: <schema.table regex>:<column>,<column>;... (tables without a "
     "primary key get a key this way).",
     NULL, NULL},
    {"plugin.name", CFG_STRING, S(plugin_name), 0, 0, "pgoutput", "pgoutput", 0, NULL,
     "Logical decoding plugin; datapipe speaks pgoutput.", NULL, NULL},
    {"slot.name", CFG_STRING, S(slot_name), 0, 0, "debezium", NULL, 0, NULL,
     "Replication slot name.", NULL, NULL},
    {"publication.name", CFG_STRING, S(publication_name), 0, 0, "dbz_publication", NULL, 0, NULL,
     "Publication name.", NULL, NULL},
    {"publication.autocreate.mode", CFG_ENUM, S(publication_autocreate_mode), 0, 0, "all_tables",
     NULL, 0, NULL, "How a missing publication is created.", .map = pub_modes},
    {"snapshot.mode", CFG_ENUM, S(snapshot_mode), 0, 0, "initial", NULL, 0, NULL,
     "initial: read the tables (op r) when the slot is created, then stream; initial_only: "
     "read them and stop; when_needed: also when the slot lost its WAL; no_data (never is its "
     "deprecated name): stream only.",
     .map = snapshot_modes},
    {"snapshot.fetch.size", CFG_INT, S(snapshot_fetch_size), 1, 1000000, "10240", NULL, 0, NULL,
     "Rows read per round trip while snapshotting (bounds memory for big tables).", NULL, NULL},
    {"slot.drop.on.stop", CFG_BOOL, S(slot_drop_on_stop), 0, 0, "false", NULL, 0, NULL,
     "Drop the slot on a clean stop.", NULL, NULL},
    {"tombstones.on.delete", CFG_BOOL, S(tombstones_on_delete), 0, 0, "true", NULL, 0, NULL,
     "Send a tombstone (null value) after each delete event.", NULL, NULL},
    {"skipped.operations", CFG_STRING, S(skipped_operations), 0, 0, "t", NULL, 0, NULL,
     "Comma-separated operations not to emit: c, u, d, t, or none.", .check = check_skipped},
    {"decimal.handling.mode", CFG_ENUM, S(decimal_handling_mode), 0, 0, "precise", NULL, 0, NULL,
     "How numeric and money columns are represented: precise (the default) as Kafka Connect's "
     "Decimal (numeric without a scale as io.debezium.data.VariableScaleDecimal); double as a "
     "double, NaN and infinities included; string as the plain decimal text (NaN as \"NAN\").",
     .map = decimal_modes},
    {"time.precision.mode", CFG_ENUM, S(time_precision_mode), 0, 0, "adaptive", NULL, 0, NULL,
     "How date, time and timestamp columns are represented: adaptive (the default) by the "
     "column's precision (io.debezium.time.Date, Time, MicroTime, Timestamp, MicroTimestamp); "
     "adaptive_time_microseconds like adaptive, but every time column as MicroTime; connect as "
     "Kafka Connect's Date, Time and Timestamp, in milliseconds whatever the precision. "
     "timestamptz, timetz and interval are not affected.",
     .map = time_modes},
    {"binary.handling.mode", CFG_ENUM, S(binary_handling_mode), 0, 0, "bytes", NULL, 0, NULL,
     "How bytea columns are represented: bytes (the default; JSON carries them base64-encoded), "
     "or a string of base64, base64-url-safe (RFC 4648 URL alphabet, padded) or hex (lowercase).",
     .map = binary_modes},
    {"key.converter", CFG_ENUM, S(key_converter), 0, 0, CFG_JSON_CONVERTER, NULL, 0, NULL,
     "Key converter class; AvroConverter writes Confluent's wire format and registers schemas "
     "as <topic>-key.",
     .map = cfg_converters},
    {"value.converter", CFG_ENUM, S(value_converter), 0, 0, CFG_JSON_CONVERTER, NULL, 0, NULL,
     "Value converter class; AvroConverter writes Confluent's wire format and registers "
     "schemas as <topic>-value.",
     .map = cfg_converters},
    {"key.converter.schemas.enable", CFG_BOOL, S(key_schemas_enable), 0, 0, "true", NULL, 0, NULL,
     "JsonConverter: wrap keys as {schema, payload}; does not apply to AvroConverter.", NULL, NULL},
    {"value.converter.schemas.enable", CFG_BOOL, S(value_schemas_enable), 0, 0, "true", NULL, 0,
     NULL, "JsonConverter: wrap values as {schema, payload}; does not apply to AvroConverter.",
     NULL, NULL},
    {"key.converter.schema.registry.url", CFG_STRING, S(key_registry_url), 0, 0, NULL, NULL, 0,
     NULL,
     "Schema registry (Confluent REST API; comma-separated urls) of the Avro key "
     "converter; required when key.converter is AvroConverter.",
     NULL, NULL},
    {"value.converter.schema.registry.url", CFG_STRING, S(value_registry_url), 0, 0, NULL, NULL, 0,
     NULL,
     "Schema registry (Confluent REST API; comma-separated urls) of the Avro value "
     "converter; required when value.converter is AvroConverter.",
     NULL, NULL},
    {"transforms", CFG_STRING, S(transforms), 0, 0, "", NULL, 0, NULL,
     "Comma-separated transform names, applied in order; "
     "org.apache.kafka.connect.transforms.RegexRouter and "
     "io.debezium.transforms.ExtractNewRecordState are implemented.",
     NULL, NULL},
    {"transforms.", CFG_PREFIX, S(transforms_kv), 0, 0, NULL, NULL, 0, NULL,
     "transforms.<name>.type; RegexRouter: .regex, .replacement; ExtractNewRecordState (as "
     "Debezium 3.0.8): .delete.tombstone.handling.mode (drop, tombstone, rewrite, "
     "rewrite-with-tombstone), the deprecated .drop.tombstones (default true) and "
     ".delete.handling.mode (drop, rewrite, none; default drop), .add.fields, "
     ".add.fields.prefix (default __), .add.headers, .add.headers.prefix (default __), "
     ".replace.null.with.default, .drop.fields.header.name, .drop.fields.from.key, "
     ".drop.fields.keep.schema.compatible; .route.by.field is not implemented.",
     NULL, NULL},
    {"max.queue.size", CFG_INT, S(max_queue_size), 16, 10000000, "8192", NULL, 0, NULL,
     "Events handed to Kafka but not yet acknowledged; reading the slot pauses at this bound.",
     NULL, NULL},
    {"max.queue.size.in.bytes", CFG_INT, S(max_queue_size_bytes), 1 << 20, 1LL << 34, "67108864",
     NULL, 0, NULL, "Bytes of such events; reading pauses at this bound.", NULL, NULL},
    {"heartbeat.interval.ms", CFG_INT, S(heartbeat_interval_ms), 0, 86400000, "0", NULL, 0, NULL,
     "Send a heartbeat record (and run heartbeat.action.query) this often; 0 = off.", NULL, NULL},
    {"heartbeat.action.query", CFG_STRING, S(heartbeat_action_query), 0, 0, "", NULL, 0, NULL,
     "SQL run on each heartbeat, e.g. an update of a captured heartbeat table, so the slot "
     "keeps moving on a database whose captured tables are idle.",
     NULL, NULL},
    {"topic.heartbeat.prefix", CFG_STRING, S(heartbeat_topic_prefix), 0, 0, "__debezium-heartbeat",
     NULL, 0, NULL, "Heartbeat records go to <topic.heartbeat.prefix>.<topic.prefix>.", NULL, NULL},
    {"provide.transaction.metadata", CFG_BOOL, S(provide_transaction_metadata), 0, 0, "false", NULL,
     0, NULL,
     "Send a BEGIN and an END record per transaction to <topic.prefix>.<topic.transaction> "
     "and fill each event's transaction block (id, total_order, data_collection_order).",
     NULL, NULL},
    {"topic.transaction", CFG_STRING, S(topic_transaction), 0, 0, "transaction", NULL, 0, NULL,
     "Transaction metadata records go to <topic.prefix>.<topic.transaction>.", NULL, NULL},
    /* the exact keys before their prefix: the first match wins */
    {"topic.creation.enable", CFG_BOOL, S(topic_creation_enable), 0, 0, "true", NULL, 0, NULL,
     "Create a missing topic before its first record, as the topic.creation.* keys say "
     "(Kafka Connect's worker switch, KIP-158); false: every topic must exist.",
     NULL, NULL},
    {"topic.creation.groups", CFG_STRING, S(topic_creation_groups), 0, 0, "", NULL, 0, NULL,
     "Comma-separated topic creation groups: a topic takes the first one whose "
     "topic.creation.<group>.include matches its whole name and whose .exclude does not, "
     "otherwise the default group.",
     NULL, NULL},
    {"topic.creation.", CFG_PREFIX, S(topic_creation_kv), 0, 0, NULL, NULL, 0, NULL,
     "Topic creation (KIP-158): topic.creation.default.replication.factor and "
     "topic.creation.default.partitions (both required for any creation; -1 = the broker's "
     "default), topic.creation.default.<topic config> (e.g. cleanup.policy, retention.ms, "
     "compression.type); per group: .include (comma-separated regular expressions, required), "
     ".exclude, .replication.factor and .partitions (default: the default group's), "
     ".<topic config> (not inherited). Without topic.creation.default.* no topic is created. "
     "Capture's Kafka principal needs Create on the topics.",
     NULL, NULL},
    {"status.update.interval.ms", CFG_INT, S(status_update_interval_ms), 100, 3600000, "10000",
     NULL, 0, NULL, "Interval of position feedback to PostgreSQL.", NULL, NULL},
    {"datapipe.exactly.once", CFG_BOOL, S(exactly_once), 0, 0, "true", NULL, 0, NULL,
     "Deliver each change to Kafka exactly once: records go out in Kafka transactions that "
     "also store the stream position in offset.storage.topic, so a restart skips what Kafka "
     "has. Readers need isolation.level=read_committed to see no duplicates (Kafka Connect's "
     "sinks and datapipe archive use it). false: at-least-once, as Debezium.",
     NULL, NULL},
    {"offset.storage.topic", CFG_STRING, S(offset_storage_topic), 0, 0, "datapipe-offsets", NULL, 0,
     NULL,
     "Compacted topic holding the stream position of exactly-once capture (key "
     "[\"<name>\",{\"server\":\"<topic.prefix>\"}], as Kafka Connect's offsets).",
     NULL, NULL},
    {"datapipe.transaction.interval.ms", CFG_INT, S(transaction_interval_ms), 1, 60000, "100", NULL,
     0, NULL,
     "How often the open Kafka transaction is committed (records become "
     "visible to read_committed readers at commits).",
     NULL, NULL},
    {"datapipe.max.event.bytes", CFG_INT, S(max_event_bytes), 4096, 1LL << 30, "16777216", NULL, 0,
     NULL, "Largest encoded event; a bigger row is an error naming the table.", NULL, NULL},
};

/* finalize: the rules across keys; the topic.creation.* keys are checked
 * as a whole (a listed group needs its include list, the default group
 * both counts), then transforms, transforms.* and message.key.columns
 * (transforms.h) */
static dp_err_t finalize(void *settings, char *errstr, size_t n) {
    const capture_settings_t *s = settings;
    kfk_topic_rules_t rules;
    dp_err_t err = kfk_topic_rules_init(&rules, s->topic_creation_enable, s->topic_creation_groups,
                                        &s->topic_creation_kv, errstr, n);
    kfk_topic_rules_fini(&rules);
    if (!err) err = cfg_check_converter("key", s->key_converter, s->key_registry_url, errstr, n);
    if (!err)
        err = cfg_check_converter("value", s->value_converter, s->value_registry_url, errstr, n);
    return err ? err : cap_transforms_check(s, errstr, n);
}

const cfg_table_t capture_config_table = {"capture", defs, sizeof defs / sizeof defs[0],
                                          offsetof(capture_settings_t, svc), finalize};

void capture_conninfo(const capture_settings_t *s, repl_conninfo_t *ci) {
    *ci = (repl_conninfo_t){s->hostname, s->user,   s->password,   s->dbname,
                            s->port,     s->name,   s->sslmode,    s->sslrootcert,
                            s->sslcert,  s->sslkey, s->sslpassword};
}
