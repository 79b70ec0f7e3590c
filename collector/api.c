/* api.c - the JSON API under /api (runs paged, a run, its metrics and logs, lineage, diff,
 * files, experiments, health) and the compiled-in web page, on an nng HTTP server. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "json_safe.h"
#include "store.h"
#include "trail.h"
#include "ui_assets.h"
#include "where.h"

struct tr_api {
    char store_path[4096];
    tr_store *ro;        /* opened on the first request */
    uint8_t token[4096]; /* TR_SRV_TOKEN_MAX: the whole token is compared, never a prefix */
    size_t token_len;
    pthread_mutex_t mu;
};

/* A request in progress: its path after /api, its query string, and the answer. */
typedef struct req {
    tr_api *a;
    tr_store *s;
    char path[1024];
    const char *query;
    int status;
    cJSON *doc;
} req;

int tr_api_bearer_ok(const uint8_t *token, size_t token_len, const char *v)
{
    if (!token_len) return 1;
    if (!v || strncasecmp(v, "Bearer ", 7)) return 0;
    v += 7;
    while (*v == ' ')
        v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    unsigned diff = n != token_len;
    for (size_t i = 0; i < token_len; i++)
        diff |= (unsigned)(token[i] ^ (uint8_t)(i < n ? v[i] : 0));
    return diff == 0;
}

/* ---- answers ---- */

static void send_body(nng_aio *aio, uint16_t status, const char *type, const void *body, size_t n,
                      const char *hname, const char *hval)
{
    nng_http_res *res = NULL;
    if (nng_http_res_alloc(&res) != 0) {
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    nng_http_res_set_status(res, status);
    nng_http_res_set_header(res, "Content-Type", type);
    nng_http_res_set_header(res, "Cache-Control", "no-store");
    nng_http_res_set_header(res, "X-Content-Type-Options", "nosniff");
    if (hname) nng_http_res_set_header(res, hname, hval);
    if (nng_http_res_copy_data(res, body, n) != 0) {
        nng_http_res_free(res);
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

static void send_json(nng_aio *aio, int status, cJSON *doc, const char *hname, const char *hval)
{
    char *text = doc ? tr_json_print_safe(doc, 0) : NULL; /* valid whatever the store holds */
    if (!text) {
        static const char oom[] = "{\"error\":\"out of memory\"}";
        send_body(aio, 500, "application/json", oom, sizeof oom - 1, NULL, NULL);
        return;
    }
    send_body(aio, (uint16_t)status, "application/json", text, strlen(text), hname, hval);
    free(text);
}

/* Answers {"error": msg} with status; returns -1 (so a handler can `return fail(...)`). */
static int fail(req *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(req *r, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON_Delete(r->doc);
    r->doc = cJSON_CreateObject();
    cJSON_AddStringToObject(r->doc, "error", msg);
    r->status = status;
    return -1;
}

/* The store's last message without its "store PATH: " prefix. */
static const char *store_msg(tr_store *s)
{
    const char *m = tr_store_errmsg(s), *p = s ? tr_store_path(s) : NULL;
    if (m && p && !strncmp(m, "store ", 6) && !strncmp(m + 6, p, strlen(p)) &&
        !strncmp(m + 6 + strlen(p), ": ", 2))
        return m + 6 + strlen(p) + 2;
    return m ? m : "store error";
}

/* A store call's result: 0 keeps doc as the answer; codes map to 400, 404, 409 or 500. */
static int answer(req *r, int rc, cJSON *doc)
{
    if (!rc) {
        r->doc = doc;
        r->status = 200;
        return 0;
    }
    int st = rc == TRAIL_EINVAL       ? 400
             : rc == TRAIL_ENOTFOUND  ? 404
             : rc == TRAIL_EAMBIGUOUS ? 409
                                      : 500;
    return fail(r, st, "%s", store_msg(r->s));
}

/* ---- query strings ---- */

static int hexval(int c)
{
    return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

/* Percent-decodes src[0..n) into out ('+' is a space when plus); 0, or -1 when it does not fit
 * or holds a NUL. */
static int decode(const char *src, size_t n, char *out, size_t cap, int plus)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)src[i];
        if (c == '%' && i + 2 < n && hexval((unsigned char)src[i + 1]) >= 0 &&
            hexval((unsigned char)src[i + 2]) >= 0) {
            c = hexval((unsigned char)src[i + 1]) * 16 + hexval((unsigned char)src[i + 2]);
            i += 2;
        } else if (c == '+' && plus) {
            c = ' ';
        }
        if (c == 0 || o + 1 >= cap) return -1;
        out[o++] = (char)c;
    }
    out[o] = 0;
    return 0;
}

/* The decoded value of parameter name: 1 found, 0 absent, -1 too long (a 400 is answered). */
static int param(req *r, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = r->query; p && *p;) {
        const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        const char *kend = eq ? eq : end;
        if ((size_t)(kend - p) == nl && !strncmp(p, name, nl)) {
            const char *v = eq ? eq + 1 : end;
            if (decode(v, (size_t)(end - v), out, cap, 1) == 0) return 1;
            fail(r, 400, "parameter %s is too long or malformed", name);
            return -1;
        }
        p = amp ? amp + 1 : end;
    }
    return 0;
}

/* An integer parameter in [lo, hi]; *v keeps its default when absent. 0, or -1 (400 answered). */
static int param_int(req *r, const char *name, long long lo, long long hi, long long *v)
{
    char buf[64], *end;
    int got = param(r, name, buf, sizeof buf);
    if (got <= 0) return got;
    errno = 0;
    long long x = strtoll(buf, &end, 10);
    if (!*buf || *end || errno || x < lo || x > hi)
        return fail(r, 400, "parameter %s must be an integer from %lld to %lld", name, lo, hi);
    *v = x;
    return 0;
}

static int param_flag(req *r, const char *name, int *v)
{
    long long x = *v;
    if (param_int(r, name, 0, 1, &x)) return -1;
    *v = (int)x;
    return 0;
}

/* The run named by ref (id, unique prefix or name) into id; -1 with 404/409 answered. */
static int run_ref(req *r, const char *ref, char id[33])
{
    int rc = tr_store_resolve_run(r->s, ref, id);
    if (rc == TRAIL_ENOTFOUND) return fail(r, 404, "no run '%s'", ref);
    if (rc == TRAIL_EAMBIGUOUS) return fail(r, 409, "'%s' names more than one run", ref);
    if (rc) return answer(r, rc, NULL);
    return 0;
}

/* ---- endpoints ---- */

static int ep_health(req *r)
{
    cJSON *ex = NULL, *e, *d = cJSON_CreateObject();
    int rc = tr_store_experiments_json(r->s, &ex);
    if (rc) {
        cJSON_Delete(d);
        return answer(r, rc, NULL);
    }
    double runs = 0, running = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(ex, "experiments"))
    {
        runs += cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "runs"));
        running += cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "running"));
    }
    cJSON_Delete(ex);
    cJSON_AddStringToObject(d, "status", "ok");
    cJSON_AddStringToObject(d, "version", TRAIL_VERSION);
    cJSON_AddNumberToObject(d, "schema_version", tr_store_schema_version(r->s));
    cJSON_AddNumberToObject(d, "runs", runs);
    cJSON_AddNumberToObject(d, "running", running);
    cJSON_AddBoolToObject(d, "auth", r->a->token_len > 0);
    return answer(r, 0, d);
}

static int ep_runs(req *r)
{
    char where[4096], exp[1024], order[512], token[64];
    long long limit = TR_PAGE_DEFAULT;
    int hw, he, ho, ht;
    if ((hw = param(r, "where", where, sizeof where)) < 0 ||
        (he = param(r, "experiment", exp, sizeof exp)) < 0 ||
        (ho = param(r, "order_by", order, sizeof order)) < 0 ||
        (ht = param(r, "page_token", token, sizeof token)) < 0 ||
        param_int(r, "limit", 1, TR_PAGE_MAX, &limit))
        return -1;
    tr_where *w = NULL;
    if (hw && *where) {
        tr_where_error we;
        int rc = tr_where_compile(where, &w, &we);
        if (rc == TRAIL_EINVAL) {
            fail(r, 400, "where: column %d: %s", we.column, we.msg);
            cJSON_AddNumberToObject(r->doc, "column", we.column);
            return -1;
        }
        if (rc) return fail(r, 500, "out of memory");
    }
    tr_runs_page p = {.experiment = he && *exp ? exp : NULL,
                      .where = w,
                      .order_by = ho ? order : NULL,
                      .limit = (int)limit,
                      .page_token = ht ? token : NULL};
    cJSON *doc = NULL;
    int rc = tr_store_runs_page_json(r->s, &p, &doc);
    tr_where_free(w);
    return answer(r, rc, doc);
}

static int ep_metrics(req *r, const char *id)
{
    char keys[8192];
    long long maxp = TR_SERIES_DEFAULT, lo = 0, hi = 0;
    tr_series_opts o = {0};
    int hk = param(r, "keys", keys, sizeof keys);
    if (hk < 0 || param_int(r, "max_points", 1, TR_SERIES_MAX, &maxp)) return -1;
    char probe[32];
    o.has_min = param(r, "start_step", probe, sizeof probe) > 0;
    o.has_max = param(r, "end_step", probe, sizeof probe) > 0;
    if (param_int(r, "start_step", INT64_MIN, INT64_MAX, &lo) ||
        param_int(r, "end_step", INT64_MIN, INT64_MAX, &hi))
        return -1;
    o.max_points = (int)maxp;
    o.step_min = lo;
    o.step_max = hi;
    const char *list[256];
    int n = 0;
    if (hk && *keys)
        for (char *k = strtok(keys, ","); k; k = strtok(NULL, ",")) {
            if (n == 256) return fail(r, 400, "at most 256 keys at once");
            list[n++] = k;
        }
    cJSON *doc = NULL;
    int got = tr_store_series_json(r->s, id, hk && *keys ? list : NULL, n, &o, &doc);
    return answer(r, got, doc);
}

static int ep_logs(req *r, const char *id)
{
    char stream[16] = "stdout";
    long long tail = 200;
    if (param(r, "stream", stream, sizeof stream) < 0 || param_int(r, "tail", 1, 100000, &tail))
        return -1;
    if (strcmp(stream, "stdout") && strcmp(stream, "stderr"))
        return fail(r, 400, "stream must be stdout or stderr");
    cJSON *doc = NULL;
    int got = tr_store_console_lines_json(r->s, id, stream, (int)tail, &doc);
    return answer(r, got, doc);
}

/* /api/runs/RUN[/metrics|/logs] */
static int ep_run(req *r, const char *rest)
{
    char ref[512], id[33];
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (decode(rest, n, ref, sizeof ref, 0) || !*ref) return fail(r, 400, "bad run reference");
    if (run_ref(r, ref, id)) return -1;
    if (!slash || !slash[1]) {
        cJSON *doc = NULL;
        int got = tr_store_run_json(r->s, id, &doc);
        return answer(r, got, doc);
    }
    if (!strcmp(slash, "/metrics")) return ep_metrics(r, id);
    if (!strcmp(slash, "/logs")) return ep_logs(r, id);
    return fail(r, 404, "no such endpoint");
}

/* target=RUN | PATH[@VERSION] (PATH absolute, or HOST:/path for a node-local file). */
static int ep_lineage(req *r)
{
    char target[4096], dir[16] = "both", id[33];
    long long depth = 0;
    tr_lineage_view_opts o = {0};
    int ht = param(r, "target", target, sizeof target);
    if (ht < 0 || param(r, "direction", dir, sizeof dir) < 0 ||
        param_int(r, "depth", 0, 1000000, &depth) || param_flag(r, "files", &o.files) ||
        param_flag(r, "all", &o.all))
        return -1;
    if (!ht || !*target) return fail(r, 400, "parameter target (a run or a path) is required");
    o.dirs = !strcmp(dir, "up") ? TR_LINEAGE_UP : !strcmp(dir, "down") ? TR_LINEAGE_DOWN : 0;
    if (!o.dirs && strcmp(dir, "both")) return fail(r, 400, "direction must be up, down or both");
    o.depth = (int)depth;
    int64_t ver = 0;
    int is_run = !strchr(target, '/');
    if (is_run && run_ref(r, target, id)) return -1;
    if (!is_run) {
        char key[4608];
        const char *spec = NULL;
        char *at = strrchr(target, '@');
        if (at && !strchr(at, '/')) {
            *at = 0;
            spec = at + 1;
        }
        int rc = tr_store_resolve_file(r->s, target, spec, &ver, key, sizeof key);
        if (rc == TRAIL_ENOTFOUND) return fail(r, 404, "no file '%s' in the store", target);
        if (rc) return answer(r, rc, NULL);
    }
    cJSON *doc = NULL;
    int got = tr_store_lineage_view(r->s, is_run ? id : NULL, ver, &o, &doc);
    return answer(r, got, doc);
}

static int ep_diff(req *r)
{
    char a[512], b[512], ia[33], ib[33];
    int all = 0, ha = param(r, "a", a, sizeof a), hb;
    if (ha < 0 || (hb = param(r, "b", b, sizeof b)) < 0 || param_flag(r, "all", &all)) return -1;
    if (!ha || !hb || !*a || !*b) return fail(r, 400, "parameters a and b (two runs) are required");
    if (run_ref(r, a, ia) || run_ref(r, b, ib)) return -1;
    cJSON *doc = NULL;
    int got = tr_store_diff_json(r->s, ia, ib, all ? TR_DIFF_ALL : 0, &doc);
    return answer(r, got, doc);
}

static int ep_files(req *r)
{
    char path[4096];
    int hp = param(r, "path", path, sizeof path);
    if (hp < 0) return -1;
    if (!hp || !*path) return fail(r, 400, "parameter path is required");
    cJSON *doc = NULL;
    int rc = tr_store_file_json(r->s, path, &doc);
    if (rc == TRAIL_ENOTFOUND) return fail(r, 404, "no file '%s' in the store", path);
    return answer(r, rc, doc);
}

static int route(req *r)
{
    const char *p = r->path;
    if (!strcmp(p, "/health")) return ep_health(r);
    if (!strcmp(p, "/experiments")) {
        cJSON *doc = NULL;
        int got = tr_store_experiments_json(r->s, &doc);
        return answer(r, got, doc);
    }
    if (!strcmp(p, "/runs") || !strcmp(p, "/runs/")) return ep_runs(r);
    if (!strncmp(p, "/runs/", 6)) return ep_run(r, p + 6);
    if (!strcmp(p, "/lineage")) return ep_lineage(r);
    if (!strcmp(p, "/diff")) return ep_diff(r);
    if (!strcmp(p, "/files")) return ep_files(r);
    return fail(r, 404, "no such endpoint: /api%s", p);
}

static void api_cb(nng_aio *aio)
{
    tr_api *a = nng_http_handler_get_data(nng_aio_get_input(aio, 1));
    nng_http_req *hreq = nng_aio_get_input(aio, 0);
    if (!tr_api_bearer_ok(a->token, a->token_len, nng_http_req_get_header(hreq, "Authorization"))) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "error", "unauthorized: send Authorization: Bearer <token>");
        send_json(aio, 401, e, "WWW-Authenticate", "Bearer realm=\"trail\"");
        cJSON_Delete(e);
        return;
    }
    req r = {.a = a, .status = 500};
    const char *uri = nng_http_req_get_uri(hreq), *q = strchr(uri, '?');
    size_t n = q ? (size_t)(q - uri) : strlen(uri);
    if (n >= sizeof r.path + 4 || strncmp(uri, "/api", 4)) {
        fail(&r, 400, "request path too long");
    } else {
        memcpy(r.path, uri + 4, n - 4);
        r.path[n - 4] = 0;
        r.query = q ? q + 1 : NULL;
        pthread_mutex_lock(&a->mu);
        if (!a->ro) {
            char err[4400];
            if (tr_store_open(a->store_path, TR_STORE_READONLY, &a->ro, err, sizeof err))
                fail(&r, 503, "%s", err);
        }
        r.s = a->ro;
        if (r.s) route(&r);
        pthread_mutex_unlock(&a->mu);
    }
    send_json(aio, r.status, r.doc, NULL, NULL);
    cJSON_Delete(r.doc);
}

/* ---- the page ---- */

static const tr_ui_asset *asset(const char *path)
{
    for (size_t i = 0; i < tr_ui_nassets; i++)
        if (!strcmp(tr_ui_assets[i].path, path)) return &tr_ui_assets[i];
    return NULL;
}

/* /ui/NAME: a compiled-in file; anything else routed here (/, /runs/..): the page. */
static void page_cb(nng_aio *aio)
{
    nng_http_req *hreq = nng_aio_get_input(aio, 0);
    char path[512];
    snprintf(path, sizeof path, "%s", nng_http_req_get_uri(hreq));
    path[strcspn(path, "?#")] = 0;
    const tr_ui_asset *f = asset(!strncmp(path, "/ui/", 4) ? path + 4 : "index.html");
    if (!f) {
        static const char nf[] = "not found\n";
        send_body(aio, 404, "text/plain", nf, sizeof nf - 1, NULL, NULL);
        return;
    }
    send_body(aio, 200, f->type, f->data, f->len, "Content-Security-Policy",
              "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'");
}

static int add(nng_http_server *srv, const char *path, void (*cb)(nng_aio *), void *data, int tree)
{
    nng_http_handler *h;
    int rv = nng_http_handler_alloc(&h, path, cb);
    if (rv) return rv;
    nng_http_handler_set_data(h, data, NULL);
    if (tree) nng_http_handler_set_tree(h);
    /* the API's reads and the page take no body: one is refused (400), never buffered before
     * the token is checked (nng's default would collect 1 MB per request) */
    rv = nng_http_handler_collect_body(h, true, 0);
    if (!rv) rv = nng_http_server_add_handler(srv, h);
    if (rv) nng_http_handler_free(h);
    return rv;
}

int tr_api_register(nng_http_server *srv, const char *store_path, const uint8_t *token,
                    size_t token_len, tr_api **out)
{
    *out = NULL;
    tr_api *a = calloc(1, sizeof *a);
    if (!a) return NNG_ENOMEM;
    if (token_len > sizeof a->token) {
        free(a);
        return NNG_EINVAL; /* longer than any token file traild loads */
    }
    if (token_len) memcpy(a->token, token, token_len);
    a->token_len = token_len;
    snprintf(a->store_path, sizeof a->store_path, "%s", store_path);
    pthread_mutex_init(&a->mu, NULL);
    static const char *const pages[] = {"/runs", "/compare", "/lineage", "/files", "/ui"};
    int rv = add(srv, "/api", api_cb, a, 1);
    if (!rv) rv = add(srv, "/", page_cb, a, 0);
    for (size_t i = 0; !rv && i < sizeof pages / sizeof pages[0]; i++)
        rv = add(srv, pages[i], page_cb, a, 1);
    if (rv) {
        tr_api_free(a);
        return rv;
    }
    *out = a;
    return 0;
}

void tr_api_free(tr_api *a)
{
    if (!a) return;
    tr_store_close(a->ro);
    memset(a->token, 0, sizeof a->token);
    pthread_mutex_destroy(&a->mu);
    free(a);
}
