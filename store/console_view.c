/* console_view.c - what the API's log panel shows: the last lines of a run's kept console. */
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "console.h"
#include "store_int.h"
#include "trail.h"

int tr_store_console_lines_json(tr_store *s, const char *run_id, const char *stream, int lines,
                                cJSON **out)
{
    if (!s || !run_id || !stream || !out || lines < 1) return TRAIL_EINVAL;
    *out = NULL;
    char *text = NULL;
    size_t n = 0;
    int cut = 0, oom = 0;
    int rc = tr_store_console_tail(s, run_id, stream, TR_CONSOLE_API_BYTES, &text, &n, &cut);
    if (rc) return rc;
    /* the last `lines` lines: count newlines back from the end (a final newline ends a line) */
    size_t start, seen = 0;
    size_t end = n && text[n - 1] == '\n' ? n - 1 : n;
    start = end;
    while (start > 0) {
        if (text[start - 1] == '\n' && ++seen == (size_t)lines) break;
        start--;
    }
    if (start > 0) cut = 1;
    cJSON *doc = cJSON_CreateObject();
    tr_json_add(doc, "run", cJSON_CreateString(run_id), &oom);
    tr_json_add(doc, "stream", cJSON_CreateString(stream), &oom);
    tr_json_add(doc, "text", cJSON_CreateString(text ? text + start : ""), &oom);
    tr_json_add(doc, "cut", cJSON_CreateBool(cut), &oom);
    free(text);
    if (oom) {
        cJSON_Delete(doc);
        return tr_store_fail(s, TRAIL_ENOMEM, "out of memory");
    }
    *out = doc;
    return 0;
}
