/* fuzz_aws_credentials - the shared credentials/config file parser (an INI
 * text from ~/.aws) on arbitrary bytes: it never reads past the text, and
 * every value it keeps is non-empty, one trimmed line, a piece of the file,
 * and only comes from a profile that was found. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s3/credentials.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_value(const uint8_t *data, size_t size, const char *v) {
    if (!v) return;
    size_t n = strlen(v);
    if (n == 0 || n > size || strchr(v, '\n')) __builtin_trap();
    if (v[0] == ' ' || v[0] == '\t') __builtin_trap();
    if (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r') __builtin_trap();
    if (!memmem(data, size, v, n)) __builtin_trap();
}

static void run(const uint8_t *data, size_t size, const char *profile) {
    char *text = malloc(size + 1); /* the file as read_file leaves it */
    if (!text) return;
    memcpy(text, data, size);
    text[size] = 0;
    s3_credentials_t store;
    memset(&store, 0, sizeof store);
    int found = s3_credentials_parse_profile(text, profile, &store);
    if (found != 0 && found != 1) __builtin_trap();
    if (!found && (store.access_key || store.secret_key || store.session_token)) __builtin_trap();
    check_value(data, size, store.access_key);
    check_value(data, size, store.secret_key);
    check_value(data, size, store.session_token);
    s3_credentials_fini(&store);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    run(data, size, "default");
    run(data, size, "prod");
    return 0;
}
