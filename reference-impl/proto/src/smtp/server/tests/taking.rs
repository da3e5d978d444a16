//! A driver that takes message octets as they arrive (to keep large messages out of memory)
//! gets the same message, split into what it took and the rest; and it can tell when the
//! message it took from is over without a delivery.

use super::*;

const ENVELOPE: &[u8] = b"EHLO c\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.test>\r\n";

/// Feeds `input` in pieces of `piece` octets, taking the held octets after each.
fn feed_taking(d: &mut Driver, input: &[u8], piece: usize) -> Vec<u8> {
    let mut taken = Vec::new();
    for part in input.chunks(piece) {
        d.feed(part);
        taken.extend(d.session.take_message_data());
        if let Some((_, held)) = d.session.message_in_progress() {
            assert_eq!(held, 0, "everything held was taken");
        }
    }
    taken
}

#[test]
fn taken_octets_and_the_delivered_rest_make_the_message() {
    let mut d = Driver::new(config());
    d.feed(ENVELOPE);
    let body = b"Subject: x\r\n\r\n..dotted\r\nline two\r\n".repeat(50);
    let mut wire = b"DATA\r\n".to_vec();
    wire.extend(&body);
    wire.extend(b".\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.test>\r\nBDAT 600\r\n");
    wire.extend(&body[..600]);
    wire.extend(b"BDAT 5 LAST\r\nabcdeQUIT\r\n");
    let taken = feed_taking(&mut d, &wire, 97);
    assert_eq!(
        d.codes(),
        [220, 250, 250, 250, 354, 250, 250, 250, 250, 250, 221]
    );
    let [first, second] = &d.stored[..] else {
        panic!("two messages stored");
    };
    let unstuffed = String::from_utf8(body.clone())
        .unwrap()
        .replace("\r\n..", "\r\n.");
    let first_len = usize::try_from(first.taken).unwrap();
    assert_eq!(
        [&taken[..first_len], &first.data[..]].concat(),
        unstuffed.as_bytes()
    );
    let second_taken = &taken[first_len..];
    assert_eq!(second_taken.len() as u64, second.taken);
    assert_eq!(
        [second_taken, &second.data[..]].concat(),
        [&body[..600], b"abcde"].concat()
    );
}

#[test]
fn a_message_refused_or_reset_is_no_longer_in_progress() {
    let mut d = Driver::new(config());
    d.feed(ENVELOPE);
    d.feed(b"DATA\r\nabc");
    let (first, held) = d.session.message_in_progress().unwrap();
    assert_eq!(held, 3);
    assert_eq!(d.session.take_message_data(), b"abc");
    d.feed(b"\r\n.\r\n");
    assert_eq!(d.stored[0].taken, 3);
    assert_eq!(d.session.message_in_progress(), None);
    d.feed(b"MAIL FROM:<a@x.example>\r\nRCPT TO:<b@example.test>\r\nBDAT 4\r\nwxyz");
    let (second, held) = d.session.message_in_progress().unwrap();
    assert!(second > first && held == 4);
    d.feed(b"RSET\r\n");
    assert_eq!(d.session.message_in_progress(), None);
    assert!(d.session.take_message_data().is_empty());
}

#[test]
fn a_message_over_the_size_limit_holds_nothing_and_is_refused() {
    let mut c = config();
    c.limits.max_message_size = 100;
    let mut d = Driver::new(c);
    d.feed(ENVELOPE);
    let mut wire = b"DATA\r\n".to_vec();
    wire.extend(b"0123456789\r\n".repeat(20));
    let taken = feed_taking(&mut d, &wire, 50);
    assert!(taken.len() <= 100);
    assert_eq!(
        d.session.message_in_progress().map(|(_, held)| held),
        Some(0)
    );
    d.feed(b".\r\n");
    assert_eq!(
        d.last(),
        "552 5.3.4 Message size exceeds fixed maximum message size"
    );
    assert!(d.stored.is_empty() && d.session.message_in_progress().is_none());
}
