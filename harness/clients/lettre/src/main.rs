//! Sends one message with lettre's blocking `SmtpTransport`, as an application would, for
//! `mtpspec serve-test`.
//!
//! usage: lettre-driver plain|starttls HOST PORT FROM BODY_FILE RCPT...
//!
//! The message file is sent as it is with `send_raw` (lettre's codec does the dot-stuffing).
//! An empty FROM is the null reverse-path `<>`. With starttls, TLS is required and the
//! server's certificate is not verified (serve-test's is self-signed): this checks the
//! protocol. Exits 0 when the message was accepted, 1 when the server refused it (a 4xx or
//! 5xx reply), 2 on connection, TLS or protocol errors and bad arguments.

use std::process::ExitCode;
use std::time::Duration;

use lettre::address::{Address, Envelope};
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{SmtpTransport, Transport};

fn main() -> ExitCode {
    match run() {
        Ok(()) => {
            println!("sent");
            ExitCode::SUCCESS
        }
        Err(Failure::Refused(why)) => {
            eprintln!("refused: {why}");
            ExitCode::from(1)
        }
        Err(Failure::Error(why)) => {
            eprintln!("error: {why}");
            ExitCode::from(2)
        }
    }
}

enum Failure {
    Refused(String),
    Error(String),
}

fn run() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mode, host, port, from, body_file, rcpts @ ..] = args.as_slice() else {
        return Err(Failure::Error(
            "usage: lettre-driver plain|starttls HOST PORT FROM BODY_FILE RCPT...".into(),
        ));
    };
    let bad = |what: &str, e: &dyn std::fmt::Display| Failure::Error(format!("{what}: {e}"));
    let port: u16 = port.parse().map_err(|e| bad("port", &e))?;
    let from: Option<Address> = if from.is_empty() {
        None
    } else {
        Some(from.parse().map_err(|e| bad("FROM", &e))?)
    };
    let to = rcpts
        .iter()
        .map(|r| r.parse::<Address>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("RCPT", &e))?;
    let envelope = Envelope::new(from, to).map_err(|e| bad("envelope", &e))?;
    let body = std::fs::read(body_file).map_err(|e| bad("BODY_FILE", &e))?;
    let tls = match mode.as_str() {
        "plain" => Tls::None,
        "starttls" => Tls::Required(
            TlsParameters::builder(host.clone())
                .dangerous_accept_invalid_certs(true)
                .dangerous_accept_invalid_hostnames(true)
                .build_rustls()
                .map_err(|e| bad("TLS parameters", &e))?,
        ),
        other => {
            return Err(Failure::Error(format!(
                "mode must be plain or starttls: {other}"
            )));
        }
    };
    let mailer = SmtpTransport::builder_dangerous(host.as_str())
        .port(port)
        .tls(tls)
        .hello_name(ClientId::Domain("client.example".into()))
        .timeout(Some(Duration::from_secs(30)))
        .build();
    mailer.send_raw(&envelope, &body).map(drop).map_err(|e| {
        if e.is_permanent() || e.is_transient() {
            Failure::Refused(e.to_string())
        } else {
            Failure::Error(e.to_string())
        }
    })
}
