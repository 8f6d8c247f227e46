/* transforms.h - what capture makes of `transforms`, `transforms.*` and
 * `message.key.columns`: the RegexRouters (topic names), the one
 * ExtractNewRecordState (values) and the custom message keys.
 *
 * Built from the settings alone, so the configuration table's finalize
 * step (config.c, `datapipe capture --check`) runs the same checks as a
 * starting capture. Errors name the key and never quote a value: it may
 * have come from a ${file:} or ${env:} reference. */
#ifndef DP_CAPTURE_TRANSFORMS_H
#define DP_CAPTURE_TRANSFORMS_H

#include <regex.h>
#include <stddef.h>

#include "capture/capture.h"
#include "common/err.h"
#include "event/unwrap.h"

typedef struct cap_router {
    regex_t re;
    char *replacement;
} cap_router_t;

typedef struct cap_key_override {
    regex_t table; /* matches "schema.table" */
    char **cols;
    size_t ncols;
} cap_key_override_t;

typedef struct cap_transforms {
    cap_router_t *routers; /* in the order of `transforms` */
    size_t nrouters;
    dbz_unwrap_t *unwrap; /* NULL: no ExtractNewRecordState */
    cap_key_override_t *keys; /* message.key.columns, in its order */
    size_t nkeys;
} cap_transforms_t;

/* cap_transforms_init: *t from s (an empty t on error; either way
 * cap_transforms_fini frees it). */
dp_err_t cap_transforms_init(cap_transforms_t *t, const capture_settings_t *s, char *errstr,
                             size_t n);
void cap_transforms_fini(cap_transforms_t *t);
/* cap_transforms_check: the checks of cap_transforms_init, keeping nothing
 * and logging no warning */
dp_err_t cap_transforms_check(const capture_settings_t *s, char *errstr, size_t n);

/* cap_route: topic through the RegexRouters in order (Connect's rules: the
 * whole name must match; $N in the replacement is group N), a new string */
char *cap_route(const cap_transforms_t *t, const char *topic);
/* cap_key_override: the message.key.columns entry for "schema.table", or NULL */
const cap_key_override_t *cap_key_override(const cap_transforms_t *t, const char *schema_table);

#endif
