/* rows.h - `datapipe verify --against-postgres CAPTURE_CONFIG`: the latest
 * state per key rebuilt from the archive's rows, compared with the live
 * tables the capture configuration captures. verify.c hands it every
 * archived object it found; the state itself is state.c. */
#ifndef DP_VERIFY_ROWS_H
#define DP_VERIFY_ROWS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/buf.h"
#include "common/err.h"

typedef struct vfy_rows vfy_rows_t;

/* vfy_rows_open: read the capture's configuration, connect to PostgreSQL
 * as it does, and learn the captured tables and their primary keys.
 * DP_ERR_CONFIG for the configuration, DP_ERR_NET / DP_ERR_PG for the
 * server; errstr names the key or the server, never a secret. */
dp_err_t vfy_rows_open(vfy_rows_t **out, const char *capture_config, char *errstr,
                       size_t errstr_size);
void vfy_rows_close(vfy_rows_t *r);

/* vfy_rows_object: fold every row of one archived Parquet object (its
 * whole bytes). DP_ERR_INVALID when it cannot be read as the archive's
 * object (named in errstr); the caller reports it and goes on. */
dp_err_t vfy_rows_object(vfy_rows_t *r, const char *key, const uint8_t *data, size_t len,
                         char *errstr, size_t errstr_size);

/* vfy_rows_compare: read each captured table (one REPEATABLE READ
 * transaction, through a cursor) and compare it with the folded state */
dp_err_t vfy_rows_compare(vfy_rows_t *r, char *errstr, size_t errstr_size);

/* vfy_rows_complete: no missing, extra or differing row, and every object read */
int vfy_rows_complete(const vfy_rows_t *r);

void vfy_rows_report_text(const vfy_rows_t *r, FILE *out);
/* vfy_rows_report_json: the "rows" member's value, one JSON object */
void vfy_rows_report_json(const vfy_rows_t *r, dp_buf_t *b);

#endif
