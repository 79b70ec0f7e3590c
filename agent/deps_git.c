/* deps_git.c - the git work tree enclosing the files a run read: commit and branch read from
 * .git (HEAD, loose refs, packed-refs), dirty state and untracked files from `git status`. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "deps.h"
#include "util.h"

#define GIT_TIMEOUT_MS_DEFAULT 10000
#define GIT_OUTPUT_MAX (64u << 20)

extern char **environ;

int tr_deps_git_root(const char *dir, char *root, size_t n)
{
    char d[PATH_MAX], probe[PATH_MAX + 8];
    struct stat sb;
    if (tr_fmt(d, sizeof d, "%s", dir) != 0 || d[0] != '/') return -1;
    for (;;) {
        tr_fmt(probe, sizeof probe, "%s/.git", strcmp(d, "/") ? d : "");
        if (lstat(probe, &sb) == 0 && (S_ISDIR(sb.st_mode) || S_ISREG(sb.st_mode))) {
            tr_fmt(root, n, "%s", d);
            return 0;
        }
        char *slash = strrchr(d, '/');
        if (!slash || !strcmp(d, "/")) return -1;
        if (slash == d)
            slash[1] = 0;
        else
            *slash = 0;
    }
}

/* First line of a small file, without its newline; 0 or -1. */
static int read_line(const char *path, char *out, size_t n)
{
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    int ok = fgets(out, (int)n, f) != NULL;
    fclose(f);
    if (!ok) return -1;
    out[strcspn(out, "\r\n")] = 0;
    return 0;
}

/* The repository directory of a work tree (.git, or where a "gitdir: " file points) and the
 * common directory holding refs (a linked worktree's "commondir"). */
static int git_dirs(const char *root, char *gitdir, char *common, size_t n)
{
    char dotgit[PATH_MAX + 8], line[PATH_MAX], cd[PATH_MAX + 16];
    struct stat sb;
    tr_fmt(dotgit, sizeof dotgit, "%s/.git", root);
    if (stat(dotgit, &sb) != 0) return -1;
    if (S_ISDIR(sb.st_mode)) {
        tr_fmt(gitdir, n, "%s", dotgit);
    } else {
        if (read_line(dotgit, line, sizeof line) != 0 || strncmp(line, "gitdir: ", 8)) return -1;
        if (line[8] == '/')
            tr_fmt(gitdir, n, "%s", line + 8);
        else
            tr_fmt(gitdir, n, "%s/%s", root, line + 8);
    }
    tr_fmt(cd, sizeof cd, "%s/commondir", gitdir);
    if (read_line(cd, line, sizeof line) == 0) {
        if (line[0] == '/')
            tr_fmt(common, n, "%s", line);
        else
            tr_fmt(common, n, "%s/%s", gitdir, line);
    } else {
        tr_fmt(common, n, "%s", gitdir);
    }
    return 0;
}

/* The object id a ref names: a loose ref file, else a packed-refs line "<oid> <ref>". */
static int resolve_ref(const char *gitdir, const char *common, const char *ref, char *oid, size_t n)
{
    char path[PATH_MAX + 300], line[PATH_MAX];
    /* per-worktree refs (HEAD-like, refs/bisect ...) live in gitdir, branches in common */
    const char *dirs[2] = {common, gitdir};
    for (int i = 0; i < 2; i++) {
        tr_fmt(path, sizeof path, "%s/%s", dirs[i], ref);
        if (read_line(path, line, sizeof line) == 0 && strncmp(line, "ref: ", 5) != 0 &&
            strlen(line) >= 40) {
            tr_fmt(oid, n, "%s", line);
            return 0;
        }
    }
    tr_fmt(path, sizeof path, "%s/packed-refs", common);
    FILE *f = fopen(path, "re");
    int rc = -1;
    size_t rl = strlen(ref);
    while (f && rc && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        char *sp = strchr(line, ' ');
        if (line[0] == '#' || line[0] == '^' || !sp || strlen(sp + 1) != rl ||
            memcmp(sp + 1, ref, rl))
            continue;
        tr_fmt(oid, n, "%.*s", (int)(sp - line), line);
        rc = 0;
    }
    if (f) fclose(f);
    return rc;
}

static int read_head(const char *root, tr_gitinfo *g)
{
    char gitdir[PATH_MAX], common[PATH_MAX], path[PATH_MAX + 8], head[PATH_MAX];
    if (git_dirs(root, gitdir, common, sizeof gitdir) != 0) return -1;
    tr_fmt(path, sizeof path, "%s/HEAD", gitdir);
    if (read_line(path, head, sizeof head) != 0) return -1;
    g->commit[0] = 0;
    if (strncmp(head, "ref: ", 5) != 0) { /* detached */
        tr_fmt(g->commit, sizeof g->commit, "%s", head);
        tr_fmt(g->branch, sizeof g->branch, "HEAD");
        return 0;
    }
    const char *ref = head + 5;
    tr_fmt(g->branch, sizeof g->branch, "%s", strncmp(ref, "refs/heads/", 11) ? ref : ref + 11);
    if (resolve_ref(gitdir, common, ref, g->commit, sizeof g->commit) != 0)
        g->commit[0] = 0; /* an unborn branch: no commit yet */
    return 0;
}

static int64_t timeout_ms(void)
{
    const char *v = getenv("TRAIL_GIT_TIMEOUT_MS");
    long ms = v && *v ? strtol(v, NULL, 10) : 0;
    return ms > 0 ? ms : GIT_TIMEOUT_MS_DEFAULT;
}

/* The environment git runs with: ours without LD_PRELOAD, trail's and git's own variables
 * (GIT_DIR, GIT_WORK_TREE ... would point it elsewhere), plus no locks, no prompts. */
static char **git_env(void)
{
    size_t n = 0;
    for (char **e = environ; e && *e; e++)
        n++;
    char **env = calloc(n + 4, sizeof *env);
    if (!env) return NULL;
    size_t k = 0;
    for (char **e = environ; e && *e; e++)
        if (strncmp(*e, "LD_PRELOAD=", 11) && strncmp(*e, "TRAIL_", 6) && strncmp(*e, "GIT_", 4) &&
            strncmp(*e, "LC_ALL=", 7))
            env[k++] = *e;
    env[k++] = "GIT_OPTIONAL_LOCKS=0";
    env[k++] = "GIT_TERMINAL_PROMPT=0";
    env[k++] = "LC_ALL=C";
    env[k] = NULL;
    return env;
}

/* Runs `git status` in root; its stdout (malloc'd) in *out. 0, or -1 (no git, failed, or past
 * the timeout: then it is killed). The repository's fsmonitor hook is disabled: a repository
 * must not make the agent run its programs. */
static int git_status(const char *root, char **out, size_t *len)
{
    char *argv[] = {"git",        "-C",
                    (char *)root, "--no-optional-locks",
                    "-c",         "core.fsmonitor=false",
                    "-c",         "core.untrackedCache=false",
                    "status",     "--porcelain=v1",
                    "-z",         "--untracked-files=all",
                    NULL};
    int p[2], rc = -1, status = 0;
    char **env = git_env();
    posix_spawn_file_actions_t fa;
    pid_t pid = -1;
    *out = NULL;
    *len = 0;
    if (!env || pipe2(p, O_CLOEXEC) != 0) {
        free(env);
        return -1;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    int sp = posix_spawnp(&pid, "git", &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    close(p[1]);
    if (sp != 0) goto fail;
    size_t cap = 0;
    int64_t deadline = tr_mono_ns() + timeout_ms() * 1000000LL;
    int ok = 0; /* read to the end in time */
    for (;;) {
        int64_t left = (deadline - tr_mono_ns()) / 1000000LL;
        struct pollfd pf = {p[0], POLLIN, 0};
        int pr = left > 0 ? poll(&pf, 1, (int)(left > 60000 ? 60000 : left)) : 0;
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) break; /* timed out */
        if (*len + 65536 > cap) {
            cap = cap ? cap * 2 : 65536 * 2;
            char *g = cap <= GIT_OUTPUT_MAX ? realloc(*out, cap + 1) : NULL;
            if (!g) break;
            *out = g;
        }
        ssize_t r = read(p[0], *out + *len, cap - *len);
        if (r < 0 && errno == EINTR) continue;
        ok = r == 0;
        if (r <= 0) break;
        *len += (size_t)r;
    }
    if (!ok) kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    rc = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
fail:
    close(p[0]);
    if (rc != 0) {
        free(*out);
        *out = NULL;
        *len = 0;
    }
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Porcelain v1 with -z: "XY path\0", renames and copies followed by "orig\0". Tracked changes
 * make the tree dirty; untracked files are kept for the caller to compare with what was read. */
static void parse_status(tr_gitinfo *g, const char *buf, size_t len)
{
    size_t cap = 0;
    g->dirty = 0;
    for (size_t i = 0; i < len;) {
        const char *e = buf + i;
        size_t l = strnlen(e, len - i);
        i += l + 1;
        if (l < 4) continue;
        if (e[0] == '?' && e[1] == '?') {
            if (g->nuntracked == cap) {
                cap = cap ? cap * 2 : 16;
                char **u = realloc(g->untracked, cap * sizeof *u);
                if (!u) {
                    g->dirty = -1;
                    return;
                }
                g->untracked = u;
            }
            if ((g->untracked[g->nuntracked] = strndup(e + 3, l - 3))) g->nuntracked++;
            continue;
        }
        g->dirty = 1;
        if (e[0] == 'R' || e[0] == 'C' || e[1] == 'R' || e[1] == 'C')
            i += strnlen(buf + i, len - i) + 1; /* the original path */
    }
    if (g->nuntracked) qsort(g->untracked, g->nuntracked, sizeof *g->untracked, cmp_str);
}

int tr_deps_git_read(const char *root, tr_gitinfo *g)
{
    memset(g, 0, sizeof *g);
    tr_fmt(g->root, sizeof g->root, "%s", root);
    if (read_head(root, g) != 0) return -1;
    char *out;
    size_t len;
    g->dirty = -1;
    if (git_status(root, &out, &len) == 0) {
        parse_status(g, out, len);
        free(out);
    }
    return 0;
}

int tr_deps_git_untracked(const tr_gitinfo *g, const char *path)
{
    size_t rl = strlen(g->root);
    if (strncmp(path, g->root, rl) != 0 || path[rl] != '/' || !g->nuntracked) return 0;
    const char *rel = path + rl + 1;
    return bsearch(&rel, g->untracked, g->nuntracked, sizeof *g->untracked, cmp_str) != NULL;
}

void tr_deps_git_free(tr_gitinfo *g)
{
    for (size_t i = 0; i < g->nuntracked; i++)
        free(g->untracked[i]);
    free(g->untracked);
    g->untracked = NULL;
    g->nuntracked = 0;
}
