//! What a client session writes and reports: command groups (pipelined or lock-step), QUIT,
//! session failures, the final [`Outcome`] and the bookkeeping of used and dropped features.

use super::{
    ClientSession, DropReason, DroppedFeature, Event, Expect, Failure, Feature, Phase,
    TranscriptEntry,
};
use crate::smtp::command::Command;
use crate::smtp::extension::Extension;

impl ClientSession {
    /// Sends a group of commands: all at once with PIPELINING, else one by one.
    pub(super) fn send_group(&mut self, group: Vec<(Expect, String)>) {
        let pipeline =
            self.options.pipelining && self.ext.has(Extension::Pipelining) && group.len() > 1;
        if !pipeline {
            self.queued.extend(group);
            return;
        }
        self.use_feature(Feature::Pipelining);
        let mut bytes = Vec::new();
        for (expect, line) in group {
            self.out
                .transcript
                .push(TranscriptEntry::Sent(line.clone()));
            bytes.extend_from_slice(line.as_bytes());
            bytes.extend_from_slice(b"\r\n");
            self.sent.push_back(expect);
        }
        self.events.push_back(Event::Transmit(bytes));
    }

    pub(super) fn write_line(&mut self, expect: Expect, line: &str) {
        self.out
            .transcript
            .push(TranscriptEntry::Sent(line.to_string()));
        self.events
            .push_back(Event::Transmit(format!("{line}\r\n").into_bytes()));
        self.sent.push_back(expect);
    }

    pub(super) fn write_command(&mut self, expect: Expect, command: &Command) {
        let line = command.to_line();
        self.write_line(expect, line.trim_end_matches("\r\n"));
    }

    pub(super) fn quit(&mut self) {
        self.queued.clear();
        self.write_command(Expect::Quit, &Command::Quit);
        self.phase = Phase::Quitting;
    }

    /// Fails the session and every message without a result; QUIT when the server still
    /// listens, otherwise done at once.
    pub(super) fn fail_session(&mut self, failure: Failure, send_quit: bool) {
        self.fail_unsettled(failure);
        if send_quit {
            self.quit();
        } else {
            self.finish();
        }
    }

    /// Fails the session and every message without a result, sends QUIT and is done at once,
    /// without waiting for the reply (the server has been silent past a timeout).
    pub(super) fn fail_and_quit_at_once(&mut self, failure: Failure) {
        self.fail_unsettled(failure);
        self.queued.clear();
        self.write_command(Expect::Quit, &Command::Quit);
        self.finish();
    }

    fn fail_unsettled(&mut self, failure: Failure) {
        for result in self.results.iter_mut().filter(|r| r.is_none()) {
            *result = Some(Err(failure.clone()));
        }
        self.out.error = Some(failure);
    }

    pub(super) fn finish(&mut self) {
        if self.phase == Phase::Done {
            return;
        }
        self.phase = Phase::Done;
        self.sent.clear();
        self.queued.clear();
        let mut out = std::mem::take(&mut self.out);
        for (message, result) in out.messages.iter_mut().zip(&mut self.results) {
            if let Some(result) = result.take() {
                message.result = result;
            }
        }
        out.extensions = self.ext.clone();
        out.tls = self.tls;
        self.events.push_back(Event::Done(Box::new(out)));
    }

    pub(super) fn note(&mut self, note: String) {
        self.out.transcript.push(TranscriptEntry::Note(note));
    }

    /// Records `feature` as used by the session and, inside a transaction, by the messages it
    /// served: METADATA by the transaction's first message (the one whose keys went before the
    /// envelope; a BATCH takes no other message with metadata), anything else by every message
    /// of the transaction.
    pub(super) fn use_feature(&mut self, feature: Feature) {
        if !self.out.used.contains(&feature) {
            self.out.used.push(feature);
        }
        let Some(txn) = &self.txn else {
            return;
        };
        let count = if feature == Feature::VmtpMetadata {
            1
        } else {
            txn.count
        };
        let end = (txn.first + count).min(self.out.messages.len());
        for message in self
            .out
            .messages
            .get_mut(txn.first..end)
            .unwrap_or_default()
        {
            if !message.used.contains(&feature) {
                message.used.push(feature);
            }
        }
    }

    pub(super) fn drop_feature(&mut self, feature: Feature, reason: DropReason) {
        if !self.out.dropped.iter().any(|d| d.feature == feature) {
            self.out.dropped.push(DroppedFeature { feature, reason });
        }
    }

    pub(super) fn is_dropped(&self, feature: Feature) -> bool {
        self.out.dropped.iter().any(|d| d.feature == feature)
    }

    /// Whether a VMTP verb may be used: VMTP enabled, the verb offered and not refused.
    pub(super) fn vmtp_verb(&self, verb: &str, feature: Feature) -> Result<(), DropReason> {
        if let Some(d) = self.out.dropped.iter().find(|d| d.feature == feature) {
            return Err(d.reason.clone());
        }
        if !self.options.use_vmtp {
            return Err(DropReason::Disabled);
        }
        if self.ext.has(Extension::Vmtp) && self.ext.vmtp_verb(verb) {
            Ok(())
        } else {
            Err(DropReason::NotOffered)
        }
    }
}
