/* error.c - the one place TRAIL_E* codes become text and names: generated from TRAIL_ERRNO_MAP. */
#include "trail.h"

/* Each public TRAIL_E* macro has the value the map gives it. */
#define TR_ERR_CHECK(name, value, text)                                                            \
    _Static_assert(TRAIL_E##name == (value), "TRAIL_E" #name " differs from TRAIL_ERRNO_MAP");
TRAIL_ERRNO_MAP(TR_ERR_CHECK)
#undef TR_ERR_CHECK

static const struct {
    int code;
    const char *name, *text;
} errs[] = {{TRAIL_OK, "TRAIL_OK", "success"},
#define TR_ERR_ROW(name, value, text) {value, "TRAIL_E" #name, text},
            TRAIL_ERRNO_MAP(TR_ERR_ROW)
#undef TR_ERR_ROW
};

static int find(int err)
{
    for (int i = 0; i < (int)(sizeof errs / sizeof errs[0]); i++)
        if (errs[i].code == err) return i;
    return -1;
}

TRAIL_API const char *trail_strerror(int err)
{
    int i = find(err);
    return i < 0 ? "unknown error" : errs[i].text;
}

TRAIL_API const char *trail_err_name(int err)
{
    int i = find(err);
    return i < 0 ? "unknown error" : errs[i].name;
}
