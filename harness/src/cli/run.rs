//! `mtpspec run`: load the scenarios, run them against a target, report, and exit with the
//! gate's code: 0 every MUST passed, 1 a MUST failed (or a SHOULD with `--strict`, or a stale
//! baseline entry), 2 usage or scenario error, 3 harness or target error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use mtpspec::report::{RunReport, terminal};
use mtpspec::robustness::RobustnessResult;
use mtpspec::scenario::{Filter, VarConfig};
use mtpspec::suite::{self, RobustnessSettings, Suite, SuiteOptions, SuiteTarget};
use mtpspec::target::{CommandObserver, Listener, MaildirObserver, Observer, TargetSpec};
use mtpspec::units::parse_duration;
use mtpspec::{Baseline, RunOptions, Spec};

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
    /// Scenario files or directories [default: ./scenarios/{smtp,vmtp,mmtp,http} when run in
    /// a checkout, else the set bundled into this binary (see --version)]
    #[arg(
        long = "scenarios",
        value_name = "PATH",
        env = "MTPSPEC_SCENARIOS",
        value_delimiter = ','
    )]
    scenarios: Vec<PathBuf>,
    /// SPEC.md, for requirement texts in reports [default: ./SPEC.md in a checkout, else the
    /// bundled one]
    #[arg(long, value_name = "FILE", env = "MTPSPEC_SPEC")]
    spec: Option<PathBuf>,
    /// Run only cases whose id, cited requirement IDs or spec sections match a glob
    /// (repeatable, or comma-separated): `smtp-data-*`, `SMTP-SMUGGLING-*`, `VMTP-BATCH`.
    #[arg(long, short, value_name = "GLOB", env = "MTPSPEC_FILTER")]
    filter: Vec<String>,
    /// List the selected cases without running them.
    #[arg(long, env = "MTPSPEC_LIST")]
    list: bool,
    /// Cases running at once.
    #[arg(
        long,
        short = 'j',
        value_name = "N",
        default_value_t = 8,
        env = "MTPSPEC_PARALLEL"
    )]
    parallel: usize,
    /// The most one case may take (e.g. 30s, 1500ms); a case that hits it is reported.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration, env = "MTPSPEC_DEADLINE")]
    deadline: Duration,
    /// How long a step waits for a reply.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration, env = "MTPSPEC_STEP_TIMEOUT")]
    step_timeout: Duration,
    /// Treat WARN (a SHOULD broken) as failing the gate.
    #[arg(long, env = "MTPSPEC_STRICT")]
    strict: bool,
    /// Expected failures with reasons (YAML: `case-id: reason`).
    #[arg(long, value_name = "FILE", env = "MTPSPEC_BASELINE")]
    baseline: Option<PathBuf>,
    /// Write the JSON report (schema mtpspec-report, version 2; harness/README.md).
    #[arg(long, value_name = "FILE", env = "MTPSPEC_REPORT_JSON")]
    report_json: Option<PathBuf>,
    /// Write a JUnit XML report.
    #[arg(long, value_name = "FILE", env = "MTPSPEC_JUNIT")]
    junit: Option<PathBuf>,
    /// Write a Markdown report.
    #[arg(long, value_name = "FILE", env = "MTPSPEC_REPORT_MD")]
    report_md: Option<PathBuf>,
    /// A domain the target delivers locally [default: the target's, else example.test]
    #[arg(long, value_name = "DOMAIN", env = "MTPSPEC_DOMAIN")]
    domain: Option<String>,
    /// A local user the target accepts (repeatable). Without it, any local part is assumed to
    /// be accepted and every case gets unique recipients.
    #[arg(
        long = "local-user",
        value_name = "USER",
        env = "MTPSPEC_LOCAL_USERS",
        value_delimiter = ','
    )]
    local_users: Vec<String>,
    /// The target's submission listener (AUTH), for cases with `listener: submission`.
    #[arg(long, value_name = "HOST:PORT", env = "MTPSPEC_SUBMISSION")]
    submission: Option<String>,
    /// The target's implicit-TLS listener, for cases with `listener: smtps`.
    #[arg(long, value_name = "HOST:PORT", env = "MTPSPEC_SMTPS")]
    smtps: Option<String>,
    /// The target's MMTP listener (plain TCP), for the MMTP cases next to an SMTP target.
    #[arg(long, value_name = "HOST:PORT", env = "MTPSPEC_MMTP")]
    mmtp: Option<String>,
    /// The target's MMTP implicit-TLS listener, for cases with `listener: mmtps`.
    #[arg(long, value_name = "HOST:PORT", env = "MTPSPEC_MMTPS")]
    mmtps: Option<String>,
    /// The target's HTTP gateway, for the HTTP cases next to an SMTP target.
    #[arg(long, value_name = "HOST:PORT", env = "MTPSPEC_HTTP")]
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
    #[arg(long = "listener", value_name = "NAME=HOST:PORT", value_parser = parse_listener, env = "MTPSPEC_LISTENER", value_delimiter = ',')]
    listeners: Vec<(Listener, String)>,
    /// Which MMTP cases run: `strict` (all: the original's behaviour and DESIGN's decisions)
    /// or `compat` (only what the original JavaScript implementation does).
    #[arg(
        long,
        value_name = "PROFILE",
        default_value = "strict",
        env = "MTPSPEC_PROFILE"
    )]
    profile: mtpspec::scenario::Profile,
    /// AUTH credentials for `{{auth_user}}`, `{{auth_password}}`, `{{auth_plain}}`
    /// [default: the target's own, for the reference alice:secret]
    #[arg(long, value_name = "USER:PASSWORD", env = "MTPSPEC_AUTH")]
    auth: Option<String>,
    /// The name the harness sends in EHLO.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "client.example.org",
        env = "MTPSPEC_HELO"
    )]
    helo: String,
    /// Observe deliveries in this Maildir (or the Maildirs below it).
    #[arg(
        long,
        value_name = "PATH",
        conflicts_with = "mailbox_cmd",
        env = "MTPSPEC_MAILDIR"
    )]
    maildir: Option<PathBuf>,
    /// Observe deliveries with a command printing the mailbox JSON, e.g.
    /// "bash harness/targets/postfix.sh mailbox /tmp/pf".
    #[arg(long, value_name = "COMMAND", env = "MTPSPEC_MAILBOX_CMD")]
    mailbox_cmd: Option<String>,
    /// How long a delivery check waits for messages to show up.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration, env = "MTPSPEC_MAILBOX_WAIT")]
    mailbox_wait: Duration,
    /// How reports name the target [default: the target as given]. For a target whose
    /// address or command holds local paths or ports that mean nothing to a reader.
    #[arg(long, value_name = "NAME", env = "MTPSPEC_TARGET_NAME")]
    target_name: Option<String>,
    /// The target is mtpspec's own reference (started with `mtpspec serve`): requirements
    /// that are only its design decisions (SPEC.md source `DESIGN`) bind it as written. On
    /// any other target they are MAY, so the reference's choices never fail another server.
    /// The embedded target always is the reference.
    #[arg(long, env = "MTPSPEC_REFERENCE_TARGET")]
    reference_target: bool,
    #[command(flatten)]
    robustness: RobustnessArgs,
    /// No progress output while running.
    #[arg(long, short, env = "MTPSPEC_QUIET")]
    quiet: bool,
}

/// The robustness cases (harness/runner/src/robustness): attacks run one at a time after the
/// scenarios, judged only on whether the target goes on serving others (WARN at worst).
#[derive(clap::Args)]
struct RobustnessArgs {
    /// Do not run the robustness cases (for a server one must not stress); they are
    /// reported as SKIP.
    #[arg(long, env = "MTPSPEC_SKIP_ROBUSTNESS")]
    skip_robustness: bool,
    /// The most one robustness case takes, setup and attack (e.g. 15s, 1m).
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = parse_positive_duration, env = "MTPSPEC_ROBUSTNESS_TIMEOUT")]
    robustness_timeout: Duration,
    /// The most attacking connections one robustness case opens (a fresh client comes on
    /// top, one at a time).
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=4096), env = "MTPSPEC_ROBUSTNESS_CONNECTIONS")]
    robustness_connections: u16,
    /// How soon a fresh client must be greeted with 220 while an attack holds.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_positive_duration, env = "MTPSPEC_ROBUSTNESS_GREETING")]
    robustness_greeting: Duration,
    /// The PID of a local target, whose memory (VmRSS of it and its children, from /proc)
    /// the robustness cases report [default: the harness's own for the embedded reference].
    #[arg(long, value_name = "PID", value_parser = clap::value_parser!(u32).range(1..), env = "MTPSPEC_TARGET_PID")]
    target_pid: Option<u32>,
}

pub fn main(args: RunArgs) -> anyhow::Result<ExitCode> {
    match execute(&args)? {
        Outcome::Listed => Ok(ExitCode::SUCCESS),
        Outcome::Unusable => Ok(ExitCode::from(3)),
        Outcome::Report(report) => {
            super::report::write_files(
                &report,
                args.report_json.as_deref(),
                args.junit.as_deref(),
                args.report_md.as_deref(),
            )?;
            let color = mtp_server::cli::output::use_color(std::io::IsTerminal::is_terminal(
                &std::io::stdout(),
            ));
            out!("{}", terminal::summary(&report, color));
            Ok(ExitCode::from(report.exit_code))
        }
    }
}

/// What [`execute`] came to.
pub(crate) enum Outcome {
    /// `--list`: the selection was printed.
    Listed,
    /// The target could not be used at all; why was printed (exit 3).
    Unusable,
    Report(Box<RunReport>),
}

/// `mtpspec run` up to its report: the suite ([`mtpspec::suite`]) with these options. `compare`
/// runs each of its targets through this too.
pub(crate) fn execute(args: &RunArgs) -> anyhow::Result<Outcome> {
    let spec_target: TargetSpec = args.target.parse()?;
    let all_cases = super::suite_files::suite_cases(&args.scenarios)?;
    let spec = load_spec(args.spec.as_deref())?;
    if all_cases.is_empty() {
        let files: Vec<String> = args
            .scenarios
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        anyhow::bail!("{}: the scenario files hold no case", files.join(", "));
    }
    let filter = Filter::new(&args.filter).context("--filter")?;
    let reference = args.reference_target || matches!(spec_target, TargetSpec::Embedded);
    let selection = suite::select(&all_cases, &filter, args.profile, spec.as_ref(), reference)?;
    if selection.cases.is_empty() && selection.attacks.is_empty() {
        anyhow::bail!("no case matches --filter {}", args.filter.join(","));
    }
    if args.list {
        out!("{}", terminal::list(&selection.cases, spec.as_ref()));
        for attack in &selection.attacks {
            let case = attack.case();
            outln!(
                "{}  (robustness)  {}  {}",
                case.id,
                case.spec.join(","),
                case.title
            );
        }
        return Ok(Outcome::Listed);
    }
    let options = suite_options(args, spec)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let suite = match Suite::open(SuiteTarget::Spec(spec_target), options).await {
            Ok(suite) => suite,
            Err(e) => {
                eprintln!("mtpspec: {e}");
                return Ok(Outcome::Unusable);
            }
        };
        let mut events = Progress {
            bar: terminal::Progress::new(
                selection.cases.len(),
                !args.quiet,
                mtp_server::cli::output::use_color(std::io::IsTerminal::is_terminal(
                    &std::io::stderr(),
                )),
            ),
            quiet: args.quiet,
        };
        let report = suite.run(&selection, &mut events).await;
        suite.shutdown().await;
        Ok(Outcome::Report(Box::new(report)))
    })
}

/// The suite's options from the command line.
fn suite_options(args: &RunArgs, spec: Option<Spec>) -> anyhow::Result<SuiteOptions> {
    let auth = match &args.auth {
        Some(pair) => {
            let (user, password) = pair.split_once(':').context("--auth takes USER:PASSWORD")?;
            Some((user.to_string(), password.to_string()))
        }
        None => None,
    };
    let observer: Option<Arc<dyn Observer>> = match (&args.maildir, &args.mailbox_cmd) {
        (Some(dir), _) => Some(Arc::new(MaildirObserver::new(dir))),
        (None, Some(cmd)) => Some(Arc::new(CommandObserver::new(cmd))),
        (None, None) => None,
    };
    Ok(SuiteOptions {
        target_name: args.target_name.clone(),
        listeners: listeners(args),
        observer,
        run: RunOptions {
            parallel: args.parallel.max(1),
            deadline: args.deadline,
            step_timeout: args.step_timeout,
            connect_timeout: args.step_timeout,
            mailbox_wait: args.mailbox_wait,
            vars: VarConfig {
                local_users: args.local_users.clone(),
                helo: args.helo.clone(),
                ..VarConfig::default()
            },
        },
        domain: args.domain.clone(),
        auth,
        spec,
        baseline: match &args.baseline {
            Some(path) => Some(Baseline::load(path)?),
            None => None,
        },
        strict: args.strict,
        reference: args.reference_target,
        robustness: RobustnessSettings {
            skip: args.robustness.skip_robustness,
            case_cap: args.robustness.robustness_timeout,
            max_connections: usize::from(args.robustness.robustness_connections),
            greeting_bound: args.robustness.robustness_greeting,
            target_pid: args.robustness.target_pid,
        },
    })
}

/// Progress on the terminal: the bar (or a line per case), and a line per robustness attack.
struct Progress {
    bar: terminal::Progress,
    quiet: bool,
}

impl suite::Events for Progress {
    fn case_done(&mut self, result: &mtpspec::CaseResult) {
        self.bar.case_done(result);
    }

    fn cases_finished(&mut self) {
        self.bar.finish();
    }

    fn robustness_begins(&mut self, attacks: usize, cap: Duration) {
        if !self.quiet {
            eprintln!(
                "robustness: {attacks} attacks, one at a time, at most {:.0} s each",
                cap.as_secs_f64()
            );
        }
    }

    fn robustness_done(&mut self, result: &RobustnessResult) {
        if !self.quiet {
            eprintln!(
                "robustness: {} {} ({:.1} s)",
                result.verdict,
                result.id,
                result.duration.as_secs_f64()
            );
        }
    }
}

/// The `--submission`, `--smtps`, `--mmtp`, `--mmtps`, `--http` and `--listener` listeners.
fn listeners(args: &RunArgs) -> Vec<(Listener, String)> {
    let named = [
        (Listener::Submission, &args.submission),
        (Listener::Smtps, &args.smtps),
        (Listener::Mmtp, &args.mmtp),
        (Listener::Mmtps, &args.mmtps),
        (Listener::Http, &args.http),
    ];
    named
        .into_iter()
        .filter_map(|(l, addr)| Some((l, addr.clone()?)))
        .chain(args.listeners.iter().cloned())
        .collect()
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

/// SPEC.md: the one given, the checkout's, or the one bundled into this binary.
pub(crate) fn load_spec(path: Option<&Path>) -> anyhow::Result<Option<Spec>> {
    super::suite_files::spec(path).map(Some)
}

/// A duration above zero and at most a day (a bound on an attack, not a schedule).
fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration.is_zero() || duration > Duration::from_secs(24 * 3600) {
        return Err(format!(
            "{text:?} must be more than zero and at most a day (1440m)"
        ));
    }
    Ok(duration)
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
}
