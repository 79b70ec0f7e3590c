/* elfread.c - the one ELF reader (elfread.h), for the launcher and, allocation-free, the shim. */
#include "elfread.h"

#include <string.h>

int tr_elf_open(tr_elf *e, int fd, tr_elf_read_fn read, const void *head, size_t headlen)
{
    e->fd = fd;
    e->read = read;
    e->nph = 0;
    if (head && headlen >= sizeof e->eh)
        memcpy(&e->eh, head, sizeof e->eh);
    else if (read(fd, &e->eh, sizeof e->eh, 0) != (long)sizeof e->eh)
        return TR_ELF_NOT_ELF;
    if (memcmp(e->eh.e_ident, ELFMAG, SELFMAG) != 0) return TR_ELF_NOT_ELF;
    if (e->eh.e_ident[EI_CLASS] != ELFCLASS64) return TR_ELF_32BIT;
    if (e->eh.e_phentsize != sizeof(Elf64_Phdr) || e->eh.e_phnum == 0 ||
        e->eh.e_phnum > TR_ELF_MAX_PHDRS)
        return TR_ELF_BAD;
    size_t bytes = (size_t)e->eh.e_phnum * sizeof(Elf64_Phdr);
    if (read(fd, e->ph, bytes, e->eh.e_phoff) != (long)bytes) return TR_ELF_BAD;
    e->nph = e->eh.e_phnum;
    return 0;
}

int tr_elf_has_interp(const tr_elf *e)
{
    for (int i = 0; i < e->nph; i++)
        if (e->ph[i].p_type == PT_INTERP) return 1;
    return 0;
}

int tr_elf_needed(const tr_elf *e, int (*fn)(const char *name, void *arg), void *arg)
{
    const Elf64_Phdr *dyn = NULL;
    for (int i = 0; i < e->nph; i++)
        if (e->ph[i].p_type == PT_DYNAMIC) dyn = &e->ph[i];
    if (!dyn) return -1;
    Elf64_Dyn d[256];
    size_t bytes = dyn->p_filesz < sizeof d ? dyn->p_filesz : sizeof d;
    long got = e->read(e->fd, d, bytes, dyn->p_offset);
    if (got <= 0) return -1;
    uint64_t strtab = 0, needed[TR_ELF_MAX_NEEDED];
    int nn = 0;
    for (long i = 0; i < got / (long)sizeof *d && d[i].d_tag != DT_NULL; i++) {
        if (d[i].d_tag == DT_STRTAB) strtab = d[i].d_un.d_ptr;
        if (d[i].d_tag == DT_NEEDED && nn < TR_ELF_MAX_NEEDED) needed[nn++] = d[i].d_un.d_val;
    }
    for (int i = 0; i < e->nph && strtab; i++) { /* the string table's address -> file offset */
        const Elf64_Phdr *p = &e->ph[i];
        if (p->p_type != PT_LOAD || strtab < p->p_vaddr || strtab >= p->p_vaddr + p->p_filesz)
            continue;
        uint64_t off = strtab - p->p_vaddr + p->p_offset;
        for (int k = 0; k < nn; k++) {
            char name[64];
            long r = e->read(e->fd, name, sizeof name - 1, off + needed[k]);
            if (r <= 0) continue;
            name[r] = 0;
            int rc = fn(name, arg);
            if (rc) return rc;
        }
        return 0;
    }
    return -1;
}

typedef struct san {
    char *out;
    size_t n;
} san;

static int sanitizer_cb(const char *name, void *arg)
{
    san *s = arg;
    if (strncmp(name, "libasan.so", 10) && strncmp(name, "libtsan.so", 10) &&
        strncmp(name, "libhwasan.so", 12))
        return 0;
    size_t l = strlen(name);
    if (l >= s->n) return -1;
    memcpy(s->out, name, l + 1);
    return 1;
}

int tr_elf_sanitizer(const tr_elf *e, char *out, size_t n)
{
    san s = {out, n};
    return tr_elf_needed(e, sanitizer_cb, &s) == 1 ? 0 : -1;
}
