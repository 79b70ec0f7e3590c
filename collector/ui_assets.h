/* ui_assets.h - the web page's files (collector/ui/), compiled in by collector/ui/embed.cmake. */
#ifndef TR_UI_ASSETS_H
#define TR_UI_ASSETS_H

#include <stddef.h>

typedef struct tr_ui_asset {
    const char *path; /* relative to collector/ui: "index.html", "app.js" */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
} tr_ui_asset;

extern const tr_ui_asset tr_ui_assets[];
extern const size_t tr_ui_nassets;

#endif
