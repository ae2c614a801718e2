/* polymongo/model.h: collection definitions and their binding to databases. */
#ifndef POLYMONGO_MODEL_H
#define POLYMONGO_MODEL_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Defines a collection. `opts` (a document, or NULL) may hold:
 *   validator         a document such as {"$jsonSchema": {...}}
 *   validationLevel   "off" | "strict" | "moderate"
 *   validationAction  "error" | "warn"
 *   indexes           an array of index specifications: {key: {...}, name?, unique?, ...}
 * The validator and indexes are applied once per database, on the first operation there.
 * The model keeps the wrapper alive. Thread-safety: immutable, share freely. */
PM_EXTERN int pm_model_new(pm_wrapper *wrapper, const char *collection, const void *opts,
                           size_t opts_len, pm_model **out, pm_error *err);

PM_EXTERN void pm_model_free(pm_model *model); /* NULL-safe */

/* The collection name. Borrowed: valid while the model lives. */
PM_EXTERN const char *pm_model_collection(const pm_model *model);

/* Binds the model to a database (PolyMongo's Model.db(name)); NULL or "" means the wrapper's
 * default database (a db bound so refuses destructive calls: see pm_db_drop_collection). Validates the name and does no I/O and opens no socket, so switching
 * databases is cheap. The db keeps the model (and so the wrapper) alive. */
PM_EXTERN int pm_model_db(pm_model *model, const char *db_name, pm_db **out, pm_error *err);

#ifdef __cplusplus
}
#endif

#endif /* POLYMONGO_MODEL_H */
