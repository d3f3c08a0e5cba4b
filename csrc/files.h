/* File system primitives Lua lacks: what kind of file a path names, exclusive
 * creation, writing an existing file without following a symlink, random bytes. */
#ifndef VOUCHERIFY_FILES_H
#define VOUCHERIFY_FILES_H

#include "compat.h"

/* Adds file_kind, create_exclusive, write_existing and random_hex to the table on top of the stack. */
void files_register(lua_State *L);

#endif
