/* elfread.h - the one ELF reader: program headers, the interpreter, DT_NEEDED names (shim-safe). */
#ifndef TR_ELFREAD_H
#define TR_ELFREAD_H

#include <elf.h>
#include <stddef.h>
#include <stdint.h>

/* Reads n bytes at offset off of fd into buf: the count read, or < 0. The agent passes pread;
 * the shim its raw syscall, so that reading never enters its own wrappers. */
typedef long (*tr_elf_read_fn)(int fd, void *buf, size_t n, uint64_t off);

#define TR_ELF_MAX_PHDRS 64
#define TR_ELF_MAX_NEEDED 64

/* An opened ELF64 object: its header and program headers, read into this struct (no
 * allocation: it lives on the caller's stack). */
typedef struct tr_elf {
    int fd;
    tr_elf_read_fn read;
    Elf64_Ehdr eh;
    Elf64_Phdr ph[TR_ELF_MAX_PHDRS];
    int nph;
} tr_elf;

#define TR_ELF_NOT_ELF (-1) /* no ELF magic */
#define TR_ELF_32BIT (-2)   /* an ELF object of another class than ELF64 */
#define TR_ELF_BAD (-3)     /* unreadable or unusual program headers */

/* Reads the header (from head[0..headlen) when the caller has read it already, else from fd)
 * and the program headers. 0, or one of TR_ELF_*. */
int tr_elf_open(tr_elf *e, int fd, tr_elf_read_fn read, const void *head, size_t headlen);
/* 1 when the object names a program interpreter (PT_INTERP): a dynamically linked program. */
int tr_elf_has_interp(const tr_elf *e);
/* Calls fn(name, arg) for each DT_NEEDED name (at most TR_ELF_MAX_NEEDED, names cut at 63
 * bytes) in order until fn returns nonzero. Returns what fn returned last, 0 when every name
 * was seen, -1 when the object has no readable dynamic section. */
int tr_elf_needed(const tr_elf *e, int (*fn)(const char *name, void *arg), void *arg);
/* The sanitizer runtime (libasan, libtsan, libhwasan) the object needs, which must come first in
 * LD_PRELOAD: copied into out; 0, or -1 when there is none (or it does not fit). */
int tr_elf_sanitizer(const tr_elf *e, char *out, size_t n);

#endif
