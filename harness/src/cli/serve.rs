//! `mtpspec serve`: the reference SMTP/VMTP server in the foreground, and beside it (or
//! alone) the HTTP gateway, which delivers through the reference client to an upstream and
//! reads the same store.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use mtp_server::client::tls::{Verify, system_roots};
use mtp_server::gateway::{GatewayOptions, Limits, RunningGateway, Upstream};
use mtp_server::mmtp::{MmtpOptions, RunningMmtp};
use mtp_server::server::{RunningServer, ServerOptions};
use mtp_server::store::{Store, StoreOptions, SyncMode};
use mtp_server::tls::TlsSource;

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
    /// Largest HTTP request body in octets (larger gets 413).
    #[arg(long, value_name = "OCTETS", default_value_t = 25 * 1024 * 1024)]
    http_max_body: usize,
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

pub fn main(args: ServeArgs) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
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
        max_body: args.http_max_body,
    });
    let mmtp = mmtp_listeners.then(|| {
        let mut mmtp = MmtpOptions::new(args.data_dir.clone());
        mmtp.mmtp = args.mmtp;
        mmtp.mmtps = args.mmtps;
        mmtp.difficulty = args.mmtp_difficulty;
        mmtp.max_per_ip = args.mmtp_max_per_address;
        mmtp.idle_timeout = Duration::from_secs(args.idle_timeout);
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
                    println!("listening {name} {addr}");
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
                        println!("listening {name} {addr}");
                    }
                }
                Some(running)
            }
            None => None,
        };
        let gateway = match gateway {
            Some(args) => {
                let gateway = start_gateway(args, &options, server.as_ref()).await?;
                println!("listening http {}", gateway.addr());
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
    max_body: usize,
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
        max_request_bytes: args.max_body,
        max_message_bytes: usize::try_from(options.limits.max_message_size).unwrap_or(usize::MAX),
        ..Limits::default()
    };
    gateway.spool_dir = Some(options.data_dir.join("gateway-spool"));
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
    options.max_connections = args.max_connections;
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
