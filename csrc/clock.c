/* Time for the Lua layer: a monotonic clock and a sleep (retry backoff, polling). */
#include <errno.h>
#include <math.h>
#include <time.h>

#include "clock.h"

static int clock_monotime(lua_State *L)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return luaL_error(L, "voucherify.core: clock_gettime failed");
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

static int clock_sleep(lua_State *L)
{
    lua_Number secs = luaL_checknumber(L, 1);
    struct timespec ts;
    if (!(secs > 0))
        return 0;
    if (secs > 86400)
        secs = 86400;
    ts.tv_sec = (time_t)secs;
    ts.tv_nsec = (long)((secs - (lua_Number)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    return 0;
}

void clock_register(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"monotime", clock_monotime},
        {"sleep", clock_sleep},
        {NULL, NULL},
    };
    luaL_setfuncs(L, fns, 0);
}
