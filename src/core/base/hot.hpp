// PM_HOT marks the functions on every operation's path. GCC optimises them harder and places
// them together (.text.hot): an operation finds its caches cold after waiting for the server,
// and its code then costs a miss per cache line and page it spans. Spread over the library, the
// path touched some twenty-five pages of code; grouped, a few.
#pragma once

#if defined(__GNUC__)
#define PM_HOT __attribute__((hot))
#else
#define PM_HOT
#endif
