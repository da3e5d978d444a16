//! Delta debugging (Zeller's ddmin) of a session that produced a finding: first over its
//! operations, then the write chunkings are made whole where that keeps the finding,
//! then over the lines of each pipelined group and of each body, and last over the octets of
//! each command line. Every candidate is re-run against the live target; one that breaks a
//! [`Session::is_valid`] invariant is never run. Bounded by a time budget: when it runs out,
//! the smallest session that reproduced so far is kept.

use std::time::Instant;

use super::driver::{self, Outcome, Timing};
use super::oracle::Kind;
use super::session::{Chunking, Op, Session};
use mtpspec_runner::target::Target;

/// What a finding is called: its kind and the odd octet classes (NUL, bare LF, 8-bit, ...)
/// or smuggling endings ([`Op::residue`]) of the operation where it showed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Signature {
    /// The oracle the finding breaks.
    pub kind: Kind,
    /// The odd octet classes and smuggling endings (`nul`, `bare-lf`, `smuggle:lf-dot-lf`,
    /// ...), sorted, without repeats; empty when the operation held none.
    pub tags: Vec<&'static str>,
}

impl Signature {
    /// The signature of a session's finding as detected: its kind and the tags of the one
    /// operation where it showed; `None` if the session found nothing.
    pub fn of(session: &Session, outcome: &Outcome) -> Option<Self> {
        let anomaly = outcome.anomaly.as_ref()?;
        let tags = anomaly
            .op
            .and_then(|i| session.ops.get(i))
            .map(Op::residue)
            .unwrap_or_default();
        let mut tags: Vec<&'static str> = tags;
        tags.sort_unstable();
        tags.dedup();
        Some(Self {
            kind: anomaly.kind,
            tags,
        })
    }
}

impl Signature {
    /// The key of a minimized finding: its kind and what the operations up to the one where
    /// it showed still hold ([`Op::residue`]). Two findings minimized to the same key are one.
    pub fn residue(session: &Session, outcome: &Outcome) -> Option<Self> {
        let anomaly = outcome.anomaly.as_ref()?;
        let upto = anomaly
            .op
            .map_or(session.ops.len(), |i| (i + 1).min(session.ops.len()));
        let mut tags: Vec<&'static str> =
            session.ops[..upto].iter().flat_map(Op::residue).collect();
        tags.sort_unstable();
        tags.dedup();
        Some(Self {
            kind: anomaly.kind,
            tags,
        })
    }
}

impl std::fmt::Display for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.tags.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{} [{}]", self.kind, self.tags.join(","))
        }
    }
}

/// The result: the smallest reproducing session and its run.
pub struct Minimized {
    /// The smallest session that still showed the finding (the original if none did).
    pub session: Session,
    /// That session's run against the target.
    pub outcome: Outcome,
    /// Re-runs made.
    pub runs: u32,
    /// Whether the original session reproduced the finding at all when re-run.
    pub reproduced: bool,
    /// Whether the budget ran out before the minimization finished.
    pub exhausted: bool,
}

/// Delta debugging of one finding against a live target: every candidate session is run, and
/// it reproduces when it shows the same kind and still holds one of the original's tags.
pub struct Minimizer<'a> {
    /// The server the candidates run against.
    pub target: &'a dyn Target,
    /// The timeouts each candidate runs with.
    pub timing: &'a Timing,
    /// The target offers CHUNKING (BDAT is only sent then).
    pub chunking: bool,
    /// The finding to keep: its kind and the tags one of which must stay.
    pub signature: Signature,
    /// When minimizing stops; the smallest reproducing session so far is kept.
    pub deadline: Instant,
    best: Option<(Session, Outcome)>,
    runs: u32,
    exhausted: bool,
}

impl<'a> Minimizer<'a> {
    /// A minimizer for the finding `signature`, running until `deadline`.
    pub fn new(
        target: &'a dyn Target,
        timing: &'a Timing,
        chunking: bool,
        signature: Signature,
        deadline: Instant,
    ) -> Self {
        Self {
            target,
            timing,
            chunking,
            signature,
            deadline,
            best: None,
            runs: 0,
            exhausted: false,
        }
    }

    /// Minimizes `session`, whose run gave `outcome`.
    pub async fn run(mut self, session: Session, outcome: Outcome) -> Minimized {
        let reproduced = self.reproduces(&session).await;
        if !reproduced {
            return Minimized {
                session,
                outcome,
                runs: self.runs,
                reproduced,
                exhausted: self.exhausted,
            };
        }
        // A leading EHLO or HELO stays: a strict server refuses MAIL without it, and the
        // replayed case must take the same path on a correct server.
        let keep = usize::from(greets(&session));
        let prefix = session.ops[..keep].to_vec();
        let rest = self
            .ddmin(session.ops[keep..].to_vec(), |ops| Session {
                ops: [prefix.clone(), ops.to_vec()].concat(),
            })
            .await;
        let mut current = Session {
            ops: [prefix.clone(), rest].concat(),
        };
        current = self.whole_writes(current).await;
        current = self.shrink_groups(current).await;
        current = self.shrink_bodies(current).await;
        current = self.shrink_lines(current).await;
        let (session, outcome) = self.best.take().unwrap_or((current, outcome));
        Minimized {
            session,
            outcome,
            runs: self.runs,
            reproduced,
            exhausted: self.exhausted,
        }
    }

    /// Runs `candidate`; true (and it becomes the best) when it shows the same signature.
    async fn reproduces(&mut self, candidate: &Session) -> bool {
        if !candidate.is_valid() || candidate.ops.is_empty() {
            return false;
        }
        if Instant::now() >= self.deadline {
            self.exhausted = true;
            return false;
        }
        self.runs += 1;
        let outcome = driver::run(self.target, candidate, self.timing, self.chunking).await;
        if self.same_finding(candidate, &outcome) {
            self.best = Some((candidate.clone(), outcome));
            true
        } else {
            false
        }
    }

    /// The same kind, and one of the odd octet classes (or smuggling endings) of the operation
    /// where the original showed still present in an operation up to the one where the
    /// candidate's shows, so the search cannot drift to another cause of the same kind. (A reply
    /// for nothing may show an operation after the one that caused it.)
    fn same_finding(&self, candidate: &Session, outcome: &Outcome) -> bool {
        let Some(anomaly) = &outcome.anomaly else {
            return false;
        };
        if anomaly.kind != self.signature.kind {
            return false;
        }
        let Some(present) = Signature::residue(candidate, outcome) else {
            return false;
        };
        self.signature.tags.is_empty()
            || self.signature.tags.iter().any(|t| present.tags.contains(t))
    }

    /// ddmin: the smallest subsequence of `items` (1-minimal when the budget allows) whose
    /// session, built by `build`, still reproduces.
    async fn ddmin<T: Clone>(
        &mut self,
        mut items: Vec<T>,
        build: impl Fn(&[T]) -> Session,
    ) -> Vec<T> {
        let mut n = 2usize;
        while items.len() >= 2 && !self.exhausted {
            let size = items.len().div_ceil(n);
            let mut reduced = false;
            for start in (0..items.len()).step_by(size) {
                let end = (start + size).min(items.len());
                let subset = items[start..end].to_vec();
                if self.reproduces(&build(&subset)).await {
                    items = subset;
                    n = 2;
                    reduced = true;
                    break;
                }
                let complement = [&items[..start], &items[end..]].concat();
                if n > 2 && self.reproduces(&build(&complement)).await {
                    items = complement;
                    n = (n - 1).max(2);
                    reduced = true;
                    break;
                }
            }
            if !reduced {
                if n >= items.len() {
                    break;
                }
                n = (2 * n).min(items.len());
            }
        }
        items
    }

    async fn shrink_groups(&mut self, mut s: Session) -> Session {
        for i in 0..s.ops.len() {
            let Op::Group { lines, chunking } = s.ops[i].clone() else {
                continue;
            };
            let base = s.clone();
            let kept = self
                .ddmin(lines, |lines| {
                    with_op(
                        &base,
                        i,
                        Op::Group {
                            lines: lines.to_vec(),
                            chunking: chunking.clone(),
                        },
                    )
                })
                .await;
            s.ops[i] = Op::Group {
                lines: kept,
                chunking,
            };
        }
        s
    }

    /// The operation where the best run's finding showed: only its octets are shrunk; the
    /// operations before it set the session up and stay as sent.
    fn trigger(&self) -> Option<usize> {
        self.best.as_ref()?.1.anomaly.as_ref()?.op
    }

    async fn shrink_bodies(&mut self, mut s: Session) -> Session {
        for i in 0..s.ops.len() {
            if Some(i) != self.trigger() {
                continue;
            }
            let Op::Data {
                body,
                tags,
                chunking,
            } = s.ops[i].clone()
            else {
                continue;
            };
            // Lines with their CRLF; the final "." CRLF is kept out of the search.
            let Some(head) = body.strip_suffix(b".\r\n") else {
                continue;
            };
            let lines: Vec<Vec<u8>> = head
                .split_inclusive(|&b| b == b'\n')
                .map(<[u8]>::to_vec)
                .collect();
            let base = s.clone();
            let build = |lines: &[Vec<u8>]| {
                let mut body = lines.concat();
                body.extend_from_slice(b".\r\n");
                with_op(
                    &base,
                    i,
                    Op::Data {
                        body,
                        tags: tags.clone(),
                        chunking: chunking.clone(),
                    },
                )
            };
            let kept = self.ddmin(lines, build).await;
            let mut body = kept.concat();
            body.extend_from_slice(b".\r\n");
            let candidate = with_op(
                &s,
                i,
                Op::Data {
                    body,
                    tags,
                    chunking,
                },
            );
            if candidate.is_valid() && self.best.as_ref().is_some_and(|(b, _)| *b == candidate) {
                s = candidate;
            }
        }
        s
    }

    async fn shrink_lines(&mut self, mut s: Session) -> Session {
        for i in 0..s.ops.len() {
            if Some(i) != self.trigger() {
                continue;
            }
            let Op::Group { lines, chunking } = s.ops[i].clone() else {
                continue;
            };
            for j in 0..lines.len() {
                let content = match &s.ops[i] {
                    Op::Group { lines, .. } => lines[j].content.clone(),
                    _ => break,
                };
                let base = s.clone();
                let build = |bytes: &[u8]| {
                    let mut lines = match &base.ops[i] {
                        Op::Group { lines, .. } => lines.clone(),
                        _ => Vec::new(),
                    };
                    lines[j].content = bytes.to_vec();
                    with_op(
                        &base,
                        i,
                        Op::Group {
                            lines,
                            chunking: chunking.clone(),
                        },
                    )
                };
                let kept = self.ddmin(content, build).await;
                let candidate = build(&kept);
                if self.best.as_ref().is_some_and(|(b, _)| *b == candidate) {
                    s = candidate;
                }
            }
        }
        s
    }

    async fn whole_writes(&mut self, mut s: Session) -> Session {
        for i in 0..s.ops.len() {
            let mut op = s.ops[i].clone();
            let chunking = match &mut op {
                Op::Group { chunking, .. }
                | Op::Data { chunking, .. }
                | Op::Bdat { chunking, .. } => chunking,
                Op::StartTls { .. } => continue,
            };
            if *chunking == Chunking::Whole {
                continue;
            }
            *chunking = Chunking::Whole;
            let candidate = with_op(&s, i, op);
            if self.reproduces(&candidate).await {
                s = candidate;
            }
        }
        s
    }
}

/// Whether the session opens with an unmutated EHLO or HELO on its own.
fn greets(session: &Session) -> bool {
    matches!(session.ops.first(), Some(Op::Group { lines, .. })
        if lines.len() == 1 && matches!(lines[0].verb, "EHLO" | "HELO") && lines[0].tags.is_empty())
}

fn with_op(base: &Session, i: usize, op: Op) -> Session {
    let mut s = base.clone();
    s.ops[i] = op;
    s
}
