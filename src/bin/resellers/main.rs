//! `resellers`: the engine on the command line (feature `cli`). All output is JSON on
//! stdout (NDJSON for `generate`; a table for `bench` unless `--json`); every error is
//! a non-zero exit and one JSON object on stderr, `{"error": "bad_request" |
//! "access_denied" | "not_found" | "invalid_hierarchy", "message": "..."}`. Without
//! `--data`, the demo's default hierarchy is used.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reseller_hierarchy::generate::{demo_dataset, Generator, IdStyle, Shape};
use reseller_hierarchy::postgres::{Follower, Health, Source, Table};
use reseller_hierarchy::wire::{jsonapi, telecomx, ApiError};
use reseller_hierarchy::{
    Builder, FilterFlags, Hierarchy, LoadError, Mutation, Order, Page, PageRequest, Principal,
    ResellerId, Role, Snapshot,
};
use serde_json::{json, Value};

mod bench;
mod generate;
mod output;
mod serve;

#[derive(Parser)]
#[command(
    name = "resellers",
    version,
    about = "Query a reseller hierarchy; JSON out.",
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The resellers a user may set as a customer's parent (TelecomX customer/resellers/list).
    EligibleParents {
        /// ADMIN, RESELLER_ADMIN or RESELLER; any other role is denied.
        #[arg(long)]
        role: String,
        /// The user's own reseller (required for RESELLER and RESELLER_ADMIN).
        #[arg(long)]
        principal: Option<String>,
        /// Only resellers that provide IPTV.
        #[arg(long)]
        iptv: bool,
        /// Only resellers that provide private IPTV.
        #[arg(long)]
        iptvprivate: bool,
        /// Only resellers that provide Flexcare.
        #[arg(long)]
        flexcare: bool,
        /// Only resellers that provide SIP and MVNO.
        #[arg(long)]
        voip: bool,
        #[command(flatten)]
        list: ListArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Telecomx)]
        format: Format,
    },
    /// The downline of a reseller, all levels (ActivePlatform GET /resellers).
    Downline {
        /// The reseller.
        #[arg(long)]
        id: String,
        #[command(flatten)]
        list: ListArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Jsonapi)]
        format: Format,
    },
    /// The ancestors of a reseller, nearest first (the one order: `--order level` is
    /// refused).
    Upline {
        /// The reseller.
        #[arg(long)]
        id: String,
        #[command(flatten)]
        list: ListArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Jsonapi)]
        format: Format,
    },
    /// Prints true if A is in the downline of B.
    IsInDownline {
        /// The reseller that may be below.
        #[arg(long)]
        id: String,
        /// The reseller that may be above.
        #[arg(long)]
        of: String,
        #[command(flatten)]
        data: DataArg,
    },
    /// Checks a file: every problem, or a summary of the hierarchy.
    Validate {
        #[command(flatten)]
        data: DataArg,
    },
    /// Applies a change file (one JSON array of mutations a line) to the hierarchy in
    /// order; prints the final version, or fails at the first batch refused.
    Apply {
        #[command(flatten)]
        data: DataArg,
        /// The change file: NDJSON, one batch a line (blank lines skipped).
        #[arg(long)]
        changes: PathBuf,
        /// Also write the changed hierarchy as a snapshot file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Writes the hierarchy as a snapshot file, which `--snapshot` loads many times
    /// faster than the data it came from.
    Save {
        #[command(flatten)]
        data: DataArg,
        /// The snapshot file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Measures the engine on your hierarchy: pages, filters, counts, is-in-downline,
    /// upline, response bodies and a stream of mutations; p50 and p99 of each.
    Bench {
        #[command(flatten)]
        data: DataArg,
        /// Samples per query, up to 10,000,000.
        #[arg(long, default_value_t = 1001, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=10_000_000))]
        samples: usize,
        /// One-mutation batches in the mutation stream (0: none), up to 100,000,000.
        #[arg(long, default_value_t = 10_000, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=100_000_000))]
        mutations: usize,
        /// Seed of the random pages, resellers and mutations.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// One JSON object a line ({"metric", "shape", "n", "value", "unit", ...}) instead
        /// of a table.
        #[arg(long)]
        json: bool,
    },
    /// Serves both APIs over HTTP until SIGTERM or Ctrl-C (GET /customer/resellers/list,
    /// GET /api/v3/customer_store/resellers).
    Serve {
        #[command(flatten)]
        data: DataArg,
        /// Serve a PostgreSQL table instead of a file, kept current with every committed
        /// change (a connection URL or key=value string; the server needs wal_level =
        /// logical). /health reports the follower's state.
        #[arg(long, conflicts_with_all = ["data", "snapshot"])]
        postgres: Option<String>,
        /// With --postgres: the table (schema.table), in the layout the README gives.
        #[arg(long, default_value = "resellers", requires = "postgres")]
        table: String,
        /// With --postgres: this replica's replication slot (every replica needs its own).
        #[arg(long, default_value = "resellers_serve", requires = "postgres")]
        slot: String,
        /// Address to listen on (port 0: any free port, reported on stderr).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// The service's public URL, for JSON:API links (default: http://ADDRESS; required
        /// when ADDRESS is every address, 0.0.0.0 or `[::]`).
        #[arg(long)]
        base_url: Option<String>,
        /// Token file, {"tokens": [{"token": "...", "role": "RESELLER_ADMIN", "reseller":
        /// "1"}, ...]}; callers send `Authorization: Bearer TOKEN` or `X-Api-Token`.
        /// Required with --data; the demo data comes with demo tokens.
        #[arg(long)]
        tokens: Option<PathBuf>,
        /// Also serve /_ceiling?bytes=N, a constant body, to measure the HTTP stack alone.
        #[arg(long)]
        ceiling_route: bool,
        /// Seconds that requests still open at SIGTERM or Ctrl-C get to finish (a client
        /// that sent half a request and went quiet would otherwise hold the stop
        /// forever); then the service stops anyway.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=3600))]
        shutdown_grace: u64,
    },
    /// Writes a synthetic hierarchy as NDJSON, from the crate's seeded generators.
    Generate {
        /// The hierarchy's shape.
        #[arg(long, value_enum, default_value_t = ShapeArg::Random)]
        shape: ShapeArg,
        /// Number of resellers.
        #[arg(long)]
        n: usize,
        /// Seed: the same seed gives the same file.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Number of roots (distributors); the shape hangs under them.
        #[arg(long, default_value_t = 1)]
        roots: usize,
        /// How ids look.
        #[arg(long, value_enum, default_value_t = IdsArg::Decimal)]
        ids: IdsArg,
        /// Give every reseller the ActivePlatform attribute set (created-at, updated-at,
        /// general, company, contacts, custom-attributes).
        #[arg(long)]
        attributes: bool,
        /// List records in a random order instead of parents first (holds them all in
        /// memory).
        #[arg(long)]
        shuffled: bool,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ShapeArg {
    /// Each reseller under a uniformly chosen earlier one (depth about ln n).
    Random,
    /// Preferential attachment: the power-law fan-out of multi-level sales networks.
    PowerLaw,
    /// Deep chains: each reseller under the previous one.
    Chain,
    /// Wide stars: every reseller directly under a root.
    Star,
}

#[derive(Clone, Copy, ValueEnum)]
enum IdsArg {
    /// "1", "2", ... as ActivePlatform's.
    Decimal,
    /// 24 hex digits, as TelecomX's object ids.
    ObjectId,
}

#[derive(Args)]
struct DataArg {
    /// NDJSON, a JSON array of records, or an ActivePlatform document (default: the
    /// built-in demo hierarchy of 100,000 resellers).
    #[arg(long)]
    data: Option<PathBuf>,
    /// A snapshot file written by `resellers save`, instead of --data.
    #[arg(long, conflicts_with = "data")]
    snapshot: Option<PathBuf>,
}

#[derive(Args)]
struct ListArgs {
    /// Page number, from 1.
    #[arg(long, allow_hyphen_values = true)]
    page: Option<String>,
    /// Items per page, 1 to 1000.
    #[arg(long, allow_hyphen_values = true)]
    per_page: Option<String>,
    /// Listing order.
    #[arg(long, value_enum, default_value_t = OrderArg::Pre)]
    order: OrderArg,
    /// Base URL of the JSON:API links (default: the endpoint's path,
    /// /customer/resellers/list, /api/v3/customer_store/resellers, or
    /// /api/v3/customer_store/resellers/ID/upline); the listing's own parameters
    /// (flags, order) are kept in the links.
    #[arg(long)]
    base_url: Option<String>,
    #[command(flatten)]
    data: DataArg,
}

impl ListArgs {
    /// The page asked for; an error names the option as given (`--per-page`).
    fn page_request(&self) -> Result<PageRequest, Failure> {
        PageRequest::parse(self.page.as_deref(), self.per_page.as_deref()).map_err(|e| {
            let option = match e.parameter() {
                "page" => "--page",
                _ => "--per-page",
            };
            Failure::from(e.sent_as(option))
        })
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// A JSON array of {"_id", "name", "integrations"}.
    Telecomx,
    /// A JSON:API document with links and meta.total.
    Jsonapi,
}

#[derive(Clone, Copy, ValueEnum)]
enum OrderArg {
    /// Depth-first pre-order.
    Pre,
    /// Level order.
    Level,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // No command: the commands, as --help prints them.
            let _ = <Cli as clap::CommandFactory>::command().print_help();
            return ExitCode::from(2);
        }
        Err(e) if !e.use_stderr() => {
            // --help, --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // clap's message up to its usage line, on one line.
            let message = e.to_string();
            let text: Vec<&str> = message
                .lines()
                .take_while(|l| !l.starts_with("Usage:"))
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            let text = text.join(" ");
            return fail("bad_request", text.trim_start_matches("error: "));
        }
    };
    match run(cli.command) {
        Ok(text) if text.is_empty() => ExitCode::SUCCESS,
        Ok(text) => {
            let mut stdout = std::io::stdout().lock();
            match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail("bad_request", &format!("cannot write to stdout: {e}")),
            }
        }
        Err(Failure::Api(e)) => fail(e.code(), &e.to_string()),
        Err(Failure::Io(message)) => fail("bad_request", &message),
        Err(Failure::Refused(message)) => fail("mutation_refused", &message),
        Err(Failure::Invalid(problems)) => {
            let _ = writeln!(
                std::io::stdout().lock(),
                "{}",
                serde_json::to_string_pretty(&json!({"valid": false, "problems": problems}))
                    .unwrap_or_default()
            );
            let n = problems.as_array().map_or(0, Vec::len);
            fail("invalid_hierarchy", &format!("{n} problem(s) in the data"))
        }
    }
}

fn fail(code: &str, message: &str) -> ExitCode {
    let body = json!({"error": code, "message": message});
    let _ = writeln!(std::io::stderr().lock(), "{body}");
    ExitCode::from(match code {
        "invalid_hierarchy" | "mutation_refused" => 3,
        _ => 2,
    })
}

enum Failure {
    Api(ApiError),
    Io(String),
    /// `apply` met a batch the hierarchy refuses.
    Refused(String),
    /// `validate` found problems: the list goes to stdout.
    Invalid(Value),
}

impl<E: Into<ApiError>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Api(e.into())
    }
}

fn load(data: &DataArg) -> Result<Snapshot, Failure> {
    if let Some(path) = &data.snapshot {
        let file = File::open(path)
            .map_err(|e| Failure::Io(format!("cannot read {}: {e}", path.display())))?;
        // Records that form no hierarchy are reported as the same records read
        // with --data are; a damaged file is bad input.
        return Snapshot::load(BufReader::with_capacity(1 << 20, file)).map_err(|e| match e {
            LoadError::Invalid(e) => Failure::from(e),
            e => Failure::Io(format!("{}: {e}", path.display())),
        });
    }
    let Some(path) = &data.data else {
        return Ok(Snapshot::build(demo_dataset())?);
    };
    let started = std::time::Instant::now();
    let snap = read_file(path)?.build()?;
    if std::io::stderr().is_terminal() && snap.len() > 100_000 {
        let s = started.elapsed().as_secs_f64();
        eprintln!(
            "imported {} resellers in {s:.2} s ({:.0} records/s)",
            snap.len(),
            snap.len() as f64 / s.max(1e-9)
        );
    }
    Ok(snap)
}

fn read_file(path: &Path) -> Result<Builder, Failure> {
    let io = |e: std::io::Error| Failure::Io(format!("cannot read {}: {e}", path.display()));
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut builder = Builder::new();
    // A progress bar only for a person watching a large file.
    if std::io::stderr().is_terminal() && len > 4 << 20 {
        let bar = indicatif::ProgressBar::new(len);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} reading {bytes}/{total_bytes} ({bytes_per_sec}) {wide_bar} {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        builder
            .read_any(BufReader::with_capacity(1 << 20, bar.wrap_read(file)))
            .map_err(io)?;
        bar.finish_and_clear();
    } else {
        builder
            .read_any(BufReader::with_capacity(1 << 20, file))
            .map_err(io)?;
    }
    Ok(builder)
}

const DOWNLINE_URL: &str = "/api/v3/customer_store/resellers";

/// What an id keeps unencoded in a link's path: RFC 3986's unreserved characters.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `base` with `params` appended to its query string.
fn with_params(base: &str, params: &[&str]) -> String {
    if params.is_empty() {
        return base.to_owned();
    }
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{}", params.join("&"))
}

fn order(o: OrderArg) -> Order {
    match o {
        OrderArg::Pre => Order::PreOrder,
        OrderArg::Level => Order::LevelOrder,
    }
}

fn render(page: &Page<'_>, format: Format, base_url: &str) -> Result<String, Failure> {
    match format {
        Format::Telecomx => to_json(&telecomx::list(page)),
        Format::Jsonapi => to_json(&jsonapi::document(page, base_url)),
    }
}

fn to_json(v: &impl serde::Serialize) -> Result<String, Failure> {
    serde_json::to_string_pretty(v).map_err(|e| Failure::Api(ApiError::Internal(e.to_string())))
}

fn run(command: Command) -> Result<String, Failure> {
    match command {
        Command::Bench {
            data,
            samples,
            mutations,
            seed,
            json,
        } => {
            let start = std::time::Instant::now();
            let snap = load(&data)?;
            let source =
                data.data
                    .as_deref()
                    .or(data.snapshot.as_deref())
                    .map_or("demo".to_owned(), |p| {
                        p.file_name()
                            .unwrap_or(p.as_os_str())
                            .to_string_lossy()
                            .into_owned()
                    });
            let opts = bench::Options {
                samples,
                mutations,
                seed,
                json,
                source,
                load: start.elapsed(),
            };
            Ok(bench::run(snap, &opts).trim_end().to_owned())
        }
        Command::Serve {
            data,
            postgres,
            table,
            slot,
            listen,
            base_url,
            tokens,
            ceiling_route,
            shutdown_grace,
        } => {
            // Links name the service by --base-url, else by the address it listens on,
            // which for every address (0.0.0.0, [::]) no client can reach it by.
            let everywhere = listen
                .parse::<std::net::SocketAddr>()
                .is_ok_and(|a| a.ip().is_unspecified());
            if everywhere && base_url.is_none() {
                return Err(Failure::Io(format!(
                    "--listen {listen} listens on every address: give --base-url, the URL \
                     clients reach the service by, for the JSON:API links"
                )));
            }
            let own_data = data.data.is_some() || data.snapshot.is_some() || postgres.is_some();
            let tokens = match (&tokens, own_data) {
                (Some(path), _) => {
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| Failure::Io(format!("cannot read {}: {e}", path.display())))?;
                    reseller_hierarchy::http::Tokens::from_json(&text)
                        .map_err(|e| Failure::Io(format!("{}: {e}", path.display())))?
                }
                (None, false) => reseller_hierarchy::http::Tokens::demo(),
                (None, true) => {
                    return Err(Failure::Io(
                        "--tokens FILE is required with --data, --snapshot or --postgres (the demo tokens serve only the demo data)"
                            .into(),
                    ))
                }
            };
            // The follower (if any) lives while the service does; dropping it stops its
            // thread and drops its slot.
            let (hierarchy, follower) = match postgres {
                Some(url) => {
                    let source = Source::new(&url, Table::new(&table)).slot(&slot);
                    let f = Follower::start(source)
                        .map_err(|e| Failure::Io(format!("--postgres: {e}")))?;
                    (f.hierarchy().clone(), Some(Arc::new(f)))
                }
                None => (Arc::new(Hierarchy::new(load(&data)?)), None),
            };
            let health = follower.clone().map(|f| {
                reseller_hierarchy::http::HealthCheck::new(move || match f.health() {
                    h @ Health::Following { .. } => Ok(h.to_string()),
                    h => Err(h.to_string()),
                })
            });
            let grace = std::time::Duration::from_secs(shutdown_grace);
            serve::run(hierarchy, tokens, &listen, grace, |addr| {
                let mut o = reseller_hierarchy::http::ServeOptions::new(
                    base_url.unwrap_or_else(|| format!("http://{addr}")),
                );
                o.ceiling = ceiling_route;
                o.health = health;
                o
            })
            .map_err(Failure::Io)?;
            drop(follower);
            Ok(String::new())
        }
        Command::Generate {
            shape,
            n,
            seed,
            roots,
            ids,
            attributes,
            shuffled,
            out,
        } => {
            let shape = match shape {
                ShapeArg::Random => Shape::Random,
                ShapeArg::PowerLaw => Shape::PowerLaw,
                ShapeArg::Chain => Shape::Chain,
                ShapeArg::Star => Shape::Star,
            };
            let ids = match ids {
                IdsArg::Decimal => IdStyle::Decimal,
                IdsArg::ObjectId => IdStyle::ObjectId,
            };
            let g = Generator::new(shape, n)
                .seed(seed)
                .roots(roots)
                .ids(ids)
                .attributes(attributes);
            let written = match &out {
                Some(path) => {
                    let io = |e: std::io::Error| {
                        Failure::Io(format!("cannot write {}: {e}", path.display()))
                    };
                    let mut written = 0;
                    output::write_whole(path, |file| {
                        written = generate::write_ndjson(&g, shuffled, file)?;
                        Ok(())
                    })
                    .map_err(io)?;
                    written
                }
                None => {
                    let stdout = std::io::stdout().lock();
                    generate::write_ndjson(&g, shuffled, stdout)
                        .map_err(|e| Failure::Io(format!("cannot write to stdout: {e}")))?;
                    // The records are the output; nothing follows them.
                    return Ok(String::new());
                }
            };
            let path = out.as_deref().map(Path::display).map(|d| d.to_string());
            Ok(json!({"written": written, "out": path}).to_string())
        }
        Command::EligibleParents {
            role,
            principal,
            iptv,
            iptvprivate,
            flexcare,
            voip,
            list,
            format,
        } => {
            let role: Role = role.parse().unwrap_or_else(|e| match e {});
            let principal = Principal {
                role,
                reseller: principal.map(ResellerId::from),
            };
            let flags = FilterFlags {
                iptv,
                iptvprivate,
                flexcare,
                voip,
            };
            let snap = load(&list.data)?;
            // Access is decided before paging is read: a refused caller gets 403
            // whatever its page parameters say.
            snap.eligible_count(&principal, flags)?;
            let req = list.page_request()?;
            let page = snap.eligible_parents(&principal, flags, order(list.order), req)?;
            // Links keep the listing's own parameters, so that they page this listing.
            let params: Vec<&str> = [
                (iptv, "iptv=true"),
                (iptvprivate, "iptvprivate=true"),
                (flexcare, "flexcare=true"),
                (voip, "voip=true"),
                (matches!(list.order, OrderArg::Level), "order=level"),
            ]
            .into_iter()
            .filter_map(|(on, p)| on.then_some(p))
            .collect();
            let base = list
                .base_url
                .as_deref()
                .unwrap_or("/customer/resellers/list");
            render(&page, format, &with_params(base, &params))
        }
        Command::Downline { id, list, format } => {
            let req = list.page_request()?;
            let snap = load(&list.data)?;
            let page = snap.downline(&ResellerId::from(id), order(list.order), req)?;
            let params: &[&str] = match list.order {
                OrderArg::Level => &["order=level"],
                OrderArg::Pre => &[],
            };
            let base = list.base_url.as_deref().unwrap_or(DOWNLINE_URL);
            render(&page, format, &with_params(base, params))
        }
        Command::Upline { id, list, format } => {
            if matches!(list.order, OrderArg::Level) {
                return Err(Failure::Api(ApiError::BadParameter {
                    parameter: "order".into(),
                    message: "an upline has one order, nearest first: `--order level` does not \
                              apply to it"
                        .into(),
                }));
            }
            let req = list.page_request()?;
            let snap = load(&list.data)?;
            let page = snap.upline_page(&ResellerId::from(id.as_str()), req)?;
            // The id is a path segment of the link: percent-encoded, so that an id
            // with `?`, `#`, `/` or `%` in it still names itself.
            let default = format!(
                "{DOWNLINE_URL}/{}/upline",
                utf8_percent_encode(&id, PATH_SEGMENT)
            );
            render(&page, format, list.base_url.as_deref().unwrap_or(&default))
        }
        Command::IsInDownline { id, of, data } => {
            let snap = load(&data)?;
            let yes = snap.is_in_downline(&ResellerId::from(id), &ResellerId::from(of))?;
            Ok(yes.to_string())
        }
        Command::Apply { data, changes, out } => {
            if let Some(out) = &out {
                let inputs = data.data.iter().map(PathBuf::as_path);
                output::check_not_input(out, inputs.chain([changes.as_path()]))
                    .map_err(Failure::Io)?;
            }
            let snap = load(&data)?;
            let resellers = Hierarchy::new(snap);
            let io =
                |e: std::io::Error| Failure::Io(format!("cannot read {}: {e}", changes.display()));
            let reader = BufReader::new(File::open(&changes).map_err(io)?);
            let mut batches = 0usize;
            for (i, line) in reader.split(b'\n').enumerate() {
                let mut line = line.map_err(io)?;
                // A byte order mark, as Windows editors write it, as data files may have.
                if i == 0 && line.starts_with(b"\xEF\xBB\xBF") {
                    line.drain(..3);
                }
                // JSON's white space (not form feed, which is_ascii_whitespace has).
                if line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
                    continue;
                }
                let batch: Vec<Mutation> = serde_json::from_slice(&line).map_err(|e| {
                    Failure::Io(format!(
                        "{} line {}: not a batch of mutations: {e}",
                        changes.display(),
                        i + 1
                    ))
                })?;
                if let Err(e) = resellers.apply(&batch) {
                    return Err(Failure::Refused(format!(
                        "{} line {} (batch {}): {e}",
                        changes.display(),
                        i + 1,
                        batches + 1
                    )));
                }
                batches += 1;
            }
            let snap = resellers.snapshot();
            if let Some(out) = &out {
                let io =
                    |e: std::io::Error| Failure::Io(format!("cannot write {}: {e}", out.display()));
                output::write_whole(out, |file| snap.save(file)).map_err(io)?;
            }
            to_json(
                &json!({"version": snap.version(), "batches": batches, "resellers": snap.len()}),
            )
        }
        Command::Save { data, out } => {
            output::check_not_input(&out, data.data.iter().map(PathBuf::as_path))
                .map_err(Failure::Io)?;
            let snap = load(&data)?;
            let io =
                |e: std::io::Error| Failure::Io(format!("cannot write {}: {e}", out.display()));
            let bytes = output::write_whole(&out, |file| snap.save(file)).map_err(io)?;
            to_json(&json!({"saved": out, "resellers": snap.len(), "bytes": bytes}))
        }
        Command::Validate { data } => {
            let built = match (&data.snapshot, &data.data) {
                (Some(path), _) => {
                    let file = File::open(path)
                        .map_err(|e| Failure::Io(format!("cannot read {}: {e}", path.display())))?;
                    match Snapshot::load(BufReader::with_capacity(1 << 20, file)) {
                        Err(LoadError::Invalid(e)) => Err(e),
                        Err(e) => return Err(Failure::Io(format!("{}: {e}", path.display()))),
                        Ok(snap) => Ok(snap),
                    }
                }
                (None, Some(path)) => read_file(path)?.build(),
                (None, None) => {
                    let mut b = Builder::new();
                    demo_dataset().into_iter().for_each(|r| b.push(r));
                    b.build()
                }
            };
            match built {
                Ok(snap) => {
                    let s = snap.summary();
                    let caps: serde_json::Map<String, Value> = s
                        .capability_counts
                        .iter()
                        .map(|(c, n)| (c.name().to_owned(), json!(n)))
                        .collect();
                    to_json(&json!({
                        "valid": true,
                        "resellers": s.resellers,
                        "roots": s.roots,
                        "max_depth": s.max_depth,
                        "widest_fan_out": s.widest_fan_out,
                        "capabilities": caps,
                        "index_bytes": s.index_bytes,
                    }))
                }
                Err(e) => Err(Failure::Invalid(
                    serde_json::to_value(e.problems()).unwrap_or_default(),
                )),
            }
        }
    }
}
