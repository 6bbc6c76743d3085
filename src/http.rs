//! The HTTP service (feature `http`): both APIs over axum, as `resellers serve` runs it.
//!
//! - `GET /customer/resellers/list`: TelecomX eligible parents of the caller, a JSON
//!   array (`application/json`); flags `iptv`, `iptvprivate`, `flexcare`, `voip`
//!   (`true`/`false`), `order` (`pre`, `level`), `page`/`per_page` or
//!   `page[number]`/`page[size]`. Errors are `{"error", "message"}`.
//! - `GET /api/v3/customer_store/resellers`: ActivePlatform downline of the caller's
//!   reseller, a JSON:API document (`application/vnd.api+json`) with links that keep the
//!   listing's `order`. Errors are JSON:API error documents.
//!
//! Both read the caller's token from `Authorization: Bearer TOKEN` or `X-Api-Token`
//! and look it up in [`Tokens`]: no token is a 401 (with `WWW-Authenticate: Bearer`),
//! an unknown one a 403, a malformed header value a 400. Access is decided before
//! paging is read. Every success carries an `ETag` made of the version it came from
//! ([`Page::version`](crate::Page::version)) and the listing and page it shows; a request whose
//! `If-None-Match` names it gets `304 Not Modified` without a body (tags hold within
//! one process: versions restart with it). Both carry `Cache-Control: private` and
//! `Vary: authorization, x-api-token`: a listing is its caller's, and no shared cache
//! may serve it to another.
//!
//! Every success also names its version in the `Hierarchy-Version` header
//! ([`VERSION_HEADER`]), as `N-XXXXXXXXXXXXXXXX` (the version number and the
//! hierarchy's lineage, a random number drawn when it was made). A request that sends
//! it back as `version=N-XXXXXXXXXXXXXXXX` is answered from that version as long as the
//! hierarchy keeps it ([`Hierarchy::retention`]), and the JSON:API links of such a
//! page carry it: a client
//! that pins the version of its first page and follows `next` sees every reseller of
//! that version exactly once, whatever changes meanwhile. A version no longer kept, or
//! made by an earlier run, is a 410 `version_expired`; one not published yet, or a
//! malformed value, a 400 naming `version`; a caller the access rules refuse gets its
//! 403 first, and they are applied to the current version as well as the pinned one
//! (a manager whose reseller was removed since is refused). Every other
//! status (404 for an unknown path, 405 for another method) carries the endpoint's
//! JSON error too.
//!
//! Bodies are written by [`jsonapi::write_document`] and [`telecomx::write_list`].
//! The service reads the current version of a [`Hierarchy`] on every request that pins
//! none, so a writer applying changes is seen by the next request.
//!
//! # Examples
//!
//! ```no_run
//! use std::sync::Arc;
//! use reseller_hierarchy::http::{router, ServeOptions, Tokens};
//! use reseller_hierarchy::{Builder, Hierarchy};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mut records = Builder::new();
//! records.read_any(std::io::BufReader::new(std::fs::File::open("resellers.ndjson")?))?;
//! let hierarchy = Arc::new(Hierarchy::new(records.build()?));
//! let tokens = Tokens::from_json(&std::fs::read_to_string("tokens.json")?)?;
//! let app = router(hierarchy, Arc::new(tokens), ServeOptions::new("http://127.0.0.1:8080"));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```

mod pin;
mod tokens;

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub use tokens::{Tokens, TokensError};

use crate::access::Principal;
use crate::hierarchy::Hierarchy;
use crate::id::ResellerId;
use crate::snapshot::{Page, Snapshot};
use crate::wire::{
    jsonapi, order_from_query, page_request_from_query, telecomx, ApiError, VERSION_PARAMETER,
};
use crate::{FilterFlags, Order};
use pin::Pin;

/// The TelecomX endpoint's path.
pub const TELECOMX_PATH: &str = "/customer/resellers/list";
/// The ActivePlatform endpoint's path.
pub const JSONAPI_PATH: &str = "/api/v3/customer_store/resellers";
/// The health route: `{"status": "ok", "version": N, "position": P, "detail": ...}` with
/// 200, or `"status": "stale"` with 503 when [`ServeOptions::health`] says so. It needs
/// no credentials and tells nothing about the resellers.
pub const HEALTH_PATH: &str = "/health";
/// The response header that names the version a listing came from, as
/// `N-XXXXXXXXXXXXXXXX`; a request's `version` parameter pins it (see the module docs).
pub const VERSION_HEADER: &str = "hierarchy-version";
/// The path of the constant-body route that [`ServeOptions::ceiling`] turns on.
pub const CEILING_PATH: &str = "/_ceiling";

const JSON: &str = "application/json";
const JSONAPI: &str = "application/vnd.api+json";

/// How the service is set up.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The service's public URL (scheme, host and port, no trailing `/`), for the
    /// JSON:API links: configuration, never taken from the request's `Host` header,
    /// which the client controls.
    pub base_url: String,
    /// Serve [`CEILING_PATH`]: a constant body of `?bytes=N` bytes (at most 16 MiB),
    /// to measure what the HTTP stack itself costs on a machine. Off by default.
    pub ceiling: bool,
    /// What [`HEALTH_PATH`] reports besides the version (a follower's health, say);
    /// `None`: healthy whenever it answers.
    pub health: Option<HealthCheck>,
}

/// A service's own health, for [`HEALTH_PATH`]: `Ok(detail)` is healthy (200),
/// `Err(detail)` is not (503: serving, but stale).
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::http::{HealthCheck, ServeOptions};
///
/// let mut options = ServeOptions::new("https://api.example.com");
/// options.health = Some(HealthCheck::new(|| Ok("following at 0/16B3748".to_string())));
/// ```
#[derive(Clone)]
pub struct HealthCheck(Arc<dyn Fn() -> Result<String, String> + Send + Sync>);

impl HealthCheck {
    /// A check that calls `f`.
    pub fn new(f: impl Fn() -> Result<String, String> + Send + Sync + 'static) -> HealthCheck {
        HealthCheck(Arc::new(f))
    }
}

impl std::fmt::Debug for HealthCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HealthCheck")
    }
}

impl ServeOptions {
    /// Links under `base_url`; no ceiling route.
    pub fn new(base_url: impl Into<String>) -> ServeOptions {
        ServeOptions {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            ceiling: false,
            health: None,
        }
    }
}

#[derive(Clone)]
struct Shared {
    hierarchy: Arc<Hierarchy>,
    tokens: Arc<Tokens>,
    base_url: Arc<str>,
    health: Option<HealthCheck>,
    /// Random per router: version numbers restart with every process (and another
    /// data file), so tags from another process must never match.
    instance: u64,
}

/// The service's routes over `hierarchy`, for the callers `tokens` names.
pub fn router(hierarchy: Arc<Hierarchy>, tokens: Arc<Tokens>, options: ServeOptions) -> Router {
    let mut nonce = [0u8; 8];
    // Without randomness tags stay correct within a process, only less distinct
    // across processes; a clock-based value keeps restarts apart.
    if getrandom::fill(&mut nonce).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        nonce = t.to_le_bytes();
    }
    let shared = Shared {
        hierarchy,
        tokens,
        base_url: options.base_url.into(),
        health: options.health,
        instance: u64::from_le_bytes(nonce),
    };
    let mut app = Router::new()
        .route(
            TELECOMX_PATH,
            get(eligible_parents).fallback(method_not_allowed),
        )
        .route(JSONAPI_PATH, get(downline).fallback(method_not_allowed))
        .route(HEALTH_PATH, get(health).fallback(method_not_allowed))
        .route(
            "/api/v3/customer_store/resellers/",
            get(downline).fallback(method_not_allowed),
        );
    if options.ceiling {
        app = app.route(CEILING_PATH, get(ceiling).fallback(method_not_allowed));
    }
    app.fallback(not_found).with_state(shared)
}

/// Which API a path belongs to, for the shape of its errors.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Api {
    TelecomX,
    JsonApi,
}

impl Api {
    fn of(path: &str) -> Api {
        if path.starts_with("/customer/") {
            Api::TelecomX
        } else {
            Api::JsonApi
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Api::TelecomX => JSON,
            Api::JsonApi => JSONAPI,
        }
    }

    fn error(self, e: &ApiError) -> Response {
        let body = match self {
            Api::TelecomX => serde_json::to_vec(&telecomx::ErrorBody::from(e)),
            Api::JsonApi => serde_json::to_vec(&jsonapi::ErrorDocument::from(e)),
        }
        .unwrap_or_default();
        let status =
            StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp =
            (status, [(header::CONTENT_TYPE, self.content_type())], body).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

fn bad_header(name: &str) -> ApiError {
    ApiError::BadParameter {
        parameter: name.to_owned(),
        message: "the header's value is not visible ASCII".to_owned(),
    }
}

/// A header's value as text: `None` when absent, a 400 when not visible ASCII.
fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| bad_header(name)),
    }
}

impl Shared {
    /// The caller, from `Authorization: Bearer TOKEN`, else `X-Api-Token: TOKEN`; no
    /// token (absent or blank) is a 401, an unknown one a 403.
    fn principal(&self, headers: &HeaderMap) -> Result<&Principal, ApiError> {
        let bearer = header_text(headers, "authorization")?.and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
        let token = match bearer {
            Some(token) => token,
            None => header_text(headers, "x-api-token")?.map_or("", str::trim),
        };
        if token.is_empty() {
            return Err(ApiError::Unauthenticated(
                "no credentials: send `Authorization: Bearer TOKEN` or `X-Api-Token: TOKEN`".into(),
            ));
        }
        self.tokens.get(token).ok_or(ApiError::UnknownCredentials)
    }

    /// The pin of `version` of this hierarchy.
    fn pin(&self, version: u64) -> Pin {
        Pin {
            version,
            lineage: self.hierarchy.lineage(),
        }
    }

    /// The version a request with `query` reads, and whether the query pinned it: the
    /// current one, or the one `version=` names. An error of the pin is reported only
    /// once `access` passes on the current version: a caller the rules refuse gets its
    /// 403 whatever `version` says. A pinned version is read only when `access` passes
    /// on the current version too (the caller then checks it on the pinned one).
    fn snapshot_for(
        &self,
        query: &str,
        access: impl Fn(&Snapshot) -> Result<(), ApiError>,
    ) -> Result<(Arc<Snapshot>, bool), ApiError> {
        let read = Pin::from_query(query).and_then(|pin| match pin {
            None => Ok((self.hierarchy.snapshot(), false)),
            Some(pin) => self.pinned(pin).map(|snapshot| (snapshot, true)),
        });
        match read {
            // Access is decided on the current version too: a caller whose reseller
            // was removed since the pinned version is refused, as without a pin,
            // rather than served that version for as long as it is kept.
            Ok((pinned, true)) => access(&self.hierarchy.snapshot()).map(|()| (pinned, true)),
            Ok(current) => Ok(current),
            Err(e) => Err(match access(&self.hierarchy.snapshot()) {
                Err(denied) => denied,
                Ok(()) => e,
            }),
        }
    }

    /// The version `pin` names, while the hierarchy keeps it.
    fn pinned(&self, pin: Pin) -> Result<Arc<Snapshot>, ApiError> {
        let current = self.hierarchy.snapshot().version();
        if pin.lineage == self.hierarchy.lineage() {
            if let Some(snapshot) = self.hierarchy.snapshot_at(pin.version) {
                return Ok(snapshot);
            }
            if pin.version > current {
                return Err(ApiError::BadParameter {
                    parameter: VERSION_PARAMETER.into(),
                    message: format!(
                        "version {} is not published; the current version is {current}",
                        pin.version
                    ),
                });
            }
        }
        Err(ApiError::VersionExpired {
            version: pin.version,
            current,
        })
    }
}

/// The reseller whose downline `principal` may list in `snapshot`: the same rules as
/// the eligible parents decide access (a role they refuse, a missing or unknown
/// reseller is a 403), and an ADMIN needs a reseller that exists too.
fn downline_owner<'p>(
    snapshot: &Snapshot,
    principal: &'p Principal,
) -> Result<&'p ResellerId, ApiError> {
    snapshot.eligible_count(principal, FilterFlags::NONE)?;
    let reseller = principal.reseller.as_ref().ok_or(ApiError::AccessDenied(
        crate::AccessError::NoReseller {
            role: principal.role.clone(),
        },
    ))?;
    // The rules above need no reseller of an ADMIN; its downline does, and one that
    // does not exist is refused as any role's is, not a 404.
    if snapshot.get(reseller).is_none() {
        return Err(ApiError::AccessDenied(
            crate::AccessError::UnknownReseller {
                id: reseller.clone(),
            },
        ));
    }
    Ok(reseller)
}

/// The entity tag of a page: the version it came from and a hash (FNV-1a) of this
/// service instance, the base URL of its links and what it lists (endpoint, principal,
/// flags, order, page, size). Tags hold within one process: versions restart with it.
fn etag(
    s: &Shared,
    endpoint: &str,
    principal: &Principal,
    query_key: &str,
    page: &Page<'_>,
) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes.iter().chain(std::iter::once(&0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    eat(&s.instance.to_le_bytes());
    eat(s.base_url.as_bytes());
    eat(endpoint.as_bytes());
    eat(principal.role.as_str().as_bytes());
    eat(principal
        .reseller
        .as_ref()
        .map_or(&b""[..], |r| r.as_str().as_bytes()));
    eat(query_key.as_bytes());
    eat(&page.number().to_le_bytes());
    eat(&page.per_page().to_le_bytes());
    format!("\"v{}-{h:016x}\"", page.version())
}

/// Whether `If-None-Match` names `tag` (or is `*`); weak tags compare by their opaque
/// part, as the header's weak comparison does.
fn not_modified(headers: &HeaderMap, tag: &str) -> Result<bool, ApiError> {
    let Some(value) = header_text(headers, "if-none-match")? else {
        return Ok(false);
    };
    Ok(value
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag))
}

/// A 200 with `body`, or a 304 when the client holds the same tag; both name the
/// version the page came from, `pin`.
fn answer(
    api: Api,
    headers: &HeaderMap,
    tag: String,
    pin: Pin,
    body: impl FnOnce(&mut Vec<u8>),
) -> Result<Response, ApiError> {
    let internal = |e: axum::http::header::InvalidHeaderValue| ApiError::Internal(e.to_string());
    let tag_value = HeaderValue::from_str(&tag).map_err(internal)?;
    let pin_value = HeaderValue::from_str(&pin.to_string()).map_err(internal)?;
    let version = header::HeaderName::from_static(VERSION_HEADER);
    // Listings depend on the caller's credentials: no shared cache may store one
    // (a cache that stores what comes without `Authorization` would otherwise serve
    // one caller's listing to the next by `X-Api-Token`).
    let private = [
        (header::CACHE_CONTROL, HeaderValue::from_static("private")),
        (
            header::VARY,
            HeaderValue::from_static("authorization, x-api-token"),
        ),
    ];
    if not_modified(headers, &tag)? {
        return Ok((
            StatusCode::NOT_MODIFIED,
            private,
            [(header::ETAG, tag_value), (version, pin_value)],
        )
            .into_response());
    }
    let mut out = Vec::with_capacity(16 << 10);
    body(&mut out);
    Ok((
        StatusCode::OK,
        private,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(api.content_type()),
            ),
            (header::ETAG, tag_value),
            (version, pin_value),
        ],
        out,
    )
        .into_response())
}

async fn eligible_parents(
    State(s): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let result = (|| {
        let principal = s.principal(&headers)?;
        let (snapshot, _) =
            s.snapshot_for(&query, |current| {
                match telecomx::ListRequest::read(current, principal, &query) {
                    Err(denied @ ApiError::AccessDenied(_)) => Err(denied),
                    _ => Ok(()),
                }
            })?;
        // Flags, access, then order and paging: a refused caller learns nothing.
        let r = telecomx::ListRequest::read(&snapshot, principal, &query)?;
        let page = snapshot.eligible_parents(principal, r.flags, r.order, r.page)?;
        let key = format!("{:?}|{:?}", r.flags.effective(), r.order);
        let tag = etag(&s, TELECOMX_PATH, principal, &key, &page);
        answer(Api::TelecomX, &headers, tag, s.pin(page.version()), |out| {
            telecomx::write_list(&page, out)
        })
    })();
    result.unwrap_or_else(|e| Api::TelecomX.error(&e))
}

async fn downline(
    State(s): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let result = (|| {
        let principal = s.principal(&headers)?;
        let (snapshot, is_pinned) = s.snapshot_for(&query, |current| {
            downline_owner(current, principal).map(drop)
        })?;
        // Access before anything else is read.
        let reseller = downline_owner(&snapshot, principal)?;
        let order = order_from_query(&query)?;
        let page = snapshot.downline(reseller, order, page_request_from_query(&query)?)?;
        // Links page this listing: they keep its order, and its version if pinned.
        let mut base = match order {
            Order::PreOrder => format!("{}{JSONAPI_PATH}", s.base_url),
            Order::LevelOrder => format!("{}{JSONAPI_PATH}?order=level", s.base_url),
        };
        let pin = s.pin(page.version());
        if is_pinned {
            let sep = if base.contains('?') { '&' } else { '?' };
            base.push_str(&format!("{sep}{VERSION_PARAMETER}={pin}"));
        }
        let tag = etag(&s, JSONAPI_PATH, principal, &format!("{order:?}"), &page);
        answer(Api::JsonApi, &headers, tag, pin, |out| {
            jsonapi::write_document(&page, &base, out)
        })
    })();
    result.unwrap_or_else(|e| Api::JsonApi.error(&e))
}

async fn not_found(uri: Uri) -> Response {
    let shown: String = uri.path().chars().take(200).collect();
    Api::of(uri.path()).error(&ApiError::UnknownPath(shown))
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let shown: String = method.as_str().chars().take(32).collect();
    let mut resp = Api::of(uri.path()).error(&ApiError::MethodNotAllowed(shown));
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET"));
    resp
}

async fn health(State(shared): State<Shared>) -> Response {
    let check = shared.health.as_ref().map(|h| (h.0)());
    let (status, word, detail) = match check {
        None => (StatusCode::OK, "ok", None),
        Some(Ok(d)) => (StatusCode::OK, "ok", Some(d)),
        Some(Err(d)) => (StatusCode::SERVICE_UNAVAILABLE, "stale", Some(d)),
    };
    let body = serde_json::json!({
        "status": word,
        "version": shared.hierarchy.snapshot().version(),
        "position": shared.hierarchy.position().map(|p| p.get()),
        "detail": detail,
    });
    (status, [(header::CONTENT_TYPE, JSON)], body.to_string()).into_response()
}

async fn ceiling(RawQuery(query): RawQuery) -> Response {
    let bytes = query
        .as_deref()
        .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "bytes"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(1024)
        .min(16 << 20);
    // A JSON string of that many bytes, as constant as a body gets.
    let mut body = vec![b'x'; bytes.max(2)];
    body[0] = b'"';
    let last = body.len() - 1;
    body[last] = b'"';
    ([(header::CONTENT_TYPE, JSON)], body).into_response()
}
