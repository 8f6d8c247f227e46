/* convert.c - AvroConverter values back to the JsonConverter payload. */
#include "archive/convert.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/registry.h"
#include "event/avro.h"

#define MAX_SCHEMAS 1024

struct arc_convert {
    dp_registry_t *reg;
    dp_avro_deconv_t *d;
    dp_buf_t json, scratch;
};

static dp_err_t fetch(void *ctx, int32_t id, dp_buf_t *schema, char *errstr, size_t n) {
    return dp_registry_schema(ctx, id, schema, errstr, n);
}

dp_err_t arc_convert_new(const archive_settings_t *s, arc_convert_t **out, char *errstr,
                         size_t errstr_size) {
    *out = NULL;
    /* JsonConverter; or Avro, whose registry url finalize required */
    if (s->value_converter != CFG_CONVERTER_AVRO) return DP_OK;
    dp_registry_opts_t o;
    dp_err_t err = dp_registry_opts_of(&s->svc.value_registry, "value", &o, errstr, errstr_size);
    if (err) return err;
    arc_convert_t *cv = dp_xcalloc(1, sizeof *cv);
    if (!(cv->reg = dp_registry_new(s->value_registry_url, &o, errstr, errstr_size))) {
        free(cv);
        return DP_ERR_CONFIG;
    }
    cv->d = dp_avro_deconv_new(MAX_SCHEMAS, fetch, cv->reg);
    dp_buf_init(&cv->json, (size_t)s->max_record_bytes * 4 + 1024);
    dp_buf_init(&cv->scratch, (size_t)s->max_record_bytes * 4 + 1024);
    char shown[512];
    dp_registry_redact(s->value_registry_url, shown, sizeof shown);
    dp_info("archive", "value.converter: Avro, writer schemas from the registry %s", shown);
    *out = cv;
    return DP_OK;
}

void arc_convert_destroy(arc_convert_t *cv) {
    if (!cv) return;
    dp_avro_deconv_destroy(cv->d);
    dp_registry_destroy(cv->reg);
    dp_buf_fini(&cv->json);
    dp_buf_fini(&cv->scratch);
    free(cv);
}

dp_err_t arc_convert_value(arc_convert_t *cv, const void *value, size_t len, const char **json,
                           size_t *json_len, char *errstr, size_t errstr_size) {
    if (!cv) {
        *json = value;
        *json_len = len;
        return DP_OK;
    }
    dp_err_t err = dp_avro_deconv_run(cv->d, value, len, &cv->json, errstr, errstr_size);
    if (err) return err;
    *json = (const char *)cv->json.data;
    *json_len = cv->json.len;
    return DP_OK;
}

dp_err_t arc_convert_row(arc_convert_t *cv, const void *value, size_t len, arc_row_t *row,
                         char *errstr, size_t errstr_size) {
    const dp_avro_reader_t *r;
    dp_err_t err = dp_avro_deconv_reader(cv->d, value, len, &r, errstr, errstr_size);
    if (err) return err;
    dp_avro_got_t got[ARC_ROW_AVRO_NWANT];
    if ((err = dp_avro_read_fields(r, (const uint8_t *)value + 5, len - 5, arc_row_avro_want,
                                   ARC_ROW_AVRO_NWANT, got, &cv->json, &cv->scratch, errstr,
                                   errstr_size)))
        return err;
    return arc_row_from_avro(row, got, &cv->json, errstr, errstr_size);
}
