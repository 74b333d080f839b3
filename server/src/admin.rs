//! `keys` and `jobs` subcommands: administration straight against the database.

use clap::{Args, Subcommand};

use crate::db::{jobs as q, keys};
use crate::error::ServerError;
use crate::node::StoreArgs;

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(subcommand)]
    pub action: KeysAction,
}

#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Create a key and print it (only its hash is stored).
    Create {
        #[arg(long)]
        name: String,
    },
    /// List keys (id, name, prefix, created, revoked).
    List,
    /// Revoke a key by id or name.
    Revoke { key: String },
}

#[derive(Debug, Args)]
pub struct JobsArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(subcommand)]
    pub action: JobsAction,
}

#[derive(Debug, Subcommand)]
pub enum JobsAction {
    /// Most recent jobs first.
    List {
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Full records as a JSON array (with worker and lease) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Live workers of an endpoint (id, GPU, host, slots, running jobs, heartbeat) as JSON.
    Workers {
        #[arg(long, env = "SPLATPOD_ENDPOINT", default_value = "splatpod")]
        endpoint: String,
    },
    /// One job's full record as JSON.
    Show { id: String },
    /// Cancel a queued or running job (a running one stops at its next check).
    Cancel { id: String },
}

fn when(ms: Option<i64>) -> String {
    ms.map_or("-".into(), |m| {
        format!("{:.0}s ago", (crate::db::now_ms() - m) as f64 / 1000.0)
    })
}

pub async fn keys(args: KeysArgs) -> Result<(), ServerError> {
    let db = args.store.open_db().await?;
    match args.action {
        KeysAction::Create { name } => {
            let name = name.trim();
            if name.is_empty() {
                return Err(ServerError::BadInput("--name must not be empty".into()));
            }
            let (key, secret) = keys::create(&db, name).await?;
            eprintln!(
                "created key `{}` (id {}); it is shown only once:",
                key.name, key.id
            );
            println!("{secret}");
        }
        KeysAction::List => {
            println!(
                "{:<38} {:<20} {:<12} {:<14} revoked",
                "id", "name", "prefix", "created"
            );
            for k in keys::list(&db).await? {
                println!(
                    "{:<38} {:<20} {:<12} {:<14} {}",
                    k.id,
                    k.name,
                    k.prefix,
                    when(Some(k.created_at)),
                    when(k.revoked_at)
                );
            }
        }
        KeysAction::Revoke { key } => match keys::revoke(&db, &key).await? {
            0 => return Err(ServerError::NotFound(format!("no active key `{key}`"))),
            n => println!("revoked {n} key(s)"),
        },
    }
    Ok(())
}

pub async fn jobs(args: JobsArgs) -> Result<(), ServerError> {
    let db = args.store.open_db().await?;
    match args.action {
        JobsAction::List { limit, json: true } => {
            let jobs = q::list(&db, limit.clamp(1, 10_000)).await?;
            println!("{}", serde_json::to_string_pretty(&jobs)?);
        }
        JobsAction::Workers { endpoint } => {
            let workers = crate::db::workers::alive(&db, &endpoint).await?;
            println!("{}", serde_json::to_string_pretty(&workers)?);
        }
        JobsAction::List { limit, json: false } => {
            println!(
                "{:<38} {:<12} {:<10} {:>6} {:<14} stage",
                "id", "status", "task", "%", "created"
            );
            for j in q::list(&db, limit.clamp(1, 10_000)).await? {
                println!(
                    "{:<38} {:<12} {:<10} {:>6.1} {:<14} {}",
                    j.id,
                    j.status,
                    j.task,
                    j.progress,
                    when(Some(j.created_at)),
                    j.stage.unwrap_or_default()
                );
            }
        }
        JobsAction::Show { id } => {
            let job = q::get(&db, &id)
                .await?
                .ok_or_else(|| ServerError::NotFound(format!("no job `{id}`")))?;
            println!("{}", serde_json::to_string_pretty(&job)?);
        }
        JobsAction::Cancel { id } => {
            // A running job's worker sees the new status at its next lease renewal.
            let job = q::cancel(&db, &id)
                .await?
                .ok_or_else(|| ServerError::NotFound(format!("no job `{id}`")))?;
            println!("{} is {}", job.id, job.status);
        }
    }
    Ok(())
}
