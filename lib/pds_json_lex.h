/* pds_json_lex.h: a strict JSON tokenizer over a buffer in memory, for the
 * streaming filter (pds_stream.h). Inside lib/ only.
 *
 * It accepts and refuses exactly what jansson 2.14's json_loadb does with
 * the flags the DOM filter passes (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
 * no JSON_ALLOW_NUL): UTF-8 checked as jansson's utf.c does (no overlong
 * forms, no surrogates, nothing above U+10FFFF), every byte of the input;
 * escapes "\" one of "\/bfnrtu"; \uXXXX surrogates only in valid pairs;
 * control characters refused inside strings; numbers in JSON's grammar,
 * integers within 64 bits, reals that do not overflow a double. Grammar,
 * duplicate keys and nesting are the caller's (pds_stream.c).
 *
 * A token refers to the input by offsets; nothing is allocated.
 */
#ifndef PDS_JSON_LEX_H
#define PDS_JSON_LEX_H

#include <stddef.h>

typedef enum {
    PDS_TOK_EOF = 0,
    PDS_TOK_INVALID,     /* see pds_token_t.reported */
    PDS_TOK_OBJECT,      /* { */
    PDS_TOK_OBJECT_END,  /* } */
    PDS_TOK_ARRAY,       /* [ */
    PDS_TOK_ARRAY_END,   /* ] */
    PDS_TOK_COLON,
    PDS_TOK_COMMA,
    PDS_TOK_STRING,
    PDS_TOK_INTEGER,
    PDS_TOK_REAL,
    PDS_TOK_TRUE,
    PDS_TOK_FALSE,
    PDS_TOK_NULL
} pds_tok_type_t;

typedef struct pds_token_t {
    pds_tok_type_t type;
    size_t start, end;      /* the token's bytes: input[start .. end - 1]
                               (strings: with their quotes) */
    int escaped;            /* a string holds a backslash */
    int has_nul;            /* a string decodes to a NUL (\u0000) */
    int reported;           /* PDS_TOK_INVALID: jansson would have set its
                               error text already (a bad string, an
                               overflowing number, bad UTF-8), which wins over
                               its depth check; 0: a plain invalid token */
    long long integer;      /* PDS_TOK_INTEGER */
    double real;            /* PDS_TOK_REAL */
} pds_token_t;

typedef struct pds_lex_t {
    const unsigned char *in;
    size_t len, pos;
} pds_lex_t;

void pds_lex_init(pds_lex_t *lx, const char *in, size_t len, size_t pos);

/* The next token; whitespace (space, tab, LF, CR) skipped. */
pds_tok_type_t pds_lex_next(pds_lex_t *lx, pds_token_t *t);

/* Non-zero when the byte at pos starts no valid UTF-8 sequence (ASCII is
 * valid; the end of the input is too). jansson reads one character past a
 * number or a keyword, and a bad one there is its first error. */
int pds_lex_bad_utf8_at(const pds_lex_t *lx, size_t pos);

/* The decoded bytes of string token t (validated by pds_lex_next) into out,
 * which has room for t->end - t->start bytes. Returns their count. */
size_t pds_lex_decode(const pds_lex_t *lx, const pds_token_t *t, char *out);

#endif
