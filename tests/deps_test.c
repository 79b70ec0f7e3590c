/* deps_test.c - dependency resolution by the agent under the real `trail run`: Debian packages
 * of loaded objects (the real dpkg database and a fake one: merged-usr, symlinks), Python
 * distributions and the interpreter's version, git commit/branch/dirty of the source read. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <sys/stat.h>

#include "tassert.h"
#include "tproc.h"

static char base[512];

static const cJSON *item(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *jstr(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(item(o, k));
}

static cJSON *show(const char *run)
{
    char *out = NULL;
    int st = TPROC(&out, NULL, (char *)tproc_bin("trail"), "show", (char *)run, "--json");
    cJSON *doc = st == 0 ? cJSON_Parse(out) : NULL;
    if (!doc) T_FAIL("trail show %s: exit %d: %s", run, st, out ? out : "");
    free(out);
    return doc;
}

/* The first dependency whose path ends with suffix (and of kind, when given). */
static const cJSON *dep(const cJSON *run, const char *suffix, const char *kind)
{
    const cJSON *d;
    size_t sl = strlen(suffix);
    cJSON_ArrayForEach(d, item(run, "deps"))
    {
        const char *p = jstr(d, "path"), *k = jstr(d, "kind");
        if (p && strlen(p) >= sl && !strcmp(p + strlen(p) - sl, suffix) &&
            (!kind || (k && !strcmp(k, kind))))
            return d;
    }
    return NULL;
}

static const cJSON *dep_pkg(const cJSON *run, const char *package)
{
    const cJSON *d;
    cJSON_ArrayForEach(d, item(run, "deps")) if (jstr(d, "package") &&
                                                 !strcmp(jstr(d, "package"), package)) return d;
    return NULL;
}

/* stdout of a command, without its trailing newline ("" on failure). */
static char *capture(char *const argv[])
{
    char *out = NULL;
    if (tproc_run(argv, &out, NULL) != 0 && out) out[0] = 0;
    if (out) out[strcspn(out, "\n")] = 0;
    return out ? out : strdup("");
}
#define CAPTURE(...) capture((char *const[]){__VA_ARGS__, NULL})

static int trail_run(const char *name, char *const cmd[])
{
    char *argv[32] = {(char *)tproc_bin("trail"), "run", "--name", (char *)name, "--"};
    int k = 5;
    for (int i = 0; cmd[i] && k < 31; i++)
        argv[k++] = cmd[i];
    argv[k] = NULL;
    return tproc_run(argv, NULL, NULL);
}
#define TRUN(name, ...) trail_run(name, (char *const[]){__VA_ARGS__, NULL})

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    T_ASSERT(f);
    fputs(text, f);
    fclose(f);
}

/* /bin/ls loads libc: libc6 at the installed version, from the dpkg database. */
static void test_dpkg_libc(void)
{
    if (access("/var/lib/dpkg/status", R_OK) != 0) {
        T_SKIP("needs a Debian system (/var/lib/dpkg)");
    }
    char *want = CAPTURE("dpkg-query", "-W", "-f=${Version}", "libc6");
    T_CHECK(want[0]);
    for (int pass = 0; pass < 2; pass++) { /* the second run answers from the store's cache */
        const char *name = pass ? "ls2" : "ls1";
        T_EQ_INT(TRUN(name, "/bin/ls", "/"), 0);
        cJSON *run = show(name);
        T_ASSERT(run);
        const cJSON *libc = dep(run, "/libc.so.6", "so");
        T_ASSERT(libc);
        T_EQ_STR(jstr(libc, "package"), "libc6");
        T_EQ_STR(jstr(libc, "version"), want);
        T_EQ_STR(jstr(libc, "source"), "dpkg");
        const cJSON *ls = dep(run, "/ls", "exe");
        T_CHECK(ls && jstr(ls, "package") && !strcmp(jstr(ls, "package"), "coreutils"));
        cJSON_Delete(run);
    }
    free(want);
    char *out = NULL;
    TPROC(&out, NULL, (char *)tproc_bin("trail"), "show", "ls2");
    T_CHECK(out && strstr(out, "\ndependencies:\n  debian     libc6="));
    free(out);
}

/* A fake dpkg database: files listed under /usr while the loader names them under /lib (a
 * merged-usr alias), a library named by its soname symlink but listed by its real file. */
static void test_dpkg_aliases(void)
{
    char real[PATH_MAX], dir[700], path[800];
    struct stat sb;
    if (lstat("/lib", &sb) != 0 || !S_ISLNK(sb.st_mode) || !realpath("/bin/true", real) ||
        access("/usr/bin/python3", X_OK) != 0) {
        T_SKIP("needs a merged-usr system");
    }
    snprintf(dir, sizeof dir, "%s/dpkg", base);
    snprintf(path, sizeof path, "%s/info", dir);
    T_ASSERT(mkdir(dir, 0700) == 0 && mkdir(path, 0700) == 0);
    /* /bin/true runs as /usr/bin/true (its exe path); list it under /bin */
    snprintf(path, sizeof path, "%s/info/faketrue.list", dir);
    write_file(path, "/.\n/bin\n/bin/true\n");
    char zreal[PATH_MAX], list[PATH_MAX + 64];
    int have_z = realpath("/lib/x86_64-linux-gnu/libz.so.1", zreal) != NULL;
    snprintf(path, sizeof path, "%s/info/fakez:amd64.list", dir);
    snprintf(list, sizeof list, "/usr\n%s\n", have_z ? zreal : "/nonexistent");
    write_file(path, list);
    snprintf(path, sizeof path, "%s/status", dir);
    write_file(path, "Package: faketrue\nStatus: install ok installed\nArchitecture: all\n"
                     "Version: 1:2.0-3\n\nPackage: fakez\nStatus: install ok installed\n"
                     "Architecture: amd64\nMulti-Arch: same\nVersion: 9.9-1\n\n"
                     "Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n");
    setenv("TRAIL_DPKG_ADMINDIR", dir, 1);
    T_EQ_INT(TRUN("fake-dpkg", "sh", "-c", "/bin/true; /usr/bin/python3 -c pass"), 0);
    unsetenv("TRAIL_DPKG_ADMINDIR");
    cJSON *run = show("fake-dpkg");
    T_ASSERT(run);
    const cJSON *t = dep(run, "/true", "exe");
    T_ASSERT(t);
    T_EQ_STR(jstr(t, "package"), "faketrue");
    T_EQ_STR(jstr(t, "version"), "1:2.0-3");
    if (have_z) {
        const cJSON *z = dep(run, "/libz.so.1", NULL);
        T_ASSERT(z);
        T_EQ_STR(jstr(z, "package"), "fakez");
        T_EQ_STR(jstr(z, "version"), "9.9-1");
    }
    const cJSON *libc = dep(run, "/libc.so.6", "so");
    T_CHECK(libc && cJSON_IsNull(item(libc, "package"))); /* not in this database */
    cJSON_Delete(run);
}

/* A distribution in a site directory on PYTHONPATH, one of Debian's (six) when installed, and
 * the interpreter's own version. */
static void test_python(void)
{
    char site[700], p[800];
    snprintf(site, sizeof site, "%s/py/site-packages", base);
    snprintf(p, sizeof p, "%s/py", base);
    T_ASSERT(mkdir(p, 0700) == 0 && mkdir(site, 0700) == 0);
    snprintf(p, sizeof p, "%s/fakemod", site);
    T_ASSERT(mkdir(p, 0700) == 0);
    snprintf(p, sizeof p, "%s/fakemod/__init__.py", site);
    write_file(p, "VALUE = 7\n");
    snprintf(p, sizeof p, "%s/fake_dist-1.2.3.dist-info", site);
    T_ASSERT(mkdir(p, 0700) == 0);
    snprintf(p, sizeof p, "%s/fake_dist-1.2.3.dist-info/METADATA", site);
    write_file(p, "Metadata-Version: 2.1\nName: fake-dist\nVersion: 1.2.3\n\nA module.\n");
    snprintf(p, sizeof p, "%s/fake_dist-1.2.3.dist-info/RECORD", site);
    write_file(p, "fakemod/__init__.py,sha256=x,10\nfake_dist-1.2.3.dist-info/METADATA,,\n"
                  "fake_libs/libfakenative.so,,\n");
    /* a library the wheel bundles outside its package (as numpy.libs/), opened by a path with
     * "..", and a distribution whose metadata alone is read (entry points, versions) */
    char cmd[3000];
    snprintf(p, sizeof p, "%s/fake_libs", site);
    T_ASSERT(mkdir(p, 0700) == 0);
    snprintf(cmd, sizeof cmd,
             "echo 'int fake_native(void) { return 7; }' > %s/n.c && cc -shared -fPIC -o "
             "%s/fake_libs/libfakenative.so %s/n.c 2>/dev/null",
             base, site, base);
    int native = system(cmd) == 0;
    snprintf(p, sizeof p, "%s/meta_only-0.1.dist-info", site);
    T_ASSERT(mkdir(p, 0700) == 0);
    snprintf(p, sizeof p, "%s/meta_only-0.1.dist-info/METADATA", site);
    write_file(p, "Name: meta-only\nVersion: 0.1\n");

    /* two distributions sharing the namespace package nsa (as nvidia-* CUDA wheels do) */
    static const char *const ns[][3] = {{"one", "ns_one-1.0", "1.0"}, {"two", "ns_two-2.0", "2.0"}};
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/nsa", site);
        mkdir(p, 0700);
        snprintf(p, sizeof p, "%s/nsa/%s", site, ns[i][0]);
        T_ASSERT(mkdir(p, 0700) == 0);
        snprintf(p, sizeof p, "%s/nsa/%s/__init__.py", site, ns[i][0]);
        write_file(p, "");
        snprintf(p, sizeof p, "%s/%s.dist-info", site, ns[i][1]);
        T_ASSERT(mkdir(p, 0700) == 0);
        char text[200];
        snprintf(p, sizeof p, "%s/%s.dist-info/METADATA", site, ns[i][1]);
        snprintf(text, sizeof text, "Name: ns-%s\nVersion: %s\n", ns[i][0], ns[i][2]);
        write_file(p, text);
        snprintf(p, sizeof p, "%s/%s.dist-info/top_level.txt", site, ns[i][1]);
        write_file(p, "nsa\n");
        snprintf(p, sizeof p, "%s/%s.dist-info/RECORD", site, ns[i][1]);
        snprintf(text, sizeof text, "nsa/%s/__init__.py,,\n", ns[i][0]);
        write_file(p, text);
    }

    int six = access("/usr/lib/python3/dist-packages/six.py", R_OK) == 0;
    char *six_deb = six ? CAPTURE("dpkg-query", "-W", "-f=${Version}", "python3-six") : NULL;
    six = six && six_deb[0];
    setenv("PYTHONPATH", site, 1);
    char code[1000];
    snprintf(code, sizeof code,
             "import ctypes, importlib.metadata, os, fakemod, nsa.two%s\n"
             "assert fakemod.VALUE == 7 and importlib.metadata.version('meta-only') == '0.1'\n"
             "%s",
             six ? ", six" : "",
             native ? "lib = os.path.join(os.path.dirname(fakemod.__file__), '..', 'fake_libs',"
                      " 'libfakenative.so')\nassert ctypes.CDLL(lib).fake_native() == 7\n"
                    : "");
    T_EQ_INT(TRUN("py", "/usr/bin/python3", "-c", code), 0);
    unsetenv("PYTHONPATH");
    cJSON *run = show("py");
    T_ASSERT(run);
    const cJSON *d = dep_pkg(run, "fake-dist");
    T_ASSERT(d);
    T_EQ_STR(jstr(d, "kind"), "python");
    T_EQ_STR(jstr(d, "version"), "1.2.3");
    T_EQ_STR(jstr(d, "source"), "python");
    T_CHECK(strstr(jstr(d, "path"), "/site-packages/fake_dist-1.2.3.dist-info") != NULL);
    T_CHECK(!dep_pkg(run, "meta-only")); /* its metadata was read, none of its modules */
    if (native) {
        d = dep(run, "/libfakenative.so", "dlopen");
        T_CHECK(d && jstr(d, "package") && !strcmp(jstr(d, "package"), "fake-dist") &&
                !strcmp(jstr(d, "version"), "1.2.3") && !strcmp(jstr(d, "source"), "python"));
    }
    d = dep_pkg(run, "ns-two");
    T_CHECK(d && !strcmp(jstr(d, "version"), "2.0"));
    T_CHECK(!dep_pkg(run, "ns-one")); /* not imported */
    if (six) {                        /* "1.16.0-4" -> "1.16.0" */
        *strrchr(six_deb, '-') = 0;
        d = dep_pkg(run, "six");
        T_CHECK(d && !strcmp(jstr(d, "version"), six_deb) && !strcmp(jstr(d, "kind"), "python"));
    }
    free(six_deb);
    char *pyver =
        CAPTURE("/usr/bin/python3", "-c", "import platform; print(platform.python_version())");
    const cJSON *ip = NULL, *x;
    cJSON_ArrayForEach(x, item(run, "deps")) if (!strcmp(jstr(x, "kind"), "interpreter")) ip = x;
    T_ASSERT(ip);
    T_EQ_STR(jstr(ip, "package"), "python");
    T_EQ_STR(jstr(ip, "version"), pyver);
    T_CHECK(strstr(jstr(ip, "path"), "/python3") != NULL);
    free(pyver);
    cJSON_Delete(run);
    /* and the other one (whatever order the site directory lists them in) */
    setenv("PYTHONPATH", site, 1);
    T_EQ_INT(TRUN("py-ns", "/usr/bin/python3", "-c", "import nsa.one"), 0);
    unsetenv("PYTHONPATH");
    run = show("py-ns");
    T_CHECK(run && dep_pkg(run, "ns-one") && !dep_pkg(run, "ns-two"));
    cJSON_Delete(run);
    char *out = NULL;
    TPROC(&out, NULL, (char *)tproc_bin("trail"), "show", "py");
    T_CHECK(out && strstr(out, "  python     python=") && strstr(out, " fake-dist=1.2.3"));
    free(out);
}

static int git(const char *args)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd,
             "git -c user.name=t -c user.email=t@example.com -c init.defaultBranch=main "
             "%s >/dev/null 2>&1",
             args);
    return system(cmd);
}

/* Expects the git.* tags of a run, and its git dependency row. */
static void expect_git(const char *name, const char *commit, const char *branch, const char *dirty)
{
    cJSON *run = show(name);
    T_ASSERT(run);
    const cJSON *tags = item(run, "tags");
    if (!commit) {
        T_CHECK(!item(tags, "git.commit") && !dep(run, "", "git"));
        cJSON_Delete(run);
        return;
    }
    T_EQ_STR(jstr(tags, "git.commit"), commit);
    T_EQ_STR(jstr(tags, "git.branch"), branch);
    T_EQ_STR(jstr(tags, "git.dirty"), dirty);
    const cJSON *d = dep(run, "/repo", "git");
    char ver[128];
    snprintf(ver, sizeof ver, "%s%s", commit, strcmp(dirty, "true") ? "" : "-dirty");
    T_CHECK(d && !strcmp(jstr(d, "version"), ver) && !strcmp(jstr(d, "source"), "git"));
    cJSON_Delete(run);
}

static void test_git(void)
{
    char repo[700], old[PATH_MAX];
    if (system("git --version >/dev/null 2>&1") != 0) {
        T_SKIP("needs git");
    }
    snprintf(repo, sizeof repo, "%s/repo", base);
    T_ASSERT(mkdir(repo, 0700) == 0 && getcwd(old, sizeof old));
    T_ASSERT(chdir(repo) == 0);
    write_file("train.py", "print('train')\n");
    T_ASSERT(git("init -q") == 0 && git("add train.py") == 0 && git("commit -q -m one") == 0);
    char *head = CAPTURE("git", "rev-parse", "HEAD");
    T_EQ_INT(TRUN("g-clean", "/usr/bin/python3", "train.py"), 0);
    expect_git("g-clean", head, "main", "false");

    write_file("train.py", "print('changed')\n"); /* a tracked file modified */
    T_EQ_INT(TRUN("g-modified", "/usr/bin/python3", "train.py"), 0);
    expect_git("g-modified", head, "main", "true");
    T_ASSERT(git("checkout -q train.py") == 0);

    write_file("extra.py", "print('untracked')\n"); /* read by the run: code git lacks */
    T_EQ_INT(TRUN("g-untracked-read", "/usr/bin/python3", "extra.py"), 0);
    expect_git("g-untracked-read", head, "main", "true");
    T_EQ_INT(TRUN("g-untracked-other", "/usr/bin/python3", "train.py"), 0);
    expect_git("g-untracked-other", head, "main", "false");
    T_ASSERT(unlink("extra.py") == 0);

    /* refs packed away, a second branch, then a detached HEAD */
    T_ASSERT(git("checkout -q -b feature") == 0 && git("commit -q --allow-empty -m two") == 0 &&
             git("pack-refs --all") == 0);
    char *head2 = CAPTURE("git", "rev-parse", "HEAD");
    T_EQ_INT(TRUN("g-packed", "/usr/bin/python3", "train.py"), 0);
    expect_git("g-packed", head2, "feature", "false");
    T_ASSERT(git("checkout -q --detach main") == 0);
    T_EQ_INT(TRUN("g-detached", "cat", "train.py"), 0);
    expect_git("g-detached", head, "HEAD", "false");

    /* a run outside any work tree has no git tags */
    T_ASSERT(chdir(base) == 0);
    T_EQ_INT(TRUN("g-none", "cat", "/dev/null"), 0);
    expect_git("g-none", NULL, NULL, NULL);
    free(head);
    free(head2);
    T_ASSERT(chdir(old) == 0);
}

int main(void)
{
    char lib[4096];
    snprintf(lib, sizeof lib, "%s/libtrail_preload.so",
             getenv("TRAIL_LIB") ? getenv("TRAIL_LIB") : "build/lib");
    if (access(lib, R_OK) != 0 || access("/usr/bin/python3", X_OK) != 0)
        T_SKIP_TEST("deps_test needs %s (the capture shim) and /usr/bin/python3", lib);
    setenv("TRAIL_PRELOAD", lib, 1);
    (void)tproc_test_bin;
    snprintf(base, sizeof base, "%s", tproc_sandbox());
    T_ASSERT(chdir(base) == 0);
    T_RUN(test_dpkg_libc);
    T_RUN(test_dpkg_aliases);
    T_RUN(test_python);
    T_RUN(test_git);
    return T_DONE();
}
