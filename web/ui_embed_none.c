/* ui_embed_none.c — the embedded dashboard when the build had no node or no
 * web/ui/node_modules (scripts/deps installs both): no assets, so `GET /`
 * answers 404 saying how to get the dashboard. */
#include "web/api_ui.h"

const web_ui_asset web__ui_assets[] = {{0}};
const size_t web__ui_nassets = 0;
