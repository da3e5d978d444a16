//! A target with more listeners than its main one: `--submission HOST:PORT`,
//! `--smtps HOST:PORT`, `--mmtp`, `--mmtps`, `--http` and `--listener NAME=HOST:PORT` next to
//! `--target`, for the cases that need submission (AUTH), implicit TLS, MMTP, the gateway or a
//! special listener. Everything but the extra connections is the main target's.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustls_pki_types::ServerName;

use super::{BoxFuture, Connected, Listener, Observer, Target, TargetError};

/// A main target plus other targets for some listeners. Connections to those listeners (and
/// the HTTP base URL, when the gateway is one) go to theirs; everything else (the name, the
/// TLS name, the observer, the domain, the credentials) is the main target's.
pub struct MultiTarget {
    main: Arc<dyn Target>,
    others: BTreeMap<Listener, Arc<dyn Target>>,
}

impl MultiTarget {
    /// `main` alone, until [`MultiTarget::with`] adds listeners.
    pub fn new(main: Arc<dyn Target>) -> Self {
        Self {
            main,
            others: BTreeMap::new(),
        }
    }

    /// Connections to `listener` go to `target`.
    pub fn with(mut self, listener: Listener, target: Arc<dyn Target>) -> Self {
        self.others.insert(listener, target);
        self
    }
}

impl Target for MultiTarget {
    fn name(&self) -> String {
        self.main.name()
    }

    fn connect(&self) -> BoxFuture<'_, Result<Connected, TargetError>> {
        self.main.connect()
    }

    fn listeners(&self) -> Vec<Listener> {
        let mut all = self.main.listeners();
        all.extend(
            self.others
                .keys()
                .filter(|l| !all.contains(l))
                .copied()
                .collect::<Vec<_>>(),
        );
        all
    }

    fn connect_to(&self, listener: Listener) -> BoxFuture<'_, Result<Connected, TargetError>> {
        match self.others.get(&listener) {
            Some(target) => target.connect(),
            None => self.main.connect_to(listener),
        }
    }

    fn http_base(&self) -> Option<String> {
        match self.others.get(&Listener::Http) {
            Some(target) => target.http_base(),
            None => self.main.http_base(),
        }
    }

    fn tls_server_name(&self) -> ServerName<'static> {
        self.main.tls_server_name()
    }

    fn observer(&self) -> Option<Arc<dyn Observer>> {
        self.main.observer()
    }

    fn domain(&self) -> Option<String> {
        self.main.domain()
    }

    fn credentials(&self) -> Option<(String, String)> {
        self.main.credentials()
    }

    fn is_reference(&self) -> bool {
        self.main.is_reference()
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        self.main.shutdown()
    }
}
