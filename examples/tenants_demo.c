/* The polymongo demo: 500 tenant databases through one model over one small shared pool.
 *
 *   tenants_demo MONGODB_URI [TENANTS]
 *
 * Writes an order into each tenant's database, reads it back, and prints how many server
 * sockets this process used (counted from /proc), which stays at maxPoolSize plus monitoring
 * however many databases are served. */
#define _GNU_SOURCE
#include <polymongo.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Established TCP sockets of this process whose remote port is `port`. */
static int count_sockets(int port) {
  char inodes[4096][16];
  int n_inodes = 0;
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  while (d && (e = readdir(d)) && n_inodes < 4096) {
    char path[512], target[64];
    snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
    ssize_t len = readlink(path, target, sizeof target - 1);
    if (len <= 0) continue;
    target[len] = 0;
    if (sscanf(target, "socket:[%15[0-9]]", inodes[n_inodes]) == 1) n_inodes++;
  }
  if (d) closedir(d);
  int count = 0;
  const char *tables[] = {"/proc/self/net/tcp", "/proc/self/net/tcp6"};
  for (int t = 0; t < 2; t++) {
    FILE *f = fopen(tables[t], "r");
    char line[512];
    if (!f) continue;
    if (!fgets(line, sizeof line, f)) { fclose(f); continue; }
    while (fgets(line, sizeof line, f)) {
      char local[64], remote[64], state[8], inode[32];
      if (sscanf(line, "%*s %63s %63s %7s %*s %*s %*s %*s %*s %31s", local, remote, state, inode) != 4) continue;
      char *colon = strrchr(remote, ':');
      if (strcmp(state, "01") != 0 || !colon || (int)strtol(colon + 1, NULL, 16) != port) continue;
      for (int i = 0; i < n_inodes; i++)
        if (strcmp(inodes[i], inode) == 0) count++;
    }
    fclose(f);
  }
  return count;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MONGODB_URI [TENANTS]\n", argv[0]);
    return 2;
  }
  int tenants = argc > 2 ? atoi(argv[2]) : 500;
  const char *uri = argv[1];
  const char *port_at = strrchr(uri, ':');
  int port = port_at ? atoi(port_at + 1) : 27017;

  char options[2048];
  snprintf(options, sizeof options,
           "{\"mongoURI\": \"%s\", \"defaultDB\": \"demo_default\", \"maxPoolSize\": 5}", uri);
  pm_error err;
  pm_wrapper *w = NULL;
  if (pm_wrapper_new(options, &w, &err) != PM_OK) {
    fprintf(stderr, "pm_wrapper_new: %s (%s)\n", err.message, pm_code_name(err.code));
    return 1;
  }
  pm_model *orders = NULL;
  if (pm_model_new(w, "orders", "{\"indexes\": [{\"key\": {\"tenant\": 1}}]}", PM_JSON, &orders, &err) != PM_OK) {
    fprintf(stderr, "pm_model_new: %s\n", err.message);
    return 1;
  }

  printf("polymongo %s: serving %d tenant databases through one model\n", pm_version(), tenants);
  int peak = 0, ok = 0;
  double start = now_ms();
  for (int i = 0; i < tenants; i++) {
    char name[64], doc[256];
    snprintf(name, sizeof name, "demo_tenant_%03d", i);
    pm_db *db = NULL;
    if (pm_model_db(orders, name, &db, &err) != PM_OK) {
      fprintf(stderr, "%s: %s\n", name, err.message);
      return 1;
    }
    pm_db_delete_many(db, NULL, 0, NULL, 0, NULL, &err);
    snprintf(doc, sizeof doc, "{\"tenant\": \"%s\", \"item\": \"widget\", \"qty\": %d}", name, i % 7 + 1);
    pm_buf back = {0};
    if (pm_db_insert_one(db, doc, PM_JSON, NULL, 0, NULL, &err) == PM_OK &&
        pm_db_find_one(db, "{\"item\": \"widget\"}", PM_JSON, NULL, 0, &back, &err) == PM_OK &&
        back.data != NULL) {
      char *json = pm_bson_to_json(back.data, back.len, PM_JSON_RELAXED);
      if (json && strstr(json, name)) ok++;
      if (i % 100 == 0) printf("  %s -> %s\n", name, json);
      pm_free(json);
    } else {
      fprintf(stderr, "%s: %s\n", name, err.message);
    }
    pm_buf_free(&back);
    pm_db_free(db);
    int s = count_sockets(port);
    if (s > peak) peak = s;
  }
  double elapsed = now_ms() - start;
  printf("tenants written and read back: %d of %d in %.0f ms\n", ok, tenants, elapsed);
  printf("server sockets that served them: %d now, %d at peak (maxPoolSize 5 + monitoring)\n",
         count_sockets(port), peak);
  char *text = NULL;
  if (pm_wrapper_usage(w, 3, &text, &err) == PM_OK) printf("top 3 databases: %s\n", text);
  pm_free(text);
  if (pm_wrapper_stats(w, &text, &err) == PM_OK) printf("statistics: %.600s...\n", text);
  pm_free(text);
  if (pm_wrapper_db_stats(w, "demo_tenant_000", &text, &err) == PM_OK) printf("demo_tenant_000: %.400s...\n", text);
  pm_free(text);
  pm_model_free(orders);
  pm_wrapper_free(w);
  return ok == tenants ? 0 : 1;
}
