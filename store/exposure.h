/* exposure.h - is a store file readable by others, or in a directory others can write? */
#ifndef TR_EXPOSURE_H
#define TR_EXPOSURE_H

#include <stddef.h>

/* 1 when the store at path can be read by group or others (mode & 044 on the file), or lies in
 * a directory group or others can write (they could plant its -wal or -journal file, or replace
 * it), with one line in why naming the fix; 0 when neither (or path does not exist yet). */
int tr_store_exposed(const char *path, char *why, size_t n);

#endif
