/* convert.h - the archive's value converter: JsonConverter values are read
 * as they are; io.confluent.connect.avro.AvroConverter values (Confluent's
 * wire format) are turned back into the JsonConverter payload the row
 * parser reads, their writer schemas fetched from the registry by id
 * (GET /schemas/ids/<id>) and kept. */
#ifndef DP_ARCHIVE_CONVERT_H
#define DP_ARCHIVE_CONVERT_H

#include <stddef.h>

#include "archive/archive.h"
#include "common/err.h"

typedef struct arc_convert arc_convert_t;

/* arc_convert_new: the converter of s's value.converter into *out (NULL for
 * JsonConverter); an unknown class or an Avro converter without
 * value.converter.schema.registry.url is a configuration error. */
dp_err_t arc_convert_new(const archive_settings_t *s, arc_convert_t **out, char *errstr,
                         size_t errstr_size);
void arc_convert_destroy(arc_convert_t *cv);

/* arc_convert_value: the JSON text of value[0..len) into *json, *json_len:
 * value itself for JsonConverter (cv NULL), else decoded into cv's buffer
 * (valid until the next call). DP_ERR_NET: the registry is away (the
 * record is fine; stop, do not dead-letter it); other errors: the record
 * cannot be read. */
dp_err_t arc_convert_value(arc_convert_t *cv, const void *value, size_t len, const char **json,
                           size_t *json_len, char *errstr, size_t errstr_size);

/* arc_convert_row: an AvroConverter value (cv not NULL) straight into
 * row, with no JSON parsed: the envelope's fields read where they are
 * (before/after as JsonConverter's text in cv's buffer, valid until the
 * next call). Errors as arc_convert_value, and the row checks of
 * arc_row_parse. */
dp_err_t arc_convert_row(arc_convert_t *cv, const void *value, size_t len, arc_row_t *row,
                         char *errstr, size_t errstr_size);

#endif
