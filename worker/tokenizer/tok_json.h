/* tok_json.h — private: parsing helpers shared by tok_load.c and tok_pipeline.c. */
#ifndef MG_TOK_JSON_H
#define MG_TOK_JSON_H

#include "internal.h"

#include <jansson.h>
#include <stdio.h>

typedef struct mg__tok_jctx {
    const char *name; /* file name for messages */
    mg_error *err;
} mg__tok_jctx;

int mg__tok_parse_normalizer(mg__tok_jctx *c, json_t *o, const char *path, mg__tok_norm *n);
int mg__tok_parse_pretok(mg__tok_jctx *c, json_t *o, const char *path, mg__tok_pre *p);
int mg__tok_parse_decoder(mg__tok_jctx *c, json_t *o, const char *path, mg__tok_dec *d);
int mg__tok_parse_post(mg__tok_jctx *c, json_t *o, const char *path, mg__tok_post_item **items,
                       size_t *n);
void mg__tok_post_free(mg__tok_post_item *items, size_t n);
int mg__tok_get_flag(mg__tok_jctx *c, json_t *o, const char *key, bool *out);

/* Reads a whole file (NUL-terminated copy). */
int mg__tok_read_file(const char *path, char **out, size_t *len, mg_error *err);
/* Config files hold integers beyond 64 bits (model_max_length = 1e30), so they
 * are read with JSON_DECODE_INT_AS_REAL and integers checked as reals. */
json_t *mg__tok_parse_json(const char *s, size_t n, const char *name, size_t flags, mg_error *err);

#endif
