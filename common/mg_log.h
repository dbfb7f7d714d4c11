/* mg_log.h — logging through a sink that main() installs (as ggml_log_set).
 * Libraries never print directly; without a sink, messages go to stderr.
 * Warnings are how a library reports recoverable surprises (an empty expert
 * file, a fallback base model) without failing the call. */
#ifndef MG_LOG_H
#define MG_LOG_H

typedef enum mg_log_level { MG_LOG_DEBUG, MG_LOG_INFO, MG_LOG_WARN, MG_LOG_ERROR } mg_log_level;

typedef void (*mg_log_cb)(mg_log_level level, const char *msg, void *user_data);

/* Installs a sink (NULL restores the stderr default). Not thread-safe: call it
 * once at start-up, before any thread logs. */
void mg_log_set(mg_log_cb cb, void *user_data);
/* Messages below this level are dropped (default MG_LOG_INFO). */
void mg_log_set_level(mg_log_level level);

void mg_log(mg_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define mg_warn(...)  mg_log(MG_LOG_WARN, __VA_ARGS__)
#define mg_info(...)  mg_log(MG_LOG_INFO, __VA_ARGS__)
#define mg_debug(...) mg_log(MG_LOG_DEBUG, __VA_ARGS__)

#endif /* MG_LOG_H */
