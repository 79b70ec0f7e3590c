/* http_client.c - one JSON document POSTed to an http:// endpoint, with timeouts: the one HTTP
 * client of `trail export openlineage --url` and traild --openlineage-url. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
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
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {timeout_s, 0};
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
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
    if (send(fd, head, (size_t)hl, MSG_NOSIGNAL) != hl ||
        send(fd, body, bl, MSG_NOSIGNAL) != (ssize_t)bl) {
        snprintf(why, wn, "sending to %s: %s", url, strerror(errno));
        goto done;
    }
    /* the reply, whole (Connection: close), up to 16 MiB */
    size_t len = 0, bcap = 4096;
    buf = malloc(bcap);
    for (ssize_t n; buf && (n = read(fd, buf + len, bcap - len - 1)) > 0;) {
        len += (size_t)n;
        if (bcap - len < 2) {
            char *more = bcap < (16u << 20) ? realloc(buf, bcap * 2) : NULL;
            if (!more) break;
            buf = more;
            bcap *= 2;
        }
    }
    if (buf) {
        buf[len] = 0;
        if (sscanf(buf, "HTTP/%*s %d", &status) != 1) status = -1;
    }
    if (status < 0) snprintf(why, wn, "no HTTP reply from %s", url);
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
