/* drops.h - a run's shared count of records lost by processes that never had a segment. */
#ifndef TR_DROPS_H
#define TR_DROPS_H

#include <stdint.h>

/* `<dir>/dropped`: 8 bytes (a little-endian u64 in a 4096-byte file whose blocks are allocated
 * when it is made), created by the launcher before the command starts. A process that lost
 * records and could not make any segment to say so in (a disk already full when it started)
 * adds its count here at exit; the launcher takes the total into a DROPPED record of its own.
 * No allocation; safe in the shim. 0 or TRAIL_E*. */
#define TR_DROPS_FILE "dropped"
int tr_drops_create(const char *dir);
int tr_drops_add(const char *dir, uint64_t n);
/* The count so far, reset to 0 (what the caller now reports). */
uint64_t tr_drops_take(const char *dir);

#endif
