/* A plain C consumer of the installed library: writes to two databases, reads back. */
#include <polymongo.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  char options[1024];
  snprintf(options, sizeof options, "{\"mongoURI\": \"%s\", \"maxPoolSize\": 2}", argv[1]);
  pm_error err;
  pm_wrapper *w = NULL;
  if (pm_wrapper_new(options, &w, &err) != PM_OK) {
    fprintf(stderr, "pm_wrapper_new: %s\n", err.message);
    return 1;
  }
  pm_model *m = NULL;
  pm_model_new(w, "consumer", NULL, 0, &m, &err);
  int64_t total = 0;
  for (int i = 0; i < 2; i++) {
    pm_db *db = NULL;
    const char *name = i == 0 ? "consumer_a" : "consumer_b";
    if (pm_model_db(m, name, &db, &err) != PM_OK) return 1;
    pm_db_delete_many(db, NULL, 0, NULL, 0, NULL, &err);
    if (pm_db_insert_one(db, "{\"from\": \"c\"}", PM_JSON, NULL, 0, NULL, &err) != PM_OK) {
      fprintf(stderr, "insert: %s\n", err.message);
      return 1;
    }
    int64_t n = 0;
    pm_db_count(db, "{\"from\": \"c\"}", PM_JSON, NULL, 0, &n, &err);
    total += n;
    pm_db_free(db);
  }
  pm_model_free(m);
  pm_wrapper_free(w);
  printf("polymongo %s: %lld documents in 2 databases\n", pm_version(), (long long)total);
  return total == 2 && strcmp(pm_version(), PM_VERSION_STRING) == 0 ? 0 : 1;
}
