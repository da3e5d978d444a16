//! What a command line a scripted server recorded says: its verb, and the path of a MAIL or
//! RCPT. Read by serve-test's sessions, relay-test's judging and the simulation's next hop.

/// A command's verb, in upper case (`""` for an empty line).
pub fn verb_of(line: &str) -> String {
    line.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase()
}

/// The path of a MAIL or RCPT line: what stands between its first `<` and the `>` after it
/// (`""` for `MAIL FROM:<>` or a line without `<`).
pub fn path_of(line: &str) -> &str {
    let Some(start) = line.find('<') else {
        return "";
    };
    let rest = &line[start + 1..];
    rest.find('>').map_or(rest, |end| &rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_and_paths_are_read() {
        assert_eq!(verb_of("rcpt TO:<a@b>"), "RCPT");
        assert_eq!(verb_of(""), "");
        assert_eq!(path_of("MAIL FROM:<> SIZE=10"), "");
        assert_eq!(path_of("RCPT TO:<a@b> NOTIFY=NEVER"), "a@b");
        assert_eq!(path_of("QUIT"), "");
    }
}
