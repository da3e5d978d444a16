//! Delivery checks: select the case's own messages from what the observer reports (polling,
//! since third-party servers deliver after their 250), then compare envelope, content and
//! metadata. The client's content must arrive exactly, with header fields a receiving server
//! adds allowed only above it.

use std::time::Duration;

use super::content;
use super::step_error::StepError;
use crate::scenario::{MailboxCheck, MessageCheck, Vars};
use crate::target::{ObservedMessage, Observer};
use mtpspec_report::verdict::Observed;

const POLL: Duration = Duration::from_millis(100);

/// How a check picks the case's messages out of the mailbox.
struct Selector {
    rcpt: Option<String>,
    marker: Option<String>,
    /// The default: the case's unique recipients (when unique) or its marker.
    default_rcpts: Vec<String>,
    default_marker: String,
}

impl Selector {
    fn new(check: &MailboxCheck, vars: &Vars, unique_rcpt: bool) -> Result<Self, StepError> {
        let expand = |t: &crate::scenario::Template| {
            t.expand(vars)
                .map_err(|e| StepError::Harness(e.to_string()))
        };
        Ok(Self {
            rcpt: check.rcpt.as_ref().map(expand).transpose()?,
            marker: check.marker.as_ref().map(expand).transpose()?,
            default_rcpts: if unique_rcpt {
                vars.recipients()
            } else {
                Vec::new()
            },
            default_marker: vars.get("marker").unwrap_or_default().to_string(),
        })
    }

    fn matches(&self, m: &ObservedMessage) -> bool {
        let to = |addr: &str| m.to.iter().any(|t| same_address(t, addr));
        let has = |text: &str| !text.is_empty() && contains(&m.data, text.as_bytes());
        match (&self.rcpt, &self.marker) {
            (None, None) => self.default_rcpts.iter().any(|r| to(r)) || has(&self.default_marker),
            (rcpt, marker) => rcpt.as_deref().is_none_or(to) && marker.as_deref().is_none_or(has),
        }
    }

    fn describe(&self) -> String {
        match (&self.rcpt, &self.marker) {
            (None, None) => "for this case".into(),
            (Some(r), None) => format!("to {r}"),
            (None, Some(m)) => format!("containing {m:?}"),
            (Some(r), Some(m)) => format!("to {r} containing {m:?}"),
        }
    }
}

pub(crate) async fn check(
    observer: &dyn Observer,
    check: &MailboxCheck,
    vars: &Vars,
    unique_rcpt: bool,
    default_wait: Duration,
) -> Result<(), StepError> {
    let selector = Selector::new(check, vars, unique_rcpt)?;
    let wanted = check.expected_count();
    let wait = check.wait_ms.map_or(default_wait, Duration::from_millis);
    let deadline = tokio::time::Instant::now() + wait;
    let read = || async {
        let all = observer
            .messages()
            .await
            .map_err(|e| StepError::Harness(e.to_string()))?;
        Ok::<_, StepError>(
            all.into_iter()
                .filter(|m| selector.matches(m))
                .collect::<Vec<_>>(),
        )
    };
    let mut selected = read().await?;
    while wanted > 0 && selected.len() < wanted && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(POLL).await;
        selected = read().await?;
    }
    if !observer.settle().is_zero() {
        tokio::time::sleep(observer.settle()).await;
        selected = read().await?;
    }
    if selected.len() != wanted {
        return Err(StepError::observed(
            format!("{wanted} message(s) {}", selector.describe()),
            format!("{} message(s){}", selected.len(), summary(&selected)),
            Observed::Messages {
                matched: selected.len(),
            },
        ));
    }
    for (i, (want, got)) in check.messages.iter().zip(&selected).enumerate() {
        check_message(want, got, vars).map_err(|(expected, actual)| {
            StepError::failed(format!("message {}: {expected}", i + 1), actual)
        })?;
    }
    Ok(())
}

fn summary(messages: &[ObservedMessage]) -> String {
    messages
        .iter()
        .map(|m| {
            format!(
                "; id {} from <{}> to {:?}, {} bytes",
                m.id,
                m.from,
                m.to,
                m.data.len()
            )
        })
        .collect()
}

type Mismatch = (String, String);

fn check_message(want: &MessageCheck, got: &ObservedMessage, vars: &Vars) -> Result<(), Mismatch> {
    let expand = |t: &crate::scenario::Template| t.expand(vars).unwrap_or_else(|_| t.to_string());
    if let Some(from) = &want.from {
        let from = expand(from);
        if !same_address(&got.from, &from) {
            return Err((format!("reverse-path <{from}>"), format!("<{}>", got.from)));
        }
    }
    if let Some(to) = &want.to {
        let mut want_to: Vec<String> = to.iter().map(expand).collect();
        let mut got_to = got.to.clone();
        let key = |a: &String| normalize_address(a);
        want_to.sort_by_key(key);
        got_to.sort_by_key(key);
        let same = want_to.len() == got_to.len()
            && want_to.iter().zip(&got_to).all(|(a, b)| same_address(a, b));
        if !same {
            return Err((format!("recipients {want_to:?}"), format!("{got_to:?}")));
        }
    }
    let mut content = content::content_after_trace(&got.data);
    let mut added_len = got.data.len() - content.len();
    if let Some(data) = &want.data {
        let data = data.expand(vars).unwrap_or_default();
        let Some(found) = content::find(&got.data, &data) else {
            return Err((
                "exact content (header fields may be added)".into(),
                describe_difference(&data, content),
            ));
        };
        if want.fields_only_above && !found.inside.is_empty() {
            return Err((
                "no header fields added among or below the client's own".into(),
                format!("added {}", found.inside.join(", ")),
            ));
        }
        added_len = found.above.len();
        content = &got.data[added_len..];
    }
    if want.received {
        check_received(
            &got.data[..added_len],
            want.received_from.as_ref().map(expand),
        )?;
    }
    for needle in &want.contains {
        let needle = expand(needle);
        if !contains(content, needle.as_bytes()) {
            return Err((format!("content containing {needle:?}"), excerpt(content)));
        }
    }
    if let Some(needle) = want.contains_hex.iter().find(|n| !contains(content, n)) {
        return Err((
            format!("content containing {}", crate::wire::escape(needle)),
            excerpt(content),
        ));
    }
    for needle in &want.not_contains {
        let needle = expand(needle);
        if contains(content, needle.as_bytes()) {
            return Err((format!("content without {needle:?}"), excerpt(content)));
        }
    }
    for (key, value) in &want.metadata {
        let value = expand(value);
        let found = got
            .metadata
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key));
        if found.map(|(_, v)| v) != Some(&value) {
            return Err((
                format!("metadata {key} = {value:?}"),
                format!("metadata {:?}", got.metadata),
            ));
        }
    }
    if let Some(key) = want
        .no_metadata
        .iter()
        .find(|key| got.metadata.keys().any(|k| k.eq_ignore_ascii_case(key)))
    {
        return Err((
            format!("no metadata {key}"),
            format!("metadata {:?}", got.metadata),
        ));
    }
    if let Some(id) = &want.id {
        let id = expand(id);
        if got.id != id {
            return Err((format!("message id {id}"), got.id.clone()));
        }
    }
    if let Some(status) = &want.status
        && !got.status.eq_ignore_ascii_case(status)
    {
        return Err((format!("status {status}"), got.status.clone()));
    }
    Ok(())
}

/// RFC 5321 §4.4: a server "MUST insert trace ("time stamp" or "Received") information at
/// the beginning of the message content"; the FROM clause "SHOULD contain ... the name of
/// the source host as presented in the EHLO command". `added` is what the server put above
/// the client's content; its topmost `Received:` field is this server's.
fn check_received(added: &[u8], from: Option<String>) -> Result<(), Mismatch> {
    let text = String::from_utf8_lossy(added);
    let fields = unfolded_fields(&text);
    let Some(received) = fields
        .iter()
        .find(|f| f.to_ascii_lowercase().starts_with("received:"))
    else {
        let names: Vec<&str> = fields.iter().filter_map(|f| f.split(':').next()).collect();
        return Err((
            "a Received: field above the client's content".into(),
            format!("fields added above it: {names:?}"),
        ));
    };
    if let Some(name) = from
        && !from_clause_names(received, &name)
    {
        return Err((
            format!("a Received: field whose FROM clause names {name}"),
            received.clone(),
        ));
    }
    Ok(())
}

/// Whether the FROM clause of a `Received:` field (from `from` to `by`) holds `name` as a
/// whole token, in the domain or in its parenthesised TCP-info (Exim writes
/// `from [127.0.0.1] (helo=NAME)`), letter case aside.
fn from_clause_names(received: &str, name: &str) -> bool {
    let lower = received
        .to_ascii_lowercase()
        .replace(['\t', '\r', '\n'], " ");
    let Some(start) = lower.find("from ") else {
        return false;
    };
    let clause = &lower[start + 5..];
    let clause = clause.find(" by ").map_or(clause, |end| &clause[..end]);
    let name = name.to_ascii_lowercase();
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
    clause.match_indices(&name).any(|(at, _)| {
        let before = clause[..at].chars().next_back();
        let after = clause[at + name.len()..].chars().next();
        !before.is_some_and(is_name_char) && !after.is_some_and(is_name_char)
    })
}

/// Header fields with their continuation lines joined (RFC 5322 §2.2.3 unfolding).
fn unfolded_fields(text: &str) -> Vec<String> {
    let mut fields: Vec<String> = Vec::new();
    for line in text.split('\n').map(|l| l.trim_end_matches('\r')) {
        match (line.starts_with([' ', '\t']), fields.last_mut()) {
            (true, Some(last)) => last.push_str(line),
            _ if !line.is_empty() => fields.push(line.to_string()),
            _ => {}
        }
    }
    fields
}

/// Local part exact, domain case-insensitive.
fn same_address(a: &str, b: &str) -> bool {
    normalize_address(a) == normalize_address(b)
}

fn normalize_address(a: &str) -> String {
    let a = a.trim().trim_start_matches('<').trim_end_matches('>');
    match a.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_lowercase()),
        None => a.to_string(),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fn excerpt(content: &[u8]) -> String {
    let shown = &content[..content.len().min(300)];
    let more = if content.len() > shown.len() {
        format!(" (+{} bytes)", content.len() - shown.len())
    } else {
        String::new()
    };
    format!("{:?}{more}", String::from_utf8_lossy(shown))
}

fn describe_difference(want: &[u8], got: &[u8]) -> String {
    let at = want
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(want.len().min(got.len()));
    let window = |bytes: &[u8]| {
        let start = at.saturating_sub(20);
        let end = (at + 40).min(bytes.len());
        format!("{:?}", String::from_utf8_lossy(&bytes[start.min(end)..end]))
    };
    format!(
        "{} bytes, differing from the expected {} bytes at offset {at}: expected …{}…, got …{}…",
        got.len(),
        want.len(),
        window(want),
        window(got)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_received_field_and_its_from_clause() {
        let added = b"Return-Path: <a@b>\r\nReceived: from client.example.org ([127.0.0.1])\r\n\tby mx; date\r\n";
        assert!(check_received(added, None).is_ok());
        assert!(check_received(added, Some("Client.Example.org".into())).is_ok());
        let exim =
            b"Received: from [127.0.0.1] (helo=client.example.org)\r\n\tby mx with esmtp\r\n";
        assert!(check_received(exim, Some("client.example.org".into())).is_ok());
        let by_only = b"Received: from x ([127.0.0.1])\r\n\tby client.example.org\r\n";
        assert!(check_received(by_only, Some("client.example.org".into())).is_err());
        let other = check_received(added, Some("other.example".into())).unwrap_err();
        assert!(other.1.contains("by mx"), "{other:?}");
        let none = check_received(b"X-Spam: no\r\n", None).unwrap_err();
        assert_eq!(none.1, "fields added above it: [\"X-Spam\"]");
    }

    #[test]
    fn compares_addresses() {
        assert!(same_address("a@EXAMPLE.test", "<a@example.test>"));
        assert!(!same_address("A@example.test", "a@example.test"));
        assert!(same_address("", ""));
    }
}
