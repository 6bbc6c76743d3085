//! `resellers serve`: both APIs over HTTP (`reseller_hierarchy::http`) until SIGTERM or
//! Ctrl-C, then a graceful shutdown: the listener closes and requests in flight finish,
//! for at most the grace period (`--shutdown-grace`): a connection that sent half a
//! request and went quiet held the stop for ever, and with it the replication slot
//! that a PostgreSQL replica drops once stopped.

use std::sync::Arc;
use std::time::Duration;

use reseller_hierarchy::http::{router, ServeOptions, Tokens};
use reseller_hierarchy::Hierarchy;
use serde_json::json;

/// Serves `hierarchy` on `listen` until a signal, then for at most `grace` more while
/// requests in flight finish; one JSON line on stderr once listening (`{"listening":
/// ADDR, ...}`, the address with the port the system chose for `:0`) and one when
/// stopped (`{"stopped": ADDR}`, with `"cut_off": true` when the grace ran out).
pub(crate) fn run(
    hierarchy: Arc<Hierarchy>,
    tokens: Tokens,
    listen: &str,
    grace: Duration,
    options: impl FnOnce(&str) -> ServeOptions,
) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?
            .to_string();
        let options = options(&addr);
        eprintln!(
            "{}",
            json!({"listening": addr, "base_url": options.base_url, "resellers": hierarchy.snapshot().len()})
        );
        let app = router(hierarchy, Arc::new(tokens), options);
        let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = axum::serve(listener, app).with_graceful_shutdown(async move {
            signal().await;
            let _ = stopping.send(());
        });
        // From the signal on, the grace period; a server that ends first drops the
        // sender, and this waits for ever (the server's branch has won).
        let cut_off = async move {
            match stopped.await {
                Ok(()) => tokio::time::sleep(grace).await,
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            served = server => {
                served.map_err(|e| format!("the server stopped: {e}"))?;
                eprintln!("{}", json!({"stopped": addr}));
            }
            () = cut_off => {
                eprintln!("{}", json!({"stopped": addr, "cut_off": true}));
            }
        }
        Ok(())
    })
}

/// SIGTERM (what service managers send) or Ctrl-C.
async fn signal() {
    let ctrl_c = async {
        // A handler that cannot be installed must not stop the server at once.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
