/* Monotonic time and sleeping, for backoff and polling in the Lua layer. */
#ifndef VOUCHERIFY_CLOCK_H
#define VOUCHERIFY_CLOCK_H

#include "compat.h"

/* Adds monotime and sleep to the table on top of the stack. */
void clock_register(lua_State *L);

#endif
