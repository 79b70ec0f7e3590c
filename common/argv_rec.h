/* argv_rec.h - the one way a producer puts a command line into a start record. */
#ifndef TR_ARGV_REC_H
#define TR_ARGV_REC_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "redact.h"

/* Encodes argv (NULL-terminated) as ARGV fields of e: at most max_fields fields, the arguments
 * past the last but one joined with spaces into the last; every argument as
 * tr_redact_arg_copy records it (r NULL: as it is). Each field is cut to what leaves keep bytes
 * of the record free; an argument that needs redacting, and the joined rest, are built in
 * scratch[0..scratchn) and cut to it. Never fails the encoder: returns the bytes left out, for
 * the record's TRUNCATED marker. Allocation-free (the shim uses it). */
uint64_t tr_enc_argv(tr_enc *e, const tr_redact *r, char *const *argv, int max_fields, size_t keep,
                     char *scratch, size_t scratchn);
/* A string field cut to at most max bytes and to what leaves keep bytes free; returns the bytes
 * left out. */
uint64_t tr_enc_str_fit(tr_enc *e, uint16_t id, const char *s, size_t max, size_t keep);

#endif
