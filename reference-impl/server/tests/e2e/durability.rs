//! A message acknowledged with 250 survives SIGKILL: 200 messages are sent over four
//! connections, the server is killed the moment the last 250 arrives, and after a restart on
//! the same data directory every acknowledged id is in the store with its exact bytes.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::support::{ServerProcess, Smtp, stored};

fn send_batch(addr: SocketAddr, worker: usize, count: usize) -> Vec<(String, Vec<u8>)> {
    let mut smtp = Smtp::connect(addr);
    assert_eq!(smtp.cmd("EHLO durability.example"), 250);
    let mut acked = Vec::new();
    for i in 0..count {
        let body = format!("Subject: durable {worker}-{i}\r\n\r\nworker {worker} message {i}\r\n")
            .into_bytes();
        // PIPELINING: MAIL, RCPT and DATA in one write (RFC 2920).
        smtp.write(b"MAIL FROM:<load@client.example>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n");
        assert_eq!(
            [
                smtp.reply().code.get(),
                smtp.reply().code.get(),
                smtp.reply().code.get()
            ],
            [250, 250, 354]
        );
        smtp.write(&body);
        smtp.write(b".\r\n");
        let reply = smtp.reply();
        assert_eq!(reply.code.get(), 250, "{reply}");
        let id = reply
            .text()
            .rsplit(' ')
            .next()
            .expect("queued as ID")
            .to_string();
        acked.push((id, body));
    }
    acked
}

#[test]
fn sigkill_after_250_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("store");
    let server = ServerProcess::start(&data_dir, &[]);
    let addr = server.smtp;
    let workers: Vec<_> = (0..4)
        .map(|w| std::thread::spawn(move || send_batch(addr, w, 50)))
        .collect();
    let acked: Vec<(String, Vec<u8>)> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("worker"))
        .collect();
    server.kill();
    assert_eq!(acked.len(), 200);

    let restarted = ServerProcess::start(&data_dir, &[]);
    let holds: BTreeMap<String, Vec<u8>> = stored(&restarted.data_dir)
        .into_iter()
        .map(|(m, data)| (m.id, data))
        .collect();
    for (id, body) in &acked {
        assert_eq!(
            holds.get(id),
            Some(body),
            "message {id} acknowledged before SIGKILL"
        );
    }
    assert_eq!(holds.len(), 200, "nothing stored twice or out of thin air");
}
