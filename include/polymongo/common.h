/* polymongo/common.h: version, export macro, error model, owned buffers, handle types. */
#ifndef POLYMONGO_COMMON_H
#define POLYMONGO_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(PM_STATIC)
#define PM_EXTERN
#elif defined(_WIN32)
#define PM_EXTERN __declspec(dllimport)
#else
#define PM_EXTERN __attribute__((visibility("default")))
#endif

/* ---- version -------------------------------------------------------------------------- */
#define PM_VERSION_MAJOR 0
#define PM_VERSION_MINOR 2
#define PM_VERSION_PATCH 0
#define PM_VERSION_STRING "0.2.0"
/* One comparable number: 0xMMmmpp. Bindings compare it with pm_version_num() at start-up. */
#define PM_VERSION_NUM ((PM_VERSION_MAJOR << 16) | (PM_VERSION_MINOR << 8) | PM_VERSION_PATCH)

/* The version of the library actually loaded (may differ from the header's macros). */
PM_EXTERN const char *pm_version(void);
PM_EXTERN int pm_version_num(void);

/* ---- opaque handles --------------------------------------------------------------------- */
typedef struct pm_wrapper pm_wrapper; /* the manager: thread-safe, share one per process   */
typedef struct pm_model pm_model;     /* a collection definition: immutable, thread-safe    */
typedef struct pm_db pm_db;           /* a model bound to one database: immutable, thread-safe */
typedef struct pm_cursor pm_cursor;   /* query results: one thread at a time                 */
typedef struct pm_result pm_result;   /* the outcome of a write: immutable, thread-safe      */

/* ---- errors ----------------------------------------------------------------------------- */
typedef enum pm_code {
  PM_OK = 0,
  PM_EINVAL = -1,     /* an argument or option is invalid; nothing was sent            */
  PM_EDBNAME = -2,    /* a database name breaks MongoDB's rules or is a system database */
  PM_ECONNECT = -3,   /* no server could be reached / the connection broke            */
  PM_ETIMEOUT = -4,   /* a bounded wait ran out (pool checkout, socket, maxTimeMS)    */
  PM_EAUTH = -5,      /* authentication failed; never retried                         */
  PM_EDUPKEY = -6,    /* duplicate key (server codes 11000, 11001, 12582)             */
  PM_ESERVER = -7,    /* any other error from the server; see pm_error.server_code    */
  PM_ECLOSED = -8,    /* the wrapper or handle is closed                              */
  PM_ENOTSUP = -9,    /* the server or build cannot do this                           */
  PM_EINTERNAL = -10, /* a bug or resource exhaustion inside polymongo                 */
  PM_EWRITE = -11     /* some writes of a batch failed; see pm_result_write_error()   */
} pm_code;

#define PM_ERROR_MESSAGE_SIZE 504

/* Fixed size (512 bytes) so that callers can keep one on the stack. */
typedef struct pm_error {
  int32_t code;        /* a pm_code                                               */
  int32_t server_code; /* the server's error code when the server gave one, else 0 */
  char message[PM_ERROR_MESSAGE_SIZE]; /* NUL-terminated, never contains credentials */
} pm_error;

/* A short constant name for a code, e.g. "PM_EDBNAME". */
PM_EXTERN const char *pm_code_name(int code);

/* The error of the last failed call on this thread (a convenience; the out-parameter is the
 * primary channel). Valid until the next polymongo call on this thread. Never NULL. */
PM_EXTERN const pm_error *pm_last_error(void);

/* ---- documents ---------------------------------------------------------------------------- */

/* Pass as a document's length to give Extended JSON text (NUL-terminated) instead of BSON. */
#define PM_JSON ((size_t)-1)

/* An owned BSON document returned by polymongo. Zero-initialise before use; release with
 * pm_buf_free(). data == NULL and len == 0 means "no document". */
typedef struct pm_buf {
  uint8_t *data;
  size_t len;
} pm_buf;

PM_EXTERN void pm_buf_free(pm_buf *buf); /* frees buf->data and zeroes it; NULL-safe */

typedef enum pm_json_mode {
  PM_JSON_RELAXED = 0,  /* readable: numbers as numbers, dates as ISO-8601 when in range */
  PM_JSON_CANONICAL = 1 /* type-exact: every BSON type round-trips                        */
} pm_json_mode;

/* Converts BSON bytes to Extended JSON. Returns a string the caller frees with pm_free(),
 * or NULL when the bytes are not a valid BSON document. */
PM_EXTERN char *pm_bson_to_json(const void *data, size_t len, pm_json_mode mode);

/* Converts Extended JSON (either mode) to BSON bytes in *out. */
PM_EXTERN int pm_json_to_bson(const char *json, pm_buf *out, pm_error *err);

/* Frees a string returned by polymongo. NULL-safe. */
PM_EXTERN void pm_free(void *ptr);

#ifdef __cplusplus
}
#endif

#endif /* POLYMONGO_COMMON_H */
