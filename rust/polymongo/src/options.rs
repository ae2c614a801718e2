//! Options: the wrapper's JSON options ([`Options`]) and the per-operation option documents.
//!
//! Every struct serialises with serde to the exact document the C API takes (camelCase keys,
//! unset fields omitted), has builder-style setters named like its fields, and an `extra`
//! document for any option the C API accepts that has no field here (it is passed through
//! unchanged, so a new server or library option never waits for the binding).
use bson::{Bson, Document};
use serde::Serialize;

/// Declares an options struct: every field optional, camelCase, with a setter per field.
macro_rules! options {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
            /// Options with no field of their own, passed through unchanged.
            #[serde(flatten)]
            pub extra: Document,
        }

        impl $name {
            $(
                #[doc = concat!("Sets `", stringify!($field), "`.")]
                pub fn $field(mut self, value: impl Into<$ty>) -> Self {
                    self.$field = Some(value.into());
                    self
                }
            )*

            /// Sets any other option by name (e.g. one newer than this binding).
            pub fn option(mut self, key: impl Into<String>, value: impl Into<Bson>) -> Self {
                self.extra.insert(key.into(), value.into());
                self
            }
        }
    };
}

options! {
    /// Options of `insert_one` / `insert_many`.
    pub struct InsertOptions {
        /// insert_many: stop at the first failure (default true) or try every document.
        ordered: bool,
        bypass_document_validation: bool,
        write_concern: Document,
        comment: Bson,
    }
}

options! {
    /// Options of `update_one`, `update_many` and `replace_one`.
    pub struct UpdateOptions {
        /// Insert a document when none matches.
        upsert: bool,
        array_filters: Vec<Document>,
        collation: Document,
        /// An index name or key pattern.
        hint: Bson,
        bypass_document_validation: bool,
        write_concern: Document,
        comment: Bson,
    }
}

options! {
    /// Options of `delete_one` / `delete_many`.
    pub struct DeleteOptions {
        collation: Document,
        hint: Bson,
        write_concern: Document,
        comment: Bson,
    }
}

options! {
    /// Options of `find` / `find_one`.
    pub struct FindOptions {
        projection: Document,
        sort: Document,
        skip: i64,
        limit: i64,
        batch_size: i32,
        hint: Bson,
        collation: Document,
        #[serde(rename = "maxTimeMS")]
        max_time_ms: i64,
        comment: Bson,
    }
}

options! {
    /// Options of the change streams ([`crate::Db::watch`], [`crate::PolyMongo::watch_database`],
    /// [`crate::PolyMongo::watch_cluster`]).
    pub struct ChangeStreamOptions {
        /// "default", "updateLookup", "whenAvailable" or "required".
        full_document: String,
        /// "off", "whenAvailable" or "required".
        full_document_before_change: String,
        /// A token from [`crate::ChangeStream::resume_token`]: the events after it.
        resume_after: Document,
        /// Like `resume_after`, but also after an invalidate event.
        start_after: Document,
        start_at_operation_time: bson::Timestamp,
        /// How long one server round trip waits (default 200 ms).
        #[serde(rename = "maxAwaitTimeMS")]
        max_await_time_ms: i64,
        batch_size: i32,
    }
}

options! {
    /// Options of `import`, `import_file`, `import_document` and `copy_database`.
    pub struct ImportOptions {
        /// Documents per unordered insert batch (default 1000).
        batch_size: u32,
        /// Stop at the first refused document (default false: count it and go on).
        stop_on_error: bool,
    }
}

/// Which document `find_one_and_update` / `find_one_and_replace` return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReturnDocument {
    /// The document as it was before the change (the default).
    Before,
    /// The document after the change.
    After,
}

options! {
    /// Options of the `find_one_and_*` family.
    pub struct FindOneAndModifyOptions {
        sort: Document,
        projection: Document,
        upsert: bool,
        return_document: ReturnDocument,
        array_filters: Vec<Document>,
        collation: Document,
        hint: Bson,
        #[serde(rename = "maxTimeMS")]
        max_time_ms: i64,
        write_concern: Document,
    }
}

options! {
    /// Options of `count_documents`.
    pub struct CountOptions {
        skip: i64,
        limit: i64,
        hint: Bson,
        collation: Document,
        #[serde(rename = "maxTimeMS")]
        max_time_ms: i64,
    }
}

options! {
    /// Options of `estimated_document_count` and `distinct`.
    pub struct ReadOptions {
        collation: Document,
        #[serde(rename = "maxTimeMS")]
        max_time_ms: i64,
        comment: Bson,
    }
}

options! {
    /// Options of `aggregate`.
    pub struct AggregateOptions {
        allow_disk_use: bool,
        batch_size: i32,
        #[serde(rename = "maxTimeMS")]
        max_time_ms: i64,
        collation: Document,
        hint: Bson,
        comment: Bson,
        #[serde(rename = "let")]
        let_vars: Document,
    }
}

options! {
    /// Options of `bulk_write`.
    pub struct BulkWriteOptions {
        /// Stop at the first failed operation (default true) or run them all.
        ordered: bool,
        bypass_document_validation: bool,
        write_concern: Document,
    }
}

/// Where a transaction's reads go (`readPreference`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ReadPreference {
    Primary,
    PrimaryPreferred,
    Secondary,
    SecondaryPreferred,
    Nearest,
}

options! {
    /// Options of one native transaction ([`crate::Session::start_transaction`],
    /// [`crate::Session::with_transaction_options`]); unset fields take the session's defaults
    /// ([`SessionOptions`]). The library refuses any other key with `InvalidArgument`.
    pub struct TransactionOptions {
        /// `{"level": "snapshot"}`; see [`TransactionOptions::read_concern_level`].
        read_concern: Document,
        /// `{"w": "majority" | n, "wtimeout": ms, "j": bool}`.
        write_concern: Document,
        read_preference: ReadPreference,
        #[serde(rename = "maxCommitTimeMS")]
        max_commit_time_ms: i64,
    }
}

impl TransactionOptions {
    /// Sets `readConcern` to `{"level": level}` ("local", "majority", "snapshot").
    pub fn read_concern_level(self, level: &str) -> Self {
        self.read_concern(bson::doc! {"level": level})
    }

    /// Sets `writeConcern` to `{"w": "majority"}`.
    pub fn write_concern_majority(self) -> Self {
        self.write_concern(bson::doc! {"w": "majority"})
    }
}

options! {
    /// Options of a compensating session ([`crate::PolyMongo::start_compensating`]).
    pub struct CompensatingOptions {
        /// Write each undo record to a journal on the write's cluster before the write, so
        /// that [`crate::PolyMongo::recover`] can roll back what a crashed process left open
        /// (default false).
        journal: bool,
        /// The journal's database (default "polymongo_journal").
        journal_db: String,
    }
}

options! {
    /// Options of a native session ([`crate::PolyMongo::start_session`]): causal consistency,
    /// and the defaults of its transactions (the fields of [`TransactionOptions`]).
    pub struct SessionOptions {
        /// Reads see the session's own earlier writes (default true).
        causal_consistency: bool,
        read_concern: Document,
        write_concern: Document,
        read_preference: ReadPreference,
        #[serde(rename = "maxCommitTimeMS")]
        max_commit_time_ms: i64,
    }
}

options! {
    /// Options of an index: for `create_index`, and (with a `key`) in [`ModelOptions::indexes`].
    pub struct IndexOptions {
        name: String,
        unique: bool,
        sparse: bool,
        expire_after_seconds: i64,
        partial_filter_expression: Document,
        collation: Document,
        hidden: bool,
    }
}

/// One index of a model: its key pattern and options.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IndexModel {
    /// The key pattern, e.g. `doc! {"email": 1}`.
    pub key: Document,
    #[serde(flatten)]
    pub options: IndexOptions,
}

impl IndexModel {
    pub fn new(key: Document) -> Self {
        IndexModel { key, options: IndexOptions::default() }
    }

    pub fn options(mut self, options: IndexOptions) -> Self {
        self.options = options;
        self
    }
}

/// Validation level of a model's validator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ValidationLevel {
    Off,
    Strict,
    Moderate,
}

/// What the server does with a document that fails validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ValidationAction {
    Error,
    Warn,
}

options! {
    /// A collection definition for [`crate::PolyMongo::model`]: validator and indexes, applied
    /// once per database on the first operation there.
    pub struct ModelOptions {
        /// e.g. `doc! {"$jsonSchema": {...}}`.
        validator: Document,
        validation_level: ValidationLevel,
        validation_action: ValidationAction,
        indexes: Vec<IndexModel>,
    }
}

/// The shared pool's dynamic size limit (`poolSizing`): the limit moves between `min` and `max`,
/// up when more than `scale_up_at` of it is in use, down below `scale_down_at` (fractions in
/// (0, 1]), checked every `interval_ms`. Unset fields take the library's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolSizing {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale_up_at: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale_down_at: Option<f64>,
    #[serde(rename = "intervalMS", skip_serializing_if = "Option::is_none")]
    pub interval_ms: Option<u64>,
}

/// The wrapper's options (mirroring PolyMongo's `createWrapper`), serialised to the JSON that
/// `pm_wrapper_new` takes. Build with [`Options::new`] and the setters, or fill the fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Options {
    /// `mongodb://` or `mongodb+srv://` URI (required).
    #[serde(rename = "mongoURI")]
    pub mongo_uri: String,
    /// Database used by [`crate::Model::default_db`]. Default: the database in the URI's path.
    #[serde(rename = "defaultDB", skip_serializing_if = "Option::is_none")]
    pub default_db: Option<String>,
    /// Connections of the shared pool (default 10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_pool_size: Option<u32>,
    /// Connections opened and kept warm (default 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_free_connections: Option<u32>,
    /// Idle connections are closed after this long (0: never).
    #[serde(rename = "idleTimeoutMS", skip_serializing_if = "Option::is_none")]
    pub idle_timeout_ms: Option<u64>,
    /// true (default): no socket until first use; false: connect inside `PolyMongo::new`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cold_start: Option<bool>,
    /// Reconnection: a base delay in ms (0: off), or a whole [`RetryPolicy`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    /// Log to standard error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debug: Option<bool>,
    /// Directory for rotating log files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_path: Option<String>,
    /// Lowest level logged (and sent as `LOG` events).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_level: Option<LogLevel>,
    /// Most dedicated pools open at once; the least recently used is closed beyond (0: no limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_open_pools: Option<u32>,
    /// Every database's default share of its pool (see [`TenantLimits`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_limits: Option<TenantLimits>,
    /// A saturated pool serves waiting databases in turn (default true); false: first come,
    /// first served.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fair_queueing: Option<bool>,
    /// Routing rules: databases matching a glob get their own (or one shared) pool.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<crate::lifecycle::Route>,
    /// Databases served by a dedicated pool.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub db_specific: Vec<DbSpecific>,
    /// Allow admin, config and local (default false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_system_databases: Option<bool>,
    /// Dynamic size limit of the shared pool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_sizing: Option<PoolSizing>,
    /// Roll back the compensating transactions that crashed processes left open in the
    /// journals when the wrapper starts (see [`crate::PolyMongo::recover`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recover_on_start: Option<bool>,
    /// The compensating transactions' journal database (default "polymongo_journal").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal_db: Option<String>,
    /// Options with no field of their own, passed through unchanged.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Options {
    pub fn new(mongo_uri: impl Into<String>) -> Self {
        Options { mongo_uri: mongo_uri.into(), ..Options::default() }
    }

    pub fn default_db(mut self, name: impl Into<String>) -> Self {
        self.default_db = Some(name.into());
        self
    }

    pub fn max_pool_size(mut self, n: u32) -> Self {
        self.max_pool_size = Some(n);
        self
    }

    pub fn min_free_connections(mut self, n: u32) -> Self {
        self.min_free_connections = Some(n);
        self
    }

    pub fn idle_timeout_ms(mut self, ms: u64) -> Self {
        self.idle_timeout_ms = Some(ms);
        self
    }

    pub fn cold_start(mut self, cold: bool) -> Self {
        self.cold_start = Some(cold);
        self
    }

    pub fn retry(mut self, retry: impl Into<Retry>) -> Self {
        self.retry = Some(retry.into());
        self
    }

    pub fn log_level(mut self, level: LogLevel) -> Self {
        self.log_level = Some(level);
        self
    }

    pub fn max_open_pools(mut self, n: u32) -> Self {
        self.max_open_pools = Some(n);
        self
    }

    pub fn tenant_limits(mut self, limits: TenantLimits) -> Self {
        self.tenant_limits = Some(limits);
        self
    }

    pub fn fair_queueing(mut self, fair: bool) -> Self {
        self.fair_queueing = Some(fair);
        self
    }

    pub fn route(mut self, route: crate::lifecycle::Route) -> Self {
        self.routes.push(route);
        self
    }

    pub fn debug(mut self, on: bool) -> Self {
        self.debug = Some(on);
        self
    }

    pub fn log_path(mut self, dir: impl Into<String>) -> Self {
        self.log_path = Some(dir.into());
        self
    }

    pub fn db_specific(mut self, db: DbSpecific) -> Self {
        self.db_specific.push(db);
        self
    }

    pub fn allow_system_databases(mut self, allow: bool) -> Self {
        self.allow_system_databases = Some(allow);
        self
    }

    pub fn pool_sizing(mut self, sizing: PoolSizing) -> Self {
        self.pool_sizing = Some(sizing);
        self
    }

    pub fn recover_on_start(mut self, recover: bool) -> Self {
        self.recover_on_start = Some(recover);
        self
    }

    pub fn journal_db(mut self, name: impl Into<String>) -> Self {
        self.journal_db = Some(name.into());
        self
    }

    /// Sets any other option by name.
    pub fn option(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }

    /// The JSON text given to `pm_wrapper_new`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("options serialise to JSON")
    }
}

/// The `retry` option: PolyMongo's base delay, or the whole policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Retry {
    /// Base delay in ms between reconnection attempts (0: off).
    Delay(u64),
    Policy(RetryPolicy),
}

impl From<u64> for Retry {
    fn from(ms: u64) -> Self {
        Retry::Delay(ms)
    }
}

impl From<RetryPolicy> for Retry {
    fn from(p: RetryPolicy) -> Self {
        Retry::Policy(p)
    }
}

/// Reconnection attempts with exponential back-off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicy {
    /// 1..=100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    #[serde(rename = "initialDelayMS", skip_serializing_if = "Option::is_none")]
    pub initial_delay_ms: Option<u64>,
    #[serde(rename = "maxDelayMS", skip_serializing_if = "Option::is_none")]
    pub max_delay_ms: Option<u64>,
}

/// The `logLevel` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
    Off,
}

/// A database served by its own pool (`dbSpecific`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DbSpecific {
    pub db_name: String,
    /// Another cluster for this database; default: the wrapper's URI.
    #[serde(rename = "mongoURI", skip_serializing_if = "Option::is_none")]
    pub mongo_uri: Option<String>,
    pub options: DbSpecificOptions,
}

impl DbSpecific {
    pub fn new(db_name: impl Into<String>) -> Self {
        DbSpecific { db_name: db_name.into(), ..DbSpecific::default() }
    }

    pub fn mongo_uri(mut self, uri: impl Into<String>) -> Self {
        self.mongo_uri = Some(uri.into());
        self
    }

    pub fn max_connections(mut self, n: u32) -> Self {
        self.options.max_connections = Some(n);
        self
    }

    pub fn cold_start(mut self, cold: bool) -> Self {
        self.options.cold_start = Some(cold);
        self
    }

    pub fn auto_close(mut self, auto: bool) -> Self {
        self.options.auto_close = Some(auto);
        self
    }

    pub fn ttl(mut self, ms: u64) -> Self {
        self.options.ttl = Some(ms);
        self
    }
}

/// The pool options of a [`DbSpecific`] database.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DbSpecificOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cold_start: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_close: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
    /// The limits of each database this pool serves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_limits: Option<TenantLimits>,
}

/// A database's share of its pool (`tenantLimits`, see docs/fairness.md): at most
/// `max_concurrent` operations at once and, with `rate_per_second`, a token bucket of `burst`
/// tokens. Over a limit an operation waits up to `max_wait_ms` (`on_limit` "wait", the default)
/// or fails at once ("fail"), with [`crate::ErrorKind::Throttled`] either way.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantLimits {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_per_second: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burst: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_limit: Option<String>,
    #[serde(rename = "maxWaitMS", skip_serializing_if = "Option::is_none")]
    pub max_wait_ms: Option<u64>,
}

impl TenantLimits {
    pub fn max_concurrent(mut self, n: u32) -> Self {
        self.max_concurrent = Some(n);
        self
    }
    pub fn rate(mut self, per_second: f64, burst: f64) -> Self {
        self.rate_per_second = Some(per_second);
        self.burst = Some(burst);
        self
    }
    /// "wait" (up to `max_wait_ms`) or "fail" (at once).
    pub fn on_limit(mut self, mode: impl Into<String>) -> Self {
        self.on_limit = Some(mode.into());
        self
    }
    pub fn max_wait_ms(mut self, ms: u64) -> Self {
        self.max_wait_ms = Some(ms);
        self
    }
}

impl DbSpecificOptions {
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = Some(n);
        self
    }
    pub fn cold_start(mut self, cold: bool) -> Self {
        self.cold_start = Some(cold);
        self
    }
    pub fn auto_close(mut self, auto: bool) -> Self {
        self.auto_close = Some(auto);
        self
    }
    pub fn ttl(mut self, ms: u64) -> Self {
        self.ttl = Some(ms);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn wrapper_options_serialise_to_the_c_names() {
        let o = Options::new("mongodb://h/")
            .default_db("d")
            .max_pool_size(3)
            .idle_timeout_ms(5)
            .retry(RetryPolicy { attempts: Some(3), initial_delay_ms: Some(10), max_delay_ms: None })
            .log_level(LogLevel::Warn)
            .route(crate::lifecycle::Route::new("eu_*").shared_pool(true))
            .db_specific(DbSpecific::new("t1").max_connections(2).auto_close(true));
        let v: serde_json::Value = serde_json::from_str(&o.to_json()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"mongoURI": "mongodb://h/", "defaultDB": "d", "maxPoolSize": 3,
                "idleTimeoutMS": 5, "retry": {"attempts": 3, "initialDelayMS": 10}, "logLevel": "warn",
                "routes": [{"match": "eu_*", "sharedPool": true}],
                "dbSpecific": [{"dbName": "t1", "options": {"maxConnections": 2, "autoClose": true}}]})
        );
    }

    #[test]
    fn operation_options_serialise_camel_case_and_skip_unset() {
        let f = FindOptions::default().limit(2).max_time_ms(100).sort(doc! {"a": -1}).option("x", 1);
        assert_eq!(
            bson::to_document(&f).unwrap(),
            doc! {"sort": {"a": -1}, "limit": 2_i64, "maxTimeMS": 100_i64, "x": 1}
        );
        let m = ModelOptions::default()
            .indexes(vec![IndexModel::new(doc! {"email": 1}).options(IndexOptions::default().unique(true))]);
        assert_eq!(bson::to_document(&m).unwrap(), doc! {"indexes": [{"key": {"email": 1}, "unique": true}]});
        let r = FindOneAndModifyOptions::default().return_document(ReturnDocument::After);
        assert_eq!(bson::to_document(&r).unwrap(), doc! {"returnDocument": "after"});
    }
}
