/* test_config - the capture table through JSON (REST and flat forms) and
 * .properties: defaults, aliases, references, and an error naming the key
 * for every kind of bad input. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive/archive.h"
#include "capture/capture.h"
#include "capture/transforms.h"
#include "common/log.h"
#include "common/registry.h"
#include "event/debezium.h"
#include "parquet/writer.h"
#include "pg/repl.h"
#include "testlib.h"

static dp_err_t load(capture_settings_t *s, const char *text, char *err, size_t n) {
    cfg_free(&capture_config_table, s);
    memset(s, 0, sizeof *s);
    dp_err_t e = cfg_load_text(&capture_config_table, s, text, strlen(text), "test", err, n);
    if (!e) e = cfg_finish(&capture_config_table, s, err, n);
    return e;
}

#define REQ                                                                                        \
    "\"database.hostname\":\"h\",\"database.user\":\"u\",\"database.dbname\":\"d\",\"topic."       \
    "prefix\":\"p\","                                                                              \
    "\"kafka.bootstrap.servers\":\"k:9092\""

/* a value that came from ${env:} or ${file:} is never printed; --set
 * resolves references like the file does; an unknown time zone or a bad
 * skipped.operations is refused, naming the key */
static void test_refs_and_validators(void) {
    char err[1024];
    capture_settings_t s;
    memset(&s, 0, sizeof s);
    setenv("DP_TEST_SECRET", "s3cr3t-value-x", 1);
    CHECK_EQ_INT(load(&s, "{" REQ ",\"database.port\":\"${env:DP_TEST_SECRET}\"}", err, sizeof err),
                 DP_ERR_CONFIG);
    CHECK(strstr(err, "\"database.port\"") != NULL);
    CHECK(strstr(err, "${env:DP_TEST_SECRET}") != NULL);
    CHECK(strstr(err, "s3cr3t-value-x") == NULL);
    CHECK_EQ_INT(load(&s, "{" REQ ",\"snapshot.mode\":\"${env:DP_TEST_SECRET}\"}", err, sizeof err),
                 DP_ERR_CONFIG);
    CHECK(strstr(err, "s3cr3t-value-x") == NULL);
    CHECK(strstr(err, "\"snapshot.mode\"") != NULL);
    CHECK_EQ_INT(load(&s, "{" REQ ",\"skipped.operations\":\"c,x\"}", err, sizeof err),
                 DP_ERR_CONFIG);
    CHECK(strstr(err, "\"skipped.operations\"") != NULL);
    CHECK_EQ_INT(load(&s, "{" REQ ",\"skipped.operations\":\"c, u\"}", err, sizeof err), DP_OK);
    cfg_free(&capture_config_table, &s);

    /* --set KEY=${env:...} */
    char path[] = "/tmp/dp-test-config-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *doc = "{" REQ "}";
    CHECK_EQ_INT(write(fd, doc, strlen(doc)), strlen(doc));
    close(fd);
    setenv("DP_TEST_PW", "pw-from-env", 1);
    char a0[] = "capture", a1[] = "--config", a3[] = "--set",
         a4[] = "database.password=${env:DP_TEST_PW}";
    char *argv[] = {a0, a1, path, a3, a4, NULL};
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(cfg_load_cli(&capture_config_table, &s, 5, argv), 0);
    CHECK_EQ_STR(s.password, "pw-from-env");
    cfg_free(&capture_config_table, &s);
    unlink(path);

    /* time zones: found as the C library finds them ($TZDIR) */
    char dir[] = "/tmp/dp-test-tz-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char zone[256];
    snprintf(zone, sizeof zone, "%s/Test", dir);
    mkdir(zone, 0700);
    snprintf(zone, sizeof zone, "%s/Test/Zone", dir);
    FILE *f = fopen(zone, "wb");
    CHECK(f != NULL);
    if (f) fputs("TZif2 fake", f), fclose(f);
    setenv("TZDIR", dir, 1);
    archive_settings_t a;
    memset(&a, 0, sizeof a);
    cfg_defaults(&archive_config_table, &a, err, sizeof err);
    CHECK_EQ_INT(cfg_set(&archive_config_table, &a, "timezone", "Test/Zone", err, sizeof err),
                 DP_OK);
    CHECK_EQ_INT(cfg_set(&archive_config_table, &a, "timezone", "UTC", err, sizeof err), DP_OK);
    CHECK_EQ_INT(cfg_set(&archive_config_table, &a, "timezone", "Mars/Olympus", err, sizeof err),
                 DP_ERR_CONFIG);
    CHECK(strstr(err, "\"timezone\"") != NULL);
    CHECK_EQ_INT(
        cfg_set(&archive_config_table, &a, "timezone", "../../etc/passwd", err, sizeof err),
        DP_ERR_CONFIG);
    cfg_free(&archive_config_table, &a);
    unsetenv("TZDIR");
    unlink(zone);
    snprintf(zone, sizeof zone, "%s/Test", dir);
    rmdir(zone);
    rmdir(dir);
}

/* the structured values are checked when the configuration is read (so
 * `--check` sees what a starting capture would refuse): transforms and
 * transforms.*, message.key.columns, the converter classes and their
 * registries; errors name the key and never print a value */
static void test_structured_values(void) {
    char err[1024];
    capture_settings_t s;
    memset(&s, 0, sizeof s);
    static const struct {
        const char *extra, *needle;
    } bad[] = {
        {"\"transforms\":\"r\",\"transforms.r.type\":\"${env:DP_TEST_SECRET}\"",
         "\"transforms.r.type\" names a transform"},
        {"\"transforms\":\"r\"", "missing \"transforms.r.type\""},
        {"\"transforms.r.type\":\"org.apache.kafka.connect.transforms.RegexRouter\"",
         "\"transforms.r.type\" set but \"transforms\" is empty"},
        {"\"transforms\":\"r\",\"transforms.r.type\":"
         "\"org.apache.kafka.connect.transforms.RegexRouter\",\"transforms.r.regex\":\"a\"",
         "\"transforms.r.replacement\""},
        {"\"transforms\":\"r\",\"transforms.r.type\":"
         "\"org.apache.kafka.connect.transforms.RegexRouter\",\"transforms.r.regex\":\"(\","
         "\"transforms.r.replacement\":\"x\"",
         "\"transforms.r.regex\""},
        {"\"transforms\":\"r\",\"transforms.r.type\":"
         "\"org.apache.kafka.connect.transforms.RegexRouter\",\"transforms.r.regex\":\"a\","
         "\"transforms.r.replacement\":\"x\",\"transforms.r.flags\":\"i\"",
         "unknown configuration key \"transforms.r.flags\""},
        {"\"transforms\":\"u\",\"transforms.u.type\":"
         "\"io.debezium.transforms.ExtractNewRecordState\",\"transforms.u.add.fields\":\"a:b:c\"",
         "\"transforms.u.add.fields\""},
        {"\"message.key.columns\":\"public.users\"", "\"message.key.columns\": entry 1"},
        {"\"message.key.columns\":\"public.a:id;(:id\"",
         "\"message.key.columns\": entry 2 has an invalid regular expression"},
        {"\"message.key.columns\":\"public.a: ,\"", "entry 1 names no column"},
        {"\"value.converter\":\"io.confluent.connect.protobuf.ProtobufConverter\"",
         "\"value.converter\""},
        {"\"key.converter\":\"io.confluent.connect.avro.AvroConverter\"",
         "\"key.converter.schema.registry.url\""},
        {"\"value.converter\":\"io.confluent.connect.avro.AvroConverter\"",
         "\"value.converter.schema.registry.url\""},
    };
    setenv("DP_TEST_SECRET", "s3cr3t-value-z", 1);
    char doc[2048];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(doc, sizeof doc, "{" REQ ",%s}", bad[i].extra);
        CHECK_EQ_INT(load(&s, doc, err, sizeof err), DP_ERR_CONFIG);
        if (!strstr(err, bad[i].needle)) fprintf(stderr, "case %zu: %s\n", i, err);
        CHECK(strstr(err, bad[i].needle) != NULL);
        CHECK(strstr(err, "s3cr3t-value-z") == NULL);
    }
    /* the good forms, and the enum values they give */
    CHECK_EQ_INT(load(&s,
                      "{" REQ ",\"transforms\":\"u,r\",\"transforms.u.type\":"
                      "\"io.debezium.transforms.ExtractNewRecordState\",\"transforms.r.type\":"
                      "\"org.apache.kafka.connect.transforms.RegexRouter\",\"transforms.r.regex\":"
                      "\"p\\\\.(.*)\",\"transforms.r.replacement\":\"q.$1\","
                      "\"message.key.columns\":\"public.a:id, k;public.b:x\","
                      "\"value.converter\":\"io.confluent.connect.avro.AvroConverter\","
                      "\"value.converter.schema.registry.url\":\"http://r:8081\"}",
                      err, sizeof err),
                 DP_OK);
    CHECK_EQ_INT(s.value_converter, CFG_CONVERTER_AVRO);
    CHECK_EQ_INT(s.key_converter, CFG_CONVERTER_JSON);
    cap_transforms_t t;
    CHECK_EQ_INT(cap_transforms_init(&t, &s, err, sizeof err), DP_OK);
    CHECK(t.unwrap != NULL);
    CHECK_EQ_INT(t.nrouters, 1);
    CHECK_EQ_INT(t.nkeys, 2);
    char *routed = cap_route(&t, "p.public.users");
    CHECK_EQ_STR(routed, "q.public.users");
    free(routed);
    const cap_key_override_t *ko = cap_key_override(&t, "PUBLIC.A");
    CHECK(ko != NULL && ko->ncols == 2 && strcmp(ko->cols[1], "k") == 0);
    CHECK(cap_key_override(&t, "public.c") == NULL);
    cap_transforms_fini(&t);
    cfg_free(&capture_config_table, &s);
}

/* an archive configuration as properties, minimal, plus extra lines */
static dp_err_t load_archive(archive_settings_t *a, const char *extra, char *err, size_t n) {
    char text[2048];
    snprintf(text, sizeof text, "name=a\ns3.bucket.name=b\nflush.size=10\n%s", extra);
    cfg_free(&archive_config_table, a);
    memset(a, 0, sizeof *a);
    dp_err_t e = cfg_load_text(&archive_config_table, a, text, strlen(text), "test", err, n);
    if (!e) e = cfg_finish(&archive_config_table, a, err, n);
    return e;
}

/* the shared keys (log, metrics, kafka.*) fill each service's cfg_service_t
 * and appear once in its --help; the finalize step checks the rules that
 * span keys once every value is set, naming the keys and no value */
static void test_shared_keys_and_finalize(void) {
    char err[1024];
    archive_settings_t a;
    memset(&a, 0, sizeof a);
    CHECK_EQ_INT(load_archive(&a,
                              "topics=t\nkafka.bootstrap.servers=k:1\ndatapipe.metrics.port=9\n",
                              err, sizeof err),
                 DP_OK);
    CHECK_EQ_STR(cfg_kv_get(&a.svc.kafka, "bootstrap.servers"), "k:1");
    CHECK_EQ_INT(a.svc.metrics_port, 9);
    CHECK_EQ_STR(a.svc.metrics_host, "127.0.0.1");
    CHECK_EQ_STR(a.svc.log_level, "info");
    CHECK_EQ_INT(load_archive(&a, "topics=t\n", err, sizeof err), DP_ERR_CONFIG);
    CHECK(strstr(err, "\"kafka.bootstrap.servers\" for archive") != NULL);
    CHECK_EQ_INT(load_archive(&a, "kafka.bootstrap.servers=k:1\n", err, sizeof err), DP_ERR_CONFIG);
    CHECK(strstr(err, "exactly one of \"topics.regex\" and \"topics\"") != NULL);
    CHECK_EQ_INT(load_archive(&a, "topics=t\ntopics.regex=t.*\nkafka.bootstrap.servers=k:1\n", err,
                              sizeof err),
                 DP_ERR_CONFIG);
    CHECK(strstr(err, "exactly one of") != NULL);
    CHECK_EQ_INT(load_archive(&a, "topics=t\nkafka.bootstrap.servers=k:1\nerrors.tolerance=all\n",
                              err, sizeof err),
                 DP_ERR_CONFIG);
    CHECK(strstr(err, "\"errors.deadletterqueue.topic.name\"") != NULL);
    CHECK_EQ_INT(load_archive(&a,
                              "topics=t\nkafka.bootstrap.servers=k:1\n"
                              "timestamp.extractor=RecordField\n",
                              err, sizeof err),
                 DP_ERR_CONFIG);
    CHECK(strstr(err, "\"timestamp.field\"") != NULL);
    setenv("DP_TEST_SECRET", "s3cr3t-value-y", 1);
    CHECK_EQ_INT(load_archive(&a,
                              "topics=t\nkafka.bootstrap.servers=k:1\n"
                              "path.format=${env:DP_TEST_SECRET}\n",
                              err, sizeof err),
                 DP_ERR_CONFIG);
    CHECK(strstr(err, "\"path.format\"") != NULL);
    CHECK(strstr(err, "s3cr3t-value-y") == NULL);
    cfg_free(&archive_config_table, &a);
    /* --help lists each shared key once, after the service's own */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cfg_print_help(&capture_config_table, f);
    fclose(f);
    const char *first = strstr(buf, "datapipe.metrics.port");
    CHECK(first != NULL && strstr(first + 1, "datapipe.metrics.port") == NULL);
    CHECK(strstr(buf, "kafka.*") != NULL && strstr(buf, "kafka.*") > strstr(buf, "slot.name"));
    free(buf);
}

/* the registry keys each converter side shares: its CA, and basic auth
 * from the url or from basic.auth.user.info (a secret) */
static void test_registry_keys(void) {
    char err[1024];
    archive_settings_t a;
    memset(&a, 0, sizeof a);
    dp_registry_opts_t o;
    CHECK_EQ_INT(load_archive(&a, "topics=t\nkafka.bootstrap.servers=k:1\n", err, sizeof err),
                 DP_OK);
    CHECK_EQ_INT(dp_registry_opts_of(&a.svc.value_registry, "value", &o, err, sizeof err), DP_OK);
    CHECK(o.ca_file == NULL && o.user_info == NULL);
    CHECK_EQ_INT(load_archive(&a,
                              "topics=t\nkafka.bootstrap.servers=k:1\n"
                              "value.converter.schema.registry.ssl.ca.location=/ca.pem\n"
                              "value.converter.basic.auth.credentials.source=USER_INFO\n",
                              err, sizeof err),
                 DP_OK);
    CHECK_EQ_INT(dp_registry_opts_of(&a.svc.value_registry, "value", &o, err, sizeof err),
                 DP_ERR_CONFIG);
    CHECK(strstr(err, "\"value.converter.basic.auth.user.info\"") != NULL);
    setenv("DP_TEST_REG_USER", "reg:s3cr3t-reg", 1);
    CHECK_EQ_INT(load_archive(&a,
                              "topics=t\nkafka.bootstrap.servers=k:1\n"
                              "value.converter.schema.registry.ssl.ca.location=/ca.pem\n"
                              "value.converter.basic.auth.credentials.source=USER_INFO\n"
                              "value.converter.basic.auth.user.info=${env:DP_TEST_REG_USER}\n",
                              err, sizeof err),
                 DP_OK);
    CHECK_EQ_INT(dp_registry_opts_of(&a.svc.value_registry, "value", &o, err, sizeof err), DP_OK);
    CHECK_EQ_STR(o.ca_file, "/ca.pem");
    CHECK_EQ_STR(o.user_info, "reg:s3cr3t-reg");
    /* Connect's SASL_INHERIT has no meaning here: refused, naming the key */
    CHECK_EQ_INT(load_archive(&a,
                              "topics=t\nkafka.bootstrap.servers=k:1\n"
                              "key.converter.basic.auth.credentials.source=SASL_INHERIT\n",
                              err, sizeof err),
                 DP_ERR_CONFIG);
    CHECK(strstr(err, "\"key.converter.basic.auth.credentials.source\"") != NULL);
    /* the user info is a secret: --help and config-docs never show a value */
    CHECK_EQ_INT(load_archive(&a,
                              "topics=t\nkafka.bootstrap.servers=k:1\n"
                              "value.converter.basic.auth.user.info=${env:DP_TEST_REG_USER}\n"
                              "datapipe.metrics.port=${env:DP_TEST_REG_USER}\n",
                              err, sizeof err),
                 DP_ERR_CONFIG);
    CHECK(strstr(err, "s3cr3t-reg") == NULL);
    cfg_free(&archive_config_table, &a);
}

int main(void) {
    test_registry_keys();
    test_shared_keys_and_finalize();
    test_structured_values();
    test_refs_and_validators();
    dp_log_level = DP_LOG_ERROR;
    capture_settings_t s;
    memset(&s, 0, sizeof s);
    char err[1024];
    /* REST form with defaults */
    CHECK_EQ_INT(load(&s, "{\"name\":\"c1\",\"config\":{" REQ ",\"database.port\":\"25432\"}}", err,
                      sizeof err),
                 DP_OK);
    CHECK_EQ_STR(s.name, "c1");
    CHECK_EQ_INT(s.port, 25432);
    CHECK_EQ_STR(s.slot_name, "debezium");
    CHECK_EQ_STR(s.publication_name, "dbz_publication");
    CHECK_EQ_INT(s.tombstones_on_delete, 1);
    CHECK_EQ_INT(s.max_queue_size, 8192);
    /* flat form, numbers and booleans as JSON literals */
    CHECK_EQ_INT(load(&s, "{" REQ ",\"database.port\":5433,\"tombstones.on.delete\":false}", err,
                      sizeof err),
                 DP_OK);
    CHECK_EQ_INT(s.port, 5433);
    CHECK_EQ_INT(s.tombstones_on_delete, 0);
    /* properties form */
    CHECK_EQ_INT(load(&s,
                      "# comment\n! also\ndatabase.hostname = h\ndatabase.user: u\n"
                      "database.dbname=d\ntopic.prefix=p\nkafka.bootstrap.servers=b:1\n"
                      "publication.autocreate.mode=filtered\n",
                      err, sizeof err),
                 DP_OK);
    CHECK_EQ_STR(cfg_kv_get(&s.svc.kafka, "bootstrap.servers"), "b:1");
    CHECK_EQ_INT(s.publication_autocreate_mode, 2);
    /* deprecated alias */
    CHECK_EQ_INT(
        load(&s,
             "{\"database.hostname\":\"h\",\"database.user\":\"u\",\"database.dbname\":\"d\","
             "\"database.server.name\":\"postgres\",\"kafka.bootstrap.servers\":\"b:1\"}",
             err, sizeof err),
        DP_OK);
    CHECK_EQ_STR(s.topic_prefix, "postgres");
    /* errors name the key */
    CHECK_EQ_INT(load(&s, "{" REQ ",\"databse.port\":\"1\"}", err, sizeof err), DP_ERR_CONFIG);
    CHECK(strstr(err, "unknown configuration key \"databse.port\"") != NULL);
    CHECK_EQ_INT(load(&s, "{" REQ ",\"database.port\":\"x1\"}", err, sizeof err), DP_ERR_CONFIG);
    CHECK(strstr(err, "\"database.port\"") != NULL);
    CHECK_EQ_INT(load(&s, "{" REQ ",\"database.port\":\"70000\"}", err, sizeof err), DP_ERR_CONFIG);
    CHECK(strstr(err, "out of range") != NULL);
    CHECK_EQ_INT(load(&s, "{" REQ ",\"database.port\":\"0\"}", err, sizeof err), DP_ERR_CONFIG);
    CHECK_EQ_INT(load(&s, "{" REQ ",\"database.port\":\"65535\"}", err, sizeof err), DP_OK);
    CHECK_EQ_INT(load(&s, "{" REQ ",\"snapshot.mode\":\"sometimes\"}", err, sizeof err),
                 DP_ERR_CONFIG);
    CHECK(strstr(err, "\"snapshot.mode\"") != NULL);
    /* the handling modes: Debezium's names, its defaults, the dbz_*_mode_t values */
    CHECK_EQ_INT(load(&s, "{" REQ "}", err, sizeof err), DP_OK);
    CHECK_EQ_INT(s.decimal_handling_mode, DBZ_DECIMAL_PRECISE);
    CHECK_EQ_INT(s.time_precision_mode, DBZ_TIME_ADAPTIVE);
    CHECK_EQ_INT(s.binary_handling_mode, DBZ_BINARY_BYTES);
    CHECK_EQ_INT(
        load(&s,
             "{" REQ ",\"decimal.handling.mode\":\"string\",\"time.precision.mode\":"
             "\"adaptive_time_microseconds\",\"binary.handling.mode\":\"base64-url-safe\"}",
             err, sizeof err),
        DP_OK);
    CHECK_EQ_INT(s.decimal_handling_mode, DBZ_DECIMAL_STRING);
    CHECK_EQ_INT(s.time_precision_mode, DBZ_TIME_ADAPTIVE_TIME_MICROSECONDS);
    CHECK_EQ_INT(s.binary_handling_mode, DBZ_BINARY_BASE64_URL_SAFE);
    CHECK_EQ_INT(load(&s,
                      "{" REQ ",\"decimal.handling.mode\":\"double\",\"time.precision.mode\":"
                      "\"connect\",\"binary.handling.mode\":\"hex\"}",
                      err, sizeof err),
                 DP_OK);
    CHECK_EQ_INT(s.decimal_handling_mode, DBZ_DECIMAL_DOUBLE);
    CHECK_EQ_INT(s.time_precision_mode, DBZ_TIME_CONNECT);
    CHECK_EQ_INT(s.binary_handling_mode, DBZ_BINARY_HEX);
    CHECK_EQ_INT(load(&s, "{" REQ ",\"binary.handling.mode\":\"base32\"}", err, sizeof err),
                 DP_ERR_CONFIG);
    CHECK(strstr(err, "\"binary.handling.mode\"") != NULL);
    CHECK_EQ_INT(load(&s, "{" REQ ",\"time.precision.mode\":\"nanos\"}", err, sizeof err),
                 DP_ERR_CONFIG);
    CHECK(strstr(err, "\"time.precision.mode\"") != NULL);
    CHECK_EQ_INT(load(&s, "{" REQ ",\"plugin.name\":\"decoderbufs\"}", err, sizeof err),
                 DP_ERR_CONFIG);
    CHECK(strstr(err, "\"plugin.name\"") != NULL);
    CHECK_EQ_INT(load(&s, "{" REQ ",\"slot.drop.on.stop\":\"yes\"}", err, sizeof err),
                 DP_ERR_CONFIG);
    CHECK_EQ_INT(load(&s,
                      "{\"database.user\":\"u\",\"database.dbname\":\"d\",\"topic.prefix\":\"p\"}",
                      err, sizeof err),
                 DP_ERR_CONFIG);
    CHECK(strstr(err, "missing required configuration key \"database.hostname\"") != NULL);
    CHECK_EQ_INT(load(&s, "{" REQ ",\"slot.name\":{\"nested\":1}}", err, sizeof err),
                 DP_ERR_CONFIG);
    CHECK(strstr(err, "\"slot.name\"") != NULL);
    CHECK_EQ_INT(load(&s, "{" REQ, err, sizeof err), DP_ERR_CONFIG);
    CHECK(strstr(err, "json:") != NULL);
    CHECK_EQ_INT(load(&s, "{\"name\":\"x\",\"config\":{" REQ "},\"tasks\":[]}", err, sizeof err),
                 DP_ERR_CONFIG);
    CHECK(strstr(err, "\"tasks\"") != NULL);
    CHECK_EQ_INT(load(&s, "database.hostname\n", err, sizeof err), DP_ERR_CONFIG);
    CHECK(strstr(err, "test:1") != NULL);
    /* references */
    setenv("DP_TEST_HOST", "db.example", 1);
    CHECK_EQ_INT(
        load(&s, "{" REQ ",\"database.hostname\":\"${env:DP_TEST_HOST}\"}", err, sizeof err),
        DP_OK);
    CHECK_EQ_STR(s.hostname, "db.example");
    CHECK_EQ_INT(
        load(&s, "{" REQ ",\"database.hostname\":\"${env:DP_TEST_UNSET_VAR}\"}", err, sizeof err),
        DP_ERR_CONFIG);
    CHECK(strstr(err, "DP_TEST_UNSET_VAR") != NULL);
    char path[] = "/tmp/dp-test-secret-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *secret = "# secrets\npassword = s3cr=t\nother: x\n";
    CHECK_EQ_INT(write(fd, secret, strlen(secret)), (long long)strlen(secret));
    close(fd);
    char doc[1024];
    snprintf(doc, sizeof doc, "{" REQ ",\"database.password\":\"${file:%s:password}\"}", path);
    CHECK_EQ_INT(load(&s, doc, err, sizeof err), DP_OK);
    CHECK_EQ_STR(s.password, "s3cr=t");
    snprintf(doc, sizeof doc, "{" REQ ",\"database.password\":\"pre-${file:%s:other}-post\"}",
             path);
    CHECK_EQ_INT(load(&s, doc, err, sizeof err), DP_OK);
    CHECK_EQ_STR(s.password, "pre-x-post");
    snprintf(doc, sizeof doc, "{" REQ ",\"database.password\":\"${file:%s:nokey}\"}", path);
    CHECK_EQ_INT(load(&s, doc, err, sizeof err), DP_ERR_CONFIG);
    CHECK(strstr(err, "\"nokey\"") != NULL);
    unlink(path);
    CHECK_EQ_INT(load(&s, "{" REQ ",\"database.password\":\"${file:/nonexistent/x:password}\"}",
                      err, sizeof err),
                 DP_ERR_CONFIG);
    CHECK(strstr(err, "/nonexistent/x") != NULL);
    /* a literal ${ that is not a provider reference is kept */
    CHECK_EQ_INT(load(&s, "{" REQ ",\"database.password\":\"a${b}c\"}", err, sizeof err), DP_OK);
    CHECK_EQ_STR(s.password, "a${b}c");
    cfg_free(&capture_config_table, &s);

    /* the shipped configs load (their ${env:...} set here) */
    const char *envs[] = {"PGHOST",
                          "PGPORT",
                          "PGUSER",
                          "PGPASSWORD",
                          "KAFKA_BOOTSTRAP_SERVERS",
                          "AWS_REGION",
                          "S3_BUCKET",
                          "S3_ENDPOINT_URL",
                          "AWS_ACCESS_KEY_ID",
                          "AWS_SECRET_ACCESS_KEY",
                          "PG_CA_FILE",
                          "PG_CAPTURE_USER",
                          "PG_CAPTURE_PASSWORD",
                          "KAFKA_CA_FILE",
                          "KAFKA_CAPTURE_USER",
                          "KAFKA_CAPTURE_PASSWORD",
                          "KAFKA_ARCHIVE_USER",
                          "KAFKA_ARCHIVE_PASSWORD"};
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) setenv(envs[i], "1", 1);
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(
        cfg_load(&capture_config_table, &s, "config/postgres-cdc-connector.json", err, sizeof err),
        DP_OK);
    CHECK_EQ_STR(s.name, "postgres-cdc-connector");
    CHECK_EQ_STR(s.slot_name, "debezium_slot");
    CHECK_EQ_STR(s.sslmode, "verify-full"); /* TLS checked against the stack's CA */
    CHECK(cfg_kv_get(&s.svc.kafka, "security.protocol") != NULL &&
          strcmp(cfg_kv_get(&s.svc.kafka, "security.protocol"), "SASL_SSL") == 0);
    cfg_free(&capture_config_table, &s);
    archive_settings_t a;
    memset(&a, 0, sizeof a);
    CHECK_EQ_INT(
        cfg_load(&archive_config_table, &a, "config/s3-sink-connector.json", err, sizeof err),
        DP_OK);
    CHECK_EQ_INT(a.flush_size, 1000);
    CHECK_EQ_INT(a.parquet_codec, PQT_CODEC_SNAPPY);
    CHECK_EQ_STR(a.topics_dir, "cdc-events");
    CHECK_EQ_INT(a.behavior_on_null_values, ARC_NULL_IGNORE);
    CHECK_EQ_INT(
        cfg_set(&archive_config_table, &a, "behavior.on.null.values", "FAIL", err, sizeof err),
        DP_OK);
    CHECK_EQ_INT(a.behavior_on_null_values, ARC_NULL_FAIL);
    CHECK_EQ_INT(cfg_set(&archive_config_table, &a, "parquet.codec", "lz4", err, sizeof err),
                 DP_ERR_CONFIG);
    CHECK(strstr(err, "none|snappy|gzip|zstd") != NULL);
    CHECK_EQ_STR(cfg_enum_name(&archive_config_table, "parquet.codec", PQT_CODEC_ZSTD), "zstd");
    cfg_free(&archive_config_table, &a);
    /* enum keys hold the C enum's value, not a position */
    memset(&s, 0, sizeof s);
    CHECK_EQ_INT(load(&s,
                      "{" REQ ",\"snapshot.mode\":\"never\",\"publication.autocreate.mode\":"
                      "\"disabled\",\"binary.handling.mode\":\"hex\"}",
                      err, sizeof err),
                 DP_OK);
    CHECK_EQ_INT(s.snapshot_mode, CAPTURE_SNAPSHOT_NEVER);
    CHECK_EQ_INT(s.publication_autocreate_mode, REPL_PUB_DISABLED);
    CHECK_EQ_INT(s.binary_handling_mode, DBZ_BINARY_HEX);
    cfg_free(&capture_config_table, &s);
    return tl_finish("test_config");
}
