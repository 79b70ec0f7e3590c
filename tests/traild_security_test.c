/* traild_security_test.c - integration: hostile and broken messages against a real traild, TLS. */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "batch.h"
#include "record.h"
#include "tassert.h"
#include "tnet.h"
#include "trail.h"

#define TRAIL (char *)tproc_bin("trail")
#define CLIENT (char *)tproc_test_bin("sdk_client")
#define SECRET "correct horse battery staple"

static const char *sandbox;
static char token[600], dlog[600], db[600], url[64];
static uint8_t buf[8u << 20];
static size_t last_rec; /* offset of the last record body make() wrote */
static nng_socket sock;

/* A new client socket. The old one is left open on purpose: after a peer dropped its
 * connections mid-send, nng 1.5's nng_close can block for good (agents close it from a
 * helper thread; see deliver.c). */
static void connect_client(void)
{
    T_ASSERT(nng_req0_open(&sock) == 0);
    nng_socket_set_ms(sock, NNG_OPT_SENDTIMEO, 10000);
    T_ASSERT(nng_dial(sock, url, NULL, 0) == 0);
}

/* Connects to traild's port with a plain TCP socket, writes bytes, closes. */
static void tcp_poke(const char *bytes, size_t n)
{
    int port = atoi(strrchr(url, ':') + 1);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    T_ASSERT(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    if (n) T_CHECK(write(fd, bytes, n) == (ssize_t)n);
    tnet_sleep_ms(5);
    close(fd);
}

/* A batch of n metric records of stream/run ids made from tag, seqs from seq0 by 64; pad
 * makes each record carry a long tag value (bigger messages). */
static size_t make(char tag, uint64_t seq0, int n, size_t pad, const char *key)
{
    tr_batch_hdr h;
    memset(&h, 0, sizeof h);
    memset(h.stream_id, tag, 32);
    memset(h.run_id, tag, 32);
    strcpy(h.host, "attacker");
    h.pid = 1;
    tr_batch_enc e;
    T_ASSERT(tr_batch_enc_init(&e, buf, sizeof buf, &h) == 0);
    static uint8_t r[TR_REC_MAX_SIZE];
    static char big[TR_REC_MAX_SIZE];
    memset(big, 'x', sizeof big);
    for (int i = 0; i < n; i++) {
        tr_enc c;
        tr_enc_init(&c, r, sizeof r, pad ? TR_REC_TAG : TR_REC_METRIC, 1700000000000000000LL + i);
        tr_enc_str(&c, TR_F_KEY, pad ? "blob" : "m");
        if (pad)
            tr_enc_strn(&c, TR_F_VALUE, big, pad);
        else
            tr_enc_f64(&c, TR_F_NUM, i * 0.5);
        if (!pad) tr_enc_i64(&c, TR_F_STEP, i);
        long rl = tr_enc_finish(&c);
        last_rec = e.len + TR_BATCH_REC_HDR;
        T_ASSERT(rl > 0 && tr_batch_enc_add(&e, seq0 + 64 * (uint64_t)i, r, (size_t)rl) == 0);
    }
    return tr_batch_enc_finish(&e, (const uint8_t *)key, key ? strlen(key) : 0);
}

/* Sends len bytes of buf, returns the reply status (-1: no reply) and fills *rep. */
static int send_raw(const void *msg, size_t len, tr_batch_reply *rep, int timeout_ms)
{
    nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, timeout_ms);
    nng_msg *m, *r;
    memset(rep, 0, sizeof *rep);
    if (nng_msg_alloc(&m, 0) || nng_msg_append(m, msg, len)) return -1;
    if (nng_sendmsg(sock, m, 0) != 0) {
        nng_msg_free(m);
        return -1;
    }
    if (nng_recvmsg(sock, &r, 0) != 0) return -1;
    int rc = tr_batch_reply_parse(nng_msg_body(r), nng_msg_len(r), rep);
    if (rc == 0 && rep->status == TR_BATCH_OK)
        T_CHECK(tr_batch_verify((const uint8_t *)SECRET, strlen(SECRET), nng_msg_body(r),
                                nng_msg_len(r), (const uint8_t *)msg + TR_BATCH_MAC_OFF,
                                TR_BATCH_MAC_LEN));
    nng_msg_free(r);
    return rc ? -1 : rep->status;
}

static long long points_of(char tag)
{
    char id[33], sql[256];
    memset(id, tag, 32);
    id[32] = 0;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM metrics WHERE run_id = '%s'", id);
    return tnet_sql(db, sql);
}

static void test_hostile_messages(void)
{
    tr_batch_reply rep;
    /* a good batch, then the same bytes replayed: acknowledged, de-duplicated */
    size_t len = make('a', 256, 50, 0, SECRET);
    T_EQ_INT(send_raw(buf, len, &rep, 10000), TR_BATCH_OK);
    T_EQ_INT(rep.stored, 50);
    T_EQ_INT(rep.acked_seq, 256 + 64 * 49);
    T_EQ_INT(send_raw(buf, len, &rep, 10000), TR_BATCH_OK);
    T_EQ_INT(rep.stored, 0);
    T_EQ_INT(rep.duplicates, 50);
    T_EQ_INT(points_of('a'), 50);
    /* wrong token, no token: refused, nothing stored */
    len = make('b', 256, 10, 0, "wrong token");
    T_EQ_INT(send_raw(buf, len, &rep, 10000), TR_BATCH_EAUTH);
    len = make('b', 256, 10, 0, NULL);
    T_EQ_INT(send_raw(buf, len, &rep, 10000), TR_BATCH_ENOAUTH);
    T_CHECK(strstr(rep.msg, "token") != NULL);
    /* truncated: the mac fails; truncated and re-macced (an insider bug): corrupt */
    len = make('b', 256, 10, 0, SECRET);
    T_EQ_INT(send_raw(buf, len - 7, &rep, 10000), TR_BATCH_EAUTH);
    memset(buf + TR_BATCH_MAC_OFF, 0, TR_BATCH_MAC_LEN);
    tr_batch_mac((const uint8_t *)SECRET, strlen(SECRET), buf, len - 7, NULL, 0,
                 buf + TR_BATCH_MAC_OFF);
    T_EQ_INT(send_raw(buf, len - 7, &rep, 10000), TR_BATCH_ECORRUPT);
    /* a record body the decoder refuses, properly macced */
    len = make('b', 256, 3, 0, NULL);
    buf[last_rec + TR_REC_HDR_SIZE + 2] = 0x7f; /* the first field's kind */
    tr_put_u16(buf + 6, TR_BATCH_F_MAC);
    tr_batch_mac((const uint8_t *)SECRET, strlen(SECRET), buf, len, NULL, 0,
                 buf + TR_BATCH_MAC_OFF);
    T_EQ_INT(send_raw(buf, len, &rep, 10000), TR_BATCH_ERECORD);
    /* garbage */
    uint8_t junk[1000];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 131 + 7);
    T_EQ_INT(send_raw(junk, sizeof junk, &rep, 10000), TR_BATCH_EPROTO);
    T_EQ_INT(send_raw(junk, 3, &rep, 10000), TR_BATCH_EPROTO);
    /* over the limits (--max-message 262144 --max-records 100): a reason, connection kept */
    len = make('c', 256, 6, 60000, SECRET);
    T_CHECK(len > 262144);
    T_EQ_INT(send_raw(buf, len, &rep, 10000), TR_BATCH_ETOOBIG);
    len = make('c', 256, 150, 0, SECRET);
    T_EQ_INT(send_raw(buf, len, &rep, 10000), TR_BATCH_ETOOMANY);
    len = make('c', 256, 100, 0, SECRET);
    T_EQ_INT(send_raw(buf, len, &rep, 10000), TR_BATCH_OK);
    T_EQ_INT(points_of('c'), 100);
    T_EQ_INT(points_of('b'), 0);
    T_EQ_INT(tnet_log_count(dlog, "info disconnect agent"), 0); /* one connection throughout */
    /* far beyond the limit: nng drops that connection before buffering it (and nng 1.5's
     * dialer may not redial after that: the agent's link starts over; so does this test) */
    len = make('d', 256, 72, 60000, SECRET);
    T_CHECK(len > 4u << 20);
    T_EQ_INT(send_raw(buf, len, &rep, 1500), -1);
    connect_client();
    /* raw TCP garbage, half handshakes, closed connections: the listener keeps accepting */
    for (int i = 0; i < 5; i++) {
        tcp_poke("GET / HTTP/1.0\r\n\r\n", 18);
        tcp_poke("\0SP\0\0\x30\0\0", 8);
        tcp_poke("\0SP\0\0\x10\0\0", 8);
        tcp_poke("\0SP\0\0\x30\0\0\0\0\0\0\xff\xff\xff\xffjunk", 20);
        tcp_poke("", 0);
    }
    len = make('d', 256, 5, 0, SECRET);
    T_EQ_INT(send_raw(buf, len, &rep, 20000), TR_BATCH_OK);
    T_EQ_INT(points_of('d'), 5);
    /* every refusal was logged with its reason */
    const char *reasons[] = {"bad-token",   "no-token", "corrupt", "bad-record",
                             "not-a-batch", "too-big",  "too-many"};
    T_EQ_INT(tnet_log_count(dlog, "rejected message from 127.0.0.1:"), 9);
    for (size_t i = 0; i < sizeof reasons / sizeof *reasons; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, ": %s: ", reasons[i]);
        if (tnet_log_count(dlog, needle) < 1) T_FAIL("no '%s' line in the traild log", reasons[i]);
    }
    /* and the daemon still serves real agents */
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "after", "--collector", url, "--", CLIENT,
                   "metrics", "2000"),
             0);
    T_EQ_INT(tnet_points(db, "after", 1), 2000);
}

/* An agent with the wrong token: refused and logged, CMD's status kept, records kept. */
static void test_wrong_token_agent(void)
{
    char bad[700], *err = NULL;
    snprintf(bad, sizeof bad, "%s/bad.token", sandbox);
    tnet_token(bad, "not the secret", 0600);
    T_EQ_INT(TPROC(NULL, &err, TRAIL, "run", "--name", "intruder", "--collector", url,
                   "--token-file", bad, "--drain-timeout", "1", "--", CLIENT, "metrics", "10",
                   "exit", "4"),
             4);
    T_CHECK(err && strstr(err, "bad-token") && strstr(err, "stays in"));
    free(err);
    T_EQ_INT(tnet_points(db, "intruder", 0), 0);
}

static int openssl_cert(const char *dir, const char *name, const char *cn)
{
    char key[700], crt[700], subj[128];
    snprintf(key, sizeof key, "%s/%s.key", dir, name);
    snprintf(crt, sizeof crt, "%s/%s.crt", dir, name);
    snprintf(subj, sizeof subj, "/CN=%s", cn);
    int st = TPROC(NULL, NULL, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                   "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", subj, "-addext",
                   "subjectAltName=DNS:localhost,DNS:127.0.0.1,IP:127.0.0.1", "-keyout", key,
                   "-out", crt);
    chmod(key, 0600);
    return st;
}

static void test_tls_round_trip(void)
{
    char tdb[700], tlog[700], crt[700], key[700], other[700], turl[64], *err = NULL;
    snprintf(tdb, sizeof tdb, "%s/tls.db", sandbox);
    snprintf(tlog, sizeof tlog, "%s/tls.log", sandbox);
    snprintf(crt, sizeof crt, "%s/server.crt", sandbox);
    snprintf(key, sizeof key, "%s/server.key", sandbox);
    snprintf(other, sizeof other, "%s/other.crt", sandbox);
    T_ASSERT(openssl_cert(sandbox, "server", "localhost") == 0);
    T_ASSERT(openssl_cert(sandbox, "other", "localhost") == 0);
    snprintf(turl, sizeof turl, "tls+tcp://127.0.0.1:%d", tnet_free_port());
    pid_t d =
        TNET_TRAILD(tlog, "--listen", turl, "--store", tdb, "--tls-cert", crt, "--tls-key", key);
    T_ASSERT(d > 0);
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--name", "tls", "--collector", turl, "--tls-ca", crt,
                   "--", CLIENT, "metrics", "5000"),
             0);
    T_EQ_INT(tnet_points(tdb, "tls", 0), 5000);
    T_EQ_INT(tnet_points(tdb, "tls", 1), 5000);
    /* a server certificate the agent does not trust: nothing is sent, records stay */
    T_EQ_INT(TPROC(NULL, &err, TRAIL, "run", "--name", "untrusted", "--collector", turl, "--tls-ca",
                   other, "--drain-timeout", "1", "--", CLIENT, "metrics", "10"),
             0);
    T_CHECK(err && strstr(err, "TLS") && strstr(err, "stays in"));
    free(err);
    T_EQ_INT(tnet_points(tdb, "untrusted", 0), 0);
    /* tls+tcp:// without a CA is a usage error; traild needs its certificate and key */
    T_EQ_INT(TPROC(NULL, NULL, TRAIL, "run", "--collector", turl, "--", "true"), 2);
    T_EQ_INT(
        TPROC(NULL, NULL, (char *)tproc_bin("traild"), "--listen", "tls+tcp://:1", "--store", tdb),
        2);
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
}

/* Remote ingest requires a token: a listener reachable from other hosts without one is
 * refused at start; loopback and ipc:// may run without one. */
static void test_remote_needs_token(void)
{
    char store[600], port[64], *err = NULL;
    snprintf(store, sizeof store, "%s/remote.db", sandbox);
    snprintf(port, sizeof port, "tcp://0.0.0.0:%d", tnet_free_port());
    unsetenv("TRAIL_TOKEN_FILE");
    T_EQ_INT(TPROC(NULL, &err, (char *)tproc_bin("traild"), "--listen", port, "--store", store), 2);
    T_CHECK(err && strstr(err, "requires a token") && strstr(err, port));
    free(err);
}

/* One `trail run --collector` from a UTS namespace named host, with token file tok: its exit. */
/* drain: seconds trail run keeps delivering after CMD (1 for a run traild refuses; a run it
 * takes gets the default, so a loaded machine (ASan) does not leave its points in the spool). */
static int run_as_host(const char *host, const char *tok, const char *name, const char *curl,
                       const char *root, char **err, int drain)
{
    char script[3000];
    snprintf(script, sizeof script,
             "hostname %s && TRAIL_SPOOL_ROOT='%s' exec '%s' run --name %s --collector '%s' "
             "--token-file '%s' --drain-timeout %d -- '%s' metrics 10",
             host, root, TRAIL, name, curl, tok, drain, CLIENT);
    return TPROC(NULL, err, "unshare", "--uts", "sh", "-c", script);
}

/* --agent-tokens: each host proves its name with a secret of its own; a host that names
 * another, or is not listed, is refused; the stream records which token delivered it. */
static void test_agent_tokens(void)
{
    if (geteuid() != 0 || TPROC(NULL, NULL, "unshare", "--uts", "true") != 0)
        T_SKIP("needs root and UTS namespaces (a host name per agent)");
    char a[700], b[700], keys[700], store[700], log[700], curl[64], root[700], line[400];
    snprintf(a, sizeof a, "%s/host-a.token", sandbox);
    snprintf(b, sizeof b, "%s/host-b.token", sandbox);
    snprintf(keys, sizeof keys, "%s/agents", sandbox);
    snprintf(store, sizeof store, "%s/agents.db", sandbox);
    snprintf(log, sizeof log, "%s/agents.log", sandbox);
    snprintf(root, sizeof root, "%s/agents-spool", sandbox);
    snprintf(curl, sizeof curl, "tcp://127.0.0.1:%d", tnet_free_port());
    tnet_token(a, "host-a's own secret 0123456789", 0600);
    tnet_token(b, "host-b's own secret 9876543210", 0600);
    char self[256] = "", c[700], croot[700];
    gethostname(self, sizeof self - 1);
    snprintf(c, sizeof c, "%s/self.token", sandbox);
    snprintf(croot, sizeof croot, "%s/container-spool", sandbox);
    tnet_token(c, "this machine's own secret 555555", 0600);
    /* host names ignore case: the file may spell them otherwise */
    snprintf(line, sizeof line,
             "# host secret\nHOST-A host-a's own secret 0123456789\n\n"
             "host-b\thost-b's own secret 9876543210\n%s this machine's own secret 555555\n",
             self);
    tnet_token(keys, line, 0644);
    char *err = NULL;
    /* the file is a token file: private, or traild does not start */
    T_EQ_INT(TPROC(NULL, &err, (char *)tproc_bin("traild"), "--listen", curl, "--store", store,
                   "--agent-tokens", keys),
             2);
    T_CHECK(err && strstr(err, "readable by others"));
    free(err);
    T_ASSERT(chmod(keys, 0600) == 0);
    unsetenv("TRAIL_TOKEN_FILE"); /* no shared token: only listed hosts */
    pid_t d = TNET_TRAILD(log, "--listen", curl, "--store", store, "--agent-tokens", keys);
    T_ASSERT(d > 0);
    T_EQ_INT(run_as_host("host-a", a, "ra", curl, root, NULL, 30), 0);
    T_EQ_INT(tnet_points(store, "ra", 0), 10);
    T_EQ_INT(tnet_sql(store, "SELECT count(*) FROM streams WHERE agent_host = 'host-a' AND"
                             " length(agent_token) = 16"),
             tnet_sql(store, "SELECT count(*) FROM streams"));
    /* host-b's agent naming itself host-a (and host-a's agent naming itself host-b) */
    err = NULL;
    T_EQ_INT(run_as_host("host-a", b, "forged-a", curl, root, &err, 1), 0); /* CMD ran */
    T_CHECK(err && strstr(err, "stays in"));
    free(err);
    T_EQ_INT(run_as_host("host-b", a, "forged-b", curl, root, NULL, 1), 0);
    T_CHECK(tnet_log_count(log, "not this host's token") >= 2);
    /* a host with no token of its own */
    T_EQ_INT(run_as_host("host-c", a, "unlisted", curl, root, NULL, 1), 0);
    T_CHECK(tnet_log_count(log, "has no token in --agent-tokens") >= 1);
    T_EQ_INT(tnet_sql(store, "SELECT count(*) FROM runs WHERE name IN ('forged-a', 'forged-b',"
                             " 'unlisted')"),
             0);
    /* host-b with its own secret is welcome, and proven host-b */
    T_EQ_INT(run_as_host("host-b", b, "rb", curl, root, NULL, 30), 0);
    T_EQ_INT(tnet_points(store, "rb", 0), 10);
    T_EQ_INT(tnet_sql(store, "SELECT count(DISTINCT agent_token) FROM streams"), 2);
    /* a job in a container of its own (another UTS name) delivered by this machine's agent:
     * the agent names itself, so its own token is the one checked */
    char script[2000];
    snprintf(script, sizeof script,
             "hostname container-x && TRAIL_RUN_NAME=in-container TRAIL_SPOOL_ROOT='%s' exec '%s' "
             "metrics 10",
             croot, CLIENT);
    T_EQ_INT(TPROC(NULL, NULL, "unshare", "--uts", "sh", "-c", script), 0);
    err = NULL;
    T_EQ_INT(TPROC(NULL, &err, TRAIL, "sync", "--collector", curl, "--token-file", c,
                   "--spool-root", croot),
             0);
    if (tnet_points(store, "in-container", 0) != 10) fprintf(stderr, "sync: %s\n", err);
    free(err);
    T_EQ_INT(tnet_points(store, "in-container", 0), 10);
    char q[600];
    snprintf(q, sizeof q,
             "SELECT count(*) FROM runs WHERE name = 'in-container' AND host = 'container-x'"
             " AND agent_host = '%s'",
             self);
    T_EQ_INT(tnet_sql(store, q), 1);
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
    /* one secret for two hosts is refused at start */
    snprintf(line, sizeof line, "host-a same secret for both 01\nhost-b same secret for both 01\n");
    tnet_token(keys, line, 0600);
    err = NULL;
    T_EQ_INT(TPROC(NULL, &err, (char *)tproc_bin("traild"), "--listen", curl, "--store", store,
                   "--agent-tokens", keys),
             2);
    T_CHECK(err && strstr(err, "secret of another host"));
    free(err);
    setenv("TRAIL_TOKEN_FILE", token, 1);
}

int main(void)
{
    sandbox = tproc_sandbox();
    tnet_asan_preload_ok();
    signal(SIGPIPE, SIG_IGN);
    snprintf(token, sizeof token, "%s/token", sandbox);
    snprintf(dlog, sizeof dlog, "%s/traild.log", sandbox);
    snprintf(db, sizeof db, "%s/collector.db", sandbox);
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", tnet_free_port());
    tnet_token(token, SECRET, 0600);
    setenv("TRAIL_TOKEN_FILE", token, 1);
    pid_t d = TNET_TRAILD(dlog, "--listen", url, "--store", db, "--max-message", "262144",
                          "--max-records", "100");
    T_ASSERT(d > 0);
    connect_client();
    T_RUN(test_hostile_messages);
    T_RUN(test_wrong_token_agent);
    /* the client socket is not closed: nng 1.5's nng_close can block for good after the peer
     * dropped connections mid-send (seen here: the test hung in it under load) */
    kill(d, SIGTERM);
    T_EQ_INT(tnet_wait(d), 0);
    T_RUN(test_tls_round_trip);
    T_RUN(test_remote_needs_token);
    T_RUN(test_agent_tokens);
    if (tassert_failures) {
        char *log = tnet_slurp(dlog);
        fprintf(stderr, "--- traild log ---\n%s", log ? log : "");
        free(log);
    }
    return T_DONE();
}
