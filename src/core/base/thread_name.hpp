// Names the library's own threads ("pm-..."), so that top, gdb and perf show whose they are.
#pragma once

#include <pthread.h>

namespace pm::core {

// Linux allows 15 characters; a longer name is left unset rather than cut.
inline void name_this_thread(const char *name) { pthread_setname_np(pthread_self(), name); }

}  // namespace pm::core
