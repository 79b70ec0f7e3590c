/* install_test.c - `cmake --install` into a fresh prefix, then SDK clients built against it
 * (pkg-config and find_package) run bare and under the installed `trail run`, whose shim records a
 * read. */
#include <cjson/cJSON.h>
#include <math.h>
#include <sys/stat.h>

#include "tassert.h"
#include "tproc.h"

static const char *sandbox;
static char prefix[512], store[600], data[600];

static const char *client_src =
    "/* an SDK client built against the installed trail */\n"
    "#include <stdio.h>\n#include <trail.h>\n"
    "int main(int argc, char **argv) {\n"
    "    if (argc < 2 || trail_start_run(\"install\", argv[1]) != 0) return 10;\n"
    "    if (trail_log_metric(\"acc\", 0.75, 1) != 0) return 11;\n"
    "    if (argc > 2) {\n"
    "        char b[64];\n"
    "        FILE *f = fopen(argv[2], \"r\");\n"
    "        if (!f || fread(b, 1, sizeof b, f) == 0) return 12;\n"
    "        fclose(f);\n"
    "    }\n"
    "    return 0;\n"
    "}\n";

static const char *cmake_src = "cmake_minimum_required(VERSION 3.16)\n"
                               "project(trail_install_client LANGUAGES C)\n"
                               "find_package(trail 0 CONFIG REQUIRED)\n"
                               "add_executable(client client.c)\n"
                               "target_link_libraries(client PRIVATE trail::trail)\n";

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    T_ASSERT(f);
    fputs(text, f);
    T_ASSERT(fclose(f) == 0);
}

/* Runs a shell command line; its exit status. */
static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char *out = NULL, *err = NULL;
    int st = TPROC(&out, &err, "sh", "-c", cmd);
    if (st != 0) fprintf(stderr, "$ %s\n%s%s(exit %d)\n", cmd, out, err, st);
    free(out);
    free(err);
    return st;
}

static int have(const char *tool)
{
    return TPROC(NULL, NULL, "sh", "-c", "command -v \"$0\" >/dev/null", (char *)tool) == 0;
}

static cJSON *show(const char *trail, const char *name)
{
    char *out = NULL;
    int st = TPROC(&out, NULL, (char *)trail, "show", (char *)name, "--json");
    cJSON *doc = st == 0 ? cJSON_Parse(out) : NULL;
    if (!doc) T_FAIL("%s show %s --json: exit %d", trail, name, st);
    free(out);
    return doc;
}

/* The run NAME is in the store with acc = 0.75; with_input: the shim recorded the read. */
static void check_run(const char *trail, const char *name, int with_input)
{
    cJSON *r = show(trail, name);
    if (!r) return;
    T_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "status")), "finished");
    const cJSON *acc =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "metrics"), "acc");
    T_CHECK(cJSON_IsNumber(acc) && fabs(acc->valuedouble - 0.75) < 1e-12);
    if (with_input) {
        int found = 0;
        const cJSON *in;
        cJSON_ArrayForEach(in, cJSON_GetObjectItemCaseSensitive(r, "inputs"))
        {
            const char *p = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "path"));
            found |= p && strstr(p, data) != NULL;
        }
        if (!found) T_FAIL("run %s: no input %s recorded (the installed shim)", name, data);
    }
    cJSON_Delete(r);
}

static void test_install(void)
{
    const char *cmake = getenv("CMAKE") ? getenv("CMAKE") : "cmake";
    T_ASSERT(sh("'%s' --install '%s' --prefix '%s' >/dev/null", cmake, getenv("TRAIL_BUILD"),
                prefix) == 0);
    T_ASSERT(sh("test -x '%s/bin/trail' && test -x '%s/bin/traild' && test -f '%s/include/trail.h'",
                prefix, prefix, prefix) == 0);
    /* man pages go along when the build generated them (build/man) */
    T_CHECK(sh("! test -f '%s/man/trail.1' || test -f '%s/share/man/man1/trail.1'",
               getenv("TRAIL_BUILD"), prefix) == 0);
}

static void test_clients(void)
{
    const char *libdir = getenv("TRAIL_INSTALL_LIBDIR") ? getenv("TRAIL_INSTALL_LIBDIR") : "lib";
    const char *cmake = getenv("CMAKE") ? getenv("CMAKE") : "cmake";
    char dir[600], c[700];
    snprintf(dir, sizeof dir, "%s/client", sandbox);
    T_ASSERT(mkdir(dir, 0700) == 0);
    snprintf(c, sizeof c, "%s/client.c", dir);
    write_file(c, client_src);
    snprintf(c, sizeof c, "%s/CMakeLists.txt", dir);
    write_file(c, cmake_src);
    /* pkg-config: the Libs line carries the RUNPATH */
    T_ASSERT(sh("cd '%s' && PKG_CONFIG_PATH='%s/%s/pkgconfig' && export PKG_CONFIG_PATH && "
                "cc -o pc_client client.c $(pkg-config --cflags --libs trail)",
                dir, prefix, libdir) == 0);
    /* find_package: no build-tree rpath from CMake, so trail::trail must bring its own */
    T_ASSERT(sh("'%s' -S '%s' -B '%s/build' -DCMAKE_PREFIX_PATH='%s' -DCMAKE_SKIP_BUILD_RPATH=ON "
                ">/dev/null && '%s' --build '%s/build' >/dev/null",
                cmake, dir, dir, prefix, cmake, dir) == 0);

    char pc[700], cm[700], trail[700];
    snprintf(pc, sizeof pc, "%s/pc_client", dir);
    snprintf(cm, sizeof cm, "%s/build/client", dir);
    snprintf(trail, sizeof trail, "%s/bin/trail", prefix);
    unsetenv("LD_LIBRARY_PATH");
    unsetenv("LD_PRELOAD");
    unsetenv("TRAIL_PRELOAD");
    unsetenv("TRAIL_RUN_ID");
    unsetenv("TRAIL_SPOOL");
    /* bare: the program finds libtrail.so.0 and its records wait in the spool for `trail sync` */
    T_EQ_INT(TPROC(NULL, NULL, pc, "pc-bare"), 0);
    T_EQ_INT(TPROC(NULL, NULL, cm, "cmake-bare"), 0);
    T_EQ_INT(TPROC(NULL, NULL, trail, "sync", "--store", store), 0);
    check_run(trail, "pc-bare", 0);
    check_run(trail, "cmake-bare", 0);
    /* under the installed trail: its shim records the file the client reads */
    T_EQ_INT(TPROC(NULL, NULL, trail, "run", "--store", store, "--name", "pc-run", "--", pc,
                   "pc-run", data),
             0);
    T_EQ_INT(TPROC(NULL, NULL, trail, "run", "--store", store, "--name", "cmake-run", "--", cm,
                   "cmake-run", data),
             0);
    check_run(trail, "pc-run", 1);
    check_run(trail, "cmake-run", 1);
}

/* The Debian package, unpacked with dpkg-deb -x rather than installed: what it holds, what it
 * depends on, and its trail finding shim and libtrail.so relative to itself (make test-builds). */
static void test_deb(void)
{
    const char *deb = getenv("TRAIL_DEB");
    if (!deb || !*deb) T_SKIP("TRAIL_DEB not set (make test-builds sets it)");
    const char *libdir = getenv("TRAIL_INSTALL_LIBDIR") ? getenv("TRAIL_INSTALL_LIBDIR") : "lib";
    char root[600], usr[700], trail[800], client[800];
    snprintf(root, sizeof root, "%s/deb", sandbox);
    snprintf(usr, sizeof usr, "%s/usr", root);
    snprintf(trail, sizeof trail, "%s/bin/trail", usr);
    snprintf(client, sizeof client, "%s/deb_client", sandbox);
    T_ASSERT(sh("dpkg-deb -x '%s' '%s'", deb, root) == 0);
    T_CHECK(sh("cd '%s' && test -x bin/trail && test -x bin/traild && test -f include/trail.h && "
               "test -L %s/libtrail.so && test -L %s/libtrail.so.0 && "
               "test -f %s/libtrail_preload.so && test -f %s/pkgconfig/trail.pc && "
               "test -f %s/cmake/trail/trailConfig.cmake && "
               "grep -q '^ExecStart=/usr/bin/trail ' lib/systemd/system/trail-agent.service && "
               "{ ! test -f '%s/man/trail.1' || test -f share/man/man1/trail.1; }",
               usr, libdir, libdir, libdir, libdir, libdir, getenv("TRAIL_BUILD")) == 0);
    T_CHECK(sh("d=$(dpkg-deb -f '%s' Depends) && for p in libnng1 libsqlite3-0 libcjson1 "
               "libmbedcrypto7 libunwind8; do echo \"$d\" | grep -q \"$p\" || "
               "{ echo \"Depends: $d: no $p\"; exit 1; }; done",
               deb) == 0);
    /* no rpath, no LD_LIBRARY_PATH: the unpacked trail run makes its libtrail.so findable */
    T_ASSERT(sh("cc -o '%s' '%s/client/client.c' -I'%s/include' -L'%s/%s' -ltrail", client, sandbox,
                usr, usr, libdir) == 0);
    T_EQ_INT(TPROC(NULL, NULL, trail, "run", "--store", store, "--name", "deb-run", "--", client,
                   "deb-run", data),
             0);
    check_run(trail, "deb-run", 1);
}

int main(void)
{
    const char *tools[] = {"cc", "pkg-config", getenv("CMAKE") ? getenv("CMAKE") : "cmake"};
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++) {
        if (!have(tools[i])) T_SKIP_TEST("%s not found", tools[i]);
    }
    if (!getenv("TRAIL_BUILD")) T_SKIP_TEST("TRAIL_BUILD not set (run it from ctest)");
    sandbox = tproc_sandbox();
    snprintf(prefix, sizeof prefix, "%s/prefix", sandbox);
    snprintf(store, sizeof store, "%s/s.db", sandbox);
    snprintf(data, sizeof data, "%s/data.csv", sandbox);
    setenv("TRAIL_STORE", store, 1);
    write_file(data, "x,y\n1,2\n");
    T_RUN(test_install);
    T_RUN(test_clients);
    T_RUN(test_deb);
    if (!tassert_failures) sh("rm -rf '%s'", sandbox); /* kept for a look when something failed */
    return T_DONE();
}
