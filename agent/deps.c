/* deps.c - dependency resolution after each delivered batch, off the program's path: DEP, FILE,
 * PROC_START, RUN_START and TAG records noted on delivery are resolved to Debian packages,
 * Python distributions, interpreter versions and git work trees, emitted as DEP_INFO and TAG
 * records. Caches (the dpkg map, site directories, work trees) live as long as the delivery. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "deps.h"
#include "record.h"
#include "sink.h"
#include "strmap.h"
#include "trail.h"
#include "util.h"

/* A string set (optionally mapping to a string) over the common string map, made on first use. */
typedef struct sset {
    tr_strmap *m;
} sset;

/* The value of key (its key when no value was given); NULL when absent. */
static const char *sset_get(const sset *s, const char *key)
{
    long i = s->m ? tr_strmap_find(s->m, key, strlen(key)) : -1;
    if (i < 0) return NULL;
    const char *v = tr_strmap_val(s->m, (size_t)i)->s;
    return v ? v : tr_strmap_key(s->m, (size_t)i, NULL);
}

/* Adds key (-> value): 1 when added, 0 when present, -1 out of memory. */
static int sset_put(sset *s, const char *key, const char *value)
{
    size_t n = strlen(key);
    if (!s->m && !(s->m = tr_strmap_new())) return -1;
    if (tr_strmap_find(s->m, key, n) >= 0) return 0;
    tr_mapval v = {.s = value ? tr_strmap_strdup(s->m, value, strlen(value)) : NULL};
    if (value && !v.s) return -1;
    return tr_strmap_add(s->m, key, n, v, NULL) < 0 ? -1 : 1;
}

static size_t sset_size(const sset *s)
{
    return s->m ? tr_strmap_size(s->m) : 0;
}

static const char *sset_key(const sset *s, size_t i)
{
    return tr_strmap_key(s->m, i, NULL);
}

static void sset_free(sset *s)
{
    tr_strmap_free(s->m);
    s->m = NULL;
}

/* A noted record: 'd' dependency (kind so|dlopen|exe), 'f' file read, 'c' working directory
 * of a process, 'C' the run's own (RUN_START), 't' a git.* tag someone else set. */
typedef struct dnote {
    char type, kind[14];
    char run[33];
    char *path;
} dnote;

/* A work tree seen by a run. */
typedef struct drepo {
    tr_gitinfo g;
    int encloses_cwd, changed;
} drepo;

typedef struct drun {
    char id[33];
    char cwd[PATH_MAX]; /* the run's own, from its RUN_START */
    sset cwds, done;    /* directories processes ran in; "kind:path" rows added */
    drepo *repo;
    size_t nrepo;
    long tagged; /* repo in the git.* tags; -1 none yet, -2 the tags were set by someone else */
} drun;

struct tr_depq {
    dnote *v;
    size_t n, cap;
    tr_dpkg *dpkg;
    int dpkg_tried;
    char stamp[PATH_MAX + 64]; /* of the dpkg database, for the sink's cache */
    tr_pysites *py;
    sset roots; /* directory -> enclosing work tree ("" for none) */
    drun *runs;
    size_t nruns;
    unsigned gen; /* flushes so far */
};

tr_depq *tr_depq_new(void)
{
    tr_depq *q = calloc(1, sizeof *q);
    if (q && !(q->py = tr_deps_py_new())) {
        free(q);
        return NULL;
    }
    return q;
}

void tr_depq_clear(tr_depq *q)
{
    if (!q) return;
    for (size_t i = 0; i < q->n; i++)
        free(q->v[i].path);
    q->n = 0;
}

void tr_depq_free(tr_depq *q)
{
    if (!q) return;
    tr_depq_clear(q);
    free(q->v);
    tr_deps_dpkg_free(q->dpkg);
    tr_deps_py_free(q->py);
    sset_free(&q->roots);
    for (size_t i = 0; i < q->nruns; i++) {
        drun *r = &q->runs[i];
        sset_free(&r->cwds);
        sset_free(&r->done);
        for (size_t k = 0; k < r->nrepo; k++)
            tr_deps_git_free(&r->repo[k].g);
        free(r->repo);
    }
    free(q->runs);
    free(q);
}

static void push(tr_depq *q, char type, const char *run, const char *kind, const char *p, size_t n)
{
    if (n == 0 || n >= PATH_MAX || p[0] != '/') return;
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        dnote *g = realloc(q->v, cap * sizeof *g);
        if (!g) return;
        q->v = g;
        q->cap = cap;
    }
    dnote *d = &q->v[q->n];
    d->type = type;
    snprintf(d->kind, sizeof d->kind, "%s", kind ? kind : "");
    snprintf(d->run, sizeof d->run, "%s", run);
    if ((d->path = strndup(p, n))) q->n++;
}

/* Files of the system (interpreters, libraries, configuration) never hold a run's source. */
static int system_path(const char *p, size_t n)
{
    static const char *const pre[] = {"/usr/",  "/lib",  "/bin/", "/sbin/", "/etc/",
                                      "/proc/", "/sys/", "/dev/", NULL};
    for (int i = 0; pre[i]; i++) {
        size_t l = strlen(pre[i]);
        if (n >= l && !memcmp(p, pre[i], l)) return 1;
    }
    return 0;
}

void tr_depq_note(tr_depq *q, const tr_rec *rec, const char *run)
{
    const char *p, *k;
    size_t n, kn;
    int64_t rd = 0, wr = 0;
    if (!q || !run || !*run) return;
    switch (rec->type) {
    case TR_REC_DEP:
        if (tr_rec_get_str(rec, TR_F_PATH, &p, &n) != 0) return;
        if (tr_rec_get_str(rec, TR_F_KIND, &k, &kn) != 0) kn = 0;
        char kind[14];
        snprintf(kind, sizeof kind, "%.*s", (int)kn, kn ? k : "");
        push(q, 'd', run, kind, p, n);
        return;
    case TR_REC_FILE:
        if (tr_rec_get_str(rec, TR_F_PATH, &p, &n) != 0) return;
        if (tr_rec_get_str(rec, TR_F_ROLE, &k, &kn) == 0 && kn >= 5) {
            if (kn == 6 && !memcmp(k, "output", 6)) return; /* declared as written only */
        } else {
            tr_rec_get_i64(rec, TR_F_BYTES_READ, &rd);
            tr_rec_get_i64(rec, TR_F_BYTES_WRITTEN, &wr);
            if (wr > 0 && rd == 0) return;
        }
        if (!memmem(p, n, "-packages/", 10) && system_path(p, n)) return;
        push(q, 'f', run, NULL, p, n);
        return;
    case TR_REC_PROC_START:
    case TR_REC_RUN_START:
        if (tr_rec_get_str(rec, TR_F_CWD, &p, &n) == 0)
            push(q, rec->type == TR_REC_RUN_START ? 'C' : 'c', run, NULL, p, n);
        return;
    case TR_REC_TAG: /* git.* tags set by --tag or the SDK are left alone */
        if (tr_rec_get_str(rec, TR_F_KEY, &p, &n) != 0 || n < 4 || memcmp(p, "git.", 4)) return;
        if (tr_rec_get_str(rec, TR_F_SOURCE, &k, &kn) == 0 && kn == 5 && !memcmp(k, "agent", 5))
            return; /* our own */
        push(q, 't', run, NULL, "/", 1);
        return;
    default:
        return;
    }
}

static drun *run_state(tr_depq *q, const char *id)
{
    for (size_t i = 0; i < q->nruns; i++)
        if (!strcmp(q->runs[i].id, id)) return &q->runs[i];
    drun *g = realloc(q->runs, (q->nruns + 1) * sizeof *g);
    if (!g) return NULL;
    q->runs = g;
    drun *r = memset(&q->runs[q->nruns++], 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "%s", id);
    r->tagged = -1;
    return r;
}

/* A write decided while resolving, applied later in one transaction: 'r' resolve a path
 * (a path, b package, c version, d source), 'a' add a row (a path, b kind, c package,
 * d version, e source), 't' set a tag (a key, b value), 'c' cache a dpkg answer (a path,
 * b package, c version, d stamp). */
typedef struct dop {
    char type, run[33];
    char *s[5];
} dop;

typedef struct wctx {
    dop *v;
    size_t n, cap;
} wctx;

static void w_push(wctx *w, char type, const drun *r, const char *a, const char *b, const char *c,
                   const char *d, const char *e)
{
    const char *s[5] = {a, b, c, d, e};
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 32;
        dop *g = realloc(w->v, cap * sizeof *g);
        if (!g) return;
        w->v = g;
        w->cap = cap;
    }
    dop *o = &w->v[w->n++];
    o->type = type;
    snprintf(o->run, sizeof o->run, "%s", r ? r->id : "");
    for (int i = 0; i < 5; i++)
        o->s[i] = s[i] ? strdup(s[i]) : NULL;
}

static void w_add(wctx *w, drun *r, const char *path, const char *kind, const char *pkg,
                  const char *ver, const char *src)
{
    w_push(w, 'a', r, path, kind, pkg, ver, src);
}

static void w_tag(wctx *w, drun *r, const char *key, const char *value)
{
    w_push(w, 't', r, key, value, NULL, NULL, NULL);
}

/* Emits the decided writes: DEP_INFO and TAG records for the run, answers for the sink's
 * dpkg cache. */
static int w_emit(wctx *w, tr_enrich *e, tr_sink *sink)
{
    int rc = 0;
    for (size_t i = 0; i < w->n; i++) {
        const dop *o = &w->v[i];
        uint8_t buf[3 * 4096];
        tr_enc enc;
        if (o->type == 'c') {
            if (sink->vt->dpkg_put) sink->vt->dpkg_put(sink, o->s[0], o->s[3], o->s[1], o->s[2]);
            continue;
        }
        tr_enc_init(&enc, buf, sizeof buf, o->type == 't' ? TR_REC_TAG : TR_REC_DEP_INFO,
                    tr_now_ns());
        if (o->type == 't') {
            tr_enc_str(&enc, TR_F_KEY, o->s[0]);
            tr_enc_str(&enc, TR_F_VALUE, o->s[1]);
        } else {
            int add = o->type == 'a';
            tr_enc_str(&enc, TR_F_OP, add ? "add" : "resolve");
            tr_enc_str(&enc, TR_F_PATH, o->s[0]);
            if (add) tr_enc_str(&enc, TR_F_KIND, o->s[1]);
            tr_enc_str(&enc, TR_F_PACKAGE, o->s[add ? 2 : 1]);
            tr_enc_str(&enc, TR_F_VERSION, o->s[add ? 3 : 2]);
            tr_enc_str(&enc, TR_F_ORIGIN, o->s[add ? 4 : 3]);
        }
        tr_enc_str(&enc, TR_F_SOURCE, "agent");
        int erc = tr_enrich_emit(e, o->run, &enc);
        if (erc && !rc) rc = erc;
    }
    if (sink->vt->cache_sync) sink->vt->cache_sync(sink);
    for (size_t i = 0; i < w->n; i++)
        for (int k = 0; k < 5; k++)
            free(w->v[i].s[k]);
    free(w->v);
    return rc;
}

/* The Debian package of a path: the sink's cache, else the dpkg database (read on the first
 * miss) with the answer cached. 1 when found. */
static int dpkg_of(tr_depq *q, wctx *w, tr_sink *sink, const char *path, char *pkg, size_t pn,
                   char *ver, size_t vn)
{
    if (sink->vt->dpkg_get && sink->vt->dpkg_get(sink, path, q->stamp, pkg, pn, ver, vn) == 0)
        return pkg[0] != 0;
    if (!q->dpkg_tried) {
        q->dpkg_tried = 1;
        q->dpkg = tr_deps_dpkg_open();
    }
    const char *p = NULL, *v = NULL;
    int found = tr_deps_dpkg_lookup(q->dpkg, path, &p, &v) == 0;
    snprintf(pkg, pn, "%s", found ? p : "");
    snprintf(ver, vn, "%s", found && v ? v : "");
    if (q->dpkg && sink->vt->dpkg_put) w_push(w, 'c', NULL, path, pkg, ver, q->stamp, NULL);
    return found;
}

/* A shared object or executable: its Debian package, else the Python distribution that
 * installed it (extension modules, a wheel's bundled libraries); an interpreter's version. */
static void resolve_dep(tr_depq *q, wctx *w, tr_sink *sink, drun *r, const dnote *d, sset *seen)
{
    char key[PATH_MAX + 40], pyver[64], pkg[256], ver[256];
    snprintf(key, sizeof key, "%s:%s", r->id, d->path);
    if (sset_put(seen, key, NULL) != 1) return; /* once per batch */
    int found = dpkg_of(q, w, sink, d->path, pkg, sizeof pkg, ver, sizeof ver);
    tr_pydist dist;
    if (found)
        w_push(w, 'r', r, d->path, pkg, ver, "dpkg", NULL);
    else if (tr_deps_py_candidate(d->path) && tr_deps_py_lookup(q->py, d->path, &dist) == 0)
        w_push(w, 'r', r, d->path, dist.name, dist.version, "python", NULL); /* a wheel's */
    snprintf(key, sizeof key, "interpreter:%s", d->path);
    if (!strcmp(d->kind, "exe") &&
        tr_deps_py_interpreter(d->path, found ? ver : NULL, pyver, sizeof pyver) &&
        sset_put(&r->done, key, NULL) == 1)
        w_add(w, r, d->path, "interpreter", "python", pyver, found ? "dpkg" : "path");
}

static void resolve_python(tr_depq *q, wctx *w, drun *r, const char *path)
{
    tr_pydist dist;
    char key[PATH_MAX + 16];
    if (!tr_deps_py_candidate(path) || tr_deps_py_lookup(q->py, path, &dist) != 0) return;
    snprintf(key, sizeof key, "python:%s", dist.meta);
    if (sset_put(&r->done, key, NULL) == 1)
        w_add(w, r, dist.meta, "python", dist.name, dist.version, "python");
}

static int under(const char *path, const char *dir)
{
    size_t l = strlen(dir);
    if (l == 1 && dir[0] == '/') return 1;
    return l && !strncmp(path, dir, l) && (path[l] == '/' || !path[l]);
}

static int under_cwd(const drun *r, const char *path)
{
    if (r->cwd[0] && under(path, r->cwd)) return 1;
    for (size_t i = 0; i < sset_size(&r->cwds); i++)
        if (under(path, sset_key(&r->cwds, i))) return 1;
    return 0;
}

/* A file the run read under one of its working directories: the work tree enclosing it. */
static void resolve_source(tr_depq *q, drun *r, const char *path)
{
    char dir[PATH_MAX], root[PATH_MAX];
    if (system_path(path, strlen(path)) || !under_cwd(r, path)) return;
    snprintf(dir, sizeof dir, "%s", path);
    *(strrchr(dir, '/') == dir ? dir + 1 : strrchr(dir, '/')) = 0;
    const char *known = sset_get(&q->roots, dir);
    if (!known) {
        if (tr_deps_git_root(dir, root, sizeof root) != 0) root[0] = 0;
        sset_put(&q->roots, dir, root[0] ? root : "-");
        known = root;
    }
    if (!known[0] || !strcmp(known, "-")) return;
    size_t i = 0;
    while (i < r->nrepo && strcmp(r->repo[i].g.root, known))
        i++;
    if (i == r->nrepo) { /* first file of this tree in this run: read its state once */
        drepo *g = realloc(r->repo, (r->nrepo + 1) * sizeof *g);
        if (!g) return;
        r->repo = g;
        drepo *n = memset(&r->repo[r->nrepo], 0, sizeof *n);
        if (tr_deps_git_read(known, &n->g) != 0) {
            tr_deps_git_free(&n->g);
            n->g.dirty = -2; /* not readable: kept so it is not tried again */
        }
        n->encloses_cwd = r->cwd[0] && under(r->cwd, known);
        n->changed = n->g.dirty != -2;
        r->nrepo++;
    }
    drepo *g = &r->repo[i];
    if (g->g.dirty == 0 && tr_deps_git_untracked(&g->g, path)) { /* it ran code git lacks */
        g->g.dirty = 1;
        g->changed = 1;
    }
}

/* Rows and tags of the work trees whose state is new or changed. The tags describe one tree:
 * the one enclosing the run's directory when there is one, else the first found. */
static void write_git(wctx *w, drun *r)
{
    long before = r->tagged;
    for (size_t i = 0; i < r->nrepo; i++) {
        drepo *g = &r->repo[i];
        if (!g->changed) continue;
        if (r->tagged == -1 || (r->tagged >= 0 && (size_t)r->tagged != i &&
                                !r->repo[r->tagged].encloses_cwd && g->encloses_cwd))
            r->tagged = (long)i;
    }
    for (size_t i = 0; i < r->nrepo; i++) {
        drepo *g = &r->repo[i];
        if (!g->changed) continue;
        char ver[96];
        const char *base = strrchr(g->g.root, '/');
        snprintf(ver, sizeof ver, "%s%s", g->g.commit, g->g.dirty == 1 ? "-dirty" : "");
        w_add(w, r, g->g.root, "git", base && base[1] ? base + 1 : g->g.root,
              g->g.commit[0] ? ver : NULL, "git");
        if (r->tagged == (long)i || before != r->tagged) {
            const drepo *t = &r->repo[r->tagged];
            if (t->g.commit[0]) w_tag(w, r, "git.commit", t->g.commit);
            w_tag(w, r, "git.branch", t->g.branch);
            w_tag(w, r, "git.dirty",
                  t->g.dirty == 1   ? "true"
                  : t->g.dirty == 0 ? "false"
                                    : "unknown");
            before = r->tagged;
        }
        g->changed = 0;
    }
}

int tr_depq_flush(tr_depq *q, tr_enrich *e, tr_sink *sink)
{
    if (!q || q->n == 0) return 0;
    sset seen = {0};
    wctx w = {NULL, 0, 0};
    tr_deps_dpkg_stamp(q->stamp, sizeof q->stamp);
    q->gen++;
    for (size_t i = 0; i < q->n; i++) { /* directories first: files below them need them */
        const dnote *d = &q->v[i];
        drun *r = strchr("cCt", d->type) ? run_state(q, d->run) : NULL;
        if (!r) continue;
        if (d->type == 't')
            r->tagged = -2;
        else if (sset_put(&r->cwds, d->path, NULL) >= 0 && d->type == 'C' && !r->cwd[0])
            snprintf(r->cwd, sizeof r->cwd, "%s", d->path);
    }
    /* Resolved without holding the store's write lock (git may take a while); the writes then
     * go in one transaction. A failure loses only these resolutions. */
    for (size_t i = 0; i < q->n; i++) {
        const dnote *d = &q->v[i];
        drun *r = run_state(q, d->run);
        if (!r || strchr("cCt", d->type)) continue;
        if (d->type == 'd') resolve_dep(q, &w, sink, r, d, &seen);
        resolve_python(q, &w, r, d->path);
        if (d->type == 'f') resolve_source(q, r, d->path);
    }
    for (size_t i = 0; i < q->nruns; i++)
        write_git(&w, &q->runs[i]);
    sset_free(&seen);
    tr_depq_clear(q);
    return w_emit(&w, e, sink);
}
