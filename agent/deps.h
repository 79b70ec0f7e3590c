/* deps.h - dependency resolution by the agent (deps*.c), internal interface: Debian packages,
 * Python distributions and interpreters, git work trees. */
#ifndef TR_DEPS_H
#define TR_DEPS_H

#include <stddef.h>
#include <stdint.h>

/* ---- deps_dpkg.c: path -> Debian package and version ---- */

/* The dpkg database ($TRAIL_DPKG_ADMINDIR, else /var/lib/dpkg) read once: every *.list into a
 * path -> package map (merged-usr aliases folded: /lib/x -> /usr/lib/x when /lib links to
 * usr/lib), versions of installed packages from status. An absent database gives an empty
 * map. NULL only when out of memory. */
typedef struct tr_dpkg tr_dpkg;
tr_dpkg *tr_deps_dpkg_open(void);
void tr_deps_dpkg_free(tr_dpkg *d);
/* The package owning path (as given, then its realpath: symlinked sonames, alternatives) and
 * its version; 0 when found (strings live as long as d), -1 otherwise. */
int tr_deps_dpkg_lookup(tr_dpkg *d, const char *path, const char **pkg, const char **version);
/* A text that changes whenever the database does (its directory, the mtimes of status and
 * info/): answers cached under one stamp are valid while it stays. */
void tr_deps_dpkg_stamp(char *out, size_t n);
/* Number of paths known (0: no dpkg database). */
size_t tr_deps_dpkg_size(const tr_dpkg *d);

/* ---- deps_python.c: files of site-packages / dist-packages -> distributions ---- */

typedef struct tr_pysites tr_pysites;
typedef struct tr_pydist {
    const char *name, *version, *meta; /* meta: the .dist-info / .egg-info path */
} tr_pydist;
tr_pysites *tr_deps_py_new(void);
void tr_deps_py_free(tr_pysites *p);
/* 1 when path lies in a site-packages or dist-packages directory. */
int tr_deps_py_candidate(const char *path);
/* The distribution a file of a site directory belongs to (its top-level module or package
 * named in top_level.txt or RECORD, else by name); 0 when found, -1 otherwise. */
int tr_deps_py_lookup(tr_pysites *p, const char *path, tr_pydist *out);
/* 1 when exe is a Python interpreter (python, python3, python3.11 ...); ver gets its version:
 * the upstream part of dpkg_version when the executable is packaged, else read off its
 * installation (include/pythonX.Y/patchlevel.h, a versioned directory, the X.Y of its name). */
int tr_deps_py_interpreter(const char *exe, const char *dpkg_version, char *ver, size_t n);

/* ---- deps_git.c: the work tree enclosing a file; commit, branch, dirty state ---- */

typedef struct tr_gitinfo {
    char root[4096];
    char commit[72];  /* "" when HEAD points at an unborn branch */
    char branch[256]; /* "HEAD" when detached */
    int dirty;        /* 1 tracked changes, 0 clean, -1 unknown (git missing, timed out) */
    char **untracked; /* paths relative to root, sorted */
    size_t nuntracked;
} tr_gitinfo;
/* The top of the work tree enclosing directory dir (a parent holding .git); 0 or -1. */
int tr_deps_git_root(const char *dir, char *root, size_t n);
/* Reads HEAD and its ref (loose or packed) without git, then runs `git status --porcelain`
 * (with a timeout) for the dirty state and the untracked files. 0, or -1 when root is no
 * readable repository. */
int tr_deps_git_read(const char *root, tr_gitinfo *g);
/* 1 when path (absolute, inside g->root) is an untracked file. */
int tr_deps_git_untracked(const tr_gitinfo *g, const char *path);
void tr_deps_git_free(tr_gitinfo *g);

#endif
