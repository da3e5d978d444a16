//! `mtpspec run`: load the scenarios, run them against a target, report, and exit with the
//! gate's code: 0 every MUST passed, 1 a MUST failed (or a SHOULD with `--strict`, or a stale
//! baseline entry), 2 usage or scenario error, 3 harness or target error.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use mtpspec::Spec;
use mtpspec::report::{RunReport, terminal};
use mtpspec::robustness::RobustnessResult;
pub use mtpspec::run_args::RunArgs;
use mtpspec::scenario::Filter;
use mtpspec::suite::{self, Suite, SuiteTarget};
use mtpspec::target::TargetSpec;

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
    let options = args.suite_options(spec)?;
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

/// SPEC.md: the one given, the checkout's, or the one bundled into this binary.
pub(crate) fn load_spec(path: Option<&Path>) -> anyhow::Result<Option<Spec>> {
    super::suite_files::spec(path).map(Some)
}
