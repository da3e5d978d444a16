//! The names a scenario may use where a typo would otherwise pass silently: the keywords a case
//! `requires` (EHLO keywords, VMTP verbs, MMTP welcome features) and the SPEC.md requirement IDs
//! it cites. An unknown name is a load error that suggests the nearest known one.

use std::path::Path;

use super::error::ScenarioError;
use super::expect::Keyword;
use super::model::{Case, Protocol};

/// SMTP service extension keywords from the IANA registry ("SMTP Service Extensions"), the
/// historic ones included since old servers still advertise them.
const EHLO_KEYWORDS: &[&str] = &[
    "8BITMIME",
    "ATRN",
    "AUTH",
    "BINARYMIME",
    "BURL",
    "CHECKPOINT",
    "CHUNKING",
    "CONNEG",
    "CONPERM",
    "DELIVERBY",
    "DSN",
    "ENHANCEDSTATUSCODES",
    "ETRN",
    "EXPN",
    "FUTURERELEASE",
    "HELP",
    "LIMITS",
    "MT-PRIORITY",
    "MTRK",
    "NO-SOLICITING",
    "ONEX",
    "PIPELINING",
    "REQUIRETLS",
    "RRVS",
    "SAML",
    "SEND",
    "SIZE",
    "SMTPUTF8",
    "SOML",
    "STARTTLS",
    "SUBMITTER",
    "TURN",
    "UTF8SMTP",
    "VERB",
    "VRFY",
    // This project's extension (SPEC.md, VMTP sections).
    "VMTP",
];

/// The verbs `VMTP VERB` may name (seed 001).
const VMTP_VERBS: &[&str] = &[
    "BATCH", "ENCRYPT", "METADATA", "READACK", "STATUS", "VECMAIL",
];

/// The `features` of an MMTP welcome (seed 004 §5.2).
const MMTP_FEATURES: &[&str] = &["PGP", "TLS"];

/// Checks each `requires` keyword of a case against the names its protocol knows.
///
/// RFC 5321 §4.1.5: "Keywords beginning with "X" refer to a service extension that is
/// local": those are accepted as written, since no registry lists them.
pub(crate) fn check_requires(
    requires: &[Keyword],
    protocol: Protocol,
    path: &Path,
    line: u64,
    column: u64,
) -> Result<(), ScenarioError> {
    for keyword in requires {
        let name = keyword.keyword.as_str();
        let problem = match protocol {
            Protocol::Mmtp => unknown(name, MMTP_FEATURES, "an MMTP welcome feature"),
            _ if name.starts_with('X') => None,
            _ => unknown(name, EHLO_KEYWORDS, "a registered EHLO keyword").or_else(|| {
                let verb = keyword.param.as_deref().filter(|_| name == "VMTP")?;
                unknown(&verb.to_ascii_uppercase(), VMTP_VERBS, "a VMTP verb")
            }),
        };
        if let Some(message) = problem {
            return Err(ScenarioError::invalid(
                path, line, column, "requires", message,
            ));
        }
    }
    Ok(())
}

/// Checks that every ID the cases cite is a requirement of SPEC.md (`is_known`), naming the
/// case's file and line and the nearest known ID.
pub fn check_citations<'a>(
    cases: &[Case],
    known: impl Iterator<Item = &'a str> + Clone,
) -> Result<(), ScenarioError> {
    for case in cases {
        for id in &case.spec {
            if known.clone().any(|k| k == id) {
                continue;
            }
            let names: Vec<&str> = known.clone().collect();
            let mut message = format!("case `{}` cites {id}, which SPEC.md does not have", case.id);
            if let Some(near) = nearest(id, &names) {
                message.push_str(&format!(" (did you mean {near}?)"));
            }
            return Err(ScenarioError::invalid(
                &case.file, case.line, 1, "spec", message,
            ));
        }
    }
    Ok(())
}

/// `None` when `name` is one of `known`, else the error text for it.
fn unknown(name: &str, known: &[&str], kind: &str) -> Option<String> {
    if known.contains(&name) {
        return None;
    }
    let mut message = format!("{name} is not {kind}");
    match nearest(name, known) {
        Some(near) => message.push_str(&format!(" (did you mean {near}?)")),
        None => message.push_str(&format!(" (known: {})", known.join(", "))),
    }
    Some(message)
}

/// The known name closest to `name`, when it is close enough to be a likely typo.
fn nearest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(name, k), *k))
        .filter(|(distance, k)| *distance <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keywords(texts: &[&str]) -> Vec<Keyword> {
        texts.iter().map(|t| Keyword::parse(t).unwrap()).collect()
    }

    fn check(texts: &[&str], protocol: Protocol) -> Result<(), String> {
        check_requires(&keywords(texts), protocol, Path::new("f.yaml"), 7, 3)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn registered_keywords_verbs_and_local_extensions_pass() {
        check(
            &[
                "PIPELINING",
                "AUTH PLAIN",
                "SIZE 1000",
                "VMTP",
                "VMTP readack",
            ],
            Protocol::Smtp,
        )
        .unwrap();
        check(&["XCLIENT", "X-ANYTHING"], Protocol::Smtp).unwrap();
        check(&["PGP", "TLS"], Protocol::Mmtp).unwrap();
    }

    #[test]
    fn a_typo_names_file_line_field_and_the_nearest_name() {
        let e = check(&["PIPELINNG"], Protocol::Smtp).unwrap_err();
        assert!(e.contains("f.yaml:7:3"), "{e}");
        assert!(e.contains("field `requires`"), "{e}");
        assert!(e.contains("did you mean PIPELINING?"), "{e}");
        let e = check(&["VMTP VECMAL"], Protocol::Smtp).unwrap_err();
        assert!(
            e.contains("VECMAL is not a VMTP verb (did you mean VECMAIL?)"),
            "{e}"
        );
        let e = check(&["STARTTLS"], Protocol::Mmtp).unwrap_err();
        assert!(e.contains("known: PGP, TLS"), "{e}");
    }

    #[test]
    fn an_uncited_id_names_the_case_and_the_nearest_id() {
        let source = "- id: a\n  title: t\n  spec: [SMTP-DATA-3, SMTP-DTA-4]\n  level: must\n  steps: [ehlo]\n";
        let cases = super::super::load_str(source, Path::new("s.yaml")).unwrap();
        let known = ["SMTP-DATA-3", "SMTP-DATA-4"];
        let e = check_citations(&cases, known.iter().copied())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("s.yaml:1:"), "{e}");
        assert!(e.contains("cites SMTP-DTA-4"), "{e}");
        assert!(e.contains("did you mean SMTP-DATA-4?"), "{e}");
        check_citations(&cases, ["SMTP-DATA-3", "SMTP-DTA-4"].iter().copied()).unwrap();
    }
}
