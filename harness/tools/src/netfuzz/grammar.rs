//! The session generator: valid-ish SMTP and VMTP command sequences drawn from a small grammar
//! (greeting, transactions with MAIL/RCPT/DATA or BDAT, VMTP verbs, the odd RSET/NOOP/VRFY/
//! HELP/EXPN, unknown verbs, STARTTLS, QUIT), then mutated ([`super::mutate`]), grouped into
//! pipelines when the server offers PIPELINING, and cut into writes. Session `i` of seed `s`
//! is drawn from its own generator forked from `s`, so it is the same whatever ran before it.

use crate::rng::Rng;

use super::mutate::{body, mutate_line};
use super::session::{Chunking, Line, Op, Session};

/// What the generator knows about the target (from the first EHLO) and the run's knobs.
#[derive(Clone, Debug)]
pub struct Grammar {
    /// A domain the target delivers locally.
    pub domain: String,
    /// The target offers PIPELINING (RFC 2920): commands are grouped, up to five a group.
    pub pipelining: bool,
    /// The target offers CHUNKING (RFC 3030): some transactions send BDAT instead of DATA.
    pub chunking: bool,
    /// The target offers STARTTLS: some sessions upgrade mid-way.
    pub starttls: bool,
    /// Probability that a command line is mutated.
    pub mutation_rate: f64,
}

/// RFC 2920 §3.1: "The EHLO, DATA, VRFY, EXPN, TURN, QUIT, and NOOP commands can only appear
/// as the last command in a group since their success or failure produces a change of state
/// which the client SMTP must accommodate." HELP and the VMTP verbs that answer with state
/// (BATCH, STATUS) are treated the same way.
const LAST_IN_GROUP: &[&str] = &[
    "EHLO", "HELO", "DATA", "VRFY", "EXPN", "QUIT", "NOOP", "HELP", "BATCH", "STATUS",
];

/// One command before grouping: a line, or an operation that stands alone.
enum Item {
    Line(Line),
    Alone(Op),
}

impl Grammar {
    /// Session number `index` of the run seeded with `seed`.
    pub fn session(&self, seed: u64, index: u64) -> Session {
        let mut rng = Rng::new(seed).fork(&format!("session-{index}"));
        let items = self.items(&mut rng, index);
        Session {
            ops: self.group(&mut rng, items),
        }
    }

    fn items(&self, rng: &mut Rng, n: u64) -> Vec<Item> {
        let mut items = Vec::new();
        let client = "fuzz.client.example";
        if rng.chance(0.9) {
            let verb = if rng.chance(0.85) { "EHLO" } else { "HELO" };
            items.push(self.line(rng, verb, format!("{verb} {client}")));
        }
        let steps = 1 + rng.below(6);
        for _ in 0..steps {
            match rng.below(10) {
                0..=3 => self.transaction(rng, n, &mut items),
                4 => self.vmtp(rng, n, &mut items),
                5 if self.starttls && rng.chance(0.3) => items.push(Item::Alone(Op::StartTls {
                    command: "STARTTLS",
                })),
                _ => items.push(self.misc(rng)),
            }
        }
        if rng.chance(0.85) {
            items.push(self.line(rng, "QUIT", "QUIT".into()));
        }
        items
    }

    fn transaction(&self, rng: &mut Rng, n: u64, items: &mut Vec<Item>) {
        let sender = format!("fuzz{n}@example.org");
        items.push(self.line(rng, "MAIL", format!("MAIL FROM:<{sender}>")));
        let rcpt = self.rcpt(rng, n);
        for _ in 0..1 + rng.below(3) {
            let r = self.rcpt(rng, n);
            items.push(self.line(rng, "RCPT", format!("RCPT TO:<{r}>")));
        }
        if self.chunking && rng.chance(0.3) {
            let (payload, _) = body(rng, &sender, &rcpt, n);
            let split = rng.below(payload.len() as u64) as usize;
            if split > 0 && rng.chance(0.5) {
                items.push(Item::Alone(Op::Bdat {
                    payload: payload[..split].to_vec(),
                    last: false,
                    chunking: chunking(rng),
                }));
            }
            items.push(Item::Alone(Op::Bdat {
                payload: payload[if split > 0 { split } else { 0 }..].to_vec(),
                last: true,
                chunking: chunking(rng),
            }));
        } else if rng.chance(0.85) {
            items.push(self.line(rng, "DATA", "DATA".into()));
            let (body, tags) = body(rng, &sender, &rcpt, n);
            items.push(Item::Alone(Op::Data {
                body,
                tags,
                chunking: chunking(rng),
            }));
        }
    }

    fn rcpt(&self, rng: &mut Rng, n: u64) -> String {
        match rng.below(6) {
            0 => format!("postmaster@{}", self.domain),
            1 => format!("fuzz{n}@example.net"),
            _ => format!("fuzz{n}-{}@{}", rng.below(100), self.domain),
        }
    }

    fn vmtp(&self, rng: &mut Rng, n: u64, items: &mut Vec<Item>) {
        let (verb, text) = match rng.below(6) {
            0 => (
                "VECMAIL",
                format!(
                    "VECMAIL FROM:<fuzz{n}@example.org> TO:<{}>,<postmaster@{}>",
                    self.rcpt(rng, n),
                    self.domain
                ),
            ),
            1 => ("METADATA", format!("METADATA fuzz-key value {n}")),
            2 => ("BATCH", format!("BATCH {}", rng.below(4))),
            3 => ("READACK", "READACK".into()),
            4 => ("STATUS", format!("STATUS 0000000000{n:02X}")),
            _ => {
                items.push(Item::Alone(Op::StartTls {
                    command: "ENCRYPT START",
                }));
                return;
            }
        };
        items.push(self.line(rng, verb, text));
    }

    fn misc(&self, rng: &mut Rng) -> Item {
        let (verb, text) = match rng.below(9) {
            0 => ("RSET", "RSET".to_string()),
            1 => ("NOOP", "NOOP".into()),
            2 => ("VRFY", format!("VRFY postmaster@{}", self.domain)),
            3 => ("HELP", "HELP".into()),
            4 => ("EXPN", "EXPN staff".into()),
            5 => ("XFUZ", "XFUZ unknown verb".into()),
            6 => ("EMPTY", String::new()),
            7 => ("EHLO", "EHLO again.client.example".into()),
            _ => ("NOOP", "NOOP with an argument".into()),
        };
        self.line(rng, verb, text)
    }

    fn line(&self, rng: &mut Rng, verb: &'static str, text: String) -> Item {
        let mut line = Line::new(verb, text.into_bytes());
        if rng.chance(self.mutation_rate) {
            mutate_line(rng, &mut line);
        }
        Item::Line(line)
    }

    /// Puts lines into groups: with PIPELINING, up to five lines per group, closed by a verb
    /// RFC 2920 allows only last; without it, one line per group.
    fn group(&self, rng: &mut Rng, items: Vec<Item>) -> Vec<Op> {
        let mut ops = Vec::new();
        let mut open: Vec<Line> = Vec::new();
        for item in items {
            match item {
                Item::Alone(op) => {
                    flush(rng, &mut open, &mut ops);
                    ops.push(op);
                }
                Item::Line(line) => {
                    let last = LAST_IN_GROUP.contains(&line.verb);
                    open.push(line);
                    if !self.pipelining || last || open.len() >= 5 || rng.chance(0.3) {
                        flush(rng, &mut open, &mut ops);
                    }
                }
            }
        }
        flush(rng, &mut open, &mut ops);
        ops
    }
}

fn flush(rng: &mut Rng, open: &mut Vec<Line>, ops: &mut Vec<Op>) {
    if !open.is_empty() {
        ops.push(Op::Group {
            lines: std::mem::take(open),
            chunking: chunking(rng),
        });
    }
}

fn chunking(rng: &mut Rng) -> Chunking {
    match rng.below(10) {
        0 => Chunking::Every(1),
        1 => Chunking::Every(2 + rng.below(6) as usize),
        2 => Chunking::MidCrlf,
        _ => Chunking::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grammar() -> Grammar {
        Grammar {
            domain: "example.test".into(),
            pipelining: true,
            chunking: true,
            starttls: true,
            mutation_rate: 0.3,
        }
    }

    #[test]
    fn same_seed_same_sessions_all_valid() {
        let g = grammar();
        for i in 0..500 {
            let s = g.session(42, i);
            assert_eq!(s, g.session(42, i));
            assert!(s.is_valid(), "{s:?}");
            assert!(!s.ops.is_empty());
        }
        assert_ne!(g.session(1, 0), g.session(2, 0));
    }

    #[test]
    fn without_pipelining_every_group_has_one_line() {
        let g = Grammar {
            pipelining: false,
            ..grammar()
        };
        for i in 0..200 {
            for op in g.session(3, i).ops {
                if let Op::Group { lines, .. } = op {
                    assert_eq!(lines.len(), 1);
                }
            }
        }
    }
}
