/* config.h - table-driven configuration, as librdkafka declares its own.
 *
 * A service declares its keys once as an array of cfg_def_t (name, type,
 * offset into its settings struct, bounds, default, documentation). From
 * that one table come parsing, validation, defaults, `--help` output and
 * docs/CONFIGURATION.md. The keys every service has (the log, the metrics
 * endpoint, kafka.*) are one shared table, cfg_service_defs, filling a
 * cfg_service_t inside the settings; rules that span keys are the table's
 * finalize step, run once every value is set (cfg_finish).
 *
 * Sources: a Kafka Connect connector JSON document (either the REST form
 * {"name":..., "config":{...}} or a flat object), or a .properties file.
 * Values may reference secrets as Kafka's config providers do:
 * ${file:/path/to/file.properties:key} and ${env:VARIABLE}. */
#ifndef DP_COMMON_CONFIG_H
#define DP_COMMON_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "common/err.h"

typedef enum {
    CFG_STRING, /* char * (owned by the settings struct) */
    CFG_INT, /* long long, within [min, max] */
    CFG_BOOL, /* int, "true"/"false" */
    CFG_ENUM, /* int: the C enum value its map gives the name */
    CFG_PREFIX /* any key starting with name is kept in cfg_kv_t list */
} cfg_type_t;

enum {
    CFG_F_REQUIRED = 1, /* no default; must be given */
    CFG_F_SECRET = 2, /* never printed */
    CFG_F_DEPRECATED = 4 /* accepted with a warning, mapped to alias_of */
};

/* one name of an enum key and the C enum value it stands for */
typedef struct cfg_enum {
    const char *name;
    int value;
} cfg_enum_t;

/* the converter classes (key.converter, value.converter) both services know */
#define CFG_JSON_CONVERTER "org.apache.kafka.connect.json.JsonConverter"
#define CFG_AVRO_CONVERTER "io.confluent.connect.avro.AvroConverter"
typedef enum { CFG_CONVERTER_JSON, CFG_CONVERTER_AVRO } cfg_converter_t;
extern const cfg_enum_t cfg_converters[];
/* cfg_check_converter: the rule across <side>.converter and its registry:
 * AvroConverter needs <side>.converter.schema.registry.url (side "key" or
 * "value"); DP_ERR_CONFIG naming both keys */
dp_err_t cfg_check_converter(const char *side, int converter, const char *registry_url,
                             char *errstr, size_t errstr_size);

/* a validator of a string key's value: DP_OK, or DP_ERR_CONFIG with the
 * reason (which must not quote the value: it may come from a secret) */
typedef dp_err_t (*cfg_check_fn)(const char *value, char *errstr, size_t errstr_size);

typedef struct cfg_def {
    const char *name;
    cfg_type_t type;
    size_t offset; /* into the settings struct; for CFG_PREFIX the cfg_kv_t list */
    long long min, max; /* CFG_INT bounds */
    const char *def; /* default as text, NULL = none */
    const char *enums; /* CFG_STRING: optional allowed set "a|b|c" */
    int flags;
    const char *alias_of; /* CFG_F_DEPRECATED: the key it maps to */
    const char *doc;
    const cfg_enum_t *map; /* CFG_ENUM: its names, {NULL, 0} ended (matched ignoring case) */
    cfg_check_fn check; /* CFG_STRING: optional validator, after the allowed set */
} cfg_def_t;

/* a list of (key, value) pairs kept for a CFG_PREFIX entry, key without
 * the prefix */
typedef struct cfg_kv {
    char **keys, **values;
    size_t n;
} cfg_kv_t;

/* the keys every service shares, at cfg_table_t.service_offset in its
 * settings */
/* how one converter side (key or value) reaches its schema registry,
 * besides its url: the keys <side>.converter.schema.registry.ssl.ca.location
 * and <side>.converter.basic.auth.* as Confluent's AvroConverter names them */
typedef struct cfg_registry_side {
    char *ca_location; /* PEM CAs of an https registry; NULL = the system's */
    char *auth_source; /* "URL" (user info in the url, or none) or "USER_INFO" */
    char *user_info; /* "user:password" with USER_INFO (secret) */
} cfg_registry_side_t;

typedef struct cfg_service {
    char *log_level; /* datapipe.log.level */
    char *metrics_host; /* datapipe.metrics.host */
    long long metrics_port; /* datapipe.metrics.port, 0 = off */
    cfg_kv_t kafka; /* kafka.* pass-through to librdkafka */
    cfg_registry_side_t key_registry, value_registry;
} cfg_service_t;

typedef struct cfg_table {
    const char *service; /* "capture", "archive" */
    const cfg_def_t *defs; /* its own keys; the shared ones follow them */
    size_t ndefs;
    size_t service_offset; /* of its cfg_service_t in the settings */
    /* rules that span keys, once every value is set: DP_OK or
     * DP_ERR_CONFIG naming the keys (never a value: it may be a secret) */
    dp_err_t (*finalize)(void *settings, char *errstr, size_t errstr_size);
} cfg_table_t;

/* cfg_load: read path (JSON or .properties, told apart by the first
 * non-blank byte), resolve ${...} references, and fill settings according
 * to table: defaults first, then the file. Unknown keys, bad values and
 * missing required keys fail naming the key. */
dp_err_t cfg_load(const cfg_table_t *table, void *settings, const char *path, char *errstr,
                  size_t errstr_size);
/* cfg_load_text: as cfg_load, from a buffer; origin names it in errors. */
dp_err_t cfg_load_text(const cfg_table_t *table, void *settings, const char *text, size_t len,
                       const char *origin, char *errstr, size_t errstr_size);
/* cfg_set: set one key to a plain value. */
dp_err_t cfg_set(const cfg_table_t *table, void *settings, const char *key, const char *value,
                 char *errstr, size_t errstr_size);
/* cfg_set_ref: set one key to raw, after resolving its ${file:...} and
 * ${env:...} references (as the loaders and --set do); origin names where
 * raw came from in errors. An error shows raw, never what a reference
 * resolved to. */
dp_err_t cfg_set_ref(const cfg_table_t *table, void *settings, const char *key, const char *raw,
                     const char *origin, char *errstr, size_t errstr_size);
/* cfg_defaults: apply every default; called by cfg_load first. */
dp_err_t cfg_defaults(const cfg_table_t *table, void *settings, char *errstr, size_t errstr_size);
/* cfg_finish: once every value is set (the file, then --set): fail naming
 * the first required key never set, or the rule across keys that does not
 * hold (kafka.bootstrap.servers, then the table's finalize). */
dp_err_t cfg_finish(const cfg_table_t *table, void *settings, char *errstr, size_t errstr_size);
/* cfg_free: release every string and list the table owns in settings. */
void cfg_free(const cfg_table_t *table, void *settings);
/* cfg_enum_name: the text of enum value v of key name. */
const char *cfg_enum_name(const cfg_table_t *table, const char *name, int v);
/* cfg_print_help: the table as aligned text (for --help). */
void cfg_print_help(const cfg_table_t *table, FILE *out);
/* cfg_print_markdown: the table as a Markdown section (docs). */
void cfg_print_markdown(const cfg_table_t *table, FILE *out);
/* cfg_kv_get: value of key in list, or NULL. */
const char *cfg_kv_get(const cfg_kv_t *kv, const char *key);

/* cfg_load_cli: the command line every service shares,
 *   datapipe <service> --config FILE [--set KEY=VALUE]... [--check] | --help
 * Loads FILE, applies each --set, checks required keys. Returns 0 when
 * settings are ready, -1 after printing --help or, with --check, after
 * saying the configuration is valid (exit 0), or 2 for a usage
 * or configuration error, already reported. */
int cfg_load_cli(const cfg_table_t *table, void *settings, int argc, char **argv);
/* cfg_load_cli_named: as cfg_load_cli, for a command other than the
 * service that reads the same file (its name in the usage lines) */
int cfg_load_cli_named(const cfg_table_t *table, const char *command, void *settings, int argc,
                       char **argv);

/* cfg_resolve_refs: expand ${file:path:key} and ${env:NAME} in value into
 * a newly malloc'd string in *out. */
dp_err_t cfg_resolve_refs(const char *value, char **out, char *errstr, size_t errstr_size);

#endif
