//! The HTTP service embedded in a program of your own: `reseller_hierarchy::http::router`
//! over a `Hierarchy`, served by axum on tokio. `resellers serve` is the same service as
//! a command, with graceful shutdown and a token file.
//!
//! ```sh
//! cargo run --release --features http,generate --example server                 # demo data and tokens, port 8080
//! cargo run --release --features http,generate --example server -- FILE TOKENS 127.0.0.1:9000 https://api.example.com
//! curl -H 'Authorization: Bearer G2dYuBK44dgYu90id1122e' \
//!      'http://127.0.0.1:8080/customer/resellers/list?voip=true&per_page=2'
//! curl -H 'X-Api-Token: G2dYuBK44dgYu90id1122e' \
//!      'http://127.0.0.1:8080/api/v3/customer_store/resellers?page%5Bnumber%5D=2&page%5Bsize%5D=2'
//! ```

use std::sync::Arc;

use reseller_hierarchy::http::{router, ServeOptions, Tokens};
use reseller_hierarchy::{Builder, Hierarchy, Snapshot};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (snapshot, tokens) = match args.next().filter(|a| a != "-") {
        Some(path) => {
            let mut b = Builder::new();
            b.read_any(std::io::BufReader::new(std::fs::File::open(&path)?))?;
            let tokens_path = args.next().ok_or("a data file needs a token file")?;
            let tokens = Tokens::from_json(&std::fs::read_to_string(tokens_path)?)?;
            (b.build()?, tokens)
        }
        None => (
            Snapshot::build(reseller_hierarchy::generate::demo_dataset())?,
            Tokens::demo(),
        ),
    };
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let base_url = args.next().unwrap_or_else(|| format!("http://{addr}"));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!(
        "serving {} resellers on http://{addr} as {base_url}",
        snapshot.len()
    );
    let app = router(
        Arc::new(Hierarchy::new(snapshot)),
        Arc::new(tokens),
        ServeOptions::new(base_url),
    );
    axum::serve(listener, app).await?;
    Ok(())
}
