//! `mtpspec run`: load the scenarios, run them against a target, report, and exit with the
//! gate's code: 0 every MUST passed, 1 a MUST failed (or a SHOULD with `--strict`, or a stale
//! baseline entry), 2 usage or scenario error, 3 harness or target error.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use mtpspec::report::{self, ReportInput, RunReport, terminal};
use mtpspec::scenario::{Filter, Step, VarConfig, load_paths};
use mtpspec::target::{
    CommandObserver, Listener, MaildirObserver, MultiTarget, Observer, SHORT_IDLE, Target,
    TargetSpec, TcpTarget,
};
use mtpspec::{Baseline, RunOptions, Runner, Spec};

#[derive(clap::Args)]
pub struct RunArgs {
    /// The server under test: `embedded` (the reference, in-process), smtp://HOST:PORT,
    /// smtps://HOST:PORT (implicit TLS), mmtp://HOST:PORT, mmtps://HOST:PORT (MMTP, plain or
    /// implicit TLS), http://HOST:PORT (the HTTP gateway) or exec:COMMAND (SMTP on the
    /// command's stdin/stdout).
    #[arg(
        long,
        short,
        value_name = "TARGET",
        default_value = "embedded",
        env = "MTPSPEC_TARGET"
    )]
    target: String,
    /// Scenario files or directories [default: the repository's scenarios/smtp, scenarios/vmtp,
    /// scenarios/mmtp and scenarios/http]
    #[arg(long = "scenarios", value_name = "PATH")]
    scenarios: Vec<PathBuf>,
    /// SPEC.md, for requirement texts in reports [default: the repository's SPEC.md]
    #[arg(long, value_name = "FILE")]
    spec: Option<PathBuf>,
    /// Run only cases whose id, cited requirement IDs or spec sections match a glob
    /// (repeatable, or comma-separated): `smtp-data-*`, `SMTP-SMUGGLING-*`, `VMTP-BATCH`.
    #[arg(long, short, value_name = "GLOB")]
    filter: Vec<String>,
    /// List the selected cases without running them.
    #[arg(long)]
    list: bool,
    /// Cases running at once.
    #[arg(long, short = 'j', value_name = "N", default_value_t = 8)]
    parallel: usize,
    /// The most one case may take (e.g. 30s, 1500ms); a case that hits it is reported.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    deadline: Duration,
    /// How long a step waits for a reply.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    step_timeout: Duration,
    /// Treat WARN (a SHOULD broken) as failing the gate.
    #[arg(long)]
    strict: bool,
    /// Expected failures with reasons (YAML: `case-id: reason`).
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Write the JSON report (schema mtpspec-report, version 1).
    #[arg(long, value_name = "FILE")]
    report_json: Option<PathBuf>,
    /// Write a JUnit XML report.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write a Markdown report.
    #[arg(long, value_name = "FILE")]
    report_md: Option<PathBuf>,
    /// A domain the target delivers locally [default: the target's, else example.test]
    #[arg(long, value_name = "DOMAIN")]
    domain: Option<String>,
    /// A local user the target accepts (repeatable). Without it, any local part is assumed to
    /// be accepted and every case gets unique recipients.
    #[arg(long = "local-user", value_name = "USER")]
    local_users: Vec<String>,
    /// The target's submission listener (AUTH), for cases with `listener: submission`.
    #[arg(long, value_name = "HOST:PORT")]
    submission: Option<String>,
    /// The target's implicit-TLS listener, for cases with `listener: smtps`.
    #[arg(long, value_name = "HOST:PORT")]
    smtps: Option<String>,
    /// The target's MMTP listener (plain TCP), for the MMTP cases next to an SMTP target.
    #[arg(long, value_name = "HOST:PORT")]
    mmtp: Option<String>,
    /// The target's MMTP implicit-TLS listener, for cases with `listener: mmtps`.
    #[arg(long, value_name = "HOST:PORT")]
    mmtps: Option<String>,
    /// The target's HTTP gateway, for the HTTP cases next to an SMTP target.
    #[arg(long, value_name = "HOST:PORT")]
    http: Option<String>,
    /// Another listener of the target, for the cases with `listener: NAME` (repeatable). The
    /// special listeners are servers configured for one requirement each (the embedded
    /// reference runs them all): `denied` (SMTP, its deny list holds the harness's address:
    /// 554 greeting), `users` (SMTP with a user list: `postmaster` exists, other local parts
    /// not), `limited` (SMTP, at most 2 concurrent connections), `short-idle` (SMTP, an idle
    /// timeout of 5 s at most), `mmtp-limited` (MMTP, at most 2 concurrent connections per
    /// client address), `mmtp-short-idle` (MMTP, an idle timeout of 5 s at most). Also
    /// `submission=`, `smtps=`, `mmtp=`, `mmtps=`, `http=` (as their own options). Without
    /// it, such cases are SKIP.
    #[arg(long = "listener", value_name = "NAME=HOST:PORT", value_parser = parse_listener)]
    listeners: Vec<(Listener, String)>,
    /// Which MMTP cases run: `strict` (all: the original's behaviour and DESIGN's decisions)
    /// or `compat` (only what the original JavaScript implementation does).
    #[arg(long, value_name = "PROFILE", default_value = "strict")]
    profile: mtpspec::scenario::Profile,
    /// AUTH credentials for `{{auth_user}}`, `{{auth_password}}`, `{{auth_plain}}`
    /// [default: the target's own, for the reference alice:secret]
    #[arg(long, value_name = "USER:PASSWORD")]
    auth: Option<String>,
    /// The name the harness sends in EHLO.
    #[arg(long, value_name = "NAME", default_value = "client.example.org")]
    helo: String,
    /// Observe deliveries in this Maildir (or the Maildirs below it).
    #[arg(long, value_name = "PATH", conflicts_with = "mailbox_cmd")]
    maildir: Option<PathBuf>,
    /// Observe deliveries with a command printing the mailbox JSON, e.g.
    /// "bash harness/targets/postfix.sh mailbox /tmp/pf".
    #[arg(long, value_name = "COMMAND")]
    mailbox_cmd: Option<String>,
    /// How long a delivery check waits for messages to show up.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    mailbox_wait: Duration,
    /// How reports name the target [default: the target as given]. For a target whose
    /// address or command holds local paths or ports that mean nothing to a reader.
    #[arg(long, value_name = "NAME")]
    target_name: Option<String>,
    /// The target is mtpspec's own reference (started with `mtpspec serve`): requirements
    /// that are only its design decisions (SPEC.md source `DESIGN`) bind it as written. On
    /// any other target they are MAY, so the reference's choices never fail another server.
    /// The embedded target always is the reference.
    #[arg(long)]
    reference_target: bool,
    /// No progress output while running.
    #[arg(long, short)]
    quiet: bool,
}

pub fn main(args: RunArgs) -> anyhow::Result<ExitCode> {
    let spec_target: TargetSpec = args.target.parse()?;
    let paths = if args.scenarios.is_empty() {
        default_scenarios()
    } else {
        args.scenarios.clone()
    };
    let all_cases = load_paths(&paths)?;
    let spec = load_spec(args.spec.as_deref())?;
    let filter = Filter::new(&args.filter).context("--filter")?;
    let mut cases: Vec<_> = all_cases
        .iter()
        .filter(|c| filter.matches(c) && args.profile.includes(c))
        .cloned()
        .collect();
    if let Some(spec) = &spec {
        let reference = args.reference_target || matches!(spec_target, TargetSpec::Embedded);
        spec.cap_levels(&mut cases, reference);
    }
    if cases.is_empty() {
        anyhow::bail!("no case matches --filter {}", args.filter.join(","));
    }
    if args.list {
        print!("{}", terminal::list(&cases, spec.as_ref()));
        return Ok(ExitCode::SUCCESS);
    }
    let baseline = match &args.baseline {
        Some(path) => Some(Baseline::load(path)?),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let outcome = runtime.block_on(run(&args, &spec_target, &cases));
    let Some(mut output) = outcome? else {
        return Ok(ExitCode::from(3));
    };
    let stale = match &baseline {
        Some(baseline) => {
            let known: BTreeSet<String> = all_cases.iter().map(|c| c.id.clone()).collect();
            baseline.apply(&mut output.results, &known)
        }
        None => Vec::new(),
    };
    let report = RunReport::new(ReportInput {
        target: output.target,
        started: output.started,
        duration: output.duration,
        strict: args.strict,
        capabilities: output.caps,
        cases: output.results,
        spec: spec.as_ref(),
        stale_baseline: stale,
    });
    write_reports(&args, &report)?;
    let color = terminal::use_color(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    print!("{}", terminal::summary(&report, color));
    Ok(ExitCode::from(report.exit_code))
}

struct RunOutput {
    target: String,
    caps: mtpspec::Capabilities,
    results: Vec<mtpspec::CaseResult>,
    started: SystemTime,
    duration: Duration,
}

/// Runs the cases; `Ok(None)` when the target could not be used at all (already reported).
async fn run(
    args: &RunArgs,
    spec_target: &TargetSpec,
    cases: &[mtpspec::Case],
) -> anyhow::Result<Option<RunOutput>> {
    let target = match mtpspec::target::open(spec_target).await {
        Ok(target) => with_listeners(target, args)?,
        Err(e) => {
            eprintln!("mtpspec: {e}");
            return Ok(None);
        }
    };
    let auth = match &args.auth {
        Some(pair) => {
            let (user, password) = pair.split_once(':').context("--auth takes USER:PASSWORD")?;
            Some((user.to_string(), password.to_string()))
        }
        None => target.credentials(),
    };
    let observer: Option<Arc<dyn Observer>> = match (&args.maildir, &args.mailbox_cmd) {
        (Some(dir), _) => Some(Arc::new(MaildirObserver::new(dir))),
        (None, Some(cmd)) => Some(Arc::new(CommandObserver::new(cmd))),
        (None, None) => target.observer(),
    };
    let options = RunOptions {
        parallel: args.parallel.max(1),
        deadline: args.deadline,
        step_timeout: args.step_timeout,
        connect_timeout: args.step_timeout,
        mailbox_wait: args.mailbox_wait,
        vars: VarConfig {
            domain: args
                .domain
                .clone()
                .or_else(|| target.domain())
                .unwrap_or_else(|| "example.test".into()),
            local_users: args.local_users.clone(),
            helo: args.helo.clone(),
            auth,
            ..VarConfig::default()
        },
    };
    let runner = Runner::new(target.clone(), options).with_observer(observer);
    let caps = match runner.probe().await {
        Ok(caps) => caps,
        Err(e) => {
            eprintln!("mtpspec: {e}");
            target.shutdown().await;
            return Ok(None);
        }
    };
    let started = SystemTime::now();
    let clock = Instant::now();
    let mut progress = terminal::Progress::new(cases.len(), !args.quiet);
    let order = start_order(cases);
    let started_first: Vec<mtpspec::Case> = order.iter().map(|&i| cases[i].clone()).collect();
    let finished = runner
        .run_all(&started_first, &caps, |r| progress.case_done(r))
        .await;
    progress.finish();
    // Back in the order of the files, as the reports list them.
    let mut in_file_order: Vec<Option<mtpspec::CaseResult>> = vec![None; cases.len()];
    for (result, &i) in finished.into_iter().zip(&order) {
        in_file_order[i] = Some(result);
    }
    let results = in_file_order.into_iter().flatten().collect();
    target.shutdown().await;
    Ok(Some(RunOutput {
        target: args.target_name.clone().unwrap_or_else(|| target.name()),
        caps,
        results,
        started,
        duration: clock.elapsed(),
    }))
}

/// The order in which the cases start: those that wait longest (their sleeps, expected
/// silences and the short idle timeout of their listener, summed) first, the others in file
/// order. Cases run a few at a time, so a case that waits seconds and starts last would hold
/// up the end of the run.
fn start_order(cases: &[mtpspec::Case]) -> Vec<usize> {
    let waits = |case: &mtpspec::Case| -> Duration {
        let idle = if case.listener.has_short_idle() {
            SHORT_IDLE
        } else {
            Duration::ZERO
        };
        let steps: u64 = case
            .steps
            .iter()
            .map(|located| match located.step {
                Step::Sleep(ms) | Step::ExpectSilence(ms) => ms,
                _ => 0,
            })
            .sum();
        idle + Duration::from_millis(steps)
    };
    let mut order: Vec<usize> = (0..cases.len()).collect();
    // A stable sort: equal waits keep their file order.
    order.sort_by_key(|&i| std::cmp::Reverse(waits(&cases[i])));
    order
}

/// Adds the `--submission`, `--smtps`, `--mmtp`, `--mmtps`, `--http` and `--listener`
/// listeners to the target.
fn with_listeners(target: Arc<dyn Target>, args: &RunArgs) -> anyhow::Result<Arc<dyn Target>> {
    let named = [
        (Listener::Submission, &args.submission),
        (Listener::Smtps, &args.smtps),
        (Listener::Mmtp, &args.mmtp),
        (Listener::Mmtps, &args.mmtps),
        (Listener::Http, &args.http),
    ];
    let extra: Vec<(Listener, &String, String)> = named
        .into_iter()
        .filter_map(|(l, addr)| Some((l, addr.as_ref()?, format!("--{l}"))))
        .chain(
            args.listeners
                .iter()
                .map(|(l, addr)| (*l, addr, format!("--listener {l}="))),
        )
        .collect();
    if extra.is_empty() {
        return Ok(target);
    }
    let mut multi = MultiTarget::new(target);
    for (listener, addr, option) in extra {
        let (host, port) = addr
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.trim_matches(['[', ']']), p.parse::<u16>().ok()?)))
            .with_context(|| format!("{option} takes HOST:PORT, not {addr:?}"))?;
        let tls = listener.is_implicit_tls();
        let target: Arc<dyn Target> = if listener == Listener::Http {
            Arc::new(mtpspec::target::HttpTarget::new(host, port))
        } else if listener.is_mmtp() {
            Arc::new(TcpTarget::mmtp(host, port, tls))
        } else {
            Arc::new(TcpTarget::new(host, port, tls))
        };
        multi = multi.with(listener, target);
    }
    Ok(Arc::new(multi))
}

/// `NAME=HOST:PORT` for `--listener`.
fn parse_listener(text: &str) -> Result<(Listener, String), String> {
    let (name, addr) = text
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=HOST:PORT, not {text:?}"))?;
    let listener: Listener = name.parse()?;
    if listener == Listener::Smtp {
        return Err("the smtp listener is the target itself (--target)".into());
    }
    Ok((listener, addr.to_string()))
}

fn write_reports(args: &RunArgs, report: &RunReport) -> anyhow::Result<()> {
    let write = |path: &Path, text: String| {
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    };
    if let Some(path) = &args.report_json {
        write(path, report::json::to_string(report)?)?;
    }
    if let Some(path) = &args.junit {
        write(path, report::junit::to_string(report))?;
    }
    if let Some(path) = &args.report_md {
        write(path, report::markdown::to_string(report))?;
    }
    Ok(())
}

/// SPEC.md from `--spec`, else the repository's, else none (reports then lack texts).
pub(crate) fn load_spec(path: Option<&Path>) -> anyhow::Result<Option<Spec>> {
    match path {
        Some(path) => Ok(Some(Spec::load(path)?)),
        None => {
            let path = repo_path("SPEC.md");
            if path.exists() {
                Ok(Some(Spec::load(&path)?))
            } else {
                eprintln!("mtpspec: no SPEC.md found; reports will not quote requirements");
                Ok(None)
            }
        }
    }
}

/// The scenario directories the harness can run: `scenarios/smtp`, `scenarios/vmtp`,
/// `scenarios/mmtp` and `scenarios/http`.
pub(crate) fn default_scenarios() -> Vec<PathBuf> {
    let root = repo_path("scenarios");
    ["smtp", "vmtp", "mmtp", "http"]
        .iter()
        .map(|d| root.join(d))
        .filter(|d| d.is_dir())
        .collect()
}

/// `NAME` in the current directory if it exists there, else in the repository this binary
/// was built from.
pub(crate) fn repo_path(name: &str) -> PathBuf {
    let here = PathBuf::from(name);
    if here.exists() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name)
}

/// `500ms`, `5s`, `2m`; a bare number is seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("bad duration {text:?}"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("bad duration unit in {text:?} (use ms, s or m)")),
    };
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_options_parse() {
        assert_eq!(
            parse_listener("denied=127.0.0.1:2526").unwrap(),
            (Listener::Denied, "127.0.0.1:2526".to_string())
        );
        assert_eq!(
            parse_listener("mmtp-short-idle=[::1]:8025").unwrap().0,
            Listener::MmtpShortIdle
        );
        assert!(parse_listener("denied").is_err());
        assert!(parse_listener("smtp=127.0.0.1:25").is_err());
        assert!(
            parse_listener("nope=127.0.0.1:25")
                .unwrap_err()
                .contains("short-idle")
        );
    }

    #[test]
    fn cases_that_wait_longest_start_first() {
        let yaml = "\
- {id: a, title: t, spec: [SMTP-X-1], level: must, steps: [ehlo]}
- {id: b, title: t, spec: [SMTP-X-1], level: must, steps: [{expect_silence: 300}]}
- {id: c, title: t, spec: [SMTP-X-1], level: must, listener: short-idle, steps: [ehlo]}
- {id: d, title: t, spec: [SMTP-X-1], level: must, steps: [{sleep: 200}, {expect_silence: 200}]}
- {id: e, title: t, spec: [SMTP-X-1], level: must, steps: [ehlo]}
";
        let cases = mtpspec::scenario::load_str(yaml, Path::new("t.yaml")).unwrap();
        let ids: Vec<&str> = start_order(&cases)
            .into_iter()
            .map(|i| cases[i].id.as_str())
            .collect();
        assert_eq!(ids, ["c", "d", "b", "a", "e"]);
    }
}
