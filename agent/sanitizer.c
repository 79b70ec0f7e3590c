/* sanitizer.c - finds the sanitizer runtime a command links, which must come first in LD_PRELOAD.
 */
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

/* The command's path as execvp would find it. */
static int resolve_cmd(const char *cmd, char *out, size_t n)
{
    if (strchr(cmd, '/')) return snprintf(out, n, "%s", cmd) < (int)n ? 0 : -1;
    const char *path = getenv("PATH");
    if (!path) path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t l = strcspn(path, ":");
        int w = l ? snprintf(out, n, "%.*s/%s", (int)l, path, cmd) : snprintf(out, n, "%s", cmd);
        if (w > 0 && (size_t)w < n && access(out, X_OK) == 0) return 0;
        path += l;
        if (*path) path++;
    }
    return -1;
}

static int is_runtime(const char *name)
{
    return !strncmp(name, "libasan.so", 10) || !strncmp(name, "libtsan.so", 10) ||
           !strncmp(name, "libhwasan.so", 12);
}

/* Reads the DT_NEEDED names of an ELF64 file and copies the first sanitizer runtime. */
static int scan(int fd, char *out, size_t n)
{
    Elf64_Ehdr eh;
    Elf64_Phdr ph[64];
    if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr) ||
        eh.e_phnum == 0 || eh.e_phnum > 64)
        return -1;
    size_t pbytes = (size_t)eh.e_phnum * sizeof(Elf64_Phdr);
    if (pread(fd, ph, pbytes, (off_t)eh.e_phoff) != (ssize_t)pbytes) return -1;
    const Elf64_Phdr *dyn = NULL;
    for (int i = 0; i < eh.e_phnum; i++)
        if (ph[i].p_type == PT_DYNAMIC) dyn = &ph[i];
    if (!dyn) return -1;
    Elf64_Dyn d[256];
    size_t bytes = dyn->p_filesz < sizeof d ? dyn->p_filesz : sizeof d;
    ssize_t got = pread(fd, d, bytes, (off_t)dyn->p_offset);
    if (got <= 0) return -1;
    uint64_t strtab = 0, needed[64];
    int nn = 0;
    for (ssize_t i = 0; i < got / (ssize_t)sizeof *d && d[i].d_tag != DT_NULL; i++) {
        if (d[i].d_tag == DT_STRTAB) strtab = d[i].d_un.d_ptr;
        if (d[i].d_tag == DT_NEEDED && nn < 64) needed[nn++] = d[i].d_un.d_val;
    }
    for (int i = 0; i < eh.e_phnum && strtab; i++) { /* string table address -> file offset */
        if (ph[i].p_type != PT_LOAD || strtab < ph[i].p_vaddr ||
            strtab >= ph[i].p_vaddr + ph[i].p_filesz)
            continue;
        uint64_t off = strtab - ph[i].p_vaddr + ph[i].p_offset;
        for (int k = 0; k < nn; k++) {
            char name[64];
            ssize_t r = pread(fd, name, sizeof name - 1, (off_t)(off + needed[k]));
            if (r <= 0) continue;
            name[r] = 0;
            if (is_runtime(name) && strlen(name) < n) {
                strcpy(out, name);
                return 0;
            }
        }
    }
    return -1;
}

int tr_sanitizer_runtime(const char *cmd, char *out, size_t n)
{
    char path[4096];
    if (!cmd || resolve_cmd(cmd, path, sizeof path) != 0) return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = scan(fd, out, n);
    close(fd);
    return rc;
}
