/* convert.c - the key and value converters of capture.
 *
 * key.converter and value.converter are JsonConverter or
 * io.confluent.connect.avro.AvroConverter; an Avro side registers each new
 * schema under <topic>-key / <topic>-value (TopicNameStrategy) in the
 * schema registry. The event pipeline (src/event/pipeline.h) writes the
 * bytes; here it is run with the registry's outages waited out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capture/internal.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/registry.h"
#include "common/retry.h"
#include "event/avro.h"

/* distinct schemas kept per converter before the cache starts over */
#define MAX_SCHEMAS 4096

struct capture_avro {
    dp_registry_t *key_reg, *value_reg;
    dp_avro_conv_t *key, *value;
};

/* open_side: one Avro side; its registry url is there (the configuration's
 * finalize step, cfg_check_converter, required it) */
static dp_err_t open_side(capture_t *c, int is_key, const char *url, dp_registry_t **reg,
                          dp_avro_conv_t **conv, char *errstr, size_t n) {
    dp_registry_opts_t o;
    dp_err_t err = dp_registry_opts_of(is_key ? &c->s.svc.key_registry : &c->s.svc.value_registry,
                                       is_key ? "key" : "value", &o, errstr, n);
    if (err) return err;
    if (!(*reg = dp_registry_new(url, &o, errstr, n))) return DP_ERR_CONFIG;
    *conv = dp_avro_conv_new(is_key, (size_t)c->s.max_event_bytes, MAX_SCHEMAS,
                             dp_registry_register_cb, *reg);
    char shown[512];
    dp_registry_redact(url, shown, sizeof shown);
    dp_info(MOD, "%s.converter: Avro through the schema registry %s", is_key ? "key" : "value",
            shown);
    return DP_OK;
}

dp_err_t capture_convert_setup(capture_t *c, char *errstr, size_t n) {
    capture_settings_t *s = &c->s;
    int key_avro = s->key_converter == CFG_CONVERTER_AVRO;
    int value_avro = s->value_converter == CFG_CONVERTER_AVRO;
    dp_err_t err;
    if (!key_avro && !value_avro) return DP_OK;
    c->avro = dp_xcalloc(1, sizeof *c->avro);
    /* an Avro side writes its schema: JsonConverter's schemas.enable does
     * not apply to it (a value a transform rewrote is transcoded from its
     * JSON with the schema) */
    if (key_avro) {
        s->key_schemas_enable = 1;
        if ((err =
                 open_side(c, 1, s->key_registry_url, &c->avro->key_reg, &c->avro->key, errstr, n)))
            return err;
    }
    if (value_avro) {
        s->value_schemas_enable = 1;
        if ((err = open_side(c, 0, s->value_registry_url, &c->avro->value_reg, &c->avro->value,
                             errstr, n)))
            return err;
    }
    return DP_OK;
}

dp_avro_conv_t *capture_key_avro(const capture_t *c) { return c->avro ? c->avro->key : NULL; }
dp_avro_conv_t *capture_value_avro(const capture_t *c) { return c->avro ? c->avro->value : NULL; }

void capture_convert_fini(capture_t *c) {
    if (!c->avro) return;
    dp_avro_conv_destroy(c->avro->key);
    dp_avro_conv_destroy(c->avro->value);
    dp_registry_destroy(c->avro->key_reg);
    dp_registry_destroy(c->avro->value_reg);
    free(c->avro);
    c->avro = NULL;
}

/* healing: run the step, and while the schema registry cannot be reached
 * (a new schema to register), wait for it with the retry policy's
 * backoff, serving Kafka meanwhile; the stream waits, nothing is dropped */
typedef dp_err_t (*step_fn)(capture_t *c, void *arg, char *errstr, size_t n);

static dp_err_t healing(capture_t *c, step_fn step, void *arg, char *errstr, size_t n) {
    dp_retry_t retry = {0};
    for (;;) {
        dp_err_t err = step(c, arg, errstr, n);
        if (err != DP_ERR_NET || capture_stop_requested) return err;
        long d = dp_retry_failed(&retry, dp_mono_ms());
        dp_warn(MOD, "%s (waiting for the schema registry: trying again in %ld ms)", errstr, d);
        for (long waited = 0; waited < d && !capture_stop_requested; waited += 100) {
            capture_serve(c, 100);
            capture_tick_metrics(c, "waiting for the schema registry");
        }
        if (capture_stop_requested) return DP_ERR_STOPPED;
    }
}

typedef struct event_step {
    table_entry_t *te;
    const dbz_event_t *ev;
    dbz_record_t *rec;
} event_step_t;

static dp_err_t event_step(capture_t *c, void *arg, char *errstr, size_t n) {
    event_step_t *e = arg;
    return dbz_pipeline_event(&c->pipe, &e->te->plan, e->te->topic, e->ev, e->rec, errstr, n);
}

dp_err_t capture_encode(capture_t *c, table_entry_t *te, const dbz_event_t *ev, dbz_record_t *rec,
                        char *errstr, size_t n) {
    event_step_t e = {te, ev, rec};
    return healing(c, event_step, &e, errstr, n);
}

typedef struct txmeta_step {
    int end;
    uint64_t lsn;
    int64_t ts_us;
    dbz_record_t *rec;
} txmeta_step_t;

static dp_err_t txmeta_step(capture_t *c, void *arg, char *errstr, size_t n) {
    txmeta_step_t *t = arg;
    return dbz_pipeline_txmeta(&c->pipe, &c->txm, t->end, t->lsn, t->ts_us, c->tx_te.topic, t->rec,
                               errstr, n);
}

dp_err_t capture_encode_txmeta(capture_t *c, int end, uint64_t lsn, int64_t ts_us,
                               dbz_record_t *rec, char *errstr, size_t n) {
    txmeta_step_t t = {end, lsn, ts_us, rec};
    return healing(c, txmeta_step, &t, errstr, n);
}
