/* exposure.c - is a store file readable by others, or in a directory others can write? */
#include "exposure.h"
#include "db.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int tr_store_exposed(const char *path, char *why, size_t n)
{
    struct stat st;
    char dir[PATH_MAX];
    if (n) why[0] = 0;
    if (tr_db_is_pg_url(path)) return 0; /* a database server's: its own access control */
    if (stat(path, &st) == 0 && (st.st_mode & 044)) {
        snprintf(why, n, "store %s is readable by group or others (mode %04o): run chmod 600 %s",
                 path, (unsigned)(st.st_mode & 07777), path);
        return 1;
    }
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = 0;
    else
        *slash = 0;
    if (stat(dir, &st) == 0 && (st.st_mode & 022)) {
        snprintf(why, n,
                 "store %s is in %s, a directory group or others can write (mode %04o): move it "
                 "to a private directory (chmod 700)",
                 path, dir, (unsigned)(st.st_mode & 07777));
        return 1;
    }
    return 0;
}
