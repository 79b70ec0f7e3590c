/* prefetch_sql.h - the look-ups a batch's FILE records make, asked for many keys at once
 * (ingest_prefetch.c): one round trip for what would take one per record on a server store. */
#ifndef TR_PREFETCH_SQL_H
#define TR_PREFETCH_SQL_H

/* Keys per artifact look-up, fingerprints per version look-up: the parameters unused in the
 * last statement of a batch are NULL (a comparison with NULL matches nothing). */
#define TR_PF_ARTIFACTS 64
#define TR_PF_VERSIONS 32

/* Artifact ids of up to TR_PF_ARTIFACTS paths (columns: id, path). */
#define TR_SQL_PF_ARTIFACTS                                                                        \
    "SELECT id, path FROM artifacts WHERE path IN (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "           \
    "?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, "        \
    "?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35, ?36, ?37, ?38, ?39, ?40, ?41, ?42, ?43, "        \
    "?44, ?45, ?46, ?47, ?48, ?49, ?50, ?51, ?52, ?53, ?54, ?55, ?56, ?57, ?58, ?59, ?60, "        \
    "?61, ?62, ?63, ?64)"

/* The first version (LN_VERSION_FIND's) of each of up to TR_PF_VERSIONS (artifact, ino, size,
 * mtime_ns): parameters 4k+1 .. 4k+4 (columns: id, artifact_id, ino, size, mtime_ns). */
#define TR_SQL_PF_VERSIONS                                                                         \
    "SELECT min(id), artifact_id, ino, size, mtime_ns FROM artifact_versions WHERE "               \
    "(artifact_id = ?1 AND ino = ?2 AND size = ?3 AND mtime_ns = ?4) OR (artifact_id = ?5 "        \
    "AND ino = ?6 AND size = ?7 AND mtime_ns = ?8) OR (artifact_id = ?9 AND ino = ?10 AND "        \
    "size = ?11 AND mtime_ns = ?12) OR (artifact_id = ?13 AND ino = ?14 AND size = ?15 "           \
    "AND mtime_ns = ?16) OR (artifact_id = ?17 AND ino = ?18 AND size = ?19 AND mtime_ns "         \
    "= ?20) OR (artifact_id = ?21 AND ino = ?22 AND size = ?23 AND mtime_ns = ?24) OR "            \
    "(artifact_id = ?25 AND ino = ?26 AND size = ?27 AND mtime_ns = ?28) OR (artifact_id "         \
    "= ?29 AND ino = ?30 AND size = ?31 AND mtime_ns = ?32) OR (artifact_id = ?33 AND ino "        \
    "= ?34 AND size = ?35 AND mtime_ns = ?36) OR (artifact_id = ?37 AND ino = ?38 AND "            \
    "size = ?39 AND mtime_ns = ?40) OR (artifact_id = ?41 AND ino = ?42 AND size = ?43 "           \
    "AND mtime_ns = ?44) OR (artifact_id = ?45 AND ino = ?46 AND size = ?47 AND mtime_ns "         \
    "= ?48) OR (artifact_id = ?49 AND ino = ?50 AND size = ?51 AND mtime_ns = ?52) OR "            \
    "(artifact_id = ?53 AND ino = ?54 AND size = ?55 AND mtime_ns = ?56) OR (artifact_id "         \
    "= ?57 AND ino = ?58 AND size = ?59 AND mtime_ns = ?60) OR (artifact_id = ?61 AND ino "        \
    "= ?62 AND size = ?63 AND mtime_ns = ?64) OR (artifact_id = ?65 AND ino = ?66 AND "            \
    "size = ?67 AND mtime_ns = ?68) OR (artifact_id = ?69 AND ino = ?70 AND size = ?71 "           \
    "AND mtime_ns = ?72) OR (artifact_id = ?73 AND ino = ?74 AND size = ?75 AND mtime_ns "         \
    "= ?76) OR (artifact_id = ?77 AND ino = ?78 AND size = ?79 AND mtime_ns = ?80) OR "            \
    "(artifact_id = ?81 AND ino = ?82 AND size = ?83 AND mtime_ns = ?84) OR (artifact_id "         \
    "= ?85 AND ino = ?86 AND size = ?87 AND mtime_ns = ?88) OR (artifact_id = ?89 AND ino "        \
    "= ?90 AND size = ?91 AND mtime_ns = ?92) OR (artifact_id = ?93 AND ino = ?94 AND "            \
    "size = ?95 AND mtime_ns = ?96) OR (artifact_id = ?97 AND ino = ?98 AND size = ?99 "           \
    "AND mtime_ns = ?100) OR (artifact_id = ?101 AND ino = ?102 AND size = ?103 AND "              \
    "mtime_ns = ?104) OR (artifact_id = ?105 AND ino = ?106 AND size = ?107 AND mtime_ns "         \
    "= ?108) OR (artifact_id = ?109 AND ino = ?110 AND size = ?111 AND mtime_ns = ?112) "          \
    "OR (artifact_id = ?113 AND ino = ?114 AND size = ?115 AND mtime_ns = ?116) OR "               \
    "(artifact_id = ?117 AND ino = ?118 AND size = ?119 AND mtime_ns = ?120) OR "                  \
    "(artifact_id = ?121 AND ino = ?122 AND size = ?123 AND mtime_ns = ?124) OR "                  \
    "(artifact_id = ?125 AND ino = ?126 AND size = ?127 AND mtime_ns = ?128) GROUP BY "            \
    "artifact_id, ino, size, mtime_ns"

#define TR_PREFETCH_STMTS(X)                                                                       \
    X(PF_ARTIFACTS, TR_SQL_PF_ARTIFACTS)                                                           \
    X(PF_VERSIONS, TR_SQL_PF_VERSIONS)

enum tr_pf_artifact_col { TR_COL_PFA_ID, TR_COL_PFA_PATH };
enum tr_pf_version_col {
    TR_COL_PFV_ID,
    TR_COL_PFV_ARTIFACT,
    TR_COL_PFV_INO,
    TR_COL_PFV_SIZE,
    TR_COL_PFV_MTIME_NS
};

#endif
