//! The HTTP service embedded in a program of your own: `reseller_hierarchy::http::router`
//! over a `Hierarchy`, served by axum on tokio. `resellers serve` is the same service as
//! a command, with graceful shutdown and a token file.
//!
//! ```sh
//! cargo run --release --features http,generate --example server                 # demo data and tokens, port 8080
//! cargo run --release --features http,generate --example server -- FILE TOKENS 127.0.0.1:9000 https://api.example.com
//! # A PostgreSQL table instead of a file, kept current (feature postgres as well):
//! cargo run --release --features http,generate,postgres --example server -- 'postgres:host=db dbname=crm' TOKENS
//! curl -H 'Authorization: Bearer G2dYuBK44dgYu90id1122e' \
//!      'http://127.0.0.1:8080/customer/resellers/list?voip=true&per_page=2'
//! curl -H 'X-Api-Token: G2dYuBK44dgYu90id1122e' \
//!      'http://127.0.0.1:8080/api/v3/customer_store/resellers?page%5Bnumber%5D=2&page%5Bsize%5D=2'
//! ```

use std::sync::Arc;

use reseller_hierarchy::http::{router, ServeOptions, Tokens};
use reseller_hierarchy::{Builder, Hierarchy, Snapshot};

/// What keeps a followed hierarchy current; dropping it stops following.
type Keeper = Option<Box<dyn std::any::Any>>;

/// The hierarchy to serve: a PostgreSQL table (`postgres:CONNECTION`), a file, or the
/// demo data.
fn hierarchy(source: Option<&str>) -> Result<(Arc<Hierarchy>, Keeper), Box<dyn std::error::Error>> {
    let fixed = |snap| Ok((Arc::new(Hierarchy::new(snap)), None));
    match source {
        Some(s) if s.starts_with("postgres:") => follow(&s["postgres:".len()..]),
        Some(path) => {
            let mut b = Builder::new();
            b.read_any(std::io::BufReader::new(std::fs::File::open(path)?))?;
            fixed(b.build()?)
        }
        None => fixed(Snapshot::build(
            reseller_hierarchy::generate::demo_dataset(),
        )?),
    }
}

/// Loads the `resellers` table and keeps the hierarchy current for the life of the
/// process (the follower's thread owns its own connection).
#[cfg(feature = "postgres")]
fn follow(connection: &str) -> Result<(Arc<Hierarchy>, Keeper), Box<dyn std::error::Error>> {
    use reseller_hierarchy::postgres::{Follower, Source, Table};
    let source = Source::new(connection, Table::new("resellers")).slot("example_server");
    let follower = Follower::start(source)?;
    Ok((follower.hierarchy().clone(), Some(Box::new(follower))))
}

#[cfg(not(feature = "postgres"))]
fn follow(_: &str) -> Result<(Arc<Hierarchy>, Keeper), Box<dyn std::error::Error>> {
    Err("serving from PostgreSQL needs --features postgres".into())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let source = args.next().filter(|a| a != "-");
    // Loaded before the runtime starts: the PostgreSQL client blocks.
    let (hierarchy, _keeper) = hierarchy(source.as_deref())?;
    let tokens = match &source {
        Some(_) => {
            let path = args.next().ok_or("your data needs a token file")?;
            Tokens::from_json(&std::fs::read_to_string(path)?)?
        }
        None => Tokens::demo(),
    };
    tokio::runtime::Runtime::new()?.block_on(serve(hierarchy, tokens, args))
}

async fn serve(
    hierarchy: Arc<Hierarchy>,
    tokens: Tokens,
    mut args: impl Iterator<Item = String>,
) -> Result<(), Box<dyn std::error::Error>> {
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let base_url = args.next().unwrap_or_else(|| format!("http://{addr}"));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!(
        "serving {} resellers on http://{addr} as {base_url}",
        hierarchy.snapshot().len()
    );
    let app = router(hierarchy, Arc::new(tokens), ServeOptions::new(base_url));
    // Until Ctrl-C; then `main` returns and drops the follower, which drops its
    // replication slot (a slot left behind keeps the server's WAL). Requests in flight
    // are not waited for: `resellers serve` shows a graceful stop with a grace period.
    tokio::select! {
        served = axum::serve(listener, app) => served?,
        stop = tokio::signal::ctrl_c() => {
            stop?;
            eprintln!("stopped");
        }
    }
    Ok(())
}
