/* probe.c - prints what a program can observe, to compare bare runs with shim runs. */
/* prints what a program can observe (errno, fds, threads, heap, signal dispositions, environment)
 * so tests can compare a bare run with a run under the shim. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define SHOW(label, expr)                                                                          \
    do {                                                                                           \
        errno = 1234;                                                                              \
        long _r = (long)(expr);                                                                    \
        printf("%-28s ret=%ld errno=%d\n", label, _r, errno);                                      \
    } while (0)

/* Return values and errno of calls that succeed and calls that fail. */
static int probe_errno(void)
{
    char buf[16];
    SHOW("open ok", open("probe_in.txt", O_RDONLY) >= 0);
    SHOW("open missing", open("no/such/file", O_RDONLY));
    SHOW("openat missing", openat(AT_FDCWD, "no-such", O_RDONLY));
    SHOW("open dir for write", open(".", O_WRONLY));
    SHOW("creat in missing dir", creat("no/such/x", 0644));
    SHOW("close bad", close(-1));
    SHOW("close unopened", close(999));
    SHOW("read bad", read(-1, buf, sizeof buf));
    SHOW("write bad", write(998, buf, 1));
    SHOW("dup bad", dup(-1));
    SHOW("dup2 bad", dup2(-1, 40));
    SHOW("fcntl bad", fcntl(-1, F_DUPFD, 0));
    SHOW("fopen missing", fopen("no/such", "r") == NULL);
    SHOW("fclose-less fopen bad mode", fopen("probe_in.txt", "q") == NULL);
    SHOW("rename missing", rename("no-such", "x"));
    SHOW("unlink missing", unlink("no-such"));
    SHOW("link missing", link("no-such", "y"));
    SHOW("chdir missing", chdir("no-such"));
    SHOW("truncate missing", truncate("no-such", 0));
    SHOW("mmap bad fd", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 997, 0) == MAP_FAILED);
    SHOW("execv missing", execv("/no/such/prog", (char *[]){"x", NULL}));
    SHOW("execvp missing", execvp("no-such-prog-xyz", (char *[]){"x", NULL}));
    pid_t p;
    SHOW("posix_spawn missing",
         posix_spawn(&p, "/no/such", NULL, NULL, (char *[]){"x", NULL}, environ));
    SHOW("waitpid none", waitpid(-1, NULL, WNOHANG));
    SHOW("close_range bad", close_range(5, 3, 0));
    int fd = open("probe_in.txt", O_RDONLY);
    SHOW("read ok", read(fd, buf, 4));
    SHOW("pread ok", pread(fd, buf, 4, 1));
    SHOW("close ok", close(fd));
    SHOW("close again", close(fd));
    return 0;
}

/* Every descriptor the program can see, with what it refers to. */
static int probe_fds(void)
{
    int a = open("probe_in.txt", O_RDONLY);
    FILE *f = fopen("probe_in.txt", "r");
    pid_t p = fork();
    if (p == 0) _exit(0);
    waitpid(p, NULL, 0);
    close_range(10, ~0U, 0);
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d)) continue;
        char link[300], to[4096];
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(link, to, sizeof to - 1);
        to[n > 0 ? n : 0] = 0;
        if (strncmp(to, "pipe:", 5) == 0) strcpy(to, "pipe"); /* ids differ run to run */
        printf("fd %s -> %s\n", e->d_name, to);
    }
    closedir(d);
    fclose(f);
    close(a);
    return 0;
}

static int probe_threads(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    printf("threads %d\n", n);
    return 0;
}

/* Heap use does not grow with the number of file events. */
static int probe_heap(int n)
{
    char buf[64];
    for (int i = 0; i < 50; i++) { /* warm-up: stdio buffers, first segment */
        FILE *f = fopen("probe_in.txt", "r");
        fclose(f);
    }
    struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < n; i++) {
        int fd = open("probe_in.txt", O_RDONLY);
        if (read(fd, buf, sizeof buf) < 0) return 1;
        close(fd);
        FILE *f = fopen("probe_in.txt", "r");
        if (!fgets(buf, sizeof buf, f)) return 1;
        fclose(f);
        fd = open("probe_out.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (write(fd, buf, 8) != 8) return 1;
        close(fd);
    }
    struct mallinfo2 after = mallinfo2();
    printf("heap in-use growth %zd arena growth %zd\n", (ssize_t)(after.uordblks - before.uordblks),
           (ssize_t)(after.arena - before.arena));
    return 0;
}

static void on_fpe(int s)
{
    (void)s;
}

/* The program's view of the crash signals and of the alternate signal stack. */
static int probe_sigview(void)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    for (int i = 0; i < 5; i++) {
        struct sigaction sa;
        sigaction(sigs[i], NULL, &sa);
        printf("sig %d handler %s flags %#x\n", sigs[i],
               sa.sa_handler == SIG_DFL   ? "default"
               : sa.sa_handler == SIG_IGN ? "ignore"
                                          : "set",
               (unsigned)sa.sa_flags);
    }
    printf("signal() returns previous: %d\n", signal(SIGFPE, on_fpe) == SIG_DFL);
    printf("signal() again: %d\n", signal(SIGFPE, SIG_DFL) == on_fpe);
    stack_t ss;
    sigaltstack(NULL, &ss);
    printf("altstack %s\n", (ss.ss_flags & SS_DISABLE) ? "disabled" : "enabled");
    return 0;
}

static volatile sig_atomic_t ticks;
static void on_alarm(int s)
{
    (void)s;
    char buf[32];
    int fd = open("probe_in.txt", O_RDONLY); /* file I/O inside a signal handler */
    if (fd >= 0) {
        if (read(fd, buf, sizeof buf) < 0) _exit(3);
        close(fd);
    }
    ticks++;
}

static void *io_thread(void *arg)
{
    (void)arg;
    char buf[32];
    for (int i = 0; i < 2000; i++) {
        int fd = open("probe_in.txt", O_RDONLY);
        if (fd >= 0 && read(fd, buf, sizeof buf) >= 0) close(fd);
    }
    return NULL;
}

/* Signal handlers and forks arriving in the middle of shim work never deadlock. */
static int probe_stress(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 200}, {0, 200}};
    setitimer(ITIMER_REAL, &it, NULL);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, io_thread, NULL);
    for (int i = 0; i < 40; i++) {
        pid_t p = fork();
        if (p == 0) {
            io_thread(NULL);
            _exit(0);
        }
        int st;
        while (waitpid(p, &st, 0) < 0 && errno == EINTR) {
        }
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return 1;
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    printf("stress ok (%d signals)\n", ticks > 0);
    return 0;
}

static int probe_env(void)
{
    for (char **e = environ; *e; e++)
        if (!strncmp(*e, "TRAIL_", 6) || !strncmp(*e, "LD_PRELOAD=", 11)) printf("%s\n", *e);
    return 0;
}

/* A fork the shim's fork() wrapper does not see (raw system call): it notices it later. */
static int probe_rawfork(void)
{
    long p = syscall(SYS_fork);
    if (p == 0) {
        char buf[16];
        int fd = open("probe_in.txt", O_RDONLY);
        if (read(fd, buf, sizeof buf) < 0) _exit(1);
        close(fd);
        fd = open("rawfork_out.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (write(fd, "raw\n", 4) != 4) _exit(1);
        close(fd);
        _exit(0);
    }
    int st;
    waitpid((pid_t)p, &st, 0);
    printf("rawfork child %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return 0;
}

/* More descriptions open at once than the shim's table holds: the program is unaffected. */
static int probe_many(int n)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_max < (rlim_t)n + 64) {
        printf("many: limit %llu too low, skipped\n", (unsigned long long)rl.rlim_max);
        return 0;
    }
    rl.rlim_cur = (rlim_t)n + 64;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) return 1;
    int *fds = malloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++)
        if ((fds[i] = open("probe_in.txt", O_RDONLY)) < 0) return 1;
    for (int i = 0; i < n; i++)
        close(fds[i]);
    free(fds);
    printf("many: %d open at once\n", n);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *m = argv[1];
    if (!strcmp(m, "errno")) return probe_errno();
    if (!strcmp(m, "fds")) return probe_fds();
    if (!strcmp(m, "threads")) return probe_threads();
    if (!strcmp(m, "heap")) return probe_heap(argc > 2 ? atoi(argv[2]) : 2000);
    if (!strcmp(m, "sigview")) return probe_sigview();
    if (!strcmp(m, "stress")) return probe_stress();
    if (!strcmp(m, "env")) return probe_env();
    if (!strcmp(m, "rawfork")) return probe_rawfork();
    if (!strcmp(m, "many")) return probe_many(argc > 2 ? atoi(argv[2]) : 5000);
    if (!strcmp(m, "exec") && argc > 2) { /* exec argv[2..] with an emptied environment */
        char *empty[] = {"KEPT_VAR=1", NULL};
        execve(argv[2], argv + 2, empty);
        return 127;
    }
    return 2;
}
