//! Criterion micro-benchmarks of the SMTP hot path, in bytes/s: command-line parsing, DATA
//! unstuffing (the server's receiver) and stuffing (the client's encoder), and a whole
//! pipelined transaction through the server session state machine. `cargo bench -p mtp-proto`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mtp_proto::smtp::Command;
use mtp_proto::smtp::data::{DataReceiver, dot_stuff};
use mtp_proto::smtp::server::{Action, ConnectionInfo, ServerConfig, ServerSession};

/// The command lines of a typical ESMTP transaction, without their CRLF.
const COMMANDS: &[&[u8]] = &[
    b"EHLO client.example.org",
    b"MAIL FROM:<alice.sender@client.example.org> SIZE=1024 BODY=8BITMIME",
    b"RCPT TO:<bob@example.test>",
    b"RCPT TO:<\"quoted local\"@example.test>",
    b"DATA",
    b"NOOP",
    b"RSET",
    b"QUIT",
];

fn command_parsing(c: &mut Criterion) {
    let bytes: usize = COMMANDS.iter().map(|l| l.len() + 2).sum();
    let mut group = c.benchmark_group("command_parse");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("transaction_lines", |b| {
        b.iter(|| {
            for line in COMMANDS {
                let _ = black_box(Command::parse(black_box(line)));
            }
        })
    });
    group.finish();
}

/// A message of `size` octets whose lines are `line_len` long (CRLF included); every 16th line
/// starts with a period, so unstuffing has work to do.
fn message(size: usize, line_len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + line_len);
    let mut n = 0usize;
    while out.len() < size {
        if n.is_multiple_of(16) {
            out.push(b'.');
        }
        while out.len() % line_len < line_len - 2 && out.len() < size {
            out.push(b'a' + (out.len() % 26) as u8);
        }
        out.extend_from_slice(b"\r\n");
        n += 1;
    }
    out
}

fn data_unstuffing(c: &mut Criterion) {
    let mut group = c.benchmark_group("data_unstuff");
    for (size, line_len, chunk) in [
        (1024, 78, 64 * 1024),
        (1 << 20, 78, 64 * 1024),
        (1 << 20, 78, 1460),
        (1 << 20, 998, 64 * 1024),
    ] {
        let wire = dot_stuff(&message(size, line_len));
        group.throughput(Throughput::Bytes(wire.len() as u64));
        let id = format!("{size}B_lines{line_len}_chunk{chunk}");
        group.bench_with_input(BenchmarkId::from_parameter(id), &wire, |b, wire| {
            b.iter(|| {
                let mut receiver = DataReceiver::new(u64::MAX, 1000);
                for piece in wire.chunks(chunk) {
                    let (_, end) = receiver.feed(black_box(piece));
                    if end {
                        break;
                    }
                }
                black_box(receiver.finish())
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("data_stuff");
    let plain = message(1 << 20, 78);
    group.throughput(Throughput::Bytes(plain.len() as u64));
    group.bench_function("1MiB_lines78", |b| b.iter(|| dot_stuff(black_box(&plain))));
    group.finish();
}

/// EHLO, then `messages` pipelined transactions of 1 KiB each, through the sans-io server
/// session with every delivery acknowledged at once (what the sink driver does).
fn session(c: &mut Criterion) {
    let messages = 100;
    let body = dot_stuff(&message(1024, 78));
    let mut wire = b"EHLO client.example.org\r\n".to_vec();
    for _ in 0..messages {
        wire.extend_from_slice(
            b"MAIL FROM:<alice@client.example.org>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n",
        );
        wire.extend_from_slice(&body);
    }
    wire.extend_from_slice(b"QUIT\r\n");
    let config = Arc::new(ServerConfig::new(
        "mx.example.test",
        vec!["example.test".into()],
    ));
    let mut group = c.benchmark_group("server_session");
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.bench_function("100_pipelined_1KiB_messages", |b| {
        b.iter(|| {
            let mut session = ServerSession::new(
                config.clone(),
                ConnectionInfo {
                    peer: "127.0.0.1:1".into(),
                    tls: false,
                    denied: false,
                },
            );
            let mut out = 0usize;
            for piece in wire.chunks(16 * 1024) {
                session.receive(piece);
                while let Some(action) = session.poll_action() {
                    if let Action::Deliver(d) = action {
                        black_box(d);
                        session.delivered(Ok("000000000001".into()));
                    }
                }
                out += session.take_output().len();
            }
            black_box(out)
        })
    });
    group.finish();
}

criterion_group!(benches, command_parsing, data_unstuffing, session);
criterion_main!(benches);
