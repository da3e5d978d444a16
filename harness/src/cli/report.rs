//! `mtpspec report`: a saved JSON report (`run --report-json`) read back and rendered again,
//! as the terminal summary and, on request, as Markdown, JUnit XML or JSON of the current
//! schema version. Exits with the report's own gate code, so a CI job can gate on a report
//! another job wrote.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use mtpspec::report::{self, RunReport, terminal};

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    mtpspec report postfix.json\n  \
    mtpspec report postfix.json --report-md postfix.md --junit postfix.xml")]
pub struct ReportArgs {
    /// The JSON report (any schema version this build reads).
    #[arg(value_name = "FILE")]
    json: PathBuf,
    /// Write it as Markdown.
    #[arg(long, value_name = "FILE")]
    report_md: Option<PathBuf>,
    /// Write it as JUnit XML.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write it again as JSON, in the current schema version.
    #[arg(long, value_name = "FILE")]
    report_json: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

/// Writes `report` as JSON, JUnit XML and Markdown to the files given (`run` and `report`).
pub(crate) fn write_files(
    report: &RunReport,
    json: Option<&Path>,
    junit: Option<&Path>,
    markdown: Option<&Path>,
) -> anyhow::Result<()> {
    let write = |path: &Path, text: String| {
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    };
    if let Some(path) = json {
        write(path, report::json::to_string(report)?)?;
    }
    if let Some(path) = junit {
        write(path, report::junit::to_string(report))?;
    }
    if let Some(path) = markdown {
        write(path, report::markdown::to_string(report))?;
    }
    Ok(())
}

pub fn main(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.json)
        .with_context(|| format!("reading {}", args.json.display()))?;
    let report = report::json::from_str(&text).with_context(|| args.json.display().to_string())?;
    write_files(
        &report,
        args.report_json.as_deref(),
        args.junit.as_deref(),
        args.report_md.as_deref(),
    )?;
    if !args.quiet {
        let color = mtp_server::cli::output::use_color(std::io::IsTerminal::is_terminal(
            &std::io::stdout(),
        ));
        out!("{}", terminal::summary(&report, color));
    }
    Ok(ExitCode::from(report.exit_code))
}
