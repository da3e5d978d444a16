//! `mtpspec serve-test`: play the client scenarios as a misbehaving server and judge the SMTP
//! client that connects (started by `--client-cmd`, once per case, or by hand).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use globset::Glob;
use mtpspec::scenario::load::Located;
use mtpspec::servetest::{self, ClientReport, Feature, JudgedReport, ServeOptions};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
    mtpspec serve-test --listen 127.0.0.1:2600 --client-name swaks \\\n      \
    --client-cmd 'bash harness/clients/swaks.sh {mode} {host} {port} {from} {body} {to}' \\\n      \
    --report-md swaks.md --report-json swaks.json\n  \
    mtpspec serve-test --listen 127.0.0.1:2600 --case 'client-421-*'   # connect a client by hand")]
pub struct ServeTestArgs {
    /// Where the fake server listens (loopback; port 0 picks a free one and prints it).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:2600")]
    listen: String,
    /// Client scenario files or directories [default: ./scenarios/clients in a checkout, else
    /// the set bundled into this binary]
    #[arg(long = "scenarios", value_name = "PATH")]
    scenarios: Vec<PathBuf>,
    /// Only cases whose id matches this glob; repeatable.
    #[arg(long = "case", value_name = "GLOB")]
    cases: Vec<String>,
    /// The client to start for each case; `{host}`, `{port}`, `{from}`, `{to}` (recipients,
    /// space-separated), `{body}` (a file with the message) and `{mode}` (plain or starttls)
    /// are filled in. It runs under `sh -c` in its own process group, is waited for until the
    /// case deadline and then killed. Without it, each case waits for a client to connect.
    #[arg(long, value_name = "CMD")]
    client_cmd: Option<String>,
    /// The client's name in reports [default: the command's first word, or "external"]
    #[arg(long, value_name = "NAME")]
    client_name: Option<String>,
    /// What the client can do beyond plain SMTP (comma-separated: vmtp); cases that need
    /// more are SKIP.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    client_features: Vec<Feature>,
    /// Without --client-cmd: how long each case waits for the client to connect, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    accept_timeout: u64,
    #[arg(long, value_name = "FILE")]
    report_json: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    report_md: Option<PathBuf>,
    /// Print only the summary.
    #[arg(long)]
    quiet: bool,
}

pub fn main(args: ServeTestArgs) -> anyhow::Result<ExitCode> {
    let cases = select(
        super::suite_files::client_cases(&args.scenarios)?,
        &args.cases,
    )?;
    let name = args.client_name.clone().unwrap_or_else(|| {
        args.client_cmd
            .as_deref()
            .and_then(|c| c.split_whitespace().next())
            .unwrap_or("external")
            .to_string()
    });
    let options = ServeOptions {
        client_cmd: args.client_cmd.clone(),
        features: args.client_features.clone(),
        accept_timeout: Duration::from_secs(args.accept_timeout),
        tls: servetest::tls_config()?,
    };
    let report = runtime()?.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let addr = listener.local_addr()?;
        anyhow::ensure!(
            addr.ip().is_loopback(),
            "serve-test listens on loopback only, not {addr}"
        );
        if !args.quiet {
            outln!(
                "mtpspec serve-test: {} cases for {name}, listening on {addr}",
                cases.len()
            );
        }
        let mut outcomes = Vec::new();
        for case in &cases {
            if !args.quiet && options.client_cmd.is_none() {
                outln!(
                    "waiting for a client ({}: {}): mode {}, from {}, to {}, message {:?}",
                    case.id,
                    case.title,
                    case.mode.as_str(),
                    case.from,
                    case.to.join(" "),
                    case.body
                );
            }
            let outcome = servetest::run_case(case, &listener, &options).await?;
            if !args.quiet {
                let reason = outcome.reason.as_deref().unwrap_or("");
                outln!("{:<11} {}  {reason}", outcome.verdict, outcome.id);
                let _ = std::io::stdout().flush();
            }
            outcomes.push(outcome);
        }
        anyhow::Ok(ClientReport::new(name, args.client_cmd.clone(), outcomes))
    });
    let report = match report {
        Ok(report) => report,
        Err(error) => match error.downcast::<servetest::ClientCannotRun>() {
            Ok(cannot) => {
                eprintln!("mtpspec serve-test: ERROR: {cannot}; no verdicts were given");
                return Ok(ExitCode::from(3));
            }
            Err(error) => return Err(error),
        },
    };
    finish(
        &report,
        args.report_json.as_deref(),
        args.report_md.as_deref(),
    )
}

/// The cases whose id matches one of `globs` (`--case`; all of them when there is none);
/// none matching is an error. Shared with `relay-test`.
pub(super) fn select<C: Located>(mut cases: Vec<C>, globs: &[String]) -> anyhow::Result<Vec<C>> {
    if globs.is_empty() {
        return Ok(cases);
    }
    let matchers = globs
        .iter()
        .map(|g| Glob::new(g).map(|g| g.compile_matcher()))
        .collect::<Result<Vec<_>, _>>()?;
    cases.retain(|c| matchers.iter().any(|m| m.is_match(c.id())));
    anyhow::ensure!(
        !cases.is_empty(),
        "no case matches --case {}",
        globs.join(",")
    );
    Ok(cases)
}

/// The runtime the judging subcommands run their cases on: two workers, everything enabled.
pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Prints the report's summary line, writes its JSON and Markdown where asked, and gives its
/// exit code (0 no FAIL, 1 a FAIL, 3 an ERROR). Shared with `relay-test`.
pub(super) fn finish(
    report: &impl JudgedReport,
    json: Option<&Path>,
    md: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    outln!("{}", report.summary_line());
    if let Some(path) = json {
        std::fs::write(path, report.to_json())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = md {
        std::fs::write(path, report.to_markdown())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(ExitCode::from(report.exit_code()))
}
