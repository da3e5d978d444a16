//! The opening of a client session: the greeting, EHLO with its HELO fallback, and the TLS
//! upgrade by STARTTLS (RFC 3207) or VMTP `ENCRYPT START` (DESIGN), with the `require_tls`
//! policy.

use super::{ClientSession, DropReason, Expect, Failure, Feature, Phase, Task};
use crate::smtp::command::Command;
use crate::smtp::extension::{Extension, Extensions};
use crate::smtp::reply::{Reply, ReplyCode};

impl ClientSession {
    /// RFC 5321 §3.1: 220 opens the session; 554 refuses it (the client SHOULD then send
    /// QUIT); 421 is temporary and the server closes.
    pub(super) fn on_greeting(&mut self, reply: &Reply) {
        match reply.code {
            ReplyCode::SERVICE_READY => self.send_hello(true),
            code if code.is_permanent() => self.fail_session(
                Failure::from_reply("the server refused the session", reply),
                true,
            ),
            _ => {
                let failure = Failure::from_reply("unexpected greeting", reply);
                self.fail_session(
                    Failure {
                        transient: true,
                        ..failure
                    },
                    true,
                )
            }
        }
    }

    pub(super) fn send_hello(&mut self, extended: bool) {
        let name = self.options.helo_name.clone();
        if extended {
            self.write_command(Expect::Ehlo, &Command::Ehlo(name));
        } else {
            self.write_command(Expect::Helo, &Command::Helo(name));
        }
    }

    /// RFC 5321 §3.2: a server that does not support EHLO answers 500/502 (any 5yz here), and
    /// the client falls back to HELO.
    pub(super) fn on_ehlo(&mut self, reply: &Reply) {
        if reply.code.is_positive() {
            self.ext = Extensions::from_ehlo(reply);
            return self.after_hello();
        }
        if reply.code.is_permanent() {
            return self.send_hello(false);
        }
        self.fail_session(Failure::from_reply("EHLO refused", reply), true);
    }

    pub(super) fn on_helo(&mut self, reply: &Reply) {
        if reply.code.is_positive() {
            self.ext = Extensions::default();
            return self.after_hello();
        }
        self.fail_session(Failure::from_reply("HELO refused", reply), true);
    }

    /// After a greeting: upgrade to TLS if wanted and offered, enforce `require_tls`, then
    /// start work.
    fn after_hello(&mut self) {
        let opts = &self.options;
        if !self.tls {
            let want_starttls = opts.starttls || opts.require_tls;
            let want_encrypt = opts.prefer_encrypt || opts.require_tls;
            if want_starttls && !self.starttls_tried && self.ext.has(Extension::StartTls) {
                self.starttls_tried = true;
                return self.write_command(Expect::StartTls, &Command::StartTls);
            }
            if want_encrypt && !self.encrypt_tried {
                self.encrypt_tried = true;
                match self.vmtp_verb("ENCRYPT", Feature::VmtpEncrypt) {
                    Ok(()) => return self.write_command(Expect::Encrypt, &Command::EncryptStart),
                    Err(reason) if opts.prefer_encrypt => {
                        self.drop_feature(Feature::VmtpEncrypt, reason)
                    }
                    Err(_) => {}
                }
            }
            if self.options.require_tls {
                let failure = match &self.tls_refusal {
                    Some(reply) => Failure::from_reply("TLS is required but was refused", reply),
                    None => Failure::new(
                        false,
                        "TLS is required but the server offers neither STARTTLS nor VMTP ENCRYPT",
                    ),
                };
                return self.fail_session(failure, true);
            }
        }
        self.phase = Phase::Work;
        if let Task::Command(command) = &self.task {
            let command = command.clone();
            self.write_command(Expect::Command, &command);
        }
    }

    /// The reply to STARTTLS or ENCRYPT START: 220 hands the connection to the TLS
    /// handshake; a refusal (454, or 5yz for the VMTP verb) leaves the session in plain text.
    pub(super) fn on_tls(&mut self, expect: Expect, reply: &Reply) {
        let feature = if expect == Expect::Encrypt {
            Feature::VmtpEncrypt
        } else {
            Feature::StartTls
        };
        if reply.code == ReplyCode::SERVICE_READY {
            self.use_feature(feature);
            self.phase = Phase::Handshake;
            self.events.push_back(super::Event::StartTls);
            return;
        }
        self.tls_refusal = Some(reply.clone());
        if feature == Feature::VmtpEncrypt && reply.code.is_permanent() {
            self.drop_feature(feature, DropReason::Refused(reply.clone()));
        }
        self.after_hello();
    }
}
