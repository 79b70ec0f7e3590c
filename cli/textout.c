/* textout.c - text output that cannot drive the terminal: control characters escaped. */
#include "textout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_safe.h"

#define RING 16

/* Bytes the escaped form of s takes (0: s needs no escaping). */
static size_t escaped_len(const unsigned char *s, size_t n, int *needs)
{
    size_t out = 0;
    *needs = 0;
    for (size_t i = 0; i < n;) {
        size_t l = tr_utf8_seq(s + i, n - i);
        if (l == 1 && (s[i] < 0x20 || s[i] == 0x7f)) {
            *needs = 1;
            out += s[i] == '\t' || s[i] == '\n' || s[i] == '\r' ? 2 : 4;
        } else if (l == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0) {
            *needs = 1;
            out += 6;
        } else if (!l) {
            *needs = 1;
            out += 4;
            l = 1;
        } else {
            out += l;
        }
        i += l;
    }
    return out;
}

const char *tr_esc(const char *s)
{
    static char *ring[RING];
    static int next;
    if (!s) return NULL;
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    int needs;
    size_t len = escaped_len(u, n, &needs);
    if (!needs) return s;
    char *out = malloc(len + 1), *o = out;
    if (!out) return "?";
    for (size_t i = 0; i < n;) {
        size_t l = tr_utf8_seq(u + i, n - i);
        if (l == 1 && (u[i] < 0x20 || u[i] == 0x7f)) {
            if (u[i] == '\t' || u[i] == '\n' || u[i] == '\r') {
                *o++ = '\\';
                *o++ = u[i] == '\t' ? 't' : u[i] == '\n' ? 'n' : 'r';
            } else {
                o += sprintf(o, "\\x%02x", u[i]);
            }
        } else if (l == 2 && u[i] == 0xc2 && u[i + 1] < 0xa0) {
            o += sprintf(o, "\\u%04x", (unsigned)u[i + 1]);
        } else if (!l) {
            o += sprintf(o, "\\x%02x", u[i]);
            l = 1;
        } else {
            memcpy(o, u + i, l);
            o += l;
        }
        i += l;
    }
    *o = 0;
    free(ring[next]);
    ring[next] = out;
    next = (next + 1) % RING;
    return out;
}
