/* avro_event.h - change events written straight as Avro (AvroConverter).
 *
 * The AvroConverter's writer of a typed event (dbz_event_t): it walks the
 * compiled Avro schema of the table's key or envelope (dp_avro_conv_schema
 * of the Connect schema that dbz_table_init computed) and puts each value
 * in place. Nothing is written as JSON and read back: the envelope's
 * fields are typed, and each column value goes from its Connect JSON
 * token (dbz_put_value) to Avro (dp_avro_put_token). The bytes are those
 * dp_avro_conv_run makes of the JsonConverter form of the same event. */
#ifndef DP_EVENT_AVRO_EVENT_H
#define DP_EVENT_AVRO_EVENT_H

#include "common/buf.h"
#include "common/err.h"
#include "event/avro.h"
#include "event/debezium.h"
#include "event/unwrap.h"

/* dbz_avro_key: append the Avro body of the event's key (the table must
 * have key columns and the event a row: dbz_encode_key's has_key). */
dp_err_t dbz_avro_key(const dp_avro_schema_t *s, const dbz_event_t *ev, dp_avro_tok_t *k,
                      dp_buf_t *out, char *errstr, size_t errstr_size);
/* dbz_avro_value: append the Avro body of the event's envelope. */
dp_err_t dbz_avro_value(const dp_avro_schema_t *s, const dbz_event_t *ev, const dbz_options_t *opt,
                        dp_avro_tok_t *k, dp_buf_t *out, char *errstr, size_t errstr_size);

/* dbz_avro_unwrapped: append the Avro body of an event's value after
 * ExtractNewRecordState (dbz_unwrap_event), under the compiled schema of
 * the plan's schema for its side (a null value: of its null_schema). */
dp_err_t dbz_avro_unwrapped(const dp_avro_schema_t *s, const dbz_event_t *ev,
                            const dbz_unwrapped_t *uw, dp_avro_tok_t *k, dp_buf_t *out,
                            char *errstr, size_t errstr_size);

#endif
