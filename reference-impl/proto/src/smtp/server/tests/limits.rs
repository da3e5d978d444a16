//! Limits and refusals: line and path lengths, recipients, errors, timeouts, the 554 greeting.

use super::*;

#[test]
fn too_many_recipients_gets_452_after_the_limit() {
    let mut input = b"EHLO c\r\nMAIL FROM:<a@x.example>\r\n".to_vec();
    for i in 0..101 {
        input.extend(format!("RCPT TO:<u{i}@example.test>\r\n").as_bytes());
    }
    input.extend(b"DATA\r\nx\r\n.\r\n");
    let d = session(&input);
    let codes = d.codes();
    assert_eq!(codes.iter().filter(|&&c| c == 250).count(), 103);
    assert_eq!(d.replies()[103], "452 4.5.3 Too many recipients");
    assert_eq!(d.stored[0].recipients.len(), 100);
}

#[test]
fn long_command_line_then_session_goes_on() {
    let mut input = b"EHLO c\r\n".to_vec();
    input.extend(vec![b'A'; 10_000]);
    input.extend(b"\r\nNOOP\r\n");
    let d = session(&input);
    assert_eq!(d.codes(), [220, 250, 500, 250]);
    assert_eq!(d.replies()[2], "500 5.5.2 Line too long");
}

/// One limit for every command: 4096 octets with CRLF by default.
#[test]
fn command_lines_of_4096_octets_are_accepted() {
    let line = |len: usize| {
        let mut l = b"NOOP ".to_vec();
        l.resize(len - 2, b'x');
        l.extend(b"\r\n");
        l
    };
    let d = session(&[line(4096), line(4097), b"NOOP\r\n".to_vec()].concat());
    assert_eq!(d.codes(), [220, 250, 500, 250]);
}

/// RFC 5321 §4.5.3.1.1 to §4.5.3.1.3 and §4.5.3.1.9 ("501 Path too long").
#[test]
fn paths_over_the_rfc_limits_get_501_path_too_long() {
    let local64 = "l".repeat(64);
    let local65 = "l".repeat(65);
    let input = format!(
        "EHLO c\r\nMAIL FROM:<{local65}@x.example>\r\nMAIL FROM:<{local64}@x.example>\r\nRCPT TO:<{local65}@example.test>\r\nRCPT TO:<{local64}@example.test>\r\n"
    );
    let d = session(input.as_bytes());
    assert_eq!(d.codes(), [220, 250, 501, 250, 501, 250]);
    assert_eq!(d.replies()[2], "501 5.5.4 Path too long");
    assert_eq!(d.replies()[4], "501 5.5.4 Path too long");
}

/// RFC 5321 §4.5.3.1.5: no reply line over 512 octets, whatever the client sent.
#[test]
fn reply_lines_stay_within_512_octets() {
    let long = "a".repeat(3000);
    let input = format!(
        "EHLO [x:{long}]\r\nEHLO {long}\r\nEHLO c\r\nMAIL FROM:<a@x.example> X{long}=1\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.test> X{long}\r\nSTATUS {long}\r\nVRFY {long}\r\n"
    );
    let d = session(input.as_bytes());
    assert_eq!(d.codes(), [220, 501, 501, 250, 555, 250, 555, 501, 252]);
    for line in d.text().split("\r\n") {
        assert!(line.len() + 2 <= 512, "{} octets: {line:.60}", line.len());
    }
}

#[test]
fn too_many_errors_close_the_session() {
    let d = session(&b"bogus\r\n".repeat(1000));
    assert!(d.closed);
    assert_eq!(d.codes().last(), Some(&421));
    assert_eq!(d.codes().len(), 1 + 100 + 1);
    assert_eq!(
        d.last(),
        "421 4.7.0 mx.example.test Too many errors, closing connection"
    );
}

#[test]
fn idle_timeout_and_shutdown_send_421() {
    let mut d =
        session(b"EHLO c\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.test>\r\nDATA\r\nhalf");
    d.session.idle_timeout();
    d.pump();
    assert_eq!(
        d.last(),
        "421 4.4.2 mx.example.test Idle timeout, closing connection"
    );
    assert!(d.closed && d.stored.is_empty());
    let mut d = session(b"EHLO c\r\n");
    d.session.shutdown();
    d.pump();
    assert_eq!(d.last(), "421 4.3.2 mx.example.test Service shutting down");
    assert!(d.closed);
}

/// RFC 5321 §3.1: a 554 greeting, 503 to everything, and the connection stays open for QUIT.
#[test]
fn denied_client_gets_554_then_503_until_quit() {
    let conn = ConnectionInfo {
        denied: true,
        ..Default::default()
    };
    let mut d = Driver::with(config(), conn);
    d.feed(b"EHLO c\r\nMAIL FROM:<a@x.example>\r\nNOOP\r\nbogus\r\n");
    assert_eq!(d.codes(), [554, 503, 503, 503, 503]);
    assert_eq!(
        d.replies()[0],
        "554 5.7.1 mx.example.test No SMTP service here"
    );
    assert_eq!(d.last(), "503 5.7.1 No SMTP service here");
    assert!(!d.closed);
    d.feed(b"QUIT\r\n");
    assert_eq!(d.last(), "221 2.0.0 mx.example.test Bye");
    assert!(d.closed);
}
