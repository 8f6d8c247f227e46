/* test_kafka_conf - the kafka.* pass-through to librdkafka: keys and values
 * reach it, forced keys cannot be weakened, and the Java client's
 * keystores that a Kafka Connect configuration carries get an error that
 * says how to convert them. */
#include <librdkafka/rdkafka.h>
#include <stdlib.h>

#include "kafka/kafka.h"
#include "testlib.h"

static rd_kafka_conf_t *conf_of(const char *k, const char *v, char *err, size_t n) {
    char *keys[1] = {(char *)k}, *vals[1] = {(char *)v};
    cfg_kv_t user = {keys, vals, 1};
    static const char *const forced[] = {"enable.idempotence", "true", NULL};
    err[0] = 0;
    return kfk_conf_new(NULL, forced, &user, err, n);
}

static int has(const char *s, const char *part) { return s && strstr(s, part) != NULL; }

int main(void) {
    char err[1024];
    rd_kafka_conf_t *c = conf_of("security.protocol", "SASL_SSL", err, sizeof err);
    CHECK(c != NULL);
    char v[64];
    size_t vl = sizeof v;
    CHECK(c && rd_kafka_conf_get(c, "security.protocol", v, &vl) == RD_KAFKA_CONF_OK &&
          !strcmp(v, "sasl_ssl"));
    if (c) rd_kafka_conf_destroy(c);

    CHECK(conf_of("enable.idempotence", "false", err, sizeof err) == NULL);
    CHECK(has(err, "\"kafka.enable.idempotence\" must be \"true\""));

    /* the seed's JKS truststore */
    CHECK(conf_of("ssl.truststore.location", "/etc/kafka/truststore.jks", err, sizeof err) == NULL);
    CHECK(has(err, "\"kafka.ssl.truststore.location\"") && has(err, "keytool -exportcert") &&
          has(err, "\"kafka.ssl.ca.location\""));
    CHECK(!has(err, "/etc/kafka/truststore.jks")); /* the key is named, not the value */
    CHECK(conf_of("ssl.truststore.password", "secret-pw", err, sizeof err) == NULL);
    CHECK(!has(err, "secret-pw"));
    CHECK(conf_of("ssl.ca.location", "/etc/kafka/truststore.JKS", err, sizeof err) == NULL);
    CHECK(has(err, "kafka.ssl.ca.location") && has(err, "PEM"));
    CHECK(conf_of("ssl.keystore.location", "/etc/kafka/client.jks", err, sizeof err) == NULL);
    CHECK(has(err, "PKCS12") && has(err, "kafka.ssl.certificate.location"));
    /* PEM and PKCS#12 are librdkafka's own: accepted */
    c = conf_of("ssl.ca.location", "/etc/kafka/ca.pem", err, sizeof err);
    CHECK(c != NULL);
    if (c) rd_kafka_conf_destroy(c);
    /* an unknown key is librdkafka's error, named */
    CHECK(conf_of("no.such.property", "1", err, sizeof err) == NULL);
    CHECK(has(err, "invalid \"kafka.no.such.property\""));
    return tl_finish("kafka_conf");
}
