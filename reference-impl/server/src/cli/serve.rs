//! `mtpspec serve`: the reference SMTP/VMTP server in the foreground, and beside it (or
//! alone) the HTTP gateway, which delivers through the reference client to an upstream and
//! reads the same store.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::client::queue::RetryPolicy;
use crate::client::tls::{Verify, system_roots};
use crate::gateway::{GatewayOptions, Limits, RunningGateway, Upstream};
use crate::mmtp::{MmtpOptions, RunningMmtp};
use crate::server::{RunningServer, ServerOptions};
use crate::store::{Store, StoreOptions, SyncMode};
use crate::tls::TlsSource;
use crate::units::parse_duration;
use anyhow::Context;

/// The arguments of `mtpspec serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Plain SMTP listener (STARTTLS offered), e.g. 127.0.0.1:2525.
    #[arg(long, value_name = "ADDR")]
    smtp: Option<SocketAddr>,
    /// Implicit-TLS listener (like port 465).
    #[arg(long, value_name = "ADDR")]
    smtps: Option<SocketAddr>,
    /// Submission listener: AUTH PLAIN over TLS required before MAIL (like port 587).
    #[arg(long, value_name = "ADDR")]
    submission: Option<SocketAddr>,
    /// Directory of the durable message store (created if missing).
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// A local domain whose mail is stored here (repeatable; default example.test).
    #[arg(long = "domain", value_name = "DOMAIN")]
    domains: Vec<String>,
    /// Only these local parts exist in the local domains (repeatable; default: any; postmaster always).
    #[arg(long = "user", value_name = "NAME")]
    users: Vec<String>,
    /// AUTH PLAIN credentials as user:password (repeatable).
    #[arg(long = "credential", value_name = "USER:PASSWORD")]
    credentials: Vec<String>,
    /// The name in the greeting and the EHLO reply.
    #[arg(long, default_value = "mx.example.test")]
    hostname: String,
    /// PEM certificate chain (default: a generated self-signed certificate).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Offer no TLS at all (STARTTLS and ENCRYPT answer 454).
    #[arg(long, conflicts_with_all = ["tls_cert", "smtps"])]
    no_tls: bool,
    /// Behave as a plain SMTP server: no VMTP keyword, VMTP verbs get 502.
    #[arg(long)]
    no_vmtp: bool,
    /// Largest message in octets (advertised with SIZE).
    #[arg(long, default_value_t = 10 * 1024 * 1024)]
    max_message_size: u64,
    /// Recipients per transaction (at least 100).
    #[arg(long, default_value_t = 100)]
    max_recipients: usize,
    /// Seconds of client silence before 421 and close (MMTP: TIMEOUT and close). RFC 5321
    /// asks for at least 300; less is for tests.
    #[arg(long, default_value_t = 300)]
    idle_timeout: u64,
    /// Concurrent connections, per server (SMTP, MMTP); more are answered 421 (MMTP:
    /// RATE_LIMITED) and closed.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Concurrent SMTP connections from one client address; more are answered `421 4.3.2`
    /// and closed (nothing on the implicit-TLS port, which is closed without a handshake).
    #[arg(long, value_name = "N", default_value_t = 32)]
    max_per_address: usize,
    /// Octets of a message under way that one SMTP connection holds in memory; beyond them
    /// the data goes to a file under DATA_DIR/spool until the message is stored or dropped.
    #[arg(long, value_name = "OCTETS", default_value_t = 256 * 1024)]
    spool_threshold: usize,
    /// Seconds for a TLS handshake (implicit TLS, STARTTLS, ENCRYPT START); a client that
    /// does not complete it is closed silently: no SMTP reply can be sent mid-handshake.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    handshake_timeout: u64,
    /// Seconds a reply (SMTP) or response (MMTP) may wait for a client that does not read it;
    /// then the connection is closed silently (the client reads nothing more).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    write_timeout: u64,
    /// Seconds from a reply until the next command line is complete, however often bytes
    /// arrive; then `421 4.4.2 <host> Idle timeout, closing connection`. RFC 5321
    /// §4.5.3.2.7 asks for at least 300.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    command_timeout: u64,
    /// Octets per second that DATA or a BDAT chunk must average once --data-rate-grace has
    /// passed; a slower client gets `421 4.4.2 <host> Idle timeout, closing connection` and
    /// the message is not stored (0: no minimum).
    #[arg(long, value_name = "OCTETS", default_value_t = 1024)]
    min_data_rate: u64,
    /// Seconds of a data phase before --min-data-rate applies (RFC 5321 §4.5.3.2.5 lets a
    /// client wait 3 minutes on one block of data).
    #[arg(long, value_name = "SECS", default_value_t = 180)]
    data_rate_grace: u64,
    /// Seconds the `535` reply to a connection's first failed AUTH waits, doubled for each
    /// further failure there (at most 30 s); past a burst of 20 failures, one client address
    /// gets no more than one failed AUTH answered per this many seconds, on any number of
    /// connections. Other sessions are not held up (0: no delay). The error limit still
    /// closes the session with 421.
    #[arg(long, value_name = "SECS", default_value_t = 1)]
    auth_failure_delay: u64,
    /// A client address greeted with 554 and served nothing but QUIT (repeatable; an
    /// IPv4-mapped IPv6 peer matches its IPv4 address).
    #[arg(long = "deny", value_name = "ADDR")]
    deny: Vec<IpAddr>,
    /// `durable` (fsync before 250, the default) or `none` (a sink for benchmarks: no fsync).
    #[arg(long, default_value = "durable", value_parser = ["durable", "none"])]
    sync: String,
    /// NOT DURABLE, benchmarks only: answer 250 after the dot and store nothing (SMTP
    /// listeners; the messages are thrown away and cannot be read or STATUSed).
    #[arg(long)]
    sink: bool,
    /// HTTP gateway listener, e.g. 127.0.0.1:8080: POST /send and /batch (the VMTP seed's
    /// Worker API), GET /deliveries, GET /messages (this --data-dir), GET /openapi.json.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// Where the gateway delivers: smtp://HOST:PORT, smtp+starttls://HOST:PORT or
    /// smtps://HOST:PORT (default: this server's --smtp listener).
    #[arg(long, value_name = "URL", requires = "http")]
    upstream: Option<String>,
    /// Accept any certificate from a TLS upstream (self-signed test servers).
    #[arg(long, requires = "upstream")]
    upstream_insecure: bool,
    /// The gateway's wait before retrying a message the upstream refused for now (4yz, or
    /// no connection); it doubles per attempt up to --retry-max-interval. `30s`, `1m`.
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = parse_duration, requires = "http")]
    retry_initial: Duration,
    /// The longest wait between two attempts of one message.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration, requires = "http")]
    retry_max_interval: Duration,
    /// How long after it was accepted the gateway gives a message up (it is then `failed`
    /// in GET /deliveries).
    #[arg(long, value_name = "DURATION", default_value = "5d", value_parser = parse_duration, requires = "http")]
    retry_max_age: Duration,
    /// Largest HTTP request body in octets (larger gets 413).
    #[arg(long, value_name = "OCTETS", default_value_t = 25 * 1024 * 1024)]
    http_max_body: usize,
    /// HTTP connections at once; a connection past this is answered 503 and closed.
    #[arg(long, value_name = "N", default_value_t = 512)]
    http_max_connections: usize,
    /// Seconds for a whole HTTP request head, from the connection's opening (or, kept
    /// alive, from the request's first octet); then the connection is closed unanswered.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    http_header_timeout: u64,
    /// Seconds an HTTP request body may go without an octet (after which it must also
    /// average --http-body-min-rate); then 408 and the connection is closed.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    http_body_timeout: u64,
    /// Octets per second a request body must average once --http-body-timeout has passed
    /// (0: no minimum rate).
    #[arg(long, value_name = "OCTETS", default_value_t = 1024)]
    http_body_min_rate: u64,
    /// Seconds a kept-alive HTTP connection may wait for its next request.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    http_idle_timeout: u64,
    /// Octets of HTTP request bodies held at once over all connections (at least
    /// --http-max-body); a body that does not fit gets 503.
    #[arg(long, value_name = "OCTETS", default_value_t = 256 * 1024 * 1024)]
    http_max_body_memory: usize,
    /// MMTP listener (JSON over TCP), usually port 8025.
    #[arg(long, value_name = "ADDR")]
    mmtp: Option<SocketAddr>,
    /// MMTP over implicit TLS, usually port 8026.
    #[arg(long, value_name = "ADDR")]
    mmtps: Option<SocketAddr>,
    /// MMTP HashCash difficulty, in leading hex zeros.
    #[arg(long, value_name = "N", default_value_t = 5)]
    mmtp_difficulty: u32,
    /// Concurrent MMTP connections from one client address; more get RATE_LIMITED.
    #[arg(long, value_name = "N", default_value_t = 16)]
    mmtp_max_per_address: usize,
}

/// Starts the listeners given (at least one of `--smtp`, `--smtps`, `--submission`, `--mmtp`,
/// `--mmtps`, `--http`), prints `listening NAME ADDR` for each, and serves until Ctrl-C or
/// SIGTERM, then shuts every server down and exits 0.
pub fn main(args: ServeArgs) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(super::output::use_color(std::io::IsTerminal::is_terminal(
            &std::io::stderr(),
        )))
        .init();
    // Every connection holds a descriptor: use all the process may have (the connection
    // limit is then kept below it, with a reserve).
    match crate::server::raise_open_files_limit() {
        Ok((before, after)) if after > before => {
            tracing::info!(before, after, "raised the open-files limit");
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot read or raise the open-files limit"),
    }
    let smtp_listeners = args.smtp.is_some() || args.smtps.is_some() || args.submission.is_some();
    let mmtp_listeners = args.mmtp.is_some() || args.mmtps.is_some();
    if !smtp_listeners && !mmtp_listeners && args.http.is_none() {
        anyhow::bail!(
            "give at least one of --smtp, --smtps, --submission, --http, --mmtp, --mmtps"
        );
    }
    if args.http.is_some() && args.upstream.is_none() && args.smtp.is_none() {
        anyhow::bail!(
            "--http needs --upstream smtp://HOST:PORT (or --smtp, which it then delivers to)"
        );
    }
    let gateway = args.http.map(|addr| GatewayArgs {
        addr,
        upstream: args.upstream.clone(),
        insecure: args.upstream_insecure,
        retry: RetryPolicy {
            initial: args.retry_initial,
            max_interval: args.retry_max_interval,
            max_age: args.retry_max_age,
        },
        limits: Limits {
            max_request_bytes: args.http_max_body,
            max_connections: args.http_max_connections,
            header_timeout: Duration::from_secs(args.http_header_timeout),
            body_timeout: Duration::from_secs(args.http_body_timeout),
            body_min_rate: args.http_body_min_rate,
            idle_timeout: Duration::from_secs(args.http_idle_timeout),
            max_body_memory: args.http_max_body_memory,
            ..Limits::default()
        },
    });
    let mmtp = mmtp_listeners.then(|| {
        let mut mmtp = MmtpOptions::new(args.data_dir.clone());
        mmtp.mmtp = args.mmtp;
        mmtp.mmtps = args.mmtps;
        mmtp.difficulty = args.mmtp_difficulty;
        mmtp.max_per_ip = args.mmtp_max_per_address;
        mmtp.idle_timeout = Duration::from_secs(args.idle_timeout);
        mmtp.write_timeout = Duration::from_secs(args.write_timeout);
        mmtp.max_connections = args.max_connections;
        mmtp
    });
    let options = options(args)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    runtime.block_on(async {
        let server = if smtp_listeners {
            Some(RunningServer::start(options.clone()).await?)
        } else {
            None
        };
        if let Some(server) = &server {
            for (name, addr) in [
                ("smtp", server.smtp_addr()),
                ("smtps", server.smtps_addr()),
                ("submission", server.submission_addr()),
            ] {
                if let Some(addr) = addr {
                    outln!("listening {name} {addr}");
                }
            }
        }
        let mmtp = match mmtp {
            Some(mut mmtp) => {
                mmtp.hostname = options.hostname.clone();
                mmtp.tls = options.tls.clone();
                let running = RunningMmtp::start(mmtp).await?;
                for (name, addr) in [
                    ("mmtp", running.mmtp_addr()),
                    ("mmtps", running.mmtps_addr()),
                ] {
                    if let Some(addr) = addr {
                        outln!("listening {name} {addr}");
                    }
                }
                Some(running)
            }
            None => None,
        };
        let gateway = match gateway {
            Some(args) => {
                let gateway = start_gateway(args, &options, server.as_ref()).await?;
                outln!("listening http {}", gateway.addr());
                Some(gateway)
            }
            None => None,
        };
        wait_for_signal().await;
        tracing::info!("shutting down");
        if let Some(gateway) = gateway {
            gateway.shutdown().await;
        }
        if let Some(server) = server {
            server.shutdown().await;
        }
        if let Some(mmtp) = mmtp {
            mmtp.shutdown().await;
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The gateway's part of the command line.
struct GatewayArgs {
    addr: SocketAddr,
    upstream: Option<String>,
    insecure: bool,
    /// Backoff and expiry of the gateway's retry queue.
    retry: RetryPolicy,
    /// The HTTP limits from the command line; the message size comes from the server's.
    limits: Limits,
}

/// Starts the gateway on the server's store (or, without SMTP listeners, on the store in
/// --data-dir opened here), delivering to --upstream or to the server's --smtp listener.
async fn start_gateway(
    args: GatewayArgs,
    options: &ServerOptions,
    server: Option<&RunningServer>,
) -> anyhow::Result<RunningGateway> {
    let upstream_url = match (args.upstream, server.and_then(RunningServer::smtp_addr)) {
        (Some(url), _) => url,
        (None, Some(addr)) => format!("smtp://{addr}"),
        (None, None) => anyhow::bail!("--http needs --upstream"),
    };
    let verify = if args.insecure {
        Verify::Insecure
    } else {
        Verify::Roots(Arc::new(system_roots()))
    };
    let upstream = Upstream::parse(&upstream_url, &verify)?;
    let store = match server {
        Some(server) => server.store().clone(),
        None => Store::open(&options.data_dir, StoreOptions { sync: options.sync })
            .with_context(|| format!("opening the store in {}", options.data_dir.display()))?,
    };
    let mut gateway = GatewayOptions::new(args.addr, upstream);
    gateway.hostname = options.hostname.clone();
    gateway.local_domains = options.domains.clone();
    gateway.limits = Limits {
        max_message_bytes: usize::try_from(options.limits.max_message_size).unwrap_or(usize::MAX),
        ..args.limits
    };
    gateway.spool_dir = Some(options.data_dir.join("gateway-spool"));
    gateway.retry = args.retry;
    Ok(RunningGateway::start(gateway, store).await?)
}

fn options(args: ServeArgs) -> anyhow::Result<ServerOptions> {
    let mut options = ServerOptions::new(args.data_dir);
    options.smtp = args.smtp;
    options.smtps = args.smtps;
    options.submission = args.submission;
    options.hostname = args.hostname;
    if !args.domains.is_empty() {
        options.domains = args.domains;
    }
    options.users = (!args.users.is_empty()).then_some(args.users);
    options.credentials = args
        .credentials
        .iter()
        .map(|c| {
            c.split_once(':')
                .map(|(u, p)| (u.to_string(), p.to_string()))
                .with_context(|| format!("--credential {c:?} is not USER:PASSWORD"))
        })
        .collect::<anyhow::Result<_>>()?;
    options.tls = match (args.no_tls, args.tls_cert, args.tls_key) {
        (true, _, _) => TlsSource::Disabled,
        (false, Some(cert), Some(key)) => TlsSource::Files { cert, key },
        _ => TlsSource::SelfSigned,
    };
    options.vmtp = !args.no_vmtp;
    options.limits.max_message_size = args.max_message_size;
    options.limits.max_recipients = args.max_recipients;
    options.idle_timeout = Duration::from_secs(args.idle_timeout);
    options.handshake_timeout = Duration::from_secs(args.handshake_timeout);
    options.write_timeout = Duration::from_secs(args.write_timeout);
    options.command_timeout = Duration::from_secs(args.command_timeout);
    options.min_data_rate = args.min_data_rate;
    options.data_rate_grace = Duration::from_secs(args.data_rate_grace);
    options.auth_failure_delay = Duration::from_secs(args.auth_failure_delay);
    options.max_connections = args.max_connections;
    options.max_per_address = args.max_per_address;
    options.spool_threshold = args.spool_threshold;
    options.deny = args.deny;
    options.sync = if args.sync == "none" {
        SyncMode::None
    } else {
        SyncMode::Durable
    };
    options.sink = args.sink;
    if options.sink {
        tracing::warn!("--sink: messages are acknowledged and thrown away (not durable)");
    }
    Ok(options)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
