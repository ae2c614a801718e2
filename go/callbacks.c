// C trampolines: C function pointers that forward to the //export'ed Go functions of
// callbacks.go. Every callback the C API takes gets one here.
#include <stdint.h>

#include "_cgo_export.h"

// free_user_data of every registration: deletes the cgo.Handle.
void polymongo_go_free_user_data(void *user_data) { polymongoGoFreeUserData(user_data); }

// pm_event_fn of pm_wrapper_subscribe; runs on the wrapper's dispatcher thread.
void polymongo_go_event(const pm_event *event, void *user_data) {
  polymongoGoEvent((pm_event *)event, user_data);
}

// pm_transaction_fn of pm_session_with_transaction; runs on the thread that called it.
int polymongo_go_transaction(pm_session *session, void *user_data) {
  (void)session;
  return polymongoGoTransaction(user_data);
}

// pm_write_fn / pm_read_fn / pm_progress_fn of export and import; run on the calling thread.
int polymongo_go_write(const char *line, size_t len, void *user_data) {
  return polymongoGoWrite((char *)line, len, user_data);
}
long polymongo_go_read(char *buf, size_t cap, void *user_data) { return polymongoGoRead(buf, cap, user_data); }
void polymongo_go_progress(uint64_t documents, uint64_t bytes, void *user_data) {
  polymongoGoProgress(documents, bytes, user_data);
}

// pm_placement_fn of pm_wrapper_set_placement; runs on the thread of the placing operation.
int polymongo_go_placement(const char *db, const char *clusters_json, char *cluster, size_t cap, void *user_data) {
  return polymongoGoPlacement((char *)db, (char *)clusters_json, cluster, cap, user_data);
}

// The self-test callback: calls the Go func stored in the handle.
int polymongo_go_probe(void *user_data, int value) { return polymongoGoProbe(user_data, value); }

// Plays the part of the C library: calls the callback through a function pointer, then
// releases the user data through the free function, as a registration's end would.
int polymongo_go_call_probe(uintptr_t handle, int value) {
  int (*callback)(void *, int) = polymongo_go_probe;
  void (*free_user_data)(void *) = polymongo_go_free_user_data;
  void *user_data = (void *)handle;
  int out = callback(user_data, value);
  free_user_data(user_data);
  return out;
}
