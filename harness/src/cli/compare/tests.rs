//! `mtpspec compare`'s unit tests: names, column order, each run's command line, the pages
//! written and removed, where they go.

use super::*;
use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: CompareArgs,
}

fn parse(argv: &[&str]) -> Result<CompareArgs, clap::Error> {
    Cli::try_parse_from(std::iter::once("compare").chain(argv.iter().copied())).map(|c| c.args)
}

#[test]
fn names_are_checked() {
    assert!("a=b".parse::<Named>().is_ok());
    assert!("pf=smtp://127.0.0.1:25".parse::<Named>().is_ok());
    for bad in ["noequals", "=x", "a/b=x", "../x=y", ".x=y", "a="] {
        assert!(bad.parse::<Named>().is_err(), "{bad}");
    }
}

#[test]
fn orders_columns_and_checks_per_target_options() {
    let args = parse(&[
        "--target",
        "ref=embedded",
        "--from-json",
        "pf=p.json",
        "--from-json",
        "ai=a.json",
        "--html",
        "o.html",
    ])
    .expect("parses");
    assert_eq!(column_order(&args).expect("valid"), ["ref", "pf", "ai"]);
    let args = parse(&[
        "--target",
        "ref=embedded",
        "--from-json",
        "pf=p.json",
        "--columns",
        "pf",
        "--html",
        "o.html",
    ])
    .expect("parses");
    assert_eq!(column_order(&args).expect("valid"), ["pf", "ref"]);
    let twice = parse(&[
        "--target",
        "a=embedded",
        "--from-json",
        "a=x",
        "--html",
        "o",
    ])
    .expect("parses");
    assert!(column_order(&twice).is_err());
    let stray = parse(&[
        "--from-json",
        "pf=p.json",
        "--mailbox-cmd",
        "pf=cat",
        "--html",
        "o",
    ])
    .expect("parses");
    assert!(
        column_order(&stray).is_err(),
        "mailbox for a non-run column"
    );
    assert!(column_order(&parse(&["--html", "o"]).expect("parses")).is_err());
    // A relay report of a target already shown is the same column; of another, a new one,
    // after them unless --columns says otherwise.
    let relay = |extra: &[&str]| {
        let mut argv = vec![
            "--from-json",
            "pf=p.json",
            "--relay-json",
            "ex=e.json",
            "--relay-json",
            "pf=r.json",
            "--html",
            "o",
        ];
        argv.extend(extra);
        column_order(&parse(&argv).expect("parses"))
    };
    assert_eq!(relay(&[]).expect("valid"), ["pf", "ex"]);
    assert_eq!(relay(&["--columns", "ex"]).expect("valid"), ["ex", "pf"]);
    assert!(relay(&["--relay-json", "ex=x.json"]).is_err(), "ex twice");
    let only = parse(&["--relay-json", "ex=e.json", "--html", "o"]).expect("parses");
    assert_eq!(column_order(&only).expect("relay reports alone"), ["ex"]);
}

#[test]
fn builds_each_run_command_line() {
    let args = parse(&[
        "--target",
        "pf=smtp://127.0.0.1:2525",
        "--target",
        "ref=embedded",
        "--mailbox-cmd",
        "pf=bash harness/targets/postfix.sh mailbox state",
        "--baseline",
        "pf=reports/baselines/postfix.yaml",
        "--run-arg",
        "pf=--local-user=bob",
        "--filter",
        "SMTP-DATA-*",
        "-j",
        "4",
        "--strict",
        "--html",
        "o.html",
    ])
    .expect("parses");
    let pf = run_arguments(&args, &args.targets[0]);
    assert_eq!(
        pf,
        [
            "run",
            "--quiet",
            "--target",
            "smtp://127.0.0.1:2525",
            "--filter",
            "SMTP-DATA-*",
            "--parallel",
            "4",
            "--mailbox-cmd",
            "bash harness/targets/postfix.sh mailbox state",
            "--baseline",
            "reports/baselines/postfix.yaml",
            "--strict",
            "--local-user=bob",
        ]
    );
    let reference = run_arguments(&args, &args.targets[1]);
    // `run` reads it as it reads its own command line.
    assert!(RunCommand::try_parse_from(&pf).is_ok(), "run parses it");
    assert!(!reference.iter().any(|a| a.contains("mailbox")));
    assert!(!reference.iter().any(|a| a.contains("bob")));
}

/// A report in the JSON schema: one case `a`, with the verdict and a wire line given.
fn report(verdict: &str, wire: &str) -> String {
    format!(
        r#"{{"schema": "mtpspec-report", "schema_version": 1,
          "tool": {{"name": "mtpspec", "version": "0.1.0"}},
          "target": "smtp://127.0.0.1:2525", "started_at": "2026-01-01T00:00:00Z",
          "duration_ms": 5, "gate": "passed", "exit_code": 0,
          "summary": {{"expected_failures": 0}},
          "cases": [{{"id": "a", "title": "A", "file": "s.yaml", "line": 1,
            "spec": ["SMTP-DATA-3"], "level": "must", "verdict": "{verdict}",
            "reason": null, "failure": null, "baseline": null,
            "wire": [{{"at_ms": 1.0, "conn": 1, "kind": "received", "tls": false,
                       "data": "{wire}\r\n"}}]}}]}}"#
    )
}

#[test]
fn writes_the_main_page_and_a_transcript_page_per_target() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let spec = d.join("SPEC.md");
    std::fs::write(
        &spec,
        "# SMTP\n\n## DATA: Mail data\n\n| ID | Level | Requirement | Source |\n| --- | --- | --- | --- |\n| SMTP-DATA-3 | MUST | ends | x |\n",
    )
    .unwrap();
    std::fs::write(d.join("pf.json"), report("FAIL", "250 <smuggled>")).unwrap();
    std::fs::write(d.join("ref.json"), report("PASS", "550 no")).unwrap();
    let page = d.join("index.html");
    let at = |name: &str| d.join(name).display().to_string();
    let compare = |columns: &[&str]| {
        let mut argv = vec![
            "--html".to_string(),
            page.display().to_string(),
            "--spec".to_string(),
            spec.display().to_string(),
            "--quiet".to_string(),
        ];
        for name in columns {
            argv.push("--from-json".into());
            argv.push(format!("{name}={}", at(&format!("{name}.json"))));
        }
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        main(parse(&argv).expect("parses"))
    };
    let read = |name: &str| std::fs::read_to_string(d.join(name)).unwrap();

    assert_eq!(compare(&["pf", "ref"]).unwrap(), ExitCode::SUCCESS);
    let main_page = read("index.html");
    assert!(main_page.contains("<a href=\"index-pf.html#case-a\""));
    assert!(main_page.contains("<a href=\"index-ref.html#case-a\""));
    assert!(
        !main_page.contains("smuggled"),
        "no transcript on the main page"
    );
    let pf = read("index-pf.html");
    assert!(pf.contains("id=\"case-a\""));
    assert!(pf.contains("S: 250 &lt;smuggled&gt;"), "{pf}");
    assert!(pf.contains("<a href=\"index.html#case-a\">"));
    assert!(read("index-ref.html").contains("S: 550 no"));

    // A file of the user's own where a transcript page would go is never overwritten, and
    // nothing is written (not even the main page).
    std::fs::write(d.join("index-ai.html"), "<p>my notes</p>").unwrap();
    std::fs::write(d.join("ai.json"), report("WARN", "250 ok")).unwrap();
    std::fs::remove_file(&page).unwrap();
    let refused = compare(&["ai", "pf"]).unwrap_err().to_string();
    assert!(refused.contains("index-ai.html"), "{refused}");
    assert_eq!(read("index-ai.html"), "<p>my notes</p>");
    assert!(!page.exists());
    std::fs::remove_file(d.join("index-ai.html")).unwrap();

    // Run again without ref: ref's page goes (it is index.html's), other HTML files stay.
    std::fs::write(d.join("other.html"), "<p>kept</p>").unwrap();
    let other_pf = pf.replace("content=\"index.html\"", "content=\"other-main.html\"");
    assert_ne!(other_pf, pf, "the marker is in the page");
    std::fs::write(d.join("other-main-pf.html"), &other_pf).unwrap();
    assert_eq!(compare(&["ai", "pf"]).unwrap(), ExitCode::SUCCESS);
    assert!(!d.join("index-ref.html").exists(), "stale page removed");
    assert!(read("index-ai.html").contains("S: 250 ok"));
    assert!(read("index.html").contains("<a href=\"index-ai.html#case-a\""));
    assert!(!read("index.html").contains("index-ref.html"));
    assert_eq!(read("other.html"), "<p>kept</p>");
    assert_eq!(
        read("other-main-pf.html"),
        other_pf,
        "another page's transcripts stay"
    );
}

#[test]
fn pages_go_next_to_the_html_file() {
    assert_eq!(
        location(Path::new("out/cmp.html")).unwrap(),
        (PathBuf::from("out"), "cmp.html".to_string())
    );
    assert_eq!(
        location(Path::new("cmp.html")).unwrap(),
        (PathBuf::from("."), "cmp.html".to_string())
    );
    assert!(location(Path::new("/")).is_err());
}
