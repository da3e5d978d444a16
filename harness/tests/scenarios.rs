//! `cargo test` for the scenario library: one libtest-mimic trial per case (named by its id),
//! run through [`mtpspec::testing`] (the suite of `mtpspec run`) against the embedded
//! reference, or against `MTPSPEC_TARGET=smtp://...` with every other option of `mtpspec
//! run` from its `MTPSPEC_*` variable (`MTPSPEC_MAILBOX_CMD`, `MTPSPEC_DOMAIN`,
//! `MTPSPEC_LOCAL_USERS`, `MTPSPEC_AUTH`, `MTPSPEC_SUBMISSION`, `MTPSPEC_LISTENER`,
//! `MTPSPEC_BASELINE`, `MTPSPEC_STRICT`, `MTPSPEC_PROFILE`, ...), read by `mtpspec run`'s own
//! parser ([`mtpspec::run_args::RunArgs::from_env`]). A trial fails where `mtpspec run`'s gate would (a FAIL the
//! baseline does not expect, a WARN with strict) or on an ERROR. Another target is probed
//! before the trials are listed: a case it cannot run (a listener it lacks, an extension it
//! does not advertise) is an ignored trial with the reason in its name, and the suite's own
//! verdict counts follow libtest's summary. Against the reference, each case's normalized transcript is
//! an insta snapshot in `tests/snapshots/` (generate with `INSTA_UPDATE=always`; `CI=true` fails
//! on a difference). Also: every cited requirement exists in SPEC.md, a malformed scenario is
//! reported with file, line, column and field, and the runner's verdict rules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};
use mtpspec::report::transcript;
use mtpspec::run_args::RunArgs;
use mtpspec::scenario::{Case, Filter, load_paths, load_str};
use mtpspec::spec::Coverage;
use mtpspec::suite;
use mtpspec::testing::Conformance;
use mtpspec::{Capabilities, RunOptions, Runner, Spec, Verdict};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The target every scenario trial shares, started on first use.
static ENV: Mutex<Option<Result<Arc<Conformance>, String>>> = Mutex::new(None);

fn env() -> Result<Arc<Conformance>, String> {
    let mut slot = ENV.lock().unwrap_or_else(PoisonError::into_inner);
    slot.get_or_insert_with(start_env).clone()
}

/// `mtpspec run`'s options from its `MTPSPEC_*` variables, read by `mtpspec run`'s own parser.
fn run_args() -> Result<RunArgs, String> {
    RunArgs::from_env().map_err(|e| e.to_string())
}

/// The suite's options as `mtpspec run` would take them from the environment, with the
/// repository's SPEC.md.
fn start_env() -> Result<Arc<Conformance>, String> {
    let args = run_args()?;
    let spec = Spec::load(&repo().join("SPEC.md")).map_err(|e| e.to_string())?;
    let options = args
        .suite_options(Some(spec))
        .map_err(|e| format!("{e:#}"))?;
    let suite = Conformance::from_options(&args.target, options)
        .map_err(|e| format!("MTPSPEC_TARGET={}: {e}", args.target))?;
    Ok(Arc::new(suite))
}

/// How many cases ended with each verdict, for the summary after libtest's own counts (which
/// count a SKIP as passed).
static TALLY: Mutex<BTreeMap<Verdict, usize>> = Mutex::new(BTreeMap::new());

fn tally(verdict: Verdict) {
    *TALLY
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(verdict)
        .or_default() += 1;
}

fn scenario_trial(case: Case) -> Trial {
    let name = case.id.clone();
    Trial::test(name, move || {
        let suite = env()?;
        let result = suite.run_case(&case);
        tally(result.verdict);
        let result = suite.judge(result)?;
        if suite.is_reference() {
            let mut settings = insta::Settings::clone_current();
            settings.set_snapshot_path("snapshots");
            settings.set_prepend_module_to_snapshot(false);
            settings.set_omit_expression(true);
            settings.set_description(format!(
                "{} ({}:{})",
                case.title,
                relative(&case.file),
                case.line
            ));
            let text = transcript::normalized(&result);
            settings.bind(|| insta::assert_snapshot!(case.id.clone(), text));
        }
        Ok(())
    })
}

fn relative(path: &Path) -> String {
    let repo = repo().canonicalize().unwrap_or_else(|_| repo());
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    path.strip_prefix(&repo)
        .unwrap_or(&path)
        .display()
        .to_string()
}

fn scenario_dirs() -> Vec<PathBuf> {
    ["smtp", "vmtp", "mmtp", "http"]
        .iter()
        .map(|d| repo().join("scenarios").join(d))
        .filter(|d| d.is_dir())
        .collect()
}

fn every_cited_requirement_exists() -> Result<(), Failed> {
    let spec = Spec::load(&repo().join("SPEC.md")).map_err(|e| e.to_string())?;
    let cases = load_paths(&scenario_dirs()).map_err(|e| e.to_string())?;
    let coverage = Coverage::new(&spec, &cases);
    if coverage.unknown.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = coverage
        .unknown
        .iter()
        .map(|(case, id)| format!("{case} cites {id}"))
        .collect();
    Err(format!("SPEC.md has no such requirement: {}", list.join("; ")).into())
}

/// Every SMTP requirement quotes the RFC sentence its level comes from, and the sentence
/// carries that level (SPEC.md's conventions).
fn smtp_requirements_quote_their_level() -> Result<(), Failed> {
    let spec = Spec::load(&repo().join("SPEC.md")).map_err(|e| e.to_string())?;
    let problems: Vec<String> = spec
        .requirements
        .iter()
        .filter(|r| r.id.starts_with("SMTP-"))
        .filter_map(|r| {
            if r.quote.is_empty() {
                return Some(format!("{} (line {}) has no RFC text", r.id, r.line));
            }
            r.quote_supports_level().err()
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n").into())
    }
}

/// No case is written at a higher level than the highest of the requirements it cites: a
/// case never FAILs a target over a SHOULD, nor WARNs it over a MAY.
fn no_case_outranks_its_requirements() -> Result<(), Failed> {
    let spec = Spec::load(&repo().join("SPEC.md")).map_err(|e| e.to_string())?;
    let cases = load_paths(&scenario_dirs()).map_err(|e| e.to_string())?;
    let problems: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let ceiling = spec.level_ceiling(&case.spec, true);
            (case.level < ceiling).then(|| {
                format!(
                    "{} ({}:{}) is {}, but {} allow at most {ceiling}",
                    case.id,
                    relative(&case.file),
                    case.line,
                    case.level,
                    case.spec.join(", ")
                )
            })
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n").into())
    }
}

fn malformed_scenario_names_file_line_column_and_field() -> Result<(), Failed> {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let expectations = [
        (
            "unknown_field.yaml",
            ":9:9: field `cod`: unknown field `cod`",
        ),
        (
            "bad_code.yaml",
            ":8:15: field `code`: bad reply code pattern \"2y0\"",
        ),
        (
            "unknown_variable.yaml",
            ":8:7: field `steps[1]`: unknown variable `{{recipient}}`",
        ),
        (
            "bad_transcript.yaml",
            ":8:5: field `transcript`: transcript lines start with",
        ),
        (
            "bad_level.yaml",
            ":5:10: field `level`: unknown variant `mandatory`",
        ),
        (
            "unknown_step.yaml",
            ":8:7: field `snd`: unknown variant `snd`",
        ),
    ];
    for (file, wanted) in expectations {
        let path = fixtures.join(file);
        let error = match mtpspec::scenario::load_file(&path) {
            Ok(_) => return Err(format!("{file} loaded without an error").into()),
            Err(e) => e.to_string(),
        };
        let first = error.lines().next().unwrap_or_default();
        if !(first.starts_with(&path.display().to_string()) && first.contains(wanted)) {
            return Err(format!("{file}: expected `{wanted}` in:\n{error}").into());
        }
    }
    Ok(())
}

/// Runs inline cases against the shared target and checks their verdicts.
fn verdicts(
    yaml: &'static str,
    expected: &'static [(&'static str, Verdict, Option<&'static str>)],
) -> Result<(), Failed> {
    let suite = env()?;
    if !suite.is_reference() {
        return Ok(());
    }
    let cases = load_str(yaml, Path::new("inline.yaml")).map_err(|e| e.to_string())?;
    let mut options = suite.runner().options().clone();
    options.deadline = Duration::from_millis(500);
    let runner = Runner::new(suite.runner().target().clone(), options);
    let caps = suite.capabilities().clone();
    let results = tokio_block_on(runner.run_all(&cases, &caps, |_| {}))?;
    for (id, verdict, reason) in expected {
        let result = results
            .iter()
            .find(|r| r.id == *id)
            .ok_or_else(|| format!("no result for {id}"))?;
        if result.verdict != *verdict {
            return Err(format!(
                "{id}: expected {verdict}, got {} ({:?})",
                result.verdict, result.reason
            )
            .into());
        }
        if let Some(reason) = reason
            && !result.reason.as_deref().unwrap_or("").contains(reason)
        {
            return Err(format!("{id}: reason {:?} lacks {reason:?}", result.reason).into());
        }
    }
    Ok(())
}

const VERDICT_CASES: &str = r#"
- id: must-broken
  title: a MUST the reference does not meet as written
  spec: [SMTP-X-1]
  level: must
  steps: [{expect: 554}]
- id: should-broken
  title: a SHOULD
  spec: [SMTP-X-1]
  level: should
  steps: [{expect: 554}]
- id: may-differs
  title: a MAY
  spec: [SMTP-X-1]
  level: may
  steps: [{expect: 554}]
- id: missing-extension
  title: requires an extension nobody has
  spec: [SMTP-X-1]
  level: must
  requires: XFOOBAR
  steps: [{expect: 220}]
- id: missing-extension-fallback
  title: a correct fallback is UNSUPPORTED
  spec: [SMTP-X-1]
  level: must
  requires: XFOOBAR
  steps: [{expect: 220}]
  fallback: [{expect: 220}, {send: XFOOBAR}, {expect: 5xx}]
- id: slow-case
  title: hits the deadline
  spec: [SMTP-X-1]
  level: must
  steps: [{expect: 220}, {sleep: 5000}]
- id: no-reply
  title: a reply that never comes is the target's fault
  spec: [SMTP-X-1]
  level: must
  steps: [{expect: 220}, {expect: {code: 250, timeout_ms: 100}}]
"#;

const VERDICTS: &[(&str, Verdict, Option<&str>)] = &[
    (
        "must-broken",
        Verdict::Fail,
        Some("reply code 220 is not 554"),
    ),
    ("should-broken", Verdict::Warn, None),
    ("may-differs", Verdict::Unsupported, None),
    (
        "missing-extension",
        Verdict::Skip,
        Some("XFOOBAR not advertised"),
    ),
    (
        "missing-extension-fallback",
        Verdict::Unsupported,
        Some("fallback"),
    ),
    ("slow-case", Verdict::Fail, Some("deadline")),
    ("no-reply", Verdict::Fail, Some("no reply within 100 ms")),
];

/// Runs a future on a runtime of its own (the shared target's server keeps running on the
/// suite's runtime, so connections to it work from here).
fn tokio_block_on<F: std::future::Future>(future: F) -> Result<F::Output, Failed> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    Ok(runtime.block_on(future))
}

fn unreachable_target_is_an_error() -> Result<(), Failed> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    // Bind a port and close it again: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let cases = load_str(
        "- id: a\n  title: t\n  spec: [SMTP-X-1]\n  level: must\n  steps: [{expect: 220}]\n",
        Path::new("inline.yaml"),
    )
    .map_err(|e| e.to_string())?;
    let target = Arc::new(mtpspec::target::TcpTarget::new("127.0.0.1", port, false));
    let runner = Runner::new(target, RunOptions::default());
    if runtime.block_on(runner.probe()).is_ok() {
        return Err("the probe of a closed port succeeded".into());
    }
    let result = runtime.block_on(runner.run_case(&cases[0], &Capabilities::default()));
    match result.verdict {
        Verdict::Error => Ok(()),
        other => Err(format!("expected ERROR, got {other}: {:?}", result.reason).into()),
    }
}

/// The suite's own counts, after libtest's: "passed" there includes SKIP and UNSUPPORTED.
fn print_verdicts(target: &str) {
    let tally = TALLY.lock().unwrap_or_else(PoisonError::into_inner);
    if tally.is_empty() {
        return;
    }
    let counts: Vec<String> = Verdict::ALL
        .iter()
        .map(|v| format!("{} {v}", tally.get(v).copied().unwrap_or(0)))
        .collect();
    let target = if target.is_empty() {
        "embedded"
    } else {
        target
    };
    println!(
        "mtpspec verdicts on {target}: {} (libtest counts SKIP and UNSUPPORTED as passed; \
         not-applicable cases are listed as ignored)",
        counts.join(", ")
    );
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = vec![
        Trial::test(
            "harness::every_cited_requirement_exists",
            every_cited_requirement_exists,
        ),
        Trial::test(
            "harness::smtp_requirements_quote_their_level",
            smtp_requirements_quote_their_level,
        ),
        Trial::test(
            "harness::no_case_outranks_its_requirements",
            no_case_outranks_its_requirements,
        ),
        Trial::test(
            "harness::malformed_scenario_names_file_line_column_and_field",
            malformed_scenario_names_file_line_column_and_field,
        ),
        Trial::test("harness::verdict_rules", || {
            verdicts(VERDICT_CASES, VERDICTS)
        }),
        Trial::test(
            "harness::unreachable_target_is_an_error",
            unreachable_target_is_an_error,
        ),
    ];
    let run_args = match run_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let target = run_args.target.clone();
    // Against another server, the reference's own design decisions are MAY (SPEC.md).
    let reference =
        run_args.reference_target || matches!(target.parse(), Ok(mtpspec::TargetSpec::Embedded));
    let spec = Spec::load(&repo().join("SPEC.md"));
    // Another server is probed before the trials are listed, so that the cases it cannot run
    // show as ignored, with the reason in the name, instead of passing.
    let probed = (!reference).then(env).and_then(Result::ok);
    // The cases as `mtpspec run` selects them (held to SPEC.md's levels).
    let selected = load_paths(&scenario_dirs()).and_then(|all| {
        let everything = Filter::new(&[]).expect("an empty filter");
        suite::select(
            &all,
            &everything,
            run_args.profile,
            spec.as_ref().ok(),
            reference,
        )
    });
    match selected {
        Ok(selection) => trials.extend(selection.cases.into_iter().map(|case| {
            match probed
                .as_ref()
                .and_then(|suite| suite.not_applicable(&case))
            {
                Some(why) => {
                    tally(Verdict::Skip);
                    Trial::test(format!("{} (not applicable: {why})", case.id), || Ok(()))
                        .with_ignored_flag(true)
                }
                None => scenario_trial(case),
            }
        })),
        Err(e) => trials.push(Trial::test("harness::scenarios_load", move || {
            Err(e.to_string().into())
        })),
    }
    let conclusion = libtest_mimic::run(&args, trials);
    print_verdicts(&target);
    // Stop the embedded server and remove its directory before exiting.
    let env = ENV.lock().unwrap_or_else(PoisonError::into_inner).take();
    if let Some(Ok(suite)) = env
        && let Ok(suite) = Arc::try_unwrap(suite)
    {
        suite.shutdown();
    }
    conclusion.exit();
}
