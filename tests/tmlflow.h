/* tmlflow.h - test helper: HTTP requests of any method with a JSON body to a server on
 * loopback (MLflow's REST API of traild), the answer parsed. */
#ifndef TMLFLOW_H
#define TMLFLOW_H

#include <cjson/cJSON.h>

#include "tnet.h"

/* METHOD path with body (NULL: none) and "Authorization: Bearer token" unless token is NULL;
 * the status, the body parsed into *doc (NULL when not JSON; doc may be NULL). */
static inline int tml_request(int port, const char *method, const char *path, const char *token,
                              const char *body, cJSON **doc)
{
    if (doc) *doc = NULL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    size_t blen = body ? strlen(body) : 0;
    char head[2048], auth[600] = "";
    if (token) snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", token);
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     method, path, auth, blen);
    int ok = write(fd, head, (size_t)n) == n;
    for (size_t off = 0; ok && off < blen;) {
        ssize_t w = write(fd, body + off, blen - off);
        if (w <= 0) ok = 0;
        off += w > 0 ? (size_t)w : 0;
    }
    tproc_buf b = {0};
    char buf[65536];
    ssize_t r;
    tproc_append(&b, "", 0);
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (ok && (r = read(fd, buf, sizeof buf)) > 0) {
        tproc_append(&b, buf, (size_t)r);
        char *hdr_end = strstr(b.data, "\r\n\r\n"), *cl = strcasestr(b.data, "content-length:");
        if (hdr_end && cl && cl < hdr_end &&
            b.len >= (size_t)(hdr_end + 4 - b.data) + strtoul(cl + 15, NULL, 10))
            break;
    }
    close(fd);
    int status = -1;
    if (sscanf(b.data, "HTTP/1.%*d %d", &status) != 1) status = -1;
    char *sep = strstr(b.data, "\r\n\r\n");
    if (doc && sep) *doc = cJSON_Parse(sep + 4);
    free(b.data);
    return status;
}

static inline const cJSON *tml_get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static inline const char *tml_str(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(tml_get(o, k));
}

#endif
