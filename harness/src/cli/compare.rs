//! `mtpspec compare`: runs the suite against several targets and/or reads existing JSON
//! reports, and writes a static HTML page with the targets side by side and, next to it, one
//! page per target with that target's transcripts (see `mtpspec::report::html`). Relay reports
//! (`--relay-json`, `mtpspec relay-test`) add the outbound section ([`relay`]).
//!
//! Each `--target NAME=TARGET` is run in this process as `mtpspec run` runs it (its command line
//! read by `run`'s own parser, then [`mtpspec::suite`]: options, observers, baseline, report),
//! and every `--from-json` report is read back into the same report type, so the pages are
//! built from reports alone. Before any run, the
//! transcript pages' files are checked: a file in the way that is not a transcript page of the
//! same main page is never overwritten (exit 2). The transcript pages are written first and
//! the main page last, so the main page never links to a page that is not there; then the
//! transcript pages of the same main page that this comparison no longer has (a target
//! dropped) are removed. Exit codes: 0 the pages were written (whatever the verdicts: `run` is
//! the gate), 2 usage or scenario error, or a report that cannot be read, 3 a target could not
//! be run at all (no report).

mod relay;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;

use anyhow::{Context, anyhow, bail};
use clap::Parser;
use mtpspec::report::html::{self, Column, Page, RelayColumn};
use mtpspec::report::{self, RunReport, terminal};

use super::run::{Outcome, RunArgs};

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    mtpspec compare --target ref=embedded --target pf=smtp://127.0.0.1:2525 --html side.html\n  \
    mtpspec compare --from-json ref=ref.json --from-json pf=pf.json --html side.html\n  \
    mtpspec compare --from-json pf=pf.json --relay-json pf=pf-relay.json --html side.html")]
pub struct CompareArgs {
    /// Run the suite against TARGET (as `run --target`: embedded, smtp://HOST:PORT,
    /// smtps://HOST:PORT, exec:COMMAND) and show it as column NAME. Repeatable.
    #[arg(long = "target", value_name = "NAME=TARGET")]
    targets: Vec<Named>,
    /// Show an existing JSON report (`run --report-json`) as column NAME. Repeatable.
    #[arg(long = "from-json", value_name = "NAME=FILE")]
    from_json: Vec<Named>,
    /// Show a relay report (`relay-test --report-json`) in the outbound section, as column
    /// NAME: the same name as a --target or --from-json shows the same target's outbound side,
    /// another name a target of its own. Repeatable.
    #[arg(long = "relay-json", value_name = "NAME=FILE")]
    relay_json: Vec<Named>,
    /// The main page to write. Each target's transcripts go next to it, a page per target
    /// named after FILE and the target (`index.html`: `index-postfix.html`); only files that
    /// are transcript pages of FILE are overwritten, and those of targets no longer compared
    /// are removed.
    #[arg(long, value_name = "FILE")]
    html: PathBuf,
    /// Also write each run's JSON report here, as NAME.json.
    #[arg(long, value_name = "DIR")]
    json_dir: Option<PathBuf>,
    /// Column order, comma-separated names [default: the --target columns, then the
    /// --from-json ones, then the --relay-json ones of other names, each in the order given].
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    columns: Vec<String>,
    /// The page's title.
    #[arg(long, default_value = "mtpspec: conformance side by side")]
    title: String,
    /// SPEC.md, for section order, titles and requirement levels [default: as `run`].
    #[arg(long, value_name = "FILE")]
    spec: Option<PathBuf>,
    /// For target NAME: observe deliveries with a command printing the mailbox JSON
    /// (`run --mailbox-cmd`). Repeatable, one per target.
    #[arg(long = "mailbox-cmd", value_name = "NAME=COMMAND")]
    mailbox_cmds: Vec<Named>,
    /// For target NAME: observe deliveries in a Maildir (`run --maildir`).
    #[arg(long = "maildir", value_name = "NAME=PATH")]
    maildirs: Vec<Named>,
    /// For target NAME: expected failures with reasons (`run --baseline`).
    #[arg(long = "baseline", value_name = "NAME=FILE")]
    baselines: Vec<Named>,
    /// For target NAME: any other `run` argument, one per flag, e.g.
    /// `--run-arg pf=--submission=127.0.0.1:2587` or `--run-arg pf=--local-user=bob`.
    #[arg(long = "run-arg", value_name = "NAME=ARG")]
    run_args: Vec<Named>,
    /// Scenario files or directories, for every run [default: as `run`].
    #[arg(long = "scenarios", value_name = "PATH")]
    scenarios: Vec<PathBuf>,
    /// Run only matching cases, in every run (as `run --filter`).
    #[arg(long, short, value_name = "GLOB")]
    filter: Vec<String>,
    /// Cases running at once, in each run.
    #[arg(long, short = 'j', value_name = "N")]
    parallel: Option<usize>,
    /// The most one case may take (as `run --deadline`).
    #[arg(long, value_name = "DURATION")]
    deadline: Option<String>,
    /// How long a step waits for a reply (as `run --step-timeout`).
    #[arg(long, value_name = "DURATION")]
    step_timeout: Option<String>,
    /// WARN fails the gate in every run (as `run --strict`).
    #[arg(long)]
    strict: bool,
    /// Do not print each run's summary (its errors still show).
    #[arg(long, short)]
    quiet: bool,
}

/// `NAME=VALUE`; NAME is a column's name and the file name of its JSON report, so it is kept
/// to letters, digits, `.`, `_` and `-`.
#[derive(Clone, Debug)]
struct Named {
    name: String,
    value: String,
}

impl FromStr for Named {
    type Err = String;

    fn from_str(text: &str) -> Result<Named, String> {
        let (name, value) = text
            .split_once('=')
            .ok_or_else(|| format!("expected NAME=VALUE, got {text:?}"))?;
        let valid = |b: u8| b.is_ascii_alphanumeric() || b"._-".contains(&b);
        if name.is_empty() || name.starts_with('.') || !name.bytes().all(valid) {
            return Err(format!(
                "the name {name:?} must be letters, digits, '.', '_' or '-'"
            ));
        }
        if value.is_empty() {
            return Err(format!("{name}= needs a value"));
        }
        Ok(Named {
            name: name.to_string(),
            value: value.to_string(),
        })
    }
}

pub fn main(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let order = column_order(&args)?;
    let (dir, file) = location(&args.html)?;
    let (conformance, relay_names) = kinds(&args, &order);
    let names = html::target_names(&conformance, &relay_names);
    check_overwrites(&dir, &file, &html::transcript_files(&file, &names))?;
    let spec = super::run::load_spec(args.spec.as_deref())?;
    // Read before any run, so that a bad file is refused at once.
    let mut relay_columns: BTreeMap<&str, RelayColumn> = BTreeMap::new();
    for named in &args.relay_json {
        relay_columns.insert(
            &named.name,
            relay::load(&named.name, Path::new(&named.value))?,
        );
    }
    if let Some(dir) = &args.json_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut columns: BTreeMap<String, Column> = BTreeMap::new();
    for target in &args.targets {
        let Some(report) = run_target(&args, target)? else {
            return Ok(ExitCode::from(3));
        };
        if let Some(dir) = &args.json_dir {
            let path = dir.join(format!("{}.json", target.name));
            std::fs::write(&path, report::json::to_string(&report)?)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        columns.insert(
            target.name.clone(),
            Column::from_report(&target.name, report),
        );
    }
    for report in &args.from_json {
        columns.insert(
            report.name.clone(),
            load(&report.name, Path::new(&report.value))?,
        );
    }
    let columns: Vec<Column> = conformance
        .iter()
        .filter_map(|name| columns.remove(*name))
        .collect();
    let relay_columns: Vec<RelayColumn> = relay_names
        .iter()
        .filter_map(|name| relay_columns.remove(name))
        .collect();
    let pages = html::render(&Page {
        title: &args.title,
        columns: &columns,
        relay: &relay_columns,
        spec: spec.as_ref(),
        file: &file,
    });
    // The transcript pages first: the main page must not link to a page not yet there.
    let mut transcript_bytes = 0;
    for page in &pages.transcripts {
        let path = dir.join(&page.file);
        std::fs::write(&path, &page.html).with_context(|| format!("writing {}", path.display()))?;
        transcript_bytes += page.html.len();
    }
    std::fs::write(&args.html, &pages.main)
        .with_context(|| format!("writing {}", args.html.display()))?;
    let written: Vec<&str> = pages.transcripts.iter().map(|p| p.file.as_str()).collect();
    let removed = remove_stale(&dir, &file, &written)?;
    let summary = summary_lines(&pages, &columns, &relay_columns);
    outln!(
        "mtpspec compare: wrote {} ({} KiB, {} targets, {} relay reports) and {} transcript \
         pages next to it ({} KiB in all)\n{}",
        args.html.display(),
        pages.main.len() / 1024,
        columns.len(),
        relay_columns.len(),
        pages.transcripts.len(),
        transcript_bytes / 1024,
        summary.join("\n")
    );
    for name in removed {
        outln!("  removed {name}, a transcript page of a target no longer compared");
    }
    Ok(ExitCode::SUCCESS)
}

/// The conformance columns and the relay columns among `order`, each in page order.
fn kinds<'a>(args: &CompareArgs, order: &'a [String]) -> (Vec<&'a str>, Vec<&'a str>) {
    let of = |list: &[&Named]| -> Vec<&'a str> {
        order
            .iter()
            .map(String::as_str)
            .filter(|name| list.iter().any(|n| n.name == *name))
            .collect()
    };
    let conformance: Vec<&Named> = args.targets.iter().chain(&args.from_json).collect();
    let relay: Vec<&Named> = args.relay_json.iter().collect();
    (of(&conformance), of(&relay))
}

/// One line per transcript page: its target's verdict counts (conformance, relay) and its file.
fn summary_lines(pages: &html::Pages, columns: &[Column], relay: &[RelayColumn]) -> Vec<String> {
    let counts = |count: &dyn Fn(mtpspec::Verdict) -> usize| -> String {
        html::VERDICTS
            .iter()
            .map(|(v, _, _)| format!("{} {v}", count(*v)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    pages
        .transcripts
        .iter()
        .map(|page| {
            let mut parts = Vec::new();
            if let Some(c) = columns.iter().find(|c| c.name == page.target) {
                parts.push(counts(&|v| c.count(v)));
            }
            if let Some(c) = relay.iter().find(|c| c.name == page.target) {
                parts.push(format!("relay: {}", counts(&|v| c.count(v))));
            }
            format!("  {}: {} ({})", page.target, parts.join("; "), page.file)
        })
        .collect()
}

/// The directory of the `--html` page (where the transcript pages go too) and its file name.
fn location(html: &Path) -> anyhow::Result<(PathBuf, String)> {
    let file = html
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow!("--html {}: give a file name in UTF-8", html.display()))?;
    let dir = match html.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, file.to_string()))
}

/// The first 4 KiB of a file, or None when there is no file.
fn head_of(path: &Path) -> anyhow::Result<Option<String>> {
    use std::io::Read as _;
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut head = Vec::with_capacity(4096);
    file.by_ref()
        .take(4096)
        .read_to_end(&mut head)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(Some(String::from_utf8_lossy(&head).into_owned()))
}

/// Refuses to go on when a transcript page would overwrite a file that is not a transcript
/// page of the same main page (a page of the user's own, another comparison's main page).
fn check_overwrites(dir: &Path, main: &str, files: &[String]) -> anyhow::Result<()> {
    for file in files {
        let path = dir.join(file);
        if let Some(head) = head_of(&path)?
            && !html::is_transcript_page_of(&head, main)
        {
            bail!(
                "{} is in the way of a transcript page and is not one of {main}'s: move it, \
                 or give --html another name",
                path.display()
            );
        }
    }
    Ok(())
}

/// Removes the transcript pages of `main` in `dir` other than `written` (those of targets no
/// longer compared); returns their names. Only files marked as transcript pages of `main` are
/// touched.
fn remove_stale(dir: &Path, main: &str, written: &[&str]) -> anyhow::Result<Vec<String>> {
    let mut removed = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if !name.ends_with(".html") || name == main || written.contains(&name.as_str()) {
            continue;
        }
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let path = entry.path();
        if head_of(&path)?.is_some_and(|head| html::is_transcript_page_of(&head, main)) {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
            removed.push(name);
        }
    }
    removed.sort();
    Ok(removed)
}

/// The columns in page order (the conformance and relay columns share names: a name given to
/// both is one target); checks that names are unique among the conformance columns and among
/// the relay columns, and that per-target options name a `--target`.
fn column_order(args: &CompareArgs) -> anyhow::Result<Vec<String>> {
    let conformance: Vec<&str> = args
        .targets
        .iter()
        .chain(&args.from_json)
        .map(|n| n.name.as_str())
        .collect();
    let relay: Vec<&str> = args.relay_json.iter().map(|n| n.name.as_str()).collect();
    if conformance.is_empty() && relay.is_empty() {
        bail!(
            "nothing to compare: give --target NAME=TARGET, --from-json NAME=FILE and/or \
             --relay-json NAME=FILE"
        );
    }
    for (list, flags) in [
        (&conformance, "--target and --from-json"),
        (&relay, "--relay-json"),
    ] {
        for (i, name) in list.iter().enumerate() {
            if list[..i].contains(name) {
                bail!("the column name {name:?} is given twice ({flags})");
            }
        }
    }
    let mut given = conformance.clone();
    given.extend(relay.iter().filter(|name| !conformance.contains(name)));
    let run_names: Vec<&str> = args.targets.iter().map(|n| n.name.as_str()).collect();
    for (flag, list) in [
        ("--mailbox-cmd", &args.mailbox_cmds),
        ("--maildir", &args.maildirs),
        ("--baseline", &args.baselines),
        ("--run-arg", &args.run_args),
    ] {
        for named in list {
            if !run_names.contains(&named.name.as_str()) {
                bail!(
                    "{flag} {}=...: no --target is named {:?}",
                    named.name,
                    named.name
                );
            }
        }
    }
    if args.columns.is_empty() {
        return Ok(given.iter().map(|s| s.to_string()).collect());
    }
    for name in &args.columns {
        if !given.contains(&name.as_str()) {
            bail!(
                "--columns names {name:?}, which is neither a --target, a --from-json nor a \
                 --relay-json"
            );
        }
    }
    let mut order = args.columns.clone();
    order.extend(
        given
            .iter()
            .filter(|n| !args.columns.iter().any(|c| c == *n))
            .map(|s| s.to_string()),
    );
    Ok(order)
}

/// `mtpspec run` for one target, in this process ([`super::run::execute`]): its command line
/// is read exactly as `mtpspec run` reads it. `Ok(None)` when the target could not be used at
/// all (`run` said why).
fn run_target(args: &CompareArgs, target: &Named) -> anyhow::Result<Option<RunReport>> {
    outln!("== {}: mtpspec run --target {}", target.name, target.value);
    let argv = run_arguments(args, target);
    let run =
        RunCommand::try_parse_from(&argv).map_err(|e| anyhow!("--target {}: {e}", target.name))?;
    match super::run::execute(&run.args).with_context(|| format!("the run for {}", target.name))? {
        Outcome::Report(report) => {
            if !args.quiet {
                out!("{}", terminal::summary(&report, false));
            }
            Ok(Some(*report))
        }
        Outcome::Unusable => {
            eprintln!(
                "mtpspec compare: target {} ({}) could not be run",
                target.name, target.value
            );
            Ok(None)
        }
        Outcome::Listed => bail!("the run for {} only listed its cases (--list)", target.name),
    }
}

/// `mtpspec run`'s command line, parsed as `mtpspec run` parses it.
#[derive(clap::Parser)]
struct RunCommand {
    #[command(flatten)]
    args: RunArgs,
}

/// The `run` command line for one target: the shared options, then the target's own.
fn run_arguments(args: &CompareArgs, target: &Named) -> Vec<String> {
    let mut out: Vec<String> = vec![
        "run".into(),
        "--quiet".into(),
        "--target".into(),
        target.value.clone(),
    ];
    let mut pair = |flag: &str, value: String| {
        out.push(flag.to_string());
        out.push(value);
    };
    if let Some(spec) = &args.spec {
        pair("--spec", spec.display().to_string());
    }
    for path in &args.scenarios {
        pair("--scenarios", path.display().to_string());
    }
    for glob in &args.filter {
        pair("--filter", glob.clone());
    }
    if let Some(n) = args.parallel {
        pair("--parallel", n.to_string());
    }
    if let Some(d) = &args.deadline {
        pair("--deadline", d.clone());
    }
    if let Some(d) = &args.step_timeout {
        pair("--step-timeout", d.clone());
    }
    let mine = |list: &[Named]| -> Vec<String> {
        list.iter()
            .filter(|n| n.name == target.name)
            .map(|n| n.value.clone())
            .collect()
    };
    for (flag, list) in [
        ("--mailbox-cmd", &args.mailbox_cmds),
        ("--maildir", &args.maildirs),
        ("--baseline", &args.baselines),
    ] {
        for value in mine(list) {
            pair(flag, value);
        }
    }
    if args.strict {
        out.push("--strict".into());
    }
    out.extend(mine(&args.run_args));
    out
}

fn load(name: &str, path: &Path) -> anyhow::Result<Column> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Column::from_json(name, &text).with_context(|| format!("{name}: {}", path.display()))
}

#[cfg(test)]
mod tests;
