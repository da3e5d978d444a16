//! The gateway's HTTP connection limits over raw loopback sockets: the connection limit,
//! the header, body and idle timeouts and the memory budget for bodies. Timeouts are set to
//! about a second and a connection must be closed within ten; meanwhile a fresh request
//! still gets through.

use std::net::SocketAddr;
use std::time::Duration;

use mtp_server::gateway::GatewayOptions;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::support::{Fixture, with_upstream};

/// The longest any test here waits for the gateway to act.
const PATIENCE: Duration = Duration::from_secs(10);

/// A gateway whose upstream is never reached (these tests only queue), with `adjust` applied
/// to its limits.
async fn gateway(adjust: impl FnOnce(&mut GatewayOptions)) -> Fixture {
    with_upstream("smtp://127.0.0.1:9", adjust).await
}

fn send_body() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "sender": "alice@example.test",
        "recipients": ["bob@example.test"],
        "subject": "limits",
        "body": "hello",
    }))
    .unwrap()
}

/// Reads until the peer closes (or resets) the connection; `None` if it is still open after
/// `PATIENCE`. What was read before the close is returned.
async fn closed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| got)
}

/// Reads one response with a Content-Length body; its status.
async fn response(stream: &mut TcpStream) -> u16 {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(PATIENCE, async {
        loop {
            if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                if got.len() >= end + 4 + length {
                    return;
                }
            }
            let n = stream.read(&mut buf).await.unwrap();
            assert!(
                n > 0,
                "closed mid-response: {}",
                String::from_utf8_lossy(&got)
            );
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("a response in time");
    status_of(&got)
}

fn status_of(response: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(response);
    text.strip_prefix("HTTP/1.1 ")
        .and_then(|t| t.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"))
}

async fn get_openapi(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /openapi.json HTTP/1.1\r\nHost: gw\r\n\r\n")
        .await
        .unwrap();
    s
}

async fn upload_head(addr: SocketAddr, length: usize) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /send HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s
}

/// A fresh request gets through: the gateway is still serving.
async fn still_serving(f: &Fixture) {
    let (code, body) = f.post_raw("/send", "application/json", send_body()).await;
    assert_eq!(code, 202, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_limit_get_503_and_the_slot_comes_back() {
    let f = gateway(|o| o.limits.max_connections = 2).await;
    let addr = f.gateway.addr();
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = get_openapi(addr).await;
        assert_eq!(response(&mut s).await, 200);
        held.push(s); // kept alive
    }
    let mut third = get_openapi(addr).await;
    let answer = closed(&mut third)
        .await
        .expect("the third connection is closed");
    assert_eq!(
        status_of(&answer),
        503,
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(String::from_utf8_lossy(&answer).contains("\"error\""));

    drop(held.pop());
    let mut ok = false;
    for _ in 0..100 {
        let mut s = get_openapi(addr).await;
        if response(&mut s).await == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "a slot was given back when a connection closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_or_missing_headers_are_cut_off() {
    let f = gateway(|o| o.limits.header_timeout = Duration::from_secs(1)).await;
    let addr = f.gateway.addr();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    // Slowloris: a header octet every 200 ms, never the blank line.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /openapi.json HTTP/1.1\r\nHost: gw\r\nX-Slow: ")
        .await
        .unwrap();
    let trickle = tokio::spawn(async move {
        for _ in 0..50 {
            if slow.write_all(b"x").await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        false
    });
    still_serving(&f).await;
    let answer = closed(&mut silent)
        .await
        .expect("a silent connection is closed");
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    assert!(
        trickle.await.unwrap(),
        "a trickled header section is cut off"
    );
    still_serving(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_alive_connection_is_closed_when_idle() {
    let f = gateway(|o| {
        o.limits.idle_timeout = Duration::from_secs(1);
        o.limits.header_timeout = Duration::from_secs(60);
    })
    .await;
    let mut s = get_openapi(f.gateway.addr()).await;
    assert_eq!(response(&mut s).await, 200);
    let rest = closed(&mut s).await.expect("closed after the idle timeout");
    assert!(rest.is_empty());
    still_serving(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_or_trickling_upload_is_cut_off_with_408() {
    let f = gateway(|o| {
        o.limits.body_timeout = Duration::from_secs(1);
        o.limits.body_min_rate = 1000;
    })
    .await;
    let addr = f.gateway.addr();
    let mut stalled = upload_head(addr, 100_000).await;
    stalled.write_all(b"{\"sender\":").await.unwrap();
    // Ten octets every 300 ms: never a gap of a second, but far below 1000 octets/s.
    let mut trickling = upload_head(addr, 100_000).await;
    let trickle = tokio::spawn(async move {
        for _ in 0..40 {
            if trickling.write_all(b"          ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        trickling
    });
    still_serving(&f).await;
    let answer = closed(&mut stalled)
        .await
        .expect("a stalled upload is cut off");
    assert_eq!(
        status_of(&answer),
        408,
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let mut trickling = trickle.await.unwrap();
    let answer = closed(&mut trickling).await.expect("a trickle is cut off");
    assert_eq!(
        status_of(&answer),
        408,
        "{}",
        String::from_utf8_lossy(&answer)
    );
    still_serving(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_in_flight_share_a_memory_budget() {
    let f = gateway(|o| {
        o.limits.max_request_bytes = 64 * 1024;
        o.limits.max_body_memory = 128 * 1024;
        o.limits.body_timeout = Duration::from_secs(30);
    })
    .await;
    let addr = f.gateway.addr();
    // Two uploads declare the whole budget and stall.
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut s = upload_head(addr, 64 * 1024).await;
        s.write_all(b"{").await.unwrap();
        stalled.push(s);
    }
    // A third upload does not fit until one of them goes away. (The pause lets the gateway
    // read the two heads first; it is ordering, not timing.)
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut third = upload_head(addr, 60 * 1024).await;
    assert_eq!(response(&mut third).await, 503, "an upload past the budget");
    drop(stalled.pop());
    let mut ok = false;
    for _ in 0..100 {
        let (code, _) = f.post_raw("/send", "application/json", send_body()).await;
        if code == 202 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "the budget comes back when an upload goes away");
}
