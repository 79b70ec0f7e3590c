/* fdctr.h - the layout of a process's file of byte counters (`<spool>/<pid>.cnt`), shared by the
 * shim that writes it (preload/counters.c) and the agent that reads it after a kill. */
#ifndef TR_FDCTR_H
#define TR_FDCTR_H

#include <stdint.h>

#define TR_FDCTR_SUFFIX ".cnt"
/* Entries: one per slot of the shim's table, one per aggregate. */
#define TR_FDCTR_N (4096 + 1024)

/* One open description (or aggregate of repeated opens): oseq and start_ns are those of its
 * FILE_OPEN record (0: the entry is free), rd and wr the bytes read and written so far. */
typedef struct tr_fdctr {
    int64_t oseq, start_ns;
    uint64_t rd, wr;
} tr_fdctr;

#endif
