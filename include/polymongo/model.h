/**
 * @file polymongo/model.h
 * Collection definitions and their binding to databases.
 */
#ifndef POLYMONGO_MODEL_H
#define POLYMONGO_MODEL_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Defines a collection. `opts` may hold:
 *  - `validator`: a document such as {"$jsonSchema": {...}};
 *  - `validationLevel`: "off" | "strict" | "moderate";
 *  - `validationAction`: "error" | "warn";
 *  - `indexes`: an array of index specifications: {key: {...}, name?, unique?, ...}.
 *
 * The validator and indexes are applied once per database, on the first operation there.
 * No I/O happens here.
 * @param wrapper The wrapper; the model keeps it alive.
 * @param collection The collection name (NUL-terminated, valid UTF-8).
 * @param opts The options, a document (see @ref pm_documents), or NULL.
 * @param opts_len The length of `opts` (or #PM_JSON).
 * @param out Receives the new model, owned by the caller: release it with pm_model_free().
 * @param err Receives the error, or NULL (see @ref pm_errors).
 * @return #PM_OK; #PM_EINVAL for an invalid collection name or options; #PM_ECLOSED when the
 *         wrapper is closed.
 * @par Thread-safety
 * Thread-safe. The model is immutable: share it freely.
 */
PM_EXTERN int pm_model_new(pm_wrapper *wrapper, const char *collection, const void *opts,
                           size_t opts_len, pm_model **out, pm_error *err);

/**
 * Releases the caller's reference to a model; dbs bound from it keep it alive.
 * @param model The model, or NULL (nothing happens).
 * @par Thread-safety
 * Thread-safe, once no other thread uses this pointer.
 */
PM_EXTERN void pm_model_free(pm_model *model); /* NULL-safe */

/**
 * The collection name.
 * @param model The model.
 * @return The name (NULL when `model` is NULL). Borrowed: valid while the model lives.
 * @par Thread-safety
 * Thread-safe.
 */
PM_EXTERN const char *pm_model_collection(const pm_model *model);

/**
 * Binds the model to a database (PolyMongo's Model.db(name)). Validates the name and does no
 * I/O and opens no socket, so switching databases is cheap.
 * @param model The model; the db keeps it (and so the wrapper) alive.
 * @param db_name The database name, or NULL or "" for the wrapper's default database (a db
 *        bound so refuses destructive calls: see pm_db_drop_collection()).
 * @param out Receives the new db, owned by the caller: release it with pm_db_free().
 * @param err Receives the error, or NULL (see @ref pm_errors).
 * @return #PM_OK; #PM_EDBNAME for an invalid name, a system database without
 *         allowSystemDatabases, or NULL/"" without a default database; #PM_ECLOSED when the
 *         wrapper is closed.
 * @par Thread-safety
 * Thread-safe. The db is immutable: share it freely.
 */
PM_EXTERN int pm_model_db(pm_model *model, const char *db_name, pm_db **out, pm_error *err);

#ifdef __cplusplus
}
#endif

#endif /* POLYMONGO_MODEL_H */
