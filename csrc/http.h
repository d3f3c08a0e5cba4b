/* HTTP transport over libcurl: one easy handle per userdata, set up once for the
 * client's settings and reused across requests (start, wait, collect; perform). */
#ifndef VOUCHERIFY_HTTP_H
#define VOUCHERIFY_HTTP_H

#include "compat.h"

/* Adds http_new and curl_version to the table on top of the stack. */
void http_register(lua_State *L);

#endif
