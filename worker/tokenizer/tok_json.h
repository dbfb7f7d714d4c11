/* tok_json.h — private: parsing helpers shared by tok_load.c and tok_pipeline.c. */
#ifndef MG_TOK_JSON_H
#define MG_TOK_JSON_H

#include "internal.h"

#include <jansson.h>
#include <stdio.h>

typedef struct mg__jctx {
    const char *name; /* file name for messages */
    mg_error *err;
} mg__jctx;

int mg__parse_normalizer(mg__jctx *c, json_t *o, const char *path, mg__norm *n);
int mg__parse_pretok(mg__jctx *c, json_t *o, const char *path, mg__pre *p);
int mg__parse_decoder(mg__jctx *c, json_t *o, const char *path, mg__dec *d);
int mg__parse_post(mg__jctx *c, json_t *o, const char *path, mg__post_item **items, size_t *n);
void mg__post_free(mg__post_item *items, size_t n);
int mg__get_flag(mg__jctx *c, json_t *o, const char *key, bool *out);

/* Reads a whole file (NUL-terminated copy). */
int mg__read_file(const char *path, char **out, size_t *len, mg_error *err);
/* Config files hold integers beyond 64 bits (model_max_length = 1e30), so they
 * are read with JSON_DECODE_INT_AS_REAL and integers checked as reals. */
json_t *mg__parse_json(const char *s, size_t n, const char *name, size_t flags, mg_error *err);

#endif
