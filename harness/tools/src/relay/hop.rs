//! The next hop the harness plays for one case: the listener the target relays to, accepting
//! connections until told to stop and playing servetest's scripted session on each. Every
//! connection gets the case's `next_hop` script until one carrying the case's token has come;
//! the connections after it (a retry, a notification) get the `later` script, so that "451
//! the first time" is a script, not a counter shared between connections.

use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use super::arrived::carrying;
use super::model::LaterAfter;
use crate::servetest::model::ServerScript;
use crate::servetest::record::Recorder;
use crate::servetest::session::{Session, drain};

/// How long open sessions get to finish (QUIT) once the case is over.
const DRAIN: Duration = Duration::from_secs(1);

/// The scripts of one case and the token that tells its connections apart.
pub struct Scripts {
    /// The script of the first connections.
    pub first: Arc<ServerScript>,
    /// The script of the connections after them.
    pub later: Arc<ServerScript>,
    /// Which connections are the first ones.
    pub later_after: LaterAfter,
    /// The case's token.
    pub token: String,
}

impl Scripts {
    /// The script for connection `conn` (from 1), given what was recorded so far.
    fn for_connection(&self, conn: u32, rec: &Recorder) -> Arc<ServerScript> {
        let first = match self.later_after {
            LaterAfter::Token => carrying(&rec.events(), &self.token).is_empty(),
            LaterAfter::FirstConnection => conn == 1,
        };
        Arc::clone(if first { &self.first } else { &self.later })
    }
}

/// A running next hop; [`Hop::stop`] ends it and returns the record.
pub struct Hop {
    rec: Recorder,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Hop {
    /// Starts accepting on `listener`; sessions end at `deadline` at the latest.
    pub fn start(
        listener: Arc<TcpListener>,
        scripts: Scripts,
        tls: Arc<ServerConfig>,
        deadline: Instant,
    ) -> Self {
        let rec = Recorder::new();
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept(
            listener,
            scripts,
            tls,
            rec.clone(),
            deadline,
            stopped,
        ));
        Self { rec, stop, task }
    }

    /// The record so far.
    pub fn record(&self) -> &Recorder {
        &self.rec
    }

    /// Stops accepting, lets open sessions finish for a moment, and returns the record.
    pub async fn stop(self) -> Recorder {
        // The task may have ended already (the listener failed): then there is no one to tell.
        let _ = self.stop.send(true);
        let _ = self.task.await;
        self.rec
    }
}

async fn accept(
    listener: Arc<TcpListener>,
    scripts: Scripts,
    tls: Arc<ServerConfig>,
    rec: Recorder,
    deadline: Instant,
    mut stopped: watch::Receiver<bool>,
) {
    let mut sessions = JoinSet::new();
    let mut conn = 0u32;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                conn += 1;
                let script = scripts.for_connection(conn, &rec);
                let session = Session::new(script, Some(Arc::clone(&tls)));
                sessions.spawn(session.run(stream, conn, rec.clone(), deadline));
            }
            Some(_) = sessions.join_next() => {}
            _ = stopped.changed() => break,
        }
    }
    drain(&mut sessions, DRAIN).await;
}
