/* capture.h - `datapipe capture`: PostgreSQL pgoutput slot -> Kafka, as
 * Debezium's PostgreSQL connector does, configured with its keys. */
#ifndef DP_CAPTURE_CAPTURE_H
#define DP_CAPTURE_CAPTURE_H

#include "common/config.h"

typedef struct capture_settings {
    char *name, *connector_class;
    char *hostname, *user, *password, *dbname;
    long long port;
    /* database.sslmode and its files, passed to libpq */
    char *sslmode, *sslrootcert, *sslcert, *sslkey, *sslpassword;
    char *topic_prefix;
    char *table_include_list, *table_exclude_list;
    char *message_key_columns;
    char *plugin_name, *slot_name, *publication_name;
    int publication_autocreate_mode; /* all_tables|disabled|filtered|no_tables */
    int snapshot_mode; /* CAPTURE_SNAPSHOT_* */
    long long snapshot_fetch_size;
    int slot_drop_on_stop;
    int tombstones_on_delete;
    char *skipped_operations;
    int decimal_handling_mode; /* DBZ_DECIMAL_*: precise|double|string */
    int time_precision_mode; /* DBZ_TIME_*: adaptive|adaptive_time_microseconds|connect */
    int binary_handling_mode; /* DBZ_BINARY_*: bytes|base64|base64-url-safe|hex */
    int key_converter, value_converter; /* cfg_converter_t */
    int key_schemas_enable, value_schemas_enable;
    char *key_registry_url, *value_registry_url;
    char *transforms;
    cfg_kv_t transforms_kv; /* transforms.<name>.<key> */
    long long max_queue_size; /* events in flight to Kafka */
    long long max_queue_size_bytes;
    long long status_update_interval_ms;
    long long heartbeat_interval_ms;
    char *heartbeat_action_query, *heartbeat_topic_prefix;
    int provide_transaction_metadata; /* BEGIN/END records, envelope transaction block */
    char *topic_transaction; /* <topic.prefix>.<topic.transaction> */
    /* topic.creation.* (KIP-158, kafka/topics.h): the switch, the groups
     * and every other topic.creation.<group>.<key> */
    int topic_creation_enable;
    char *topic_creation_groups;
    cfg_kv_t topic_creation_kv;
    long long max_event_bytes;
    int exactly_once; /* datapipe.exactly.once */
    char *offset_storage_topic;
    long long transaction_interval_ms;
    cfg_service_t svc; /* datapipe.log.level, datapipe.metrics.*, kafka.* */
} capture_settings_t;

enum {
    CAPTURE_SNAPSHOT_INITIAL,
    CAPTURE_SNAPSHOT_INITIAL_ONLY,
    CAPTURE_SNAPSHOT_WHEN_NEEDED,
    CAPTURE_SNAPSHOT_NO_DATA,
    CAPTURE_SNAPSHOT_NEVER
};

extern const cfg_table_t capture_config_table;

/* capture_run: run until SIGINT/SIGTERM or a fatal error; returns the
 * process exit code. */
int capture_main(int argc, char **argv);

/* capture_topics_main: `datapipe topics --config FILE`: the topics capture
 * writes for this configuration (its tables' change topics after the
 * transforms, heartbeats, transaction metadata), each found or created as
 * topic.creation.* say, one line each on stdout; exit code 0 when all are
 * there, 1 when one is missing or could not be created, 2 for a
 * configuration error. */
int capture_topics_main(int argc, char **argv);

/* capture_conninfo: the PostgreSQL connection of these settings (as
 * capture, status and verify open it) */
struct repl_conninfo;
void capture_conninfo(const capture_settings_t *s, struct repl_conninfo *ci);

#endif
