/* conform.c - capture conformance program: does every kind of thing the shim must record. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
int fort_run(void); /* conform_fortify.c, built with -D_FORTIFY_SOURCE=2 -O2 */

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "conform: %s:%d: %s failed (errno %d)\n", __FILE__, __LINE__, #c,      \
                    errno);                                                                        \
            exit(2);                                                                               \
        }                                                                                          \
    } while (0)

static void put(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    CHECK(close(fd) == 0);
}

static size_t slurp(const char *path)
{
    char buf[4096];
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    size_t total = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        total += (size_t)n;
    CHECK(close(fd) == 0);
    return total;
}

static int wait_ok(pid_t pid)
{
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* `conform setup DIR`: the inputs, created outside the run. */
static int setup(void)
{
    static const char *inputs[] = {"in_common.txt",  "fork_in.txt",
                                   "vfork_in.txt",   "spawn_in.txt",
                                   "sys_in.txt",     "popen_in.txt",
                                   "envi_in.txt",    "envi2_in.txt",
                                   "cr_in.txt",      "stdio_in.txt",
                                   "rel_in.txt",     "fort_in.txt",
                                   "fort_at_in.txt", NULL};
    for (int i = 0; inputs[i]; i++)
        put(inputs[i], "input data for the conformance run\n");
    mkdir("sub", 0755);
    put("sub/at_in.txt", "at input\n");
    char block[8192];
    memset(block, 7, sizeof block);
    int fd = open("mmap_in.bin", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && write(fd, block, sizeof block) == (ssize_t)sizeof block && close(fd) == 0);
    return 0;
}

static void *thread_main(void *arg)
{
    long i = (long)arg;
    char name[64], text[64];
    slurp("in_common.txt");
    snprintf(name, sizeof name, "thread_%ld.out", i);
    snprintf(text, sizeof text, "thread %ld\n", i);
    put(name, text);
    return NULL;
}

static void threads(void)
{
    pthread_t t[4];
    for (long i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, thread_main, (void *)i) == 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
}

static void forks(void)
{
    pid_t p = fork();
    CHECK(p >= 0);
    if (p == 0) { /* exit(): destructors run */
        slurp("fork_in.txt");
        FILE *f = fopen("fork_out.txt", "w");
        fprintf(f, "from the forked child %d\n", (int)getpid());
        exit(0); /* the stream is flushed by exit, after the shim's records */
    }
    CHECK(wait_ok(p));
    p = fork();
    CHECK(p >= 0);
    if (p == 0) { /* _exit(): no destructors */
        put("fork2_out.txt", "second child\n");
        _exit(0);
    }
    CHECK(wait_ok(p));
}

static void vfork_exec(void)
{
    int fd = open("vfork_out.txt", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    pid_t p = vfork();
    if (p == 0) {
        dup2(fd, 1);
        execl("/bin/cat", "cat", "vfork_in.txt", (char *)NULL);
        _exit(127);
    }
    CHECK(p > 0 && wait_ok(p));
    close(fd);
}

static void spawns(void)
{
    pid_t p;
    char *argv[] = {"cp", "spawn_in.txt", "spawn_out.txt", NULL};
    CHECK(posix_spawnp(&p, "cp", NULL, NULL, argv, environ) == 0 && wait_ok(p));
    CHECK(system("cat sys_in.txt > sys_out.txt") == 0);
    FILE *in = popen("cat popen_in.txt", "r");
    CHECK(in);
    char buf[256];
    size_t n = fread(buf, 1, sizeof buf, in);
    CHECK(pclose(in) == 0);
    FILE *out = fopen("popen_out.txt", "w");
    fwrite(buf, 1, n, out);
    fclose(out);
}

/* The program drops the environment: the shim must survive. */
static void env_cleared(void)
{
    pid_t p = fork();
    CHECK(p >= 0);
    if (p == 0) {
        char *empty[] = {NULL};
        execle("/bin/cp", "cp", "envi_in.txt", "envi_out.txt", (char *)NULL, empty);
        _exit(127);
    }
    CHECK(wait_ok(p));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "envi2_out.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char *argv[] = {"env", "-i", "/bin/cat", "envi2_in.txt", NULL};
    CHECK(posix_spawnp(&p, "env", &fa, NULL, argv, environ) == 0 && wait_ok(p));
    posix_spawn_file_actions_destroy(&fa);
}

static void close_ranges(void)
{
    pid_t p = fork();
    CHECK(p >= 0);
    if (p == 0) {
        int a = open("cr_a.out", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int b = open("cr_b.out", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int c = open("cr_in.txt", O_RDONLY);
        char buf[16];
        CHECK(a >= 0 && b >= 0 && c >= 0);
        CHECK(write(a, "aa", 2) == 2 && write(b, "bbb", 3) == 3 && read(c, buf, 5) == 5);
        CHECK(close_range(3, ~0U, 0) == 0);
        int d = open("cr_c.out", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        CHECK(d == 3); /* the lowest free number: nothing of the shim's sits there */
        CHECK(write(d, "c", 1) == 1 && close(d) == 0);
        _exit(0);
    }
    CHECK(wait_ok(p));
}

static void dups(void)
{
    int fd = open("dup_out.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    int a = dup(fd), b = fcntl(fd, F_DUPFD_CLOEXEC, 30);
    CHECK(a >= 0 && b >= 30 && dup2(fd, 20) == 20 && dup3(fd, 21, O_CLOEXEC) == 21);
    CHECK(close(fd) == 0);
    CHECK(write(a, "12345", 5) == 5 && write(b, "12345", 5) == 5 && write(20, "12345", 5) == 5);
    CHECK(write(21, "12345", 5) == 5);
    CHECK(close(a) == 0 && close(b) == 0 && close(20) == 0 && close(21) == 0);
}

static void stdio(void)
{
    FILE *out = fopen("stdio_out.txt", "w");
    CHECK(out);
    fprintf(out, "%s %d\n", "stdio", 42);
    fputs("line two\n", out);
    fwrite("abc", 1, 3, out);
    CHECK(fclose(out) == 0);
    FILE *in = fopen("stdio_in.txt", "r");
    char line[128];
    CHECK(in && fgets(line, sizeof line, in));
    CHECK(fclose(in) == 0);
    FILE *f = fopen("stdio_a.txt", "w");
    CHECK(f);
    f = freopen("stdio_b.txt", "w", f);
    CHECK(f);
    fputs("reopened\n", f);
    CHECK(fclose(f) == 0);
}

static void dirfds(void)
{
    int dfd = open("sub", O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0);
    char buf[64];
    int in = openat(dfd, "at_in.txt", O_RDONLY);
    CHECK(in >= 0 && read(in, buf, sizeof buf) > 0 && close(in) == 0);
    int out = openat(dfd, "at_out.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(out >= 0 && write(out, "at\n", 3) == 3 && close(out) == 0);
    int here = open(".", O_RDONLY | O_DIRECTORY);
    CHECK(chdir("sub") == 0);
    slurp("../rel_in.txt");
    CHECK(fchdir(here) == 0);
    close(here);
    close(dfd);
}

static void rename_mmap_ops(void)
{
    put("model.tmp", "weights v1\n");
    CHECK(rename("model.tmp", "model.bin") == 0);
    int fd = open("mmap_in.bin", O_RDONLY);
    struct stat st;
    CHECK(fd >= 0 && fstat(fd, &st) == 0);
    unsigned char *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    CHECK(m != MAP_FAILED);
    unsigned sum = 0;
    for (off_t i = 0; i < st.st_size; i++)
        sum += m[i];
    CHECK(sum == 7u * (unsigned)st.st_size);
    munmap(m, (size_t)st.st_size);
    close(fd);
    int t = open(".", O_TMPFILE | O_WRONLY, 0644); /* written unnamed, then linked into place */
    if (t >= 0) {
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", t);
        unlink("tmpfile_named.txt");
        CHECK(write(t, "tmpfile\n", 8) == 8);
        CHECK(linkat(AT_FDCWD, proc, AT_FDCWD, "tmpfile_named.txt", AT_SYMLINK_FOLLOW) == 0);
        CHECK(close(t) == 0);
    } else {
        put("tmpfile_named.txt", "tmpfile\n"); /* a file system without O_TMPFILE */
    }
    put("trunc.txt", "0123456789");
    CHECK(truncate("trunc.txt", 2) == 0);
    unlink("model.sym"); /* a previous run's */
    CHECK(link("model.bin", "model.link") == 0 && symlink("model.bin", "model.sym") == 0);
    CHECK(unlink("model.link") == 0);
}

static sigjmp_buf jb;
static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)si, (void)uc;
    siglongjmp(jb, 1);
}

static void on_fpe(int sig)
{
    (void)sig;
}

/* The program's own handlers keep working and it sees its own dispositions. */
static void handlers(void)
{
    struct sigaction sa, back;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGSEGV, &sa, NULL) == 0 && sigaction(SIGSEGV, NULL, &back) == 0);
    CHECK(back.sa_sigaction == on_segv && (back.sa_flags & SA_SIGINFO));
    volatile char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (sigsetjmp(jb, 1) == 0) {
        ro[0] = 1; /* faults: our handler runs and jumps back */
        CHECK(!"the fault was not delivered");
    }
    munmap((void *)ro, 4096);
    sa.sa_handler = SIG_DFL;
    sa.sa_flags = 0;
    CHECK(sigaction(SIGSEGV, &sa, NULL) == 0);
    CHECK(signal(SIGFPE, on_fpe) == SIG_DFL && signal(SIGFPE, SIG_DFL) == on_fpe);
    CHECK(sigaction(SIGFPE, NULL, &back) == 0 && back.sa_handler == SIG_DFL);
}

__attribute__((noinline)) void crash_here(volatile int *p)
{
    *p = 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: conform setup|all|crash|exec-static DIR [STATIC_BIN]\n");
        return 2;
    }
    CHECK(chdir(argv[2]) == 0);
    if (!strcmp(argv[1], "setup")) return setup();
    if (!strcmp(argv[1], "crash")) {
        put("crash_partial.txt", "written before the crash\n");
        crash_here(NULL);
        return 0;
    }
    if (!strcmp(argv[1], "exec-static") && argc > 3) {
        pid_t p;
        char *av[] = {argv[3], "static_out.txt", NULL};
        CHECK(posix_spawn(&p, argv[3], NULL, NULL, av, environ) == 0 && wait_ok(p));
        execv(argv[3], (char *[]){argv[3], "static_exec_out.txt", NULL});
        return 3;
    }
    threads();
    forks();
    vfork_exec();
    spawns();
    env_cleared();
    close_ranges();
    dups();
    stdio();
    dirfds();
    rename_mmap_ops();
    CHECK(fort_run() == 0);
    handlers();
    printf("conform: all done\n");
    return 0;
}
