//! The metadata database: SQLite under `--data-dir` by default, PostgreSQL by URL, one code path
//! through sqlx's Any driver. Queries use `$N` placeholders (both backends accept them) and
//! portable SQL; the one backend difference (row locking when claiming a job) is in `jobs`.

pub mod artifacts;
pub mod images;
pub mod jobs;
pub mod keys;
pub mod pairings;
pub mod projects;
pub mod shares;
pub mod uploads;
pub mod workers;

use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, FromRow};

/// Which server the pool talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A connection pool plus what it is connected to.
#[derive(Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Unix time in milliseconds, the unit of every timestamp column.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A fresh random id (UUID v4, hyphenated).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Runs `sql`, whose one placeholder `$1` is `key` (a row's id); returns how many rows it
/// changed.
async fn execute_keyed(db: &Db, sql: &str, key: &str) -> Result<u64, sqlx::Error> {
    let r = sqlx::query(sql).bind(key).execute(&db.pool).await?;
    Ok(r.rows_affected())
}

/// Runs `sql` with `$1` the time now ([`now_ms`]) and `$2` `key`: a statement that stamps a
/// time column of the row `key` names (revoked, completed, touched); returns how many rows it
/// changed.
async fn stamp(db: &Db, sql: &str, key: &str) -> Result<u64, sqlx::Error> {
    let r = sqlx::query(sql)
        .bind(now_ms())
        .bind(key)
        .execute(&db.pool)
        .await?;
    Ok(r.rows_affected())
}

/// The row `sql` selects with `$1` = `key`, if any.
async fn fetch_keyed<T>(db: &Db, sql: &str, key: &str) -> Result<Option<T>, sqlx::Error>
where
    T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
{
    sqlx::query_as(sql).bind(key).fetch_optional(&db.pool).await
}

/// Every row `sql` selects with `$1` = `key` (e.g. a project's rows of a table).
async fn fetch_all_keyed<T>(db: &Db, sql: &str, key: &str) -> Result<Vec<T>, sqlx::Error>
where
    T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
{
    sqlx::query_as(sql).bind(key).fetch_all(&db.pool).await
}

impl Db {
    /// Connects to `database_url`, or to `splatpod.db` in `data_dir` when none is given, and
    /// applies pending migrations.
    pub async fn open(database_url: Option<&str>, data_dir: &Path) -> Result<Db, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let url = match database_url {
            Some(u) => u.to_owned(),
            None => {
                let file = data_dir.join("splatpod.db");
                format!("sqlite://{}?mode=rwc", file.display())
            }
        };
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(sqlx::Error::Configuration(
                format!("unsupported database URL (use sqlite:// or postgres://): {url}").into(),
            ));
        };
        let mut options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(15));
        if backend == Backend::Sqlite {
            // WAL lets readers (status polls) run beside the one writer; busy_timeout makes
            // writers queue instead of failing; foreign keys make project deletion cascade.
            options = options.max_connections(8).after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                    )
                    .await?;
                    Ok(())
                })
            });
        } else {
            options = options.max_connections(16);
        }
        let pool = options.connect(&url).await?;
        MIGRATOR.run(&pool).await?;
        Ok(Db { pool, backend })
    }
}
