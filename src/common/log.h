/* log.h - one line per event, with the module; levels are checked before
 * arguments are evaluated. Secrets never reach a log line. */
#ifndef DP_COMMON_LOG_H
#define DP_COMMON_LOG_H

enum { DP_LOG_ERROR = 0, DP_LOG_WARN = 1, DP_LOG_INFO = 2, DP_LOG_DEBUG = 3 };

extern int dp_log_level;

void dp_log_write(int level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* dp_log_set_level_name: "error", "warn", "info" or "debug"; -1 if unknown. */
int dp_log_set_level_name(const char *name);

#define DP_LOG(level, module, ...)                                                                 \
    do {                                                                                           \
        if ((level) <= dp_log_level) dp_log_write(level, module, __VA_ARGS__);                     \
    } while (0)
#define dp_error(m, ...) DP_LOG(DP_LOG_ERROR, m, __VA_ARGS__)
#define dp_warn(m, ...) DP_LOG(DP_LOG_WARN, m, __VA_ARGS__)
#define dp_info(m, ...) DP_LOG(DP_LOG_INFO, m, __VA_ARGS__)
#define dp_debug(m, ...) DP_LOG(DP_LOG_DEBUG, m, __VA_ARGS__)

#endif
