//! Turning a scenario's JSON template into the value sent: placeholders expanded, then the
//! computed fields filled in (times, messageHash, HashCash, OpenPGP signatures and keys), the
//! ones that depend on the enclosing packet last, once the rest of the packet is known.
//!
//! The harness computes these with the same sans-io core the reference uses
//! (`mtp_proto::mmtp`), but judges the target only by what the scenario expects of its
//! answers: a token minted here is valid by the seed's definition whatever the target thinks.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use mtp_proto::mmtp::digest::{message_hash, sha256_hex};
use mtp_proto::mmtp::hashcash::{self, HashcashToken, Stamp};
use mtp_proto::mmtp::json::{Json, Object};
use mtp_server::mmtp::pgp::SecretKey;

use super::step_error::StepError;
use crate::scenario::Vars;
use crate::scenario::json_template::{BrokenStamp, Computed, JsonTemplate};

/// HashCash difficulty when neither the connection's welcome nor the probe announced one: the
/// original server's default.
pub const DEFAULT_DIFFICULTY: u32 = 5;

/// Difficulties above this would take the harness too long to mint (16^9 hashes on average).
const MAX_MINT_DIFFICULTY: u32 = 8;

/// What evaluating a template needs from the session.
pub(crate) struct EvalContext<'a> {
    pub vars: &'a mut Vars,
    /// The connection's HashCash difficulty.
    pub difficulty: u32,
    /// Where `$sign` and `$public_key` find their fixture keys.
    pub keys_dir: &'a Path,
}

#[derive(Clone, Debug)]
enum Seg {
    Key(String),
    Index(usize),
}

fn harness(message: impl Into<String>) -> StepError {
    StepError::Harness(message.into())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The time for `$now`: the clock, but never the same millisecond twice in this process. Two
/// SENDs with the same sender, recipient and timestamp would carry the same HashCash token,
/// and a correct server refuses the second as a replay; a case sending twice within one
/// millisecond (cases run in parallel) would then fail for the harness's reason.
fn unique_now_ms() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now_ms().max(last + 1);
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// Evaluates `template` into the ordered value to send.
pub(crate) async fn evaluate(
    template: &JsonTemplate,
    ctx: &mut EvalContext<'_>,
) -> Result<Json, StepError> {
    let mut deferred = Vec::new();
    let mut root = build(template, ctx, &mut Vec::new(), &mut deferred)?;
    // Hashes and signatures first, HashCash last: none depends on another, but a failure to
    // find the packet is best reported for the cheap ones.
    deferred.sort_by_key(|(_, c)| matches!(c, Computed::Hashcash { .. }));
    for (path, computed) in deferred {
        let value = packet_field(&root, &path, computed, ctx).await?;
        store(computed, &value, ctx.vars);
        set_at(&mut root, &path, value)?;
    }
    Ok(root)
}

fn build<'t>(
    template: &'t JsonTemplate,
    ctx: &mut EvalContext<'_>,
    path: &mut Vec<Seg>,
    deferred: &mut Vec<(Vec<Seg>, &'t Computed)>,
) -> Result<Json, StepError> {
    Ok(match template {
        JsonTemplate::Literal(j) => j.clone(),
        JsonTemplate::String(t) => Json::String(expand(t, ctx.vars)?),
        JsonTemplate::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                out.push(build(item, ctx, path, deferred)?);
                path.pop();
            }
            Json::Array(out)
        }
        JsonTemplate::Object(members) => {
            let mut out = Object::new();
            for (key, item) in members {
                path.push(Seg::Key(key.clone()));
                out.insert(key.clone(), build(item, ctx, path, deferred)?);
                path.pop();
            }
            Json::Object(out)
        }
        JsonTemplate::Computed(c) if c.needs_packet() => {
            deferred.push((path.clone(), c));
            Json::Null
        }
        JsonTemplate::Computed(c) => {
            let value = standalone(c, ctx)?;
            store(c, &value, ctx.vars);
            value
        }
    })
}

fn expand(t: &crate::scenario::Template, vars: &Vars) -> Result<String, StepError> {
    t.expand(vars).map_err(|e| harness(e.to_string()))
}

/// A computed field that needs nothing but its arguments.
fn standalone(computed: &Computed, ctx: &mut EvalContext<'_>) -> Result<Json, StepError> {
    match computed {
        Computed::Now { offset_ms, .. } => {
            let ms = unique_now_ms().saturating_add_signed(*offset_ms);
            ctx.vars.hide(&ms.to_string(), "[now]");
            Ok(Json::Number(ms.into()))
        }
        Computed::Json(t) => {
            let text = expand(t, ctx.vars)?;
            Json::from_slice(text.as_bytes())
                .map_err(|e| harness(format!("$json {text:?} is not JSON: {e}")))
        }
        Computed::MessageHash { of: Some(of), .. } => {
            let content = build_plain(of, ctx)?;
            let hash = message_hash(&content);
            ctx.vars.hide(&hash, "[message hash]");
            Ok(Json::String(hash))
        }
        Computed::Sign {
            key, of: Some(of), ..
        } => {
            let content = build_plain(of, ctx)?;
            sign(key, &content, ctx)
        }
        Computed::PublicKey(name) => {
            let path = ctx.keys_dir.join(format!("{name}.pub.asc"));
            crate::bundled::read_fixture(&path)
                .map(Json::String)
                .map_err(|e| harness(format!("fixture key {}: {e}", path.display())))
        }
        Computed::Text { repeat, times } => {
            Ok(Json::String(expand(repeat, ctx.vars)?.repeat(*times)))
        }
        Computed::MessageHash { of: None, .. }
        | Computed::Sign { of: None, .. }
        | Computed::Hashcash { .. } => Err(harness("a packet field was computed out of order")),
    }
}

/// An `of:` value: no packet-dependent fields inside.
fn build_plain(template: &JsonTemplate, ctx: &mut EvalContext<'_>) -> Result<Json, StepError> {
    let mut deferred = Vec::new();
    let value = build(template, ctx, &mut Vec::new(), &mut deferred)?;
    if deferred.is_empty() {
        Ok(value)
    } else {
        Err(harness(
            "`of:` values cannot hold $hashcash, or $message_hash and $sign without `of`",
        ))
    }
}

fn sign(key: &str, content: &Json, ctx: &mut EvalContext<'_>) -> Result<Json, StepError> {
    let path = ctx.keys_dir.join(format!("{key}.priv.asc"));
    let armored = crate::bundled::read_fixture(&path)
        .map_err(|e| harness(format!("fixture key {}: {e}", path.display())))?;
    let secret = SecretKey::parse(&armored, None)
        .map_err(|e| harness(format!("fixture key {}: {e}", path.display())))?;
    let signature = secret
        .sign_text(content.to_compact_string().as_bytes())
        .map_err(|e| harness(format!("signing with {key}: {e}")))?;
    // The wire carries the signature JSON-escaped: redact that form.
    let escaped = Json::String(signature.clone()).to_compact_string();
    ctx.vars.hide(escaped.trim_matches('"'), "[signature]");
    Ok(Json::String(signature))
}

/// `as: NAME`: a string as it is, anything else as compact JSON.
fn store(computed: &Computed, value: &Json, vars: &mut Vars) {
    if let Some(name) = computed.store() {
        let text = match value {
            Json::String(s) => s.clone(),
            other => other.to_compact_string(),
        };
        vars.set(name, &text);
    }
}

fn get_at<'j>(root: &'j Json, path: &[Seg]) -> Option<&'j Json> {
    path.iter().try_fold(root, |value, seg| match (seg, value) {
        (Seg::Key(k), Json::Object(o)) => o.get(k),
        (Seg::Index(i), Json::Array(a)) => a.get(*i),
        _ => None,
    })
}

fn set_at(root: &mut Json, path: &[Seg], value: Json) -> Result<(), StepError> {
    let mut slot = root;
    for seg in path {
        slot = match (seg, slot) {
            (Seg::Key(k), Json::Object(o)) => o.get_mut(k),
            (Seg::Index(i), Json::Array(a)) => a.get_mut(*i),
            _ => None,
        }
        .ok_or_else(|| harness("a computed field's place vanished"))?;
    }
    *slot = value;
    Ok(())
}

/// The nearest object around `path` for which `fits` holds.
fn enclosing<'j, T>(
    root: &'j Json,
    path: &[Seg],
    fits: impl Fn(&'j Object) -> Option<T>,
) -> Option<T> {
    (0..path.len())
        .rev()
        .filter_map(|i| get_at(root, &path[..i]).and_then(Json::as_object))
        .find_map(fits)
}

async fn packet_field(
    root: &Json,
    path: &[Seg],
    computed: &Computed,
    ctx: &mut EvalContext<'_>,
) -> Result<Json, StepError> {
    let content = || enclosing(root, path, |o| o.get("content"));
    match computed {
        Computed::MessageHash { .. } => {
            let content =
                content().ok_or_else(|| harness("$message_hash: no `content` around it"))?;
            let hash = message_hash(content);
            ctx.vars.hide(&hash, "[message hash]");
            Ok(Json::String(hash))
        }
        Computed::Sign { key, .. } => {
            let content = content()
                .ok_or_else(|| harness("$sign: no `content` around it"))?
                .clone();
            sign(key, &content, ctx)
        }
        Computed::Hashcash { broken, .. } => {
            let stamp = enclosing(root, path, |o| {
                let meta = o.get("meta")?.as_object()?;
                let timestamp_ms = match meta.get("timestamp")? {
                    Json::Number(n) => n.as_u64()?,
                    _ => return None,
                };
                Some(Stamp {
                    difficulty: ctx.difficulty,
                    timestamp_ms,
                    sender: o.get("sender")?.as_str()?.to_string(),
                    recipient: o.get("recipient")?.as_str()?.to_string(),
                })
            })
            .ok_or_else(|| {
                harness("$hashcash: no packet with sender, recipient and meta.timestamp around it")
            })?;
            let token = mint_broken(stamp, *broken).await?;
            ctx.vars.hide(&token.token, "[hashcash token]");
            let mut object = Object::new();
            object.insert("token", Json::String(token.token));
            object.insert("counter", Json::Number(token.counter.into()));
            Ok(Json::Object(object))
        }
        _ => Err(harness("not a packet field")),
    }
}

/// A token for `stamp`, broken as asked.
async fn mint_broken(
    mut stamp: Stamp,
    broken: Option<BrokenStamp>,
) -> Result<HashcashToken, StepError> {
    let claimed = stamp.difficulty;
    match broken {
        Some(BrokenStamp::BelowDifficulty) => {
            stamp.difficulty = claimed
                .checked_sub(1)
                .ok_or_else(|| harness("difficulty 0: no token is below it"))?;
        }
        Some(BrokenStamp::OtherSender) => stamp.sender = "(someone-else)%(example.net)".into(),
        Some(BrokenStamp::OtherRecipient) => {
            stamp.recipient = "(someone-else)%(example.net)".into();
        }
        Some(BrokenStamp::OtherTimestamp) => {
            stamp.timestamp_ms = stamp.timestamp_ms.saturating_sub(1000);
        }
        Some(BrokenStamp::NotEnoughWork) => {
            if claimed == 0 {
                return Err(harness("difficulty 0: every token has enough work"));
            }
            // The first counter whose hash lacks the zeros: 15 in 16 counters qualify.
            let zeros = |c: u64| {
                let hex = sha256_hex(stamp.token(c).as_bytes());
                hex.bytes().take_while(|b| *b == b'0').count()
            };
            let counter = (0..1024u64)
                .find(|c| zeros(*c) < claimed as usize)
                .ok_or_else(|| harness("no counter without enough work in 0..1024"))?;
            return Ok(stamp.hashcash_token(counter));
        }
        Some(BrokenStamp::WrongCounter) | None => {}
    }
    if stamp.difficulty > MAX_MINT_DIFFICULTY {
        return Err(harness(format!(
            "difficulty {} is more than the harness mints (at most {MAX_MINT_DIFFICULTY})",
            stamp.difficulty
        )));
    }
    // 64 times the expected number of tries: failing to find one is (much) rarer than 1e-27.
    let limit = 16u64.pow(stamp.difficulty) * 64;
    let minted = stamp.clone();
    let counter = tokio::task::spawn_blocking(move || hashcash::mint(&minted, 0..limit))
        .await
        .map_err(|e| harness(format!("minting failed: {e}")))?
        .ok_or_else(|| harness(format!("no HashCash counter below {limit}")))?;
    let mut token = stamp.hashcash_token(counter);
    if broken == Some(BrokenStamp::WrongCounter) {
        token.counter += 1;
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mtp_proto::mmtp::hashcash::{Freshness, Policy, verify};

    fn template(text: &str) -> JsonTemplate {
        JsonTemplate::from_json(&Json::from_slice(text.as_bytes()).unwrap()).unwrap()
    }

    async fn eval(text: &str, vars: &mut Vars) -> Json {
        let mut ctx = EvalContext {
            vars,
            difficulty: 2,
            keys_dir: Path::new("."),
        };
        evaluate(&template(text), &mut ctx).await.unwrap()
    }

    const PACKET: &str = r#"{"action":"SEND","data":{"packet":{
        "meta":{"type":"SEND","messageId":"m","timestamp":{"$now":{"as":"ts"}},
                "hashcashToken":{"$hashcash":{"as":"tok"}}},
        "sender":"(a)%(x.test)","recipient":"{{who}}",
        "content":{"subject":"s","body":"b"},
        "verification":{"messageHash":{"$message_hash":{}}}}}}"#;

    fn policy() -> Policy {
        Policy {
            difficulty: 2,
            freshness: Freshness::default(),
        }
    }

    #[tokio::test]
    async fn fills_in_a_valid_packet() {
        let mut vars = Vars::default();
        vars.set("who", "(b)%(x.test)");
        let value = eval(PACKET, &mut vars).await;
        let packet = value
            .as_object()
            .unwrap()
            .get("data")
            .unwrap()
            .as_object()
            .unwrap();
        let packet = packet.get("packet").unwrap().as_object().unwrap();
        let ts: u64 = vars.get("ts").unwrap().parse().unwrap();
        let token: HashcashToken = serde_json::from_str(vars.get("tok").unwrap()).unwrap();
        verify(
            &token,
            "(a)%(x.test)",
            "(b)%(x.test)",
            ts,
            &policy(),
            now_ms(),
        )
        .unwrap();
        let hash = packet.get("verification").unwrap().as_object().unwrap();
        assert_eq!(
            hash.get("messageHash").unwrap().as_str().unwrap(),
            message_hash(packet.get("content").unwrap())
        );
        // Key order is kept: the hash and the signature depend on it.
        assert!(
            value
                .to_compact_string()
                .starts_with(r#"{"action":"SEND","data":{"packet":{"meta":{"type":"SEND""#)
        );
    }

    #[tokio::test]
    async fn broken_tokens_fail_as_intended() {
        let stamp = Stamp {
            difficulty: 2,
            timestamp_ms: now_ms(),
            sender: "(a)%(x.test)".into(),
            recipient: "(b)%(x.test)".into(),
        };
        let check = |t: &HashcashToken| {
            verify(
                t,
                &stamp.sender,
                &stamp.recipient,
                stamp.timestamp_ms,
                &policy(),
                now_ms(),
            )
        };
        use mtp_proto::mmtp::hashcash::HashcashError as E;
        for (broken, expected) in [
            (BrokenStamp::BelowDifficulty, "Insufficient"),
            (BrokenStamp::NotEnoughWork, "NotEnoughWork"),
            (BrokenStamp::WrongCounter, "CounterMismatch"),
            (BrokenStamp::OtherSender, "ResourceMismatch"),
            (BrokenStamp::OtherRecipient, "ResourceMismatch"),
            (BrokenStamp::OtherTimestamp, "ResourceMismatch"),
        ] {
            let token = mint_broken(stamp.clone(), Some(broken)).await.unwrap();
            let error = check(&token).unwrap_err();
            assert!(
                format!("{error:?}").starts_with(expected),
                "{broken:?}: {error:?}"
            );
            assert!(!matches!(error, E::Malformed(_)));
        }
        assert!(check(&mint_broken(stamp.clone(), None).await.unwrap()).is_ok());
    }
}
