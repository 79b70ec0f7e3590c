/* rules_test.c - the shared rules of common/: hash, string map, error table, redaction, ELF. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "elfread.h"
#include "redact.h"
#include "strmap.h"
#include "tassert.h"
#include "trail.h"
#include "util.h"

static void test_hash(void)
{
    /* FNV-1a 64 reference values: stored version ids depend on them. */
    T_CHECK(tr_hash64("", 0) == 0xcbf29ce484222325ull);
    T_CHECK(tr_hash64("a", 1) == 0xaf63dc4c8601ec8cull);
    T_CHECK(tr_hash64("foobar", 6) == 0x85944171f73967e8ull);
    T_CHECK(tr_hash64_more(tr_hash64("foo", 3), "bar", 3) == tr_hash64("foobar", 6));
    T_CHECK(tr_hash64_str(TR_HASH64_INIT, "foobar") == tr_hash64("foobar", 6));
    T_CHECK(tr_hash64_str(TR_HASH64_INIT, "") == TR_HASH64_INIT);
}

static int named_sh(const char *p)
{
    size_t l = strlen(p);
    return l >= 3 && !strcmp(p + l - 3, "/sh");
}

static int never(const char *p)
{
    (void)p;
    return 0;
}

static void test_fmt_and_search(void)
{
    char b[8];
    T_EQ_INT(tr_fmt(b, sizeof b, "%s", "1234567"), 0);
    T_EQ_STR(b, "1234567");
    T_EQ_INT(tr_fmt(b, sizeof b, "%s", "12345678"), TRAIL_ETOOBIG);
    char out[64];
    T_EQ_INT(tr_path_search("sh", "/nowhere::/bin", named_sh, out, sizeof out), 0);
    T_EQ_STR(out, "/nowhere/sh"); /* the first candidate ok() accepts */
    T_EQ_INT(tr_path_search("x", "/a:/b", never, out, sizeof out), -1);
    T_EQ_INT(tr_path_search("x", "", never, out, sizeof out), -1);
}

static void test_strmap(void)
{
    tr_strmap *m = tr_strmap_new();
    T_ASSERT(m);
    T_EQ_INT(tr_strmap_size(m), 0);
    T_EQ_INT(tr_strmap_find(m, "x", 1), -1);
    T_CHECK(!tr_strmap_get(m, "x", 1, NULL));
    int added = -1;
    T_EQ_INT(tr_strmap_add(m, "alpha", 5, (tr_mapval){.i = 7}, &added), 0);
    T_EQ_INT(added, 1);
    /* the first value stays */
    T_EQ_INT(tr_strmap_add(m, "alpha", 5, (tr_mapval){.i = 8}, &added), 0);
    T_EQ_INT(added, 0);
    tr_mapval v;
    T_CHECK(tr_strmap_get(m, "alpha", 5, &v) && v.i == 7);
    T_EQ_INT(tr_strmap_set(m, "alpha", 5, (tr_mapval){.i = 9}), 0);
    T_CHECK(tr_strmap_get(m, "alpha", 5, &v) && v.i == 9);
    /* keys are byte strings: a prefix or an embedded NUL is another key */
    T_EQ_INT(tr_strmap_find(m, "alph", 4), -1);
    T_EQ_INT(tr_strmap_add(m, "a\0b", 3, (tr_mapval){.i = 1}, NULL), 1);
    T_EQ_INT(tr_strmap_find(m, "a\0b", 3), 1);
    T_EQ_INT(tr_strmap_find(m, "a", 1), -1);
    /* string values in the map's own memory */
    const char *s = tr_strmap_strdup(m, "value!", 5);
    T_EQ_STR(s, "value");
    T_EQ_INT(tr_strmap_set(m, "k", 1, (tr_mapval){.s = s}), 0);
    T_CHECK(tr_strmap_get(m, "k", 1, &v) && !strcmp(v.s, "value"));
    /* growth keeps every entry, in insertion order, and key pointers stay valid */
    const char *first = tr_strmap_key(m, 0, NULL);
    char key[64];
    for (int i = 0; i < 200000; i++) {
        int n = snprintf(key, sizeof key, "/usr/lib/x86_64-linux-gnu/lib%d.so", i);
        T_ASSERT(tr_strmap_add(m, key, (size_t)n, (tr_mapval){.i = i}, NULL) == i + 3);
    }
    T_EQ_INT(tr_strmap_size(m), 200003);
    T_EQ_STR(first, "alpha");
    int bad = 0;
    for (int i = 0; i < 200000; i += 7) {
        int n = snprintf(key, sizeof key, "/usr/lib/x86_64-linux-gnu/lib%d.so", i);
        if (!tr_strmap_get(m, key, (size_t)n, &v) || v.i != i) bad++;
        size_t kl;
        if (strcmp(tr_strmap_key(m, (size_t)i + 3, &kl), key) || kl != (size_t)n) bad++;
    }
    T_EQ_INT(bad, 0);
    tr_strmap_val(m, 0)->i = 42;
    T_CHECK(tr_strmap_get(m, "alpha", 5, &v) && v.i == 42);
    tr_strmap_clear(m);
    T_EQ_INT(tr_strmap_size(m), 0);
    T_EQ_INT(tr_strmap_find(m, "alpha", 5), -1);
    T_EQ_INT(tr_strmap_add(m, "beta", 4, (tr_mapval){.p = m}, NULL), 0);
    T_CHECK(tr_strmap_get(m, "beta", 4, &v) && v.p == m);
    tr_strmap_free(m);
    tr_strmap_free(NULL);
}

static void test_errors(void)
{
    /* every code of the map: a distinct name and text, the name spelling the macro */
    const char *names[64], *texts[64];
    int n = 0, values[64], lowest = 0;
#define ERR_ROW(name, value, text)                                                                 \
    T_EQ_INT(TRAIL_E##name, value);                                                                \
    T_EQ_STR(trail_err_name(value), "TRAIL_E" #name);                                              \
    T_EQ_STR(trail_strerror(value), text);                                                         \
    values[n] = value;                                                                             \
    lowest = value < lowest ? value : lowest;                                                      \
    names[n] = trail_err_name(value);                                                              \
    texts[n++] = trail_strerror(value);
    TRAIL_ERRNO_MAP(ERR_ROW)
#undef ERR_ROW
    T_CHECK(n >= 22); /* the codes of the first release, and whatever came since */
    for (int i = 0; i < n; i++) {
        T_CHECK(values[i] < 0);
        for (int j = i + 1; j < n; j++) {
            T_CHECK(values[i] != values[j]);
            T_CHECK(strcmp(names[i], names[j]) != 0);
            T_CHECK(strcmp(texts[i], texts[j]) != 0);
        }
    }
    T_EQ_STR(trail_err_name(TRAIL_ENOTFOUND), "TRAIL_ENOTFOUND");
    T_EQ_STR(trail_strerror(TRAIL_ENOTFOUND), "not found");
    T_EQ_STR(trail_err_name(0), "TRAIL_OK");
    T_EQ_STR(trail_strerror(0), "success");
    int unknown[] = {1, lowest - 1, -1000, 12345};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        T_EQ_STR(trail_strerror(unknown[i]), "unknown error");
        T_EQ_STR(trail_err_name(unknown[i]), "unknown error");
    }
}

static int secret_value(const char *v)
{
    tr_redact r = {1, {NULL, NULL}};
    return tr_redact_value(&r, v, strlen(v), NULL, NULL);
}

static void test_redact(void)
{
    tr_redact r = {1, {"custom_thing", " other , last "}};
    /* by name: default words (case-insensitive substrings), then the lists */
    T_CHECK(tr_redact_env(&r, "MY_API_TOKEN=abc"));
    T_CHECK(tr_redact_env(&r, "db_password=x"));
    T_CHECK(tr_redact_env(&r, "AWS_SECRET_ACCESS_KEY"));
    T_CHECK(tr_redact_env(&r, "CUSTOM_THING=1"));
    T_CHECK(tr_redact_env(&r, "AN_OTHER=1"));
    T_CHECK(tr_redact_env(&r, "LAST=1"));
    T_CHECK(!tr_redact_env(&r, "HOME=/home/u"));
    T_CHECK(!tr_redact_env(&r, "PATH=/usr/bin:/bin"));
    T_CHECK(tr_redact_name(&r, "SESSIONID", 9));
    T_CHECK(!tr_redact_name(&r, "SESSIONID", 3)); /* only the n bytes count */
    /* TRAIL_REDACT_DEFAULTS=0: the lists only, no value rules */
    tr_redact off = {0, {"custom_thing", NULL}};
    T_CHECK(!tr_redact_env(&off, "MY_API_TOKEN=abc"));
    T_CHECK(tr_redact_env(&off, "CUSTOM_THING=1"));
    T_CHECK(!tr_redact_env(&off, "DATABASE_URL=postgres://u:pw@db/x"));

    /* by value: URLs with a password in their userinfo */
    T_CHECK(tr_redact_env(&r, "DATABASE_URL=postgres://user:pw@db.example:5432/x"));
    T_CHECK(secret_value("--index-url https://u:p4ss@pypi.example/simple"));
    T_CHECK(secret_value("http://proxyuser:proxypass@proxy:3128"));
    T_CHECK(!secret_value("https://github.com/org/repo"));
    T_CHECK(!secret_value("ssh://git@github.com/org/repo"));
    T_CHECK(!secret_value("https://user@host/path:x@y"));
    T_CHECK(!secret_value("http://[::1]:8080/x"));
    /* connection strings */
    T_CHECK(secret_value("Server=db;Database=x;User Id=u;Password=hunter2;"));
    T_CHECK(secret_value("host=db user=u password=hunter2 sslmode=require"));
    T_CHECK(secret_value("DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc=="));
    T_CHECK(secret_value("https://acct.blob.core.windows.net/c?sv=2020&sig=abcdef"));
    T_CHECK(!secret_value("password="));
    T_CHECK(!secret_value("mypassword=x")); /* another word */
    T_CHECK(!secret_value("rs=0:di=01;34:ln=01;36"));
    /* well-known token formats */
    T_CHECK(secret_value("ghp_abcdefghijklmnopqrstuvwxyz0123456789"));
    T_CHECK(secret_value("token github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"));
    T_CHECK(secret_value("glpat-abcdefghij0123456789"));
    T_CHECK(secret_value("xoxb-123456789012-abcdefghij"));
    T_CHECK(secret_value("AKIAIOSFODNN7EXAMPLE"));
    T_CHECK(!secret_value("AKIAIOSFODNN7EXAMPLEXX")); /* not 16 after the prefix */
    T_CHECK(secret_value("sk-proj-abcdefghijklmnopqrstuvwxyz012345"));
    T_CHECK(secret_value("hf_abcdefghijklmnopqrstuvwxyzABCDEFGH"));
    T_CHECK(secret_value("AIzaSyA-abcdefghijklmnopqrstuvwxyz01234"));
    T_CHECK(secret_value("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.abcdefghijklmnop"));
    T_CHECK(secret_value("-----BEGIN OPENSSH PRIVATE KEY-----\nabc"));
    T_CHECK(!secret_value("sk-learn"));
    T_CHECK(!secret_value("ghp_short"));
    T_CHECK(!secret_value("/usr/lib/python3/dist-packages:/opt/hf_cache"));
    T_CHECK(!secret_value(""));
    size_t at = 0;
    const char *u = "https://me:secret@host/";
    size_t len = 0;
    T_CHECK(tr_redact_value(&r, u, strlen(u), &at, &len) && at == 11 && len == 6);

    /* arguments keep what is not secret */
    char out[128];
    const char *a = "--db=postgres://me:pw@db/x?password=p2&sslmode=require";
    T_EQ_INT(tr_redact_copy(&r, a, strlen(a), out, sizeof out), strlen(out));
    T_EQ_STR(out, "--db=postgres://me:[redacted]@db/x?password=[redacted]&sslmode=require");
    a = "--token ghp_abcdefghijklmnopqrstuvwxyz0123456789 --epochs=3";
    tr_redact_copy(&r, a, strlen(a), out, sizeof out);
    T_EQ_STR(out, "--token [redacted] --epochs=3");
    a = "train.py";
    tr_redact_copy(&r, a, strlen(a), out, sizeof out);
    T_EQ_STR(out, "train.py");
    tr_redact_copy(&r, u, strlen(u), out, 16); /* cut to the buffer */
    T_EQ_STR(out, "https://me:[red");
    tr_redact_copy(&off, u, strlen(u), out, sizeof out);
    T_EQ_STR(out, u);
}

static long read_at(int fd, void *buf, size_t n, uint64_t off)
{
    return pread(fd, buf, n, (off_t)off);
}

static int collect(const char *name, void *arg)
{
    char *all = arg;
    if (strlen(all) + strlen(name) + 2 < 1024) strcat(strcat(all, name), " ");
    return 0;
}

/* A small ELF64 file: header, PT_LOAD over the whole file, PT_DYNAMIC, optionally PT_INTERP;
 * a dynamic section naming the given DT_NEEDED libraries through a string table. */
static int fake_elf(const char *path, int interp, const char *const *needed, int nneeded)
{
    unsigned char f[4096];
    memset(f, 0, sizeof f);
    Elf64_Ehdr *eh = (Elf64_Ehdr *)(void *)f;
    memcpy(eh->e_ident, ELFMAG, SELFMAG);
    eh->e_ident[EI_CLASS] = ELFCLASS64;
    eh->e_phoff = sizeof *eh;
    eh->e_phentsize = sizeof(Elf64_Phdr);
    eh->e_phnum = interp ? 3 : 2;
    Elf64_Phdr *ph = (Elf64_Phdr *)(void *)(f + sizeof *eh);
    const uint64_t base = 0x400000, dyn_off = 512, str_off = 1024;
    ph[0] = (Elf64_Phdr){.p_type = PT_LOAD, .p_vaddr = base, .p_filesz = sizeof f};
    ph[1] = (Elf64_Phdr){.p_type = PT_DYNAMIC, .p_offset = dyn_off, .p_filesz = 32 * 16};
    if (interp) ph[2] = (Elf64_Phdr){.p_type = PT_INTERP, .p_offset = 2048, .p_filesz = 28};
    Elf64_Dyn *d = (Elf64_Dyn *)(void *)(f + dyn_off);
    size_t so = 1;
    int k = 0;
    d[k].d_tag = DT_STRTAB;
    d[k++].d_un.d_ptr = base + str_off;
    for (int i = 0; i < nneeded; i++) {
        d[k].d_tag = DT_NEEDED;
        d[k++].d_un.d_val = so;
        memcpy(f + str_off + so, needed[i], strlen(needed[i]) + 1);
        so += strlen(needed[i]) + 1;
    }
    FILE *o = fopen(path, "wb");
    if (!o) return -1;
    size_t w = fwrite(f, 1, sizeof f, o);
    return fclose(o) == 0 && w == sizeof f ? 0 : -1;
}

static void test_elf(void)
{
    char path[] = "/tmp/trail-rules-elf-XXXXXX";
    int fd = mkstemp(path);
    T_ASSERT(fd >= 0);
    close(fd);
    tr_elf e;
    char all[1024] = "", san[64];

    const char *libs[] = {"libm.so.6", "libasan.so.8", "libc.so.6"};
    T_ASSERT(fake_elf(path, 1, libs, 3) == 0);
    fd = open(path, O_RDONLY);
    T_ASSERT(fd >= 0);
    T_EQ_INT(tr_elf_open(&e, fd, read_at, NULL, 0), 0);
    T_EQ_INT(tr_elf_has_interp(&e), 1);
    T_EQ_INT(tr_elf_needed(&e, collect, all), 0);
    T_EQ_STR(all, "libm.so.6 libasan.so.8 libc.so.6 ");
    T_EQ_INT(tr_elf_sanitizer(&e, san, sizeof san), 0);
    T_EQ_STR(san, "libasan.so.8");
    T_EQ_INT(tr_elf_sanitizer(&e, san, 5), -1); /* does not fit */
    close(fd);

    /* a static program: no interpreter, no sanitizer; a header already read is used as is */
    const char *none[] = {"libc.so.6"};
    T_ASSERT(fake_elf(path, 0, none, 1) == 0);
    fd = open(path, O_RDONLY);
    unsigned char head[256];
    T_ASSERT(pread(fd, head, sizeof head, 0) == (ssize_t)sizeof head);
    T_EQ_INT(tr_elf_open(&e, fd, read_at, head, sizeof head), 0);
    T_EQ_INT(tr_elf_has_interp(&e), 0);
    T_EQ_INT(tr_elf_sanitizer(&e, san, sizeof san), -1);
    close(fd);

    /* other classes and non-ELF files */
    ((Elf64_Ehdr *)(void *)head)->e_ident[EI_CLASS] = ELFCLASS32;
    T_EQ_INT(tr_elf_open(&e, -1, read_at, head, sizeof head), TR_ELF_32BIT);
    memcpy(head, "#!/bin/sh\n", 10);
    T_EQ_INT(tr_elf_open(&e, -1, read_at, head, sizeof head), TR_ELF_NOT_ELF);
    unlink(path);

    /* this test's own executable: dynamic, needs libc */
    fd = open("/proc/self/exe", O_RDONLY);
    T_ASSERT(fd >= 0);
    all[0] = 0;
    T_EQ_INT(tr_elf_open(&e, fd, read_at, NULL, 0), 0);
    T_EQ_INT(tr_elf_has_interp(&e), 1);
    T_EQ_INT(tr_elf_needed(&e, collect, all), 0);
    T_CHECK(strstr(all, "libc.so.6") != NULL);
    close(fd);
}

int main(void)
{
    T_RUN(test_hash);
    T_RUN(test_strmap);
    T_RUN(test_fmt_and_search);
    T_RUN(test_errors);
    T_RUN(test_redact);
    T_RUN(test_elf);
    return T_DONE();
}
