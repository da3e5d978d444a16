//! `mtpspec run`'s options, in the library: the command line parses them (`mtpspec run`, and
//! each target of `mtpspec compare`), and so does the cargo-test entry point of the scenario
//! library from the same `MTPSPEC_*` variables ([`RunArgs::from_env`]), so the two can never
//! read an option differently.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

use crate::scenario::{Profile, VarConfig};
use crate::suite::{RobustnessSettings, SuiteOptions};
use crate::target::{CommandObserver, Listener, MaildirObserver, Observer};
use crate::units::parse_duration;
use crate::{Baseline, RunOptions, Spec};

/// Every option of `mtpspec run`, each also read from its `MTPSPEC_*` variable.
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
    pub target: String,
    /// Scenario files or directories [default: ./scenarios/{smtp,vmtp,mmtp,http} when run in
    /// a checkout, else the set bundled into this binary (see --version)]
    #[arg(
        long = "scenarios",
        value_name = "PATH",
        env = "MTPSPEC_SCENARIOS",
        value_delimiter = ','
    )]
    pub scenarios: Vec<PathBuf>,
    /// SPEC.md, for requirement texts in reports [default: ./SPEC.md in a checkout, else the
    /// bundled one]
    #[arg(long, value_name = "FILE", env = "MTPSPEC_SPEC")]
    pub spec: Option<PathBuf>,
    /// Run only cases whose id, cited requirement IDs or spec sections match a glob
    /// (repeatable, or comma-separated): `smtp-data-*`, `SMTP-SMUGGLING-*`, `VMTP-BATCH`.
    #[arg(long, short, value_name = "GLOB", env = "MTPSPEC_FILTER")]
    pub filter: Vec<String>,
    /// List the selected cases without running them.
    #[arg(long, env = "MTPSPEC_LIST")]
    pub list: bool,
    /// Cases running at once.
    #[arg(
        long,
        short = 'j',
        value_name = "N",
        default_value_t = 8,
        env = "MTPSPEC_PARALLEL"
    )]
    pub parallel: usize,
    /// The most one case may take (e.g. 30s, 1500ms); a case that hits it is reported.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration, env = "MTPSPEC_DEADLINE")]
    pub deadline: Duration,
    /// How long a step waits for a reply.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration, env = "MTPSPEC_STEP_TIMEOUT")]
    pub step_timeout: Duration,
    /// Treat WARN (a SHOULD broken) as failing the gate.
    #[arg(long, env = "MTPSPEC_STRICT")]
    pub strict: bool,
    /// Expected failures with reasons (YAML: `case-id: reason`).
    #[arg(long, value_name = "FILE", env = "MTPSPEC_BASELINE")]
    pub baseline: Option<PathBuf>,
    /// Write the JSON report (schema mtpspec-report, version 2; harness/README.md).
    #[arg(long, value_name = "FILE", env = "MTPSPEC_REPORT_JSON")]
    pub report_json: Option<PathBuf>,
    /// Write a JUnit XML report.
    #[arg(long, value_name = "FILE", env = "MTPSPEC_JUNIT")]
    pub junit: Option<PathBuf>,
    /// Write a Markdown report.
    #[arg(long, value_name = "FILE", env = "MTPSPEC_REPORT_MD")]
    pub report_md: Option<PathBuf>,
    /// A domain the target delivers locally [default: the target's, else example.test]
    #[arg(long, value_name = "DOMAIN", env = "MTPSPEC_DOMAIN")]
    pub domain: Option<String>,
    /// A local user the target accepts (repeatable). Without it, any local part is assumed to
    /// be accepted and every case gets unique recipients.
    #[arg(
        long = "local-user",
        value_name = "USER",
        env = "MTPSPEC_LOCAL_USERS",
        value_delimiter = ','
    )]
    pub local_users: Vec<String>,
    /// The target's submission listener (AUTH), for cases with `listener: submission`.
    #[arg(long, value_name = "HOST:PORT", env = "MTPSPEC_SUBMISSION")]
    pub submission: Option<String>,
    /// The target's implicit-TLS listener, for cases with `listener: smtps`.
    #[arg(long, value_name = "HOST:PORT", env = "MTPSPEC_SMTPS")]
    pub smtps: Option<String>,
    /// The target's MMTP listener (plain TCP), for the MMTP cases next to an SMTP target.
    #[arg(long, value_name = "HOST:PORT", env = "MTPSPEC_MMTP")]
    pub mmtp: Option<String>,
    /// The target's MMTP implicit-TLS listener, for cases with `listener: mmtps`.
    #[arg(long, value_name = "HOST:PORT", env = "MTPSPEC_MMTPS")]
    pub mmtps: Option<String>,
    /// The target's HTTP gateway, for the HTTP cases next to an SMTP target.
    #[arg(long, value_name = "HOST:PORT", env = "MTPSPEC_HTTP")]
    pub http: Option<String>,
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
    pub listeners: Vec<(Listener, String)>,
    /// Which MMTP cases run: `strict` (all: the original's behaviour and DESIGN's decisions)
    /// or `compat` (only what the original JavaScript implementation does).
    #[arg(
        long,
        value_name = "PROFILE",
        default_value = "strict",
        env = "MTPSPEC_PROFILE"
    )]
    pub profile: Profile,
    /// AUTH credentials for `{{auth_user}}`, `{{auth_password}}`, `{{auth_plain}}`
    /// [default: the target's own, for the reference alice:secret]
    #[arg(long, value_name = "USER:PASSWORD", env = "MTPSPEC_AUTH")]
    pub auth: Option<String>,
    /// The name the harness sends in EHLO.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "client.example.org",
        env = "MTPSPEC_HELO"
    )]
    pub helo: String,
    /// Observe deliveries in this Maildir (or the Maildirs below it).
    #[arg(
        long,
        value_name = "PATH",
        conflicts_with = "mailbox_cmd",
        env = "MTPSPEC_MAILDIR"
    )]
    pub maildir: Option<PathBuf>,
    /// Observe deliveries with a command printing the mailbox JSON, e.g.
    /// "bash harness/targets/postfix.sh mailbox /tmp/pf".
    #[arg(long, value_name = "COMMAND", env = "MTPSPEC_MAILBOX_CMD")]
    pub mailbox_cmd: Option<String>,
    /// How long a delivery check waits for messages to show up.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration, env = "MTPSPEC_MAILBOX_WAIT")]
    pub mailbox_wait: Duration,
    /// How reports name the target [default: the target as given]. For a target whose
    /// address or command holds local paths or ports that mean nothing to a reader.
    #[arg(long, value_name = "NAME", env = "MTPSPEC_TARGET_NAME")]
    pub target_name: Option<String>,
    /// The target is mtpspec's own reference (started with `mtpspec serve`): requirements
    /// that are only its design decisions (SPEC.md source `DESIGN`) bind it as written. On
    /// any other target they are MAY, so the reference's choices never fail another server.
    /// The embedded target always is the reference.
    #[arg(long, env = "MTPSPEC_REFERENCE_TARGET")]
    pub reference_target: bool,
    /// The robustness cases' options.
    #[command(flatten)]
    pub robustness: RobustnessArgs,
    /// No progress output while running.
    #[arg(long, short, env = "MTPSPEC_QUIET")]
    pub quiet: bool,
}

/// The robustness cases (harness/runner/src/robustness): attacks run one at a time after the
/// scenarios, judged only on whether the target goes on serving others (WARN at worst).
#[derive(clap::Args)]
pub struct RobustnessArgs {
    /// Do not run the robustness cases (for a server one must not stress); they are
    /// reported as SKIP.
    #[arg(long, env = "MTPSPEC_SKIP_ROBUSTNESS")]
    pub skip_robustness: bool,
    /// The most one robustness case takes, setup and attack (e.g. 15s, 1m).
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = parse_positive_duration, env = "MTPSPEC_ROBUSTNESS_TIMEOUT")]
    pub robustness_timeout: Duration,
    /// The most attacking connections one robustness case opens (a fresh client comes on
    /// top, one at a time).
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=4096), env = "MTPSPEC_ROBUSTNESS_CONNECTIONS")]
    pub robustness_connections: u16,
    /// How soon a fresh client must be greeted with 220 while an attack holds.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_positive_duration, env = "MTPSPEC_ROBUSTNESS_GREETING")]
    pub robustness_greeting: Duration,
    /// The PID of a local target, whose memory (VmRSS of it and its children, from /proc)
    /// the robustness cases report [default: the harness's own for the embedded reference].
    #[arg(long, value_name = "PID", value_parser = clap::value_parser!(u32).range(1..), env = "MTPSPEC_TARGET_PID")]
    pub target_pid: Option<u32>,
}

/// [`RunArgs`] alone, to read them from the environment.
#[derive(Parser)]
#[command(name = "mtpspec run")]
struct FromEnv {
    #[command(flatten)]
    args: RunArgs,
}

impl RunArgs {
    /// The options as `mtpspec run` with no argument reads them: each from its `MTPSPEC_*`
    /// variable, else its default.
    pub fn from_env() -> Result<Self, clap::Error> {
        FromEnv::try_parse_from(["mtpspec run"]).map(|f| f.args)
    }

    /// The suite's options from these arguments, with `spec` (SPEC.md, loaded by the caller).
    pub fn suite_options(&self, spec: Option<Spec>) -> anyhow::Result<SuiteOptions> {
        let args = self;
        let auth = match &args.auth {
            Some(pair) => {
                let (user, password) =
                    pair.split_once(':').context("--auth takes USER:PASSWORD")?;
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
            listeners: args.listeners(),
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

    /// The `--submission`, `--smtps`, `--mmtp`, `--mmtps`, `--http` and `--listener` listeners.
    pub fn listeners(&self) -> Vec<(Listener, String)> {
        let args = self;
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
