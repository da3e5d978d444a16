//! The HTTP gateway end to end, over loopback: messages sent with `POST /send` and
//! `POST /batch` reach the reference server through VMTP and aiosmtpd through the SMTP
//! fallback and are read back; READACK turns a read into OPENED and a notification; bad input
//! gets a 4xx naming the field and nothing is delivered; the retry queue and the spool carry
//! a message over an upstream outage and a restart; the served OpenAPI document is the file.
//! Attachment types and encodings are in `gateway/attachments.rs`, the HTTP connection
//! limits and timeouts in `gateway/http_limits.rs`.

// A test crate: its helpers unwrap, and a panic is the failure report.
#![allow(clippy::unwrap_used)]

#[path = "gateway/attachments.rs"]
mod attachments;
#[path = "gateway/http_limits.rs"]
mod http_limits;
#[path = "gateway/support.rs"]
mod support;

use std::time::Duration;

use mtp_proto::smtp::client::ClientOptions;
use mtp_server::client::status::{StatusAnswer, query_status};
use mtp_server::client::tls::{Verify, client_config};
use mtp_server::client::{Target, Timeouts, TlsMode};
use serde_json::{Value, json};
use support::{Aiosmtpd, b64, unb64, with_reference, with_upstream};

async fn status(addr: std::net::SocketAddr, id: &str) -> StatusAnswer {
    let config = client_config(&Verify::Insecure).unwrap();
    let target = Target::new(&addr.to_string(), TlsMode::Plain, config, None).unwrap();
    let timeouts = Timeouts::uniform(Duration::from_secs(10));
    query_status(&target, ClientOptions::default(), id, &timeouts)
        .await
        .0
}

fn message(to: &[&str], subject: &str) -> Value {
    json!({
        "sender": "alice@example.test",
        "recipients": to,
        "subject": subject,
        "body": "Hello over HTTP.\nSecond line.",
        "metadata": {"client-id": "42", "campaign": "fall"},
        "attachments": [{"filename": "notes.txt", "content": b64(b"some notes"), "contentType": "text/plain"}],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vmtp_to_the_reference_then_read_with_readack() {
    let f = with_reference().await;
    let mut body = message(&["bob@example.test"], "Via the gateway");
    body["readack"] = true.into();
    let (code, accepted) = f.post("/send", &body).await;
    assert_eq!(code, 202, "{accepted}");
    let id = accepted["id"].as_str().unwrap();

    let delivery = f.settled(id).await;
    assert_eq!(delivery["status"], "delivered", "{delivery}");
    assert_eq!(delivery["vmtp"], true, "{delivery}");
    let used = delivery["features_used"].to_string();
    for feature in ["VMTP VECMAIL", "VMTP METADATA", "VMTP READACK"] {
        assert!(used.contains(feature), "{feature} in {used}");
    }
    let stored_id = delivery["upstream_ids"][0].as_str().unwrap().to_string();

    let (code, list) = f.get("/messages").await;
    assert_eq!(code, 200);
    assert_eq!(list["total"], 1, "{list}");
    let listed = &list["messages"][0];
    assert_eq!(listed["id"], stored_id.as_str());
    assert_eq!(listed["protocol"], "VMTP");
    assert_eq!(listed["subject"], "Via the gateway");
    assert_eq!(listed["status"], "DELIVERED");
    let keys: Vec<&String> = listed["metadata"].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 2);
    assert!(
        matches!(status(f.smtp_addr(), &stored_id).await, StatusAnswer::Known { state, .. } if state == "DELIVERED")
    );

    // The first read: OPENED, and a notification for alice (example.test is local).
    let (code, read) = f
        .get(&format!("/messages/{stored_id}?reader=bob@example.test"))
        .await;
    assert_eq!(code, 200, "{read}");
    assert_eq!(read["status"], "OPENED");
    let text = String::from_utf8(unb64(&read["data"])).unwrap();
    assert!(
        text.contains("Hello over HTTP.\r\nSecond line.") && text.contains("notes.txt"),
        "{text}"
    );
    assert!(
        text.contains(&format!("Message-ID: <{id}@")),
        "the Message-ID carries the gateway id"
    );
    let notification = read["read_receipt"]["notification"]
        .as_str()
        .unwrap()
        .to_string();
    let answer = status(f.smtp_addr(), &stored_id).await;
    let StatusAnswer::Known { state, at, .. } = answer else {
        panic!("STATUS: {answer:?}")
    };
    assert_eq!((state.as_str(), at.is_some()), ("OPENED", true));

    let (_, note) = f.get(&format!("/messages/{notification}")).await;
    assert_eq!(note["from"], "", "null reverse-path");
    assert_eq!(note["to"], json!(["alice@example.test"]));
    assert_eq!(note["metadata"]["readack-for"], stored_id.as_str());
    assert_eq!(note["metadata"]["reader"], "bob@example.test");
    let note_text = note["text"].as_str().unwrap();
    assert!(
        note_text.contains(&stored_id) && note_text.contains("bob@example.test"),
        "{note_text}"
    );
    assert!(
        note_text.contains("report-type=disposition-notification"),
        "{note_text}"
    );

    // Once: a second read changes nothing.
    let (_, again) = f.get(&format!("/messages/{stored_id}")).await;
    assert!(again.get("read_receipt").is_none(), "{again}");
    let (_, list) = f.get("/messages?recipient=alice@example.test").await;
    assert_eq!(list["total"], 1, "exactly one notification: {list}");
    f.gateway.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(has_aiosmtpd),
    ignore = "aiosmtpd is not installed (bash harness/targets/aiosmtpd.sh install; then rebuild)"
)]
async fn fallback_to_aiosmtpd_then_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let aiosmtpd = Aiosmtpd::start(dir.path());
    let f = with_upstream(&format!("smtp://127.0.0.1:{}", aiosmtpd.port), |_| {}).await;
    let batch = json!({"messages": [
        message(&["bob@example.org", "carol@example.org"], "First"),
        {"sender": "alice@example.test", "recipients": ["dave@example.org"], "subject": "Second", "body": "plain"},
    ]});
    let (code, answer) = f.post("/batch", &batch).await;
    assert_eq!(code, 202, "{answer}");
    assert_eq!(answer["accepted"], 2);
    let ids: Vec<String> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_ne!(ids[0], ids[1], "unique ids");
    let first = f.settled(&ids[0]).await;
    assert_eq!(first["status"], "delivered", "{first}");
    assert_eq!(first["vmtp"], false, "{first}");
    let fallback = first["fallback"].to_string();
    assert!(
        fallback.contains("VMTP METADATA"),
        "the dropped metadata is reported: {fallback}"
    );
    assert_eq!(f.settled(&ids[1]).await["status"], "delivered");

    let mailbox = aiosmtpd.mailbox();
    assert_eq!(mailbox.len(), 2, "{mailbox:?}");
    for (id, subject) in ids.iter().zip(["First", "Second"]) {
        let found = mailbox.iter().find(|m| {
            let text = String::from_utf8(unb64(&m["data"])).unwrap();
            text.contains(&format!("<{id}@")) && text.contains(&format!("Subject: {subject}"))
        });
        let found = found.unwrap_or_else(|| panic!("message {id} in {mailbox:?}"));
        assert_eq!(found["from"], "alice@example.test");
    }
    let upstream_id = first["upstream_ids"][0].as_str().unwrap();
    assert!(
        mailbox.iter().any(|m| m["id"] == upstream_id),
        "aiosmtpd's id is reported"
    );
    f.gateway.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_4xx_and_nothing_is_delivered() {
    let f = with_reference().await;
    let cases: Vec<(&str, Vec<u8>, u16, Option<&str>)> = vec![
        ("/send", b"{\"sender\": ".to_vec(), 400, None),
        ("/send", b"[]".to_vec(), 400, None),
        (
            "/send",
            br#"{"sender":["a@example.test"],"recipients":["b@example.test"]}"#.to_vec(),
            400,
            Some("sender"),
        ),
        (
            "/send",
            br#"{"sender":"a@example.test","recipients":"b@example.test"}"#.to_vec(),
            400,
            Some("recipients"),
        ),
        (
            "/send",
            br#"{"sender":"a@example.test","recipients":["b@example.test",7]}"#.to_vec(),
            400,
            Some("recipients[1]"),
        ),
        (
            "/send",
            br#"{"sender":"a@example.test","recipients":["b@example.test"],"metadata":{"k":{}}}"#
                .to_vec(),
            400,
            Some("metadata.k"),
        ),
        (
            "/batch",
            br#"{"messages":{}}"#.to_vec(),
            400,
            Some("messages"),
        ),
        (
            "/batch",
            br#"{"messages":[{"sender":"a@example.test"}]}"#.to_vec(),
            400,
            None,
        ),
    ];
    for (path, body, code, field) in cases {
        let (got, answer) = f.post_raw(path, "application/json", body.clone()).await;
        let shown = String::from_utf8_lossy(&body);
        assert_eq!(got, code, "{shown}: {answer}");
        assert!(
            answer["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{answer}"
        );
        if let Some(field) = field {
            assert_eq!(answer["field"], field, "{shown}: {answer}");
        }
    }
    let (code, answer) = f.post_raw("/send", "text/plain", b"{}".to_vec()).await;
    assert_eq!(code, 415, "{answer}");

    let many: Vec<String> = (0..10_000)
        .map(|i| format!("user{i}@example.test"))
        .collect();
    let (code, answer) = f
        .post(
            "/send",
            &json!({"sender": "a@example.test", "recipients": many}),
        )
        .await;
    assert_eq!(
        (code, answer["field"].as_str()),
        (400, Some("recipients")),
        "{answer}"
    );

    let huge = json!({"sender": "a@example.test", "recipients": ["b@example.test"], "body": "x".repeat(50 * 1024 * 1024)});
    let (code, answer) = f.post("/send", &huge).await;
    assert_eq!(code, 413, "{answer}");
    let big_attachment = json!({"sender": "a@example.test", "recipients": ["b@example.test"],
        "attachments": [{"filename": "big.bin", "content": b64(&vec![0u8; 12 * 1024 * 1024])}]});
    let (code, answer) = f.post("/send", &big_attachment).await;
    assert_eq!(code, 413, "over the message size limit: {answer}");

    // A batch answers per message: the good one is accepted, the bad one named.
    let mixed = json!({"messages": [
        {"sender": "a@example.test", "recipients": ["good@example.test"], "subject": "kept"},
        {"sender": "a@example.test", "recipients": ["b@example.test", "not an address"]},
    ]});
    let (code, answer) = f.post("/batch", &mixed).await;
    assert_eq!(code, 207, "{answer}");
    assert_eq!(answer["results"][0]["status"], 202);
    assert_eq!(answer["results"][1]["status"], 400);
    assert_eq!(answer["results"][1]["field"], "messages[1].recipients[1]");
    let kept = answer["results"][0]["id"].as_str().unwrap();
    assert_eq!(f.settled(kept).await["status"], "delivered");

    let (_, deliveries) = f.get("/deliveries").await;
    assert_eq!(
        deliveries["total"], 1,
        "only the good message was accepted: {deliveries}"
    );
    let stored = f.server.as_ref().unwrap().store().list();
    assert_eq!(stored.len(), 1, "nothing else reached the server");
    assert_eq!(stored[0].message.recipients, ["good@example.test"]);
    f.gateway.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_through_an_outage_and_resumes_from_the_spool() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let upstream = format!("smtp://127.0.0.1:{port}");
    let f = with_upstream(&upstream, |_| {}).await;
    let (code, answer) = f
        .post("/send", &message(&["bob@example.test"], "Patience"))
        .await;
    assert_eq!(code, 202, "{answer}");
    let id = answer["id"].as_str().unwrap().to_string();
    let mut deferred = Value::Null;
    for _ in 0..100 {
        deferred = f.get(&format!("/deliveries/{id}")).await.1;
        if deferred["status"] == "deferred" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(deferred["status"], "deferred", "{deferred}");
    assert!(
        deferred["error"].as_str().unwrap().contains("connect"),
        "{deferred}"
    );

    // Restart the gateway while the upstream is still down: the spool keeps the message.
    let support::Fixture { dir, gateway, .. } = f;
    gateway.shutdown().await;
    let mut options = mtp_server::server::ServerOptions::new(dir.path().join("upstream"));
    options.smtp = Some(([127, 0, 0, 1], port).into());
    let server = mtp_server::server::RunningServer::start(options)
        .await
        .unwrap();
    let store =
        mtp_server::store::Store::open(&dir.path().join("store2"), Default::default()).unwrap();
    let gateway = support::gateway(&upstream, store, Some(dir.path().join("spool")), |_| {}).await;
    let f = support::Fixture {
        base: format!("http://{}", gateway.addr()),
        dir,
        server: Some(server),
        gateway,
        http: support::http_client(),
    };
    let delivery = f.settled(&id).await;
    assert_eq!(delivery["status"], "delivered", "{delivery}");
    let stored = f.server.as_ref().unwrap().store().list();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].message.protocol, "VMTP");
    f.gateway.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_refusals_are_final_and_reported_per_recipient() {
    let f = with_reference().await;
    let (code, answer) = f
        .post("/send", &json!({"sender": "a@example.test", "recipients": ["bob@example.test", "eve@elsewhere.example"], "body": "hi"}))
        .await;
    assert_eq!(code, 202, "{answer}");
    let delivery = f.settled(answer["id"].as_str().unwrap()).await;
    assert_eq!(delivery["status"], "partial", "{delivery}");
    let recipients = delivery["recipients"].as_array().unwrap();
    assert_eq!(recipients[0]["status"], "delivered");
    assert_eq!(recipients[1]["status"], "refused");
    assert!(
        recipients[1]["reply"].as_str().unwrap().starts_with('5'),
        "{delivery}"
    );
    f.gateway.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_recipient_lists_go_out_in_several_transactions() {
    let f = with_reference().await;
    let to: Vec<String> = (0..250).map(|i| format!("user{i}@example.test")).collect();
    let (code, answer) = f
        .post(
            "/send",
            &json!({"sender": "a@example.test", "recipients": to, "body": "hi"}),
        )
        .await;
    assert_eq!(code, 202, "{answer}");
    let delivery = f.settled(answer["id"].as_str().unwrap()).await;
    assert_eq!(delivery["status"], "delivered", "{delivery}");
    assert_eq!(
        delivery["upstream_ids"].as_array().unwrap().len(),
        3,
        "100 + 100 + 50"
    );
    let stored = f.server.as_ref().unwrap().store().list();
    let total: usize = stored.iter().map(|m| m.message.recipients.len()).sum();
    assert_eq!((stored.len(), total), (3, 250));
    f.gateway.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_page_and_check_their_parameters() {
    let f = with_reference().await;
    let batch: Vec<Value> = (0..5)
        .map(|i| message(&["bob@example.test"], &format!("n{i}")))
        .collect();
    let (code, answer) = f.post("/batch", &json!({"messages": batch})).await;
    assert_eq!(code, 202, "{answer}");
    for r in answer["results"].as_array().unwrap() {
        f.settled(r["id"].as_str().unwrap()).await;
    }
    let (_, page) = f.get("/messages?offset=1&limit=2").await;
    assert_eq!(
        (
            page["total"].as_u64(),
            page["messages"].as_array().unwrap().len()
        ),
        (Some(5), 2)
    );
    let (_, newest) = f.get("/messages?limit=1&order=desc").await;
    let (_, all) = f.get("/messages").await;
    assert_eq!(newest["messages"][0]["id"], all["messages"][4]["id"]);
    for (query, field) in [
        ("limit=0", "limit"),
        ("offset=-1", "offset"),
        ("order=up", "order"),
        ("page=2", "page"),
        ("limit=1&limit=2", "limit"),
    ] {
        let (code, answer) = f.get(&format!("/messages?{query}")).await;
        assert_eq!(
            (code, answer["field"].as_str()),
            (400, Some(field)),
            "{query}: {answer}"
        );
    }
    let (code, answer) = f.get("/messages/FFFFFFFFFFFF").await;
    assert_eq!(code, 404, "{answer}");
    let (code, _) = f.get("/deliveries/nope").await;
    assert_eq!(code, 404);
    let (code, answer) = f.get("/nowhere").await;
    assert_eq!(code, 404, "{answer}");
    let (code, answer) = f.get("/send").await;
    assert_eq!(code, 405, "{answer}");
    let first = all["messages"][0]["id"].as_str().unwrap();
    let (code, answer) = f
        .get(&format!("/messages/{first}?reader=mallory@example.test"))
        .await;
    assert_eq!(
        (code, answer["field"].as_str()),
        (400, Some("reader")),
        "{answer}"
    );
    f.gateway.shutdown().await;
}

/// The seed Worker answers `{"status":"accepted","id":..}` to a send and
/// `{"status":"accepted","ids":[..]}` to a batch; a client written for it reads those fields,
/// so the gateway answers them too, beside its per-message results.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_clients_get_the_worker_reply_fields() {
    let f = with_reference().await;
    let (code, single) = f.post("/", &message(&["bob@example.test"], "Bare")).await;
    assert_eq!(code, 202, "{single}");
    assert_eq!(single["status"], "accepted", "{single}");
    let id = single["id"].as_str().unwrap();
    assert_eq!(single["delivery"], format!("/deliveries/{id}"));

    let two = json!({"messages": [
        message(&["bob@example.test"], "One"),
        message(&["bob@example.test"], "Two"),
    ]});
    let (code, batch) = f.post("/batch", &two).await;
    assert_eq!(code, 202, "{batch}");
    assert_eq!(batch["status"], "accepted", "{batch}");
    let ids = batch["ids"].as_array().unwrap();
    assert_eq!(ids.len(), 2, "{batch}");
    assert_ne!(ids[0], ids[1], "distinct ids, unlike the Worker's");
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(&batch["results"][i]["id"], id, "{batch}");
    }

    let mixed = json!({"messages": [message(&["bob@example.test"], "Good"), {"sender": 1}]});
    let (code, batch) = f.post("/batch", &mixed).await;
    assert_eq!(code, 207, "{batch}");
    assert_eq!(batch["status"], "accepted", "{batch}");
    assert_eq!(batch["ids"], json!([batch["results"][0]["id"]]), "{batch}");

    let (code, batch) = f
        .post("/batch", &json!({"messages": [{"sender": 1}]}))
        .await;
    assert_eq!(code, 400, "{batch}");
    assert_eq!(
        (&batch["status"], &batch["ids"]),
        (&json!("rejected"), &json!([]))
    );
    f.gateway.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_openapi_document_is_the_file_and_covers_every_route() {
    let f = with_reference().await;
    let served = f
        .http
        .get(format!("{}/openapi.json", f.base))
        .send()
        .await
        .unwrap();
    assert_eq!(served.headers()["content-type"], "application/json");
    let served = served.text().await.unwrap();
    let file =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json")).unwrap();
    assert_eq!(served, file);
    let doc: Value = serde_json::from_str(&file).unwrap();
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    let routes = [
        "/send",
        "/",
        "/batch",
        "/deliveries",
        "/deliveries/{id}",
        "/messages",
        "/messages/{id}",
        "/openapi.json",
    ];
    assert_eq!(paths.len(), routes.len(), "{paths:?}");
    for route in routes {
        assert!(doc["paths"].get(route).is_some(), "{route} documented");
        let probe = route.replace("{id}", "X");
        let (code, answer) = if doc["paths"][route].get("post").is_some() {
            f.post(&probe, &json!({})).await
        } else {
            f.get(&probe).await
        };
        assert_ne!(
            answer["error"], "no such route; see /openapi.json",
            "{route} is served ({code})"
        );
    }
    f.gateway.shutdown().await;
}
