/* liveness.c - is a run's launcher (or its process tree) alive on this host; settling runs:
 * in the store directly, or by a RUN_SETTLE record any sink (a collector too) applies. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "agent.h"
#include "deliver.h"
#include "launcher.h"
#include "record.h"
#include "settle.h"
#include "spool.h"
#include "trail.h"
#include "util.h"

/* A process writes the run's spool directory still. */
static int spool_live(const char *root, const char *run)
{
    char dir[4200];
    tr_spool_reader *r = NULL;
    if (!root || tr_path_join(dir, sizeof dir, root, run) != 0) return 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    closedir(d);
    if (tr_spool_reader_open(dir, &r) != 0) return 1; /* cannot tell: alive */
    int live = tr_spool_reader_pending(r) > 0 && tr_spool_reader_live_writers(r) > 0;
    tr_spool_reader_close(r);
    return live;
}

/* tr_settle_alive_fn: ctx is the spool root. Another boot means everything of it is gone. */
static int alive(void *ctx, const tr_settle_run *run)
{
    char boot[64];
    if (tr_boot_id(boot, sizeof boot) != 0) return -1;
    if (run->boot_id[0] && strcmp(run->boot_id, boot)) return 0;
    if (!run->boot_id[0] || run->launcher_start < 0) return -1; /* no way to tell */
    if (tr_same_process(run->launcher_pid, run->launcher_start)) return 1;
    if (tr_same_process(run->pid, run->root_start)) return 1;
    return spool_live(ctx, run->id);
}

int tr_agent_settle(tr_store *st, const char *spool_root)
{
    char host[256], root[4096];
    if (!st) return 0;
    if (!spool_root) {
        tr_spool_root(root, sizeof root);
        spool_root = root;
    }
    tr_hostname(host, sizeof host);
    return tr_store_settle(st, host, alive, (void *)spool_root);
}

int tr_agent_settle_dir(tr_deliver *d, int64_t deadline_ns)
{
    tr_launcher l;
    if (!d->enrich || tr_deliver_pending(d) > 0 || tr_deliver_live_writers(d) > 0) return 0;
    if (tr_launcher_read(d->dir, &l) != 0) return 0; /* ended normally, or not ours to judge */
    int live = tr_launcher_alive(&l);
    if (live) return TRAIL_EBUSY; /* alive, or no way to tell yet: the note and directory stay */
    /* a store sink settles by itself after delivery (tr_agent_settle): no record needed */
    if (tr_sink_store(d->sink)) return 1;
    const char *run = tr_deliver_run(d);
    if (!run) return 0;
    uint8_t buf[512];
    tr_enc e;
    tr_enc_init(&e, buf, sizeof buf, TR_REC_RUN_SETTLE, tr_now_ns());
    tr_enc_str(&e, TR_F_RUN_ID, run);
    tr_enc_str(&e, TR_F_SOURCE, "agent");
    tr_enc_str(&e, TR_F_NOTE, "launcher and root process gone");
    /* not delivered: the note stays, so the next delivery tries again */
    if (tr_enrich_emit(d->enrich, run, &e) != 0 || tr_enrich_flush(d->enrich, d->sink, 1) < 0)
        return TRAIL_EBUSY;
    if (tr_deliver_drain(d, deadline_ns, NULL) != 0 || tr_deliver_pending(d) > 0)
        return TRAIL_EBUSY;
    char note[4300];
    if (tr_path_join(note, sizeof note, d->dir, TR_LAUNCHER_FILE) == 0) unlink(note);
    return 1;
}
