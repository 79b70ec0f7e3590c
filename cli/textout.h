/* textout.h - text output that cannot drive the terminal: control characters escaped. */
#ifndef TR_TEXTOUT_H
#define TR_TEXTOUT_H

/* s ready to print as text: C0 controls, DEL, C1 controls (U+0080..U+009F) and bytes that are
 * not UTF-8 are written as \t \n \r \xHH \u00HH; other text is kept. Returns s itself when
 * nothing needs escaping, else a copy that stays valid until 16 further calls (a ring, for
 * one printf's arguments); NULL stays NULL; "?" when memory runs out. */
const char *tr_esc(const char *s);

#endif
