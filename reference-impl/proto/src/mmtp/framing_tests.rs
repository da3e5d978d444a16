use proptest::prelude::*;

use super::*;

type Event = Result<String, FrameError>;

fn decode_chunks(chunks: &[&[u8]], limits: FrameLimits) -> Vec<Event> {
    let mut decoder = JsonDecoder::new(limits);
    let mut events = Vec::new();
    for chunk in chunks {
        decoder.push(chunk);
        while let Some(event) = decoder.next_value() {
            events.push(event.map(|v| String::from_utf8_lossy(&v).into_owned()));
        }
    }
    events
}

fn decode(input: &[u8]) -> Vec<Event> {
    decode_chunks(&[input], FrameLimits::default())
}

fn ok(s: &str) -> Event {
    Ok(s.to_owned())
}

#[test]
fn values_with_and_without_newlines() {
    assert_eq!(
        decode(b"{\"a\":1}\n{\"b\":2}{\"c\":[3]}\r\n  [4]\n"),
        vec![
            ok("{\"a\":1}"),
            ok("{\"b\":2}"),
            ok("{\"c\":[3]}"),
            ok("[4]")
        ]
    );
}

#[test]
fn a_value_split_across_reads() {
    let events = decode_chunks(
        &[b"{\"a\":\"x", b"}\\\"{", b"\"}", b"\n"],
        FrameLimits::default(),
    );
    assert_eq!(events, vec![ok("{\"a\":\"x}\\\"{\"}")]);
}

#[test]
fn brackets_in_strings_and_escapes_do_not_count() {
    assert_eq!(
        decode(br#"{"a":"}]\\","b":"\"{"} {"c":1}"#),
        vec![ok(r#"{"a":"}]\\","b":"\"{"}"#), ok(r#"{"c":1}"#)]
    );
}

#[test]
fn need_more_bytes_is_none() {
    let mut decoder = JsonDecoder::new(FrameLimits::default());
    decoder.push(b"{\"action\":");
    assert_eq!(decoder.next_value(), None);
    assert!(!decoder.is_idle());
    decoder.push(b"\"CHECK\"}");
    assert!(matches!(decoder.next_value(), Some(Ok(_))));
    assert!(decoder.is_idle());
}

#[test]
fn garbage_is_reported_once_and_skipped_through_the_newline() {
    assert_eq!(
        decode(b"hello {\"x\":1}\n{\"y\":2}\n42\n\"s\"\n{}"),
        vec![
            Err(FrameError::NotJson),
            ok("{\"y\":2}"),
            Err(FrameError::NotJson),
            Err(FrameError::NotJson),
            ok("{}"),
        ]
    );
}

#[test]
fn a_value_over_the_limit_is_fatal() {
    let limits = FrameLimits {
        max_value: 16,
        max_depth: 8,
    };
    let events = decode_chunks(&[b"{\"a\":\"0123456789\"}", b"{}"], limits);
    assert_eq!(events, vec![Err(FrameError::TooLarge { limit: 16 })]);
    // Exactly at the limit is fine.
    let events = decode_chunks(&[b"{\"a\":\"01234567\"}{}"], limits);
    assert_eq!(events, vec![ok("{\"a\":\"01234567\"}"), ok("{}")]);
}

#[test]
fn the_limit_holds_before_the_value_ends() {
    let limits = FrameLimits {
        max_value: 1024,
        max_depth: 8,
    };
    let mut decoder = JsonDecoder::new(limits);
    decoder.push(b"{\"a\":\"");
    assert_eq!(decoder.next_value(), None);
    decoder.push(&[b'x'; 2000]);
    assert_eq!(
        decoder.next_value(),
        Some(Err(FrameError::TooLarge { limit: 1024 }))
    );
    decoder.push(b"\"}{}");
    assert_eq!(decoder.next_value(), None);
    assert!(decoder.is_idle());
}

#[test]
fn deep_nesting_is_fatal() {
    let limits = FrameLimits {
        max_value: 1 << 20,
        max_depth: 8,
    };
    let mut deep = "[".repeat(9).into_bytes();
    deep.extend_from_slice(b"]]]]]]]]]");
    assert_eq!(
        decode_chunks(&[&deep], limits),
        vec![Err(FrameError::TooDeep { limit: 8 })]
    );
    let ok8 = format!("{}{}", "[".repeat(8), "]".repeat(8));
    assert_eq!(decode_chunks(&[ok8.as_bytes()], limits), vec![ok(&ok8)]);
}

#[test]
fn invalid_utf8_is_framed_and_left_to_the_parser() {
    assert_eq!(decode(b"{\"a\":\"\xff\"}").len(), 1);
}

fn stream() -> impl Strategy<Value = Vec<u8>> {
    let value = prop_oneof![
        Just(&b"{\"a\":1}"[..]),
        Just(&b"{\"s\":\"}{\\\"]\"}"[..]),
        Just(&b"[[],[{}]]"[..]),
        Just(&b"{\"deep\":[[[[[[[[[[1]]]]]]]]]]}"[..]),
        Just(&b"{\"big\":\"0123456789012345678901234567890123456789\"}"[..]),
        Just(&b"garbage"[..]),
        Just(&b"\n"[..]),
        Just(&b" "[..]),
        Just(&b"{\"u\":\"\xe2\x82\xac\"}"[..]),
    ];
    prop::collection::vec(value, 0..12).prop_map(|parts| parts.concat())
}

proptest! {
    /// Any chunking of any stream gives the same values and errors in the same order.
    #[test]
    fn chunking_does_not_matter(input in stream(), cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8), depth in 4usize..16, size in 16usize..64) {
        let limits = FrameLimits { max_value: size, max_depth: depth };
        let whole = decode_chunks(&[&input], limits);
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut at = 0;
        for p in points {
            chunks.push(&input[at..p]);
            at = p;
        }
        chunks.push(&input[at..]);
        prop_assert_eq!(decode_chunks(&chunks, limits), whole.clone());
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        prop_assert_eq!(decode_chunks(&bytes, limits), whole);
    }

    /// Values written back to back, with or without newlines, come out unchanged.
    #[test]
    fn encoded_values_round_trip(texts in prop::collection::vec("[a-z{}\\[\\]\"\\\\ ]{0,20}", 0..6), newline in any::<bool>()) {
        let values: Vec<String> = texts
            .iter()
            .map(|t| serde_json::to_string(&serde_json::json!({ "t": t, "n": [t] })).unwrap())
            .collect();
        let sep = if newline { "\n" } else { "" };
        let input: String = values.iter().map(|v| format!("{v}{sep}")).collect();
        let events = decode(input.as_bytes());
        prop_assert_eq!(events, values.into_iter().map(Ok).collect::<Vec<_>>());
    }
}
