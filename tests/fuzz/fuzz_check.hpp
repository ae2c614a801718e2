// CHECK for the fuzz targets: a property that does not hold aborts the run, naming itself, so
// that libFuzzer records the input (assert would vanish under NDEBUG).
#pragma once

#include <cstdio>
#include <cstdlib>

#define CHECK(cond)                                                                           \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);           \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)
