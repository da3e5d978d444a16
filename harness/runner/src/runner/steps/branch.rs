//! `expect_one_of`: one reply, a silence or a close chooses among the ways a target may
//! correctly answer, and the chosen branch's steps run.

use std::time::Duration;

use super::{Session, read_failure};
use crate::runner::conn::ReadFailure;
use crate::runner::step_error::StepError;
use crate::scenario::{Branch, BranchOn, Branches};
use mtpspec_report::verdict::Observed;

impl Session<'_> {
    pub(super) async fn expect_one_of(&mut self, branches: &Branches) -> Result<(), StepError> {
        let branch = self.choose(branches).await?;
        for located in &branch.then {
            // A branch's steps may hold branches themselves: the recursion is boxed.
            Box::pin(self.step(&located.step))
                .await
                .map_err(|error| StepError::InBranch {
                    line: located.line,
                    description: format!(
                        "took {}, then {}",
                        branch.on,
                        located.step.describe(&self.vars)
                    ),
                    error: Box::new(error),
                })?;
        }
        match &branch.skip {
            Some(why) => Err(StepError::Skip(why.clone())),
            None => Ok(()),
        }
    }

    /// Reads what the target does and returns the first branch it matches. With a silence
    /// branch the wait is that branch's; otherwise the longest a reply branch allows.
    async fn choose<'b>(&mut self, branches: &'b Branches) -> Result<&'b Branch, StepError> {
        let find = |pick: fn(&BranchOn) -> bool| branches.0.iter().find(|b| pick(&b.on));
        let timeout = match branches.silence_ms() {
            Some(ms) => Duration::from_millis(ms),
            None => branches
                .0
                .iter()
                .filter_map(|b| match &b.on {
                    BranchOn::Reply(e) => Some(
                        e.timeout_ms
                            .map_or(self.options.step_timeout, Duration::from_millis),
                    ),
                    _ => None,
                })
                .max()
                .unwrap_or(self.options.step_timeout),
        };
        let expected = format!("one of {branches}");
        let outcome = self.conn().await?.read_reply(timeout).await;
        match outcome {
            Ok(reply) => {
                let chosen = branches.0.iter().find_map(|b| match &b.on {
                    BranchOn::Reply(e) if e.mismatch(&reply).is_none() => Some((b, e)),
                    _ => None,
                });
                let Some((branch, expect)) = chosen else {
                    return Err(self
                        .unasked_421(&reply)
                        .unwrap_or_else(|| StepError::reply(expected, &reply, None)));
                };
                self.judge_reply(expect, &reply)?;
                Ok(branch)
            }
            Err(ReadFailure::Timeout { partial }) if partial.is_empty() => {
                find(|on| matches!(on, BranchOn::Silence(_))).ok_or_else(|| {
                    StepError::observed(
                        expected,
                        format!("no reply within {} ms", timeout.as_millis()),
                        Observed::NoReply {
                            waited_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                            partial: String::new(),
                        },
                    )
                })
            }
            Err(ReadFailure::Closed { partial }) if partial.is_empty() => {
                self.conns.remove(&self.current);
                find(|on| matches!(on, BranchOn::Close)).ok_or_else(|| {
                    StepError::observed(
                        expected,
                        "the target closed the connection",
                        Observed::Closed {
                            partial: String::new(),
                        },
                    )
                })
            }
            Err(other) => Err(read_failure(other, timeout).expecting(expected)),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Each way of choosing a branch, on real loopback TCP against a scripted server.

    use std::path::Path;
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use crate::runner::{CaseResult, RunOptions, Runner, Verdict};
    use crate::target::TcpTarget;

    /// What the scripted server does with `NOOP` lines ending in a bare LF.
    #[derive(Clone, Copy)]
    enum OnBareLf {
        Refuse,
        Wait,
        Close,
        /// Keeps the line whole and answers it 500, echoing it bare LF and all (as Python's
        /// smtpd does).
        Echo,
    }

    /// Greets, answers EHLO and every CRLF line with 250, and handles a line ending in a bare
    /// LF as told. Returns its port; it runs until the runtime stops.
    async fn scripted(on_bare_lf: OnBareLf) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    s.write_all(b"220 scripted\r\n").await?;
                    let mut buf = Vec::new();
                    let mut pending = Vec::new();
                    let mut chunk = [0u8; 1024];
                    loop {
                        while let Some(end) = buf.iter().position(|&b| b == b'\n') {
                            let line: Vec<u8> = buf.drain(..=end).collect();
                            let crlf = line.ends_with(b"\r\n");
                            let echo;
                            let reply: &[u8] = match (crlf, on_bare_lf) {
                                (true, OnBareLf::Echo) if !pending.is_empty() => {
                                    pending.extend_from_slice(&line[..line.len() - 2]);
                                    echo = [b"500 unknown ", &pending[..], b"\r\n"].concat();
                                    pending.clear();
                                    &echo
                                }
                                (true, _) if line.starts_with(b"EHLO") => b"250 scripted\r\n",
                                (true, _) => b"250 ok\r\n",
                                (false, OnBareLf::Refuse) => b"550 bare LF\r\n",
                                (false, OnBareLf::Wait) => b"",
                                (false, OnBareLf::Close) => return Ok(()),
                                (false, OnBareLf::Echo) => {
                                    pending.extend_from_slice(&line);
                                    b""
                                }
                            };
                            s.write_all(reply).await?;
                        }
                        let n = s.read(&mut chunk).await?;
                        if n == 0 {
                            return Ok::<_, std::io::Error>(());
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                });
            }
        });
        port
    }

    const CASE: &str = r#"
- id: branch-test
  title: a bare LF is refused, waited on or closed on
  spec: [SMTP-SYNTAX-6]
  level: must
  steps:
    - expect: 220
    - ehlo
    - write: {text: "NOOP\n"}
    - expect_one_of:
        - silence: 300
          then:
            - write: {text: "\r\n"}
            - expect: 250
        - expect: {code: 5xx, capture: {why: '(.*)'}}
          then:
            - send: "NOOP {{why}}"
            - expect: 251
        - close: true
          skip: closed on a bare LF
"#;

    async fn run(on_bare_lf: OnBareLf, source: &str) -> CaseResult {
        let port = scripted(on_bare_lf).await;
        let cases = crate::scenario::load_str(source, Path::new("branch.yaml")).unwrap();
        let target = Arc::new(TcpTarget::new("127.0.0.1", port, false));
        let options = RunOptions {
            step_timeout: Duration::from_secs(2),
            ..RunOptions::default()
        };
        let runner = Runner::new(target, options);
        let caps = runner.probe().await.unwrap();
        runner.run_case(&cases[0], &caps).await
    }

    #[tokio::test]
    async fn silence_takes_the_silence_branch() {
        let result = run(OnBareLf::Wait, CASE).await;
        assert_eq!(result.verdict, Verdict::Pass, "{:?}", result.reason);
    }

    #[tokio::test]
    async fn a_failure_inside_a_branch_names_its_line_and_the_branch() {
        let result = run(OnBareLf::Refuse, CASE).await;
        assert_eq!(result.verdict, Verdict::Fail);
        let failure = result.failure.unwrap();
        // The capture was made and used: the NOOP carried the reply's text.
        assert_eq!(failure.line, 18, "{failure:?}");
        assert_eq!(failure.step, 4, "counted from 1");
        assert!(
            failure
                .description
                .starts_with("expect one of silence for 300 ms | 5xx")
                && failure.description.ends_with("→ took 5xx, then expect 251"),
            "{}",
            failure.description
        );
        assert!(failure.actual.starts_with("250 ok"), "{}", failure.actual);
        let sent = result
            .wire
            .iter()
            .any(|e| String::from_utf8_lossy(&e.data).contains("NOOP bare LF\r\n"));
        assert!(sent, "the captured text was not sent");
    }

    /// The server kept `NOOP<LF>` + CRLF as one line, as SMTP-SYNTAX-6 asks, but echoed the
    /// bare LF into its reply: the failure is the reply's, filed under SMTP-SYNTAX-11.
    #[tokio::test]
    async fn a_reply_broken_by_an_echoed_bare_lf_fails_the_reply_syntax() {
        let result = run(OnBareLf::Echo, CASE).await;
        assert_eq!(result.verdict, Verdict::Fail, "{:?}", result.reason);
        assert_eq!(result.spec, ["SMTP-SYNTAX-11"]);
        let failure = result.failure.unwrap();
        assert_eq!(failure.expected, "a well-formed reply");
        assert!(
            failure.actual.starts_with("malformed reply"),
            "{}",
            failure.actual
        );
    }

    #[tokio::test]
    async fn a_close_takes_the_close_branch_and_its_skip() {
        let result = run(OnBareLf::Close, CASE).await;
        assert_eq!(result.verdict, Verdict::Skip);
        assert!(
            result.reason.unwrap().contains("closed on a bare LF"),
            "the skip reason is reported"
        );
    }

    #[tokio::test]
    async fn an_answer_no_branch_allows_fails() {
        let narrow = CASE.replace("code: 5xx", "code: 4xx").replace(
            "        - close: true\n          skip: closed on a bare LF\n",
            "",
        );
        let result = run(OnBareLf::Refuse, &narrow).await;
        assert_eq!(result.verdict, Verdict::Fail);
        let failure = result.failure.unwrap();
        assert_eq!(failure.expected, "one of silence for 300 ms | 4xx");
        assert!(
            failure.actual.starts_with("550 bare LF"),
            "{}",
            failure.actual
        );
        let closed = run(OnBareLf::Close, &narrow).await;
        assert_eq!(closed.verdict, Verdict::Fail);
        assert_eq!(
            closed.failure.unwrap().actual,
            "the target closed the connection"
        );
    }
}
