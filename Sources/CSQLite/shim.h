#ifndef FEDSHARE_CSQLITE_SHIM_H
#define FEDSHARE_CSQLITE_SHIM_H

#include <sqlite3.h>

/* sqlite3_config is variadic, which Swift cannot call; the one setting we use is republished
   here. Turning SQLite's memory statistics off removes the global lock it otherwise takes on
   every allocation, which makes two connections working at once take turns. Like every
   sqlite3_config call it must come before SQLite is first used (it returns SQLITE_MISUSE after)
   and while no other thread uses SQLite. */
static inline int fs_sqlite3_disable_memory_statistics(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

#endif
