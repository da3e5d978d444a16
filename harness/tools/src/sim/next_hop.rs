//! The scripted next hop of an outbound scenario (`next_hop:`): a list of serve-test server
//! scripts (the `server:` form of `scenarios/clients`, [`ServerScript`]), each with the
//! condition under which it plays a connection. The first script whose condition holds plays
//! it; without one, serve-test's default script does (a permissive server that advertises
//! PIPELINING, 8BITMIME and SIZE).
//!
//! ```yaml
//! next_hop:
//!   - when: { sessions: 1..2 }              # each client's first two connections
//!     server: { rules: [ { on: "RCPT TO:<rcpt2@", reply: "451 4.3.0 Try later" } ] }
//!   - when: { clients: [old], chance: 0.3 } # the seed decides, per connection
//!     server: { greeting: "554 5.3.2 Not now" }
//!   - server: { ehlo: [8BITMIME] }          # the rest: no PIPELINING, no SIZE
//! ```
//!
//! Rules, greetings and EHLO keywords are serve-test's, so a next hop can answer 4yz or 5yz
//! to any command, 421 and close, close between the final dot and its reply, greet with 554,
//! or leave extensions out. Nothing here runs: [`super::hop`] plays the scripts.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;

use crate::rng::Rng;
use crate::servetest::load::{RawServer, build_server};
use crate::servetest::model::ServerScript;
use mtpspec_scenario::ScenarioError;

/// The next hop's scripts, in file order.
#[derive(Clone, Debug)]
pub struct NextHop {
    /// The scripts; the first whose condition holds plays a connection.
    pub scripts: Vec<HopScript>,
    /// serve-test's default script, for a connection no script's condition takes.
    pub fallback: Arc<ServerScript>,
}

/// One script and when it plays.
#[derive(Clone, Debug)]
pub struct HopScript {
    /// Its line in the scenario file, which the trace cites.
    pub line: u64,
    /// When it plays a connection (always, without `when`).
    pub when: Condition,
    /// What the next hop does on the connection.
    pub server: Arc<ServerScript>,
}

/// When a script plays a connection: every part given must hold.
#[derive(Clone, Debug, Default)]
pub struct Condition {
    /// `clients:` the connecting client is one of these hosts or groups (any, if empty).
    pub clients: Vec<String>,
    /// `sessions: N` or `N..M` (inclusive): the client's Nth connection to the next hop,
    /// counted from 1 across the next hop's restarts (any, if absent).
    pub sessions: Option<(u32, u32)>,
    /// `chance:` the seed decides per connection, with this probability (default 1).
    pub chance: f64,
}

impl Condition {
    /// Whether the script plays connection number `session` of `client` (of group
    /// `group`), drawing from `rng` only when the other parts hold.
    pub fn holds(&self, client: &str, group: &str, session: u32, rng: &mut Rng) -> bool {
        let named =
            self.clients.is_empty() || self.clients.iter().any(|c| c == client || c == group);
        let numbered = self
            .sessions
            .is_none_or(|(from, to)| (from..=to).contains(&session));
        named && numbered && (self.chance >= 1.0 || rng.chance(self.chance))
    }
}

impl NextHop {
    /// The index of the script for connection `session` of `client` (of group `group`);
    /// `None` for the fallback.
    pub fn pick(&self, client: &str, group: &str, session: u32, rng: &mut Rng) -> Option<usize> {
        self.scripts
            .iter()
            .position(|s| s.when.holds(client, group, session, rng))
    }

    /// The script of index `pick` (the fallback for `None`).
    pub fn script(&self, pick: Option<usize>) -> Arc<ServerScript> {
        let script = pick.and_then(|i| self.scripts.get(i));
        Arc::clone(script.map_or(&self.fallback, |s| &s.server))
    }
}

/// A script as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHopScript {
    #[serde(default)]
    when: Option<RawCondition>,
    #[serde(default)]
    server: RawServer,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    #[serde(default)]
    clients: Vec<String>,
    #[serde(default)]
    sessions: Option<Sessions>,
    #[serde(default)]
    chance: Option<f64>,
}

/// `sessions: 2` or `sessions: 1..3` (inclusive).
struct Sessions(u32, u32);

impl<'de> Deserialize<'de> for Sessions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(u32),
            Range(String),
        }
        let bad = |text: &str| {
            serde::de::Error::custom(format!(
                "{text:?} is not a session number or range like 1..3 (from 1)"
            ))
        };
        let (from, to) = match Raw::deserialize(d)? {
            Raw::One(n) => (n, n),
            Raw::Range(text) => {
                let (a, b) = text.split_once("..").ok_or_else(|| bad(&text))?;
                let number = |s: &str| s.trim().parse::<u32>().map_err(|_| bad(&text));
                (number(a)?, number(b)?)
            }
        };
        if from == 0 || from > to {
            return Err(bad(&format!("{from}..{to}")));
        }
        Ok(Sessions(from, to))
    }
}

/// Builds the `next_hop` section; `groups` holds every client host and group name a
/// condition may name.
pub(crate) fn build(
    raw: Vec<Spanned<RawHopScript>>,
    groups: &[String],
    path: &Path,
) -> Result<NextHop, ScenarioError> {
    let mut scripts = Vec::new();
    for spanned in raw {
        let (line, column) = (spanned.referenced.line(), spanned.referenced.column());
        let bad = |field: &str, message: String| {
            ScenarioError::invalid(path, line, column, field, message)
        };
        let raw = spanned.value;
        let when = match raw.when {
            None => Condition {
                chance: 1.0,
                ..Condition::default()
            },
            Some(c) => {
                if let Some(name) = c.clients.iter().find(|n| !groups.contains(n)) {
                    return Err(bad(
                        "clients",
                        format!("no client host or group is named {name:?}"),
                    ));
                }
                let chance = c.chance.unwrap_or(1.0);
                if !(0.0..=1.0).contains(&chance) {
                    return Err(bad("chance", format!("{chance} is not a probability")));
                }
                Condition {
                    clients: c.clients,
                    sessions: c.sessions.map(|Sessions(a, b)| (a, b)),
                    chance,
                }
            }
        };
        let server = build_server(raw.server, path)?;
        if server.rules.iter().any(|r| r.tls) || server.advertises("STARTTLS") {
            return Err(bad(
                "server",
                "the simulated clients never start TLS: no STARTTLS here".into(),
            ));
        }
        scripts.push(HopScript {
            line,
            when,
            server: Arc::new(server),
        });
    }
    let fallback = Arc::new(build_server(RawServer::default(), path)?);
    Ok(NextHop { scripts, fallback })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(yaml: &str) -> Result<NextHop, String> {
        let raw: Vec<Spanned<RawHopScript>> =
            serde_saphyr::from_str(yaml).map_err(|e| e.to_string())?;
        build(raw, &["c".into(), "c1".into()], Path::new("t.yaml")).map_err(|e| e.to_string())
    }

    #[test]
    fn the_first_script_whose_condition_holds_plays() {
        let hop = hop(
            "- when: { sessions: 1..2, clients: [c] }\n  server: { greeting: \"554 no\" }\n\
             - when: { sessions: 3 }\n  server: { ehlo: [] }\n",
        )
        .unwrap();
        let mut rng = Rng::new(1);
        assert_eq!(hop.pick("c1", "c", 1, &mut rng), Some(0));
        assert_eq!(hop.pick("c1", "c", 2, &mut rng), Some(0));
        assert_eq!(hop.pick("c1", "c", 3, &mut rng), Some(1));
        assert_eq!(hop.pick("c1", "c", 4, &mut rng), None);
        assert!(hop.script(None).advertises("PIPELINING"));
        assert!(!hop.script(Some(1)).advertises("PIPELINING"));
    }

    #[test]
    fn bad_conditions_are_named() {
        let err = hop("- when: { clients: [d] }\n").unwrap_err();
        assert!(err.contains("\"d\""), "{err}");
        let err = hop("- when: { chance: 2 }\n").unwrap_err();
        assert!(err.contains("probability"), "{err}");
        assert!(hop("- when: { sessions: 0..2 }\n").is_err());
        let err = hop("- server: { ehlo: [STARTTLS] }\n").unwrap_err();
        assert!(err.contains("STARTTLS"), "{err}");
    }
}
