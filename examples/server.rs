//! An HTTP service embedding one shared snapshot (axum, tokio):
//!
//! - `GET /customer/resellers/list` — TelecomX eligible parents. The caller's role and
//!   reseller come from the `X-Role` and `X-Reseller-Id` headers: **a stand-in for the
//!   host's authentication**, which in a real service would derive both from a verified
//!   session or token, never from headers the client sets.
//! - `GET /api/v3/customer_store/resellers` — ActivePlatform downline as JSON:API. The
//!   `X-Api-Token` header is mapped to the manager's reseller through a token table.
//!
//! ```sh
//! cargo run --release --example server                 # the demo hierarchy, port 8080
//! cargo run --release --example server -- FILE 127.0.0.1:9000 https://api.example.com
//! curl -H 'X-Role: RESELLER_ADMIN' -H 'X-Reseller-Id: 2' \
//!      'http://127.0.0.1:8080/customer/resellers/list?voip=true&per_page=2'
//! curl -H 'X-Api-Token: G2dYuBK44dgYu90id1122e' \
//!      'http://127.0.0.1:8080/api/v3/customer_store/resellers?page%5Bnumber%5D=2&page%5Bsize%5D=2'
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use reseller_hierarchy::wire::{jsonapi, page_request_from_query, telecomx, ApiError};
use reseller_hierarchy::{AccessError, Order, Principal, ResellerId, Role, Snapshot};

/// What every request handler shares: the snapshot and the token table.
#[derive(Clone)]
pub(crate) struct AppState {
    /// The hierarchy served.
    pub(crate) snapshot: Arc<Snapshot>,
    /// `X-Api-Token` → the manager's reseller.
    pub(crate) tokens: Arc<HashMap<String, ResellerId>>,
    /// The public URL of the service, for JSON:API links: configuration, never taken
    /// from the request's `Host` header (which the client controls).
    pub(crate) base_url: Arc<str>,
}

/// The service's routes.
pub(crate) fn app(state: AppState) -> Router {
    Router::new()
        .route("/customer/resellers/list", get(eligible_parents))
        .route("/api/v3/customer_store/resellers", get(downline))
        .route("/api/v3/customer_store/resellers/", get(downline))
        .with_state(state)
}

fn json(status: u16, content_type: &'static str, body: Vec<u8>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn eligible_parents(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    const JSON: &str = "application/json";
    let query = query.unwrap_or_default();
    let answer = (|| -> Result<Vec<u8>, ApiError> {
        let role: Role = header(&headers, "x-role")
            .unwrap_or("")
            .parse()
            .unwrap_or_else(|e| match e {});
        let principal = Principal {
            role,
            reseller: header(&headers, "x-reseller-id").map(ResellerId::from),
        };
        // Access is decided before paging is read: a refused caller gets 403 whatever
        // its page parameters say.
        let page =
            telecomx::eligible_parents(&state.snapshot, &principal, &query, Order::PreOrder)?;
        let mut body = Vec::with_capacity(64 * page.len() + 2);
        telecomx::write_list(&page, &mut body);
        Ok(body)
    })();
    match answer {
        Ok(body) => json(200, JSON, body),
        Err(e) => {
            let body = serde_json::to_vec(&telecomx::ErrorBody::from(&e)).unwrap_or_default();
            json(e.http_status(), JSON, body)
        }
    }
}

async fn downline(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    const JSONAPI: &str = "application/vnd.api+json";
    let query = query.unwrap_or_default();
    let base = format!("{}/api/v3/customer_store/resellers", state.base_url);
    let answer = (|| -> Result<Vec<u8>, ApiError> {
        let token = header(&headers, "x-api-token").unwrap_or("");
        // A missing or unknown token is a 403, as for any caller without access; access
        // is decided before paging is read.
        let reseller = state
            .tokens
            .get(token)
            .ok_or(ApiError::AccessDenied(AccessError::Unauthenticated))?;
        let req = page_request_from_query(&query)?;
        let page = state.snapshot.downline(reseller, Order::PreOrder, req)?;
        let mut body = Vec::with_capacity(1024 * page.len() + 512);
        jsonapi::write_document(&page, &base, &mut body);
        Ok(body)
    })();
    match answer {
        Ok(body) => json(200, JSONAPI, body),
        Err(e) => {
            let body = serde_json::to_vec(&jsonapi::ErrorDocument::from(&e)).unwrap_or_default();
            json(e.http_status(), JSONAPI, body)
        }
    }
}

/// The demo's token table: the seed page's token maps to the distributor, `"1"`.
pub(crate) fn demo_tokens() -> HashMap<String, ResellerId> {
    HashMap::from([
        ("G2dYuBK44dgYu90id1122e".to_owned(), ResellerId::from("1")),
        ("token-of-2".to_owned(), ResellerId::from("2")),
    ])
}

#[allow(dead_code)] // the integration test includes this file as a module
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let snapshot = match args.next().filter(|a| a != "-") {
        Some(path) => {
            let mut b = reseller_hierarchy::Builder::new();
            b.read_any(std::io::BufReader::new(std::fs::File::open(path)?))?;
            b.build()?
        }
        None => Snapshot::build(reseller_hierarchy::generate::demo_dataset())?,
    };
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let base_url = args.next().unwrap_or_else(|| format!("http://{addr}"));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!(
        "serving {} resellers on http://{addr} as {base_url}",
        snapshot.len()
    );
    let state = AppState {
        snapshot: Arc::new(snapshot),
        tokens: Arc::new(demo_tokens()),
        base_url: base_url.into(),
    };
    axum::serve(listener, app(state)).await?;
    Ok(())
}
