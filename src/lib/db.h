/* SPDX-License-Identifier: Apache-2.0 */
/* The state database ($MSB_HOME/db/msb.db): open and migrate. */
#ifndef MSB_LIB_DB_H
#define MSB_LIB_DB_H

#include <sqlite3.h>

#include "lib/internal.h"

/* Open (creating folders and schema as needed). Close with
 * msb__db_close(). Return 0 or -MSB_E*. */
int msb__db_open(sqlite3 **out, const char *home);
void msb__db_close(sqlite3 *db);

#endif
