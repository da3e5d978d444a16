//! Reading simulation scenarios: YAML into a [`Scenario`], with the checks serde cannot do
//! (host names exist, one time and one action per fault, sane rates, nothing an outbound
//! scenario's next hop cannot do). Files, directories and errors (file, line, column and
//! field) are the scenario format's ([`mtpspec_scenario`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_saphyr::Spanned;

/// Why a simulation scenario could not be loaded: the scenario format's error, naming the
/// file, line, column and field.
pub use mtpspec_scenario::ScenarioError as LoadError;
use mtpspec_scenario::load::{syntax_error, yaml_files};

use super::next_hop;
use super::scenario::{
    Action, ClientSpec, Fault, Invariant, RawFault, RawScenario, SERVER, Scenario, When,
};

/// Loads one scenario file.
pub fn load_file(path: &Path) -> Result<Scenario, LoadError> {
    let source = std::fs::read_to_string(path).map_err(|error| LoadError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    load_str(&source, path)
}

/// Loads the `*.yaml` files `paths` name: each file as given, each directory's files (in path
/// order), as the scenario loader finds them.
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<Scenario>, LoadError> {
    yaml_files(paths)?.iter().map(|f| load_file(f)).collect()
}

/// Loads a scenario from `source`, reporting errors against `path`.
pub fn load_str(source: &str, path: &Path) -> Result<Scenario, LoadError> {
    let raw: RawScenario =
        serde_saphyr::from_str(source).map_err(|e| syntax_error(&e, source, path))?;
    Checker { path }.build(raw)
}

struct Checker<'a> {
    path: &'a Path,
}

impl Checker<'_> {
    fn error(&self, line: u64, column: u64, field: &str, message: String) -> LoadError {
        LoadError::invalid(self.path, line, column, field, message)
    }

    fn build(&self, raw: RawScenario) -> Result<Scenario, LoadError> {
        let top = |field: &str, message: String| self.error(1, 1, field, message);
        let id_ok = raw.id.chars().enumerate().all(|(i, c)| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || (i > 0 && "._-".contains(c))
        });
        if raw.id.is_empty() || !id_ok {
            return Err(top(
                "id",
                format!("{:?} must match [a-z0-9][a-z0-9._-]*", raw.id),
            ));
        }
        let tick = raw.tick.0;
        if tick.is_zero() || tick.as_millis() > 100 {
            return Err(top("tick", "the tick must be between 1ms and 100ms".into()));
        }
        let net = &raw.network;
        for (name, rate) in [
            ("fail_rate", net.fail_rate),
            ("repair_rate", net.repair_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(top(name, format!("{rate} is not a probability (0 to 1)")));
            }
        }
        if net.latency.min > net.latency.max || net.latency.curve <= 0.0 {
            return Err(top(
                "latency",
                "needs min <= max and a positive curve".into(),
            ));
        }
        let clients = self.clients(raw.clients)?;
        let mut hosts: Vec<String> = vec![SERVER.to_string()];
        hosts.extend(clients.iter().flat_map(ClientSpec::hosts));
        let faults = raw
            .faults
            .into_iter()
            .map(|f| self.fault(f, &hosts))
            .collect::<Result<Vec<_>, _>>()?;
        let next_hop = match raw.next_hop {
            None => None,
            Some(spanned) => {
                let (line, column) = (spanned.referenced.line(), spanned.referenced.column());
                if raw.server.is_some() {
                    return Err(self.error(
                        line,
                        column,
                        "next_hop",
                        "a scenario has a `server` (the reference) or a `next_hop`, not both"
                            .into(),
                    ));
                }
                self.outbound(&clients, &faults, line, column)?;
                let mut names: Vec<String> = clients.iter().flat_map(ClientSpec::hosts).collect();
                names.extend(clients.iter().map(|c| c.name.clone()));
                Some(next_hop::build(spanned.value, &names, self.path)?)
            }
        };
        if next_hop.is_none()
            && let Some(c) = clients.iter().find(|c| c.sabotage.is_some())
        {
            return Err(top(
                "sabotage",
                format!("client {:?}: sabotage needs a next_hop", c.name),
            ));
        }
        let kind: &[Invariant] = if next_hop.is_some() {
            &Invariant::OUTBOUND
        } else {
            &Invariant::ALL
        };
        let invariants: BTreeSet<Invariant> = match raw.invariants {
            Some(list) => list.into_iter().collect(),
            None => kind.iter().copied().collect(),
        };
        if let Some(i) = invariants.iter().find(|i| !kind.contains(i)) {
            return Err(top(
                "invariants",
                format!("`{}` does not apply to this kind of scenario", i.name()),
            ));
        }
        Ok(Scenario {
            id: raw.id,
            title: raw.title,
            spec: raw.spec,
            path: self.path.to_path_buf(),
            duration: raw.duration.0,
            tick,
            network: raw.network,
            server: raw.server.unwrap_or_default(),
            clients,
            faults,
            next_hop,
            invariants,
        })
    }

    /// What a scripted next hop and its clients cannot do: READACK and BATCH need the
    /// reference server, and so do a power loss (the next hop has no disk) and reads.
    fn outbound(
        &self,
        clients: &[ClientSpec],
        faults: &[Fault],
        line: u64,
        column: u64,
    ) -> Result<(), LoadError> {
        if let Some(c) = clients.iter().find(|c| c.read_ack || c.batch) {
            return Err(self.error(
                line,
                column,
                "next_hop",
                format!(
                    "client {:?} asks for READACK or BATCH, which only the reference server offers",
                    c.name
                ),
            ));
        }
        for fault in faults {
            if matches!(fault.action, Action::PowerOff | Action::Open(_)) {
                return Err(self.error(
                    fault.line,
                    1,
                    "faults",
                    format!(
                        "`{}` needs the reference server's store; a next hop can `crash`",
                        fault.action
                    ),
                ));
            }
        }
        Ok(())
    }

    fn clients(&self, raw: Vec<Spanned<ClientSpec>>) -> Result<Vec<ClientSpec>, LoadError> {
        if raw.is_empty() {
            return Err(self.error(1, 1, "clients", "a scenario needs a client".into()));
        }
        let mut names = BTreeSet::new();
        let mut clients = Vec::new();
        for spanned in raw {
            let (line, column) = (spanned.referenced.line(), spanned.referenced.column());
            let client = spanned.value;
            let bad = |field: &str, message: String| self.error(line, column, field, message);
            let name_ok = client.name.starts_with(|c: char| c.is_ascii_lowercase())
                && client
                    .name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !name_ok || client.name == SERVER {
                return Err(bad(
                    "name",
                    format!(
                        "{:?} must match [a-z][a-z0-9-]* and not be `server`",
                        client.name
                    ),
                ));
            }
            if client.count == 0 || client.count > 100 {
                return Err(bad("count", "a group has 1 to 100 clients".into()));
            }
            if client.recipients == 0 || client.recipients > 100 {
                return Err(bad(
                    "recipients",
                    "a message has 1 to 100 recipients".into(),
                ));
            }
            if client.upload.as_ref().is_some_and(|u| u.chunk == 0) {
                return Err(bad("upload", "the chunk size must be at least 1".into()));
            }
            for host in client.hosts() {
                if !names.insert(host.clone()) {
                    return Err(bad("name", format!("two clients are named {host:?}")));
                }
            }
            clients.push(client);
        }
        Ok(clients)
    }

    fn fault(&self, spanned: Spanned<RawFault>, hosts: &[String]) -> Result<Fault, LoadError> {
        let (line, column) = (spanned.referenced.line(), spanned.referenced.column());
        let raw = spanned.value;
        let bad = |field: &str, message: String| self.error(line, column, field, message);
        let when = match (raw.at, raw.after) {
            (Some(at), None) => When::At(at),
            (None, Some(after)) => When::After(after),
            _ => {
                return Err(bad(
                    "at",
                    "a fault needs exactly one of `at` and `after`".into(),
                ));
            }
        };
        let host = |field: &str, name: String| -> Result<String, LoadError> {
            if hosts.contains(&name) {
                Ok(name)
            } else {
                Err(bad(
                    field,
                    format!("no host is named {name:?} (hosts: {})", hosts.join(", ")),
                ))
            }
        };
        let pair = |field: &str, [a, b]: [String; 2]| -> Result<(String, String), LoadError> {
            let (a, b) = (host(field, a)?, host(field, b)?);
            if a == b {
                return Err(bad(
                    field,
                    format!("a link joins two different hosts, not {a:?} and itself"),
                ));
            }
            Ok((a, b))
        };
        let server = |field: &str, name: String| -> Result<(), LoadError> {
            if name == SERVER {
                Ok(())
            } else {
                Err(bad(
                    field,
                    format!("only the server can be crashed and restarted, not {name:?}"),
                ))
            }
        };
        let client = |field: &str, name: String| -> Result<String, LoadError> {
            if name == SERVER {
                return Err(bad(
                    field,
                    "use `crash` or `power_off` for the server".into(),
                ));
            }
            host(field, name)
        };
        let mut actions = Vec::new();
        if let Some(p) = raw.partition {
            actions.push(pair("partition", p).map(|(a, b)| Action::Partition(a, b)));
        }
        if let Some(p) = raw.repair {
            actions.push(pair("repair", p).map(|(a, b)| Action::Repair(a, b)));
        }
        if let Some(p) = raw.hold {
            actions.push(pair("hold", p).map(|(a, b)| Action::Hold(a, b)));
        }
        if let Some(p) = raw.release {
            actions.push(pair("release", p).map(|(a, b)| Action::Release(a, b)));
        }
        if let Some(s) = raw.crash {
            actions.push(server("crash", s).map(|()| Action::Crash));
        }
        if let Some(s) = raw.power_off {
            actions.push(server("power_off", s).map(|()| Action::PowerOff));
        }
        if let Some(s) = raw.restart {
            actions.push(server("restart", s).map(|()| Action::Restart));
        }
        if let Some(c) = raw.kill {
            actions.push(client("kill", c).map(Action::Kill));
        }
        if let Some(c) = raw.kill_mid_data {
            actions.push(client("kill_mid_data", c).map(Action::KillMidData));
        }
        if let Some(p) = raw.open {
            if !(0.0..=1.0).contains(&p) {
                return Err(bad("open", format!("{p} is not a fraction (0 to 1)")));
            }
            actions.push(Ok(Action::Open(p)));
        }
        if actions.len() != 1 {
            return Err(bad(
                "partition",
                "a fault needs exactly one action: partition, repair, hold, release, crash, \
                 power_off, restart, kill, kill_mid_data or open"
                    .into(),
            ));
        }
        let action = actions.remove(0)?;
        Ok(Fault { line, when, action })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Scenario, LoadError> {
        load_str(text, Path::new("t.yaml"))
    }

    const BASE: &str = "id: t\ntitle: T\nclients:\n  - { name: c, count: 2, messages: 1 }\n";

    #[test]
    fn loads_a_minimal_scenario_with_defaults() {
        let s = load(BASE).unwrap();
        assert_eq!(s.hosts(), ["server", "c1", "c2"]);
        assert_eq!(s.invariants.len(), Invariant::ALL.len());
    }

    #[test]
    fn unknown_fields_are_named_with_their_line() {
        let err = load(&format!("{BASE}netwrok: {{}}\n"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("t.yaml:5:"), "{err}");
        assert!(err.contains("field `netwrok`"), "{err}");
    }

    #[test]
    fn faults_need_known_hosts_and_one_action() {
        let err = load(&format!(
            "{BASE}faults:\n  - {{ at: 1s, partition: [c3, server] }}\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("t.yaml:6:") && err.contains("\"c3\""), "{err}");
        let err = load(&format!(
            "{BASE}faults:\n  - {{ at: 1s, crash: server, restart: server }}\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("exactly one action"), "{err}");
        let err = load(&format!("{BASE}faults:\n  - {{ at: 1x, crash: server }}\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown unit"), "{err}");
    }
}
