#include "testlib.h"

int tl_passed, tl_failed;

int tl_finish(const char *suite) {
    printf("%s: %d passed, %d failed\n", suite, tl_passed, tl_failed);
    return tl_failed ? 1 : 0;
}
