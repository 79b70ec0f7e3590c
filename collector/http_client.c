/* http_client.c - one JSON document POSTed to an http:// endpoint, within one deadline for the
 * whole request: the one HTTP client of `trail export openlineage --url`, traild
 * --openlineage-url and the management commands against traild. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "http_client.h"

/* "http://host[:port]/path" split; 0 or -1. */
static int split_url(const char *url, char *host, size_t hn, char *port, size_t pn, char *path,
                     size_t an)
{
    if (strncmp(url, "http://", 7)) return -1;
    const char *h = url + 7, *slash = strchr(h, '/'), *colon = strchr(h, ':');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    if (colon && (!slash || colon < slash)) {
        snprintf(port, pn, "%.*s", (int)(hl - (size_t)(colon - h) - 1), colon + 1);
        hl = (size_t)(colon - h);
    } else {
        snprintf(port, pn, "80");
    }
    if (hl == 0 || hl >= hn) return -1;
    snprintf(host, hn, "%.*s", (int)hl, h);
    snprintf(path, an, "%s", slash ? slash : "/");
    return 0;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The socket's send and receive timeouts set to what is left until deadline; 0, or -1 when
 * nothing is left. */
static int until(int fd, int64_t deadline)
{
    int64_t left = deadline - mono_ms();
    if (left <= 0) return -1;
    struct timeval tv = {(time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return 0;
}

/* Sends all of n bytes before deadline; 0 or -1. */
static int send_all(int fd, const char *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        if (until(fd, deadline)) {
            errno = ETIMEDOUT;
            return -1;
        }
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int tr_http_post(const char *url, const char *token, const char *body, int timeout_s, char **reply,
                 char *why, size_t wn)
{
    char host[256], port[16], path[2048];
    if (reply) *reply = NULL;
    if (split_url(url, host, sizeof host, port, sizeof port, path, sizeof path) != 0) {
        snprintf(why, wn, "not an http:// URL");
        return -1;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    int fd = -1, status = -1;
    if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai) {
        snprintf(why, wn, "cannot resolve %s", host);
        return -1;
    }
    char *head = NULL, *buf = NULL;
    int64_t deadline = mono_ms() + (int64_t)timeout_s * 1000; /* for the request as a whole */
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) until(fd, deadline);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        snprintf(why, wn, "cannot connect to %s:%s: %s", host, port, strerror(errno));
        goto done;
    }
    size_t bl = strlen(body), cap = strlen(path) + strlen(host) + (token ? strlen(token) : 0) + 256;
    if (!(head = malloc(cap))) {
        snprintf(why, wn, "out of memory");
        goto done;
    }
    int hl = snprintf(head, cap,
                      "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
                      "%s%s%sContent-Length: %zu\r\nConnection: close\r\n\r\n",
                      path, host, port, token ? "Authorization: Bearer " : "", token ? token : "",
                      token ? "\r\n" : "", bl);
    if (send_all(fd, head, (size_t)hl, deadline) || send_all(fd, body, bl, deadline)) {
        snprintf(why, wn, "sending to %s: %s", url, strerror(errno));
        goto done;
    }
    /* the reply, whole (Connection: close), up to 16 MiB, before the deadline */
    size_t len = 0, bcap = 4096;
    int late = 0;
    buf = malloc(bcap);
    ssize_t n = 0;
    while (buf && !(late = until(fd, deadline)) && (n = read(fd, buf + len, bcap - len - 1)) > 0) {
        len += (size_t)n;
        if (bcap - len < 2) {
            char *more = bcap < (16u << 20) ? realloc(buf, bcap * 2) : NULL;
            if (!more) break;
            buf = more;
            bcap *= 2;
        }
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) late = 1; /* the deadline passed */
    if (buf) {
        buf[len] = 0;
        if (sscanf(buf, "HTTP/%*s %d", &status) != 1) status = -1;
    }
    if (late) { /* a reply trickling in for ever is no reply */
        snprintf(why, wn, "no whole HTTP reply from %s within %d s", url, timeout_s);
        status = -1;
    } else if (status < 0)
        snprintf(why, wn, "no HTTP reply from %s", url);
    char *sep = buf && status >= 0 ? strstr(buf, "\r\n\r\n") : NULL;
    if (reply && sep) *reply = strdup(sep + 4);
done:
    free(head);
    free(buf);
    if (fd >= 0) close(fd);
    freeaddrinfo(ai);
    return status;
}

int tr_http_url_ok(const char *url)
{
    char host[256], port[16], path[2048];
    return split_url(url, host, sizeof host, port, sizeof port, path, sizeof path);
}
