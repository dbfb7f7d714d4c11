/* ds_internal.h — helpers shared by the files of mg_datasets (not public). */
#ifndef MG_DS_INTERNAL_H
#define MG_DS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Decodes one strict UTF-8 sequence at s[0..n) (n >= 1): no overlongs, no
 * surrogates, nothing above U+10FFFF — what Python's "utf-8" codec accepts.
 * Returns the length (1-4) and the code point in *cp, or 0 when invalid. */
size_t mg_ds__utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* Python's str.isspace() for one code point. */
int mg_ds__py_isspace(uint32_t cp);

/* strdup / strndup that report ENOMEM through the return value only. */
char *mg_ds__strndup(const char *s, size_t n);

/* Makes a Python-json line acceptable to jansson without changing its length:
 * NaN/Infinity/-Infinity and every valid number outside strings become tokens
 * jansson reads (the numbers' values are lost; invalid text stays invalid). */
void mg_ds__rewrite_for_jansson(char *s, size_t n);

#endif
