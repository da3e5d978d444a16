use super::*;
use proptest::prelude::*;
use rstest::rstest;

fn parse(line: &str) -> Result<Command, CommandError> {
    Command::parse(line.as_bytes())
}

#[rstest]
#[case("ehlo client.example", Command::Ehlo("client.example".into()))]
#[case("EHLO [192.0.2.1]", Command::Ehlo("[192.0.2.1]".into()))]
#[case("mail from:<>", Command::Mail { from: Path::Null, params: Params::default() })]
#[case("RCPT TO:<postmaster>", Command::Rcpt { to: Path::Postmaster, params: Params::default() })]
#[case("BDAT 0 last", Command::Bdat { size: 0, last: true })]
#[case("ENCRYPT start", Command::EncryptStart)]
#[case("BATCH 3", Command::Batch(3))]
#[case("STATUS 00000000002A", Command::Status("00000000002A".into()))]
#[case("METADATA client-id 12345 and more", Command::Metadata { key: "client-id".into(), value: "12345 and more".into() })]
#[case("METADATA key", Command::Metadata { key: "key".into(), value: "".into() })]
#[case("METADATA key  two  spaces ", Command::Metadata { key: "key".into(), value: " two  spaces ".into() })]
#[case("MAIL FROM: <a@b.example>", Command::Mail { from: Path::Mailbox(Mailbox::parse("a@b.example").unwrap()), params: Params::default() })]
#[case("NOOP", Command::Noop(None))]
fn parses(#[case] line: &str, #[case] expected: Command) {
    assert_eq!(parse(line).unwrap(), expected);
}

#[test]
fn mail_with_params_and_space_after_colon() {
    let Command::Mail { from, params } =
        parse("MAIL FROM: <a@b.example> SIZE=100 BODY=8BITMIME").unwrap()
    else {
        panic!("not MAIL")
    };
    assert_eq!(from.to_string(), "<a@b.example>");
    assert_eq!(params.get("size"), Some(Some("100")));
    assert_eq!(params.get("BODY"), Some(Some("8BITMIME")));
}

#[test]
fn vecmail_reads_the_recipient_list() {
    let line =
        "VECMAIL FROM:<alice@example.com> TO:<bob@example.com,charlie@example.com> SIZE=1024";
    let Command::VecMail { from, to, params } = parse(line).unwrap() else {
        panic!("not VECMAIL")
    };
    assert_eq!(from.to_string(), "<alice@example.com>");
    assert_eq!(
        to.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
        ["bob@example.com", "charlie@example.com"]
    );
    assert_eq!(params.get("SIZE"), Some(Some("1024")));
}

#[rstest]
#[case("FOO bar", CommandError::Unrecognized)]
#[case("", CommandError::Unrecognized)]
#[case("NOOP a\0b", CommandError::Nul)]
#[case("NOOP a\nb", CommandError::BareLineBreak)]
fn refuses(#[case] line: &str, #[case] error: CommandError) {
    assert_eq!(parse(line).unwrap_err(), error);
}

#[rstest]
#[case("MAIL FROM:a@b.example")]
#[case("MAIL TO:<a@b.example>")]
#[case("RCPT TO:<>")]
#[case("DATA now")]
#[case("EHLO")]
#[case("EHLO bad_domain!")]
#[case("BDAT x")]
#[case("BATCH -1")]
#[case("METADATA .bad value")]
#[case("METADATA")]
#[case("METADATA  key value")]
#[case("STATUS")]
#[case("STATUS <00000000002A>")]
#[case("STATUS 0000-0000")]
#[case("STATUS one two")]
#[case("VRFY")]
#[case("VECMAIL FROM:<a@b.example> TO:<>")]
#[case("VECMAIL FROM:<a@b.example>")]
#[case("ENCRYPT NOW")]
#[case("MAIL FROM:<a@b.example> SIZE==1")]
fn syntax_errors(#[case] line: &str) {
    assert!(
        matches!(parse(line), Err(CommandError::Syntax { .. })),
        "{line}"
    );
}

#[test]
fn invalid_utf8_is_refused() {
    assert_eq!(Command::parse(b"\xff\xfe"), Err(CommandError::InvalidUtf8));
    assert_eq!(
        Command::parse(b"MAIL FROM:<\xff@b.example>"),
        Err(CommandError::Syntax {
            verb: Verb::Mail,
            error: ArgError::InvalidUtf8
        })
    );
}

#[test]
fn status_ids_are_1_to_64_letters_and_digits() {
    assert_eq!(
        parse(&format!("STATUS {}", "a".repeat(64))).unwrap(),
        Command::Status("a".repeat(64))
    );
    assert!(parse(&format!("STATUS {}", "a".repeat(65))).is_err());
}

#[rstest]
#[case(format!("MAIL FROM:<{}@b.example>", "l".repeat(65)))]
#[case(format!("RCPT TO:<a@{}.example>", "d.".repeat(126)))]
#[case(format!("VECMAIL FROM:<a@b.example> TO:<c@d.example,{}@b.example>", "l".repeat(65)))]
fn paths_over_the_rfc_limits(#[case] line: String) {
    assert!(
        matches!(
            parse(&line),
            Err(CommandError::Syntax {
                error: ArgError::PathTooLong,
                ..
            })
        ),
        "{line}"
    );
}

#[test]
fn ehlo_argument_is_at_most_255_octets() {
    assert!(parse(&format!("EHLO [x:{}]", "a".repeat(300))).is_err());
    assert!(parse(&format!("EHLO {}.example", "a".repeat(63))).is_ok());
}

fn arb_mailbox() -> impl Strategy<Value = Mailbox> {
    (
        "[a-z0-9][a-z0-9.+_-]{0,10}[a-z0-9]",
        "[a-z0-9]{1,8}(\\.[a-z]{2,5}){1,2}",
    )
        .prop_filter("no empty atoms", |(l, _)| !l.contains(".."))
        .prop_map(|(local_part, domain)| Mailbox { local_part, domain })
}

fn arb_params() -> impl Strategy<Value = Params> {
    proptest::collection::vec(
        ("[A-Z][A-Z0-9-]{0,8}", proptest::option::of("[!-<>-~]{1,8}")),
        0..3,
    )
    .prop_map(Params)
}

fn arb_command() -> impl Strategy<Value = Command> {
    let text = "[!-~]([ -~]{0,20}[!-~])?";
    prop_oneof![
        "[a-z]{1,10}\\.example".prop_map(Command::Ehlo),
        "[a-z]{1,10}\\.example".prop_map(Command::Helo),
        (proptest::option::of(arb_mailbox()), arb_params()).prop_map(|(m, params)| Command::Mail {
            from: m.map_or(Path::Null, Path::Mailbox),
            params
        }),
        (arb_mailbox(), arb_params()).prop_map(|(m, params)| Command::Rcpt {
            to: Path::Mailbox(m),
            params
        }),
        Just(Command::Data),
        (any::<u32>(), any::<bool>()).prop_map(|(size, last)| Command::Bdat {
            size: size.into(),
            last
        }),
        Just(Command::Rset),
        proptest::option::of(text).prop_map(Command::Noop),
        Just(Command::Quit),
        text.prop_map(Command::Vrfy),
        proptest::option::of(text).prop_map(Command::Help),
        Just(Command::StartTls),
        ("[A-Z]{4,8}", proptest::option::of("[A-Za-z0-9+/=]{1,20}"))
            .prop_map(|(mechanism, initial)| Command::Auth { mechanism, initial }),
        (
            arb_mailbox(),
            proptest::collection::vec(arb_mailbox(), 1..5),
            arb_params()
        )
            .prop_map(|(f, to, params)| Command::VecMail {
                from: Path::Mailbox(f),
                to,
                params
            }),
        (
            "[A-Za-z0-9][A-Za-z0-9._-]{0,20}",
            proptest::option::of(text)
        )
            .prop_map(|(key, value)| Command::Metadata {
                key,
                value: value.unwrap_or_default()
            }),
        Just(Command::EncryptStart),
        (0u32..1_000_000).prop_map(Command::Batch),
        Just(Command::ReadAck),
        "[A-F0-9]{12}".prop_map(Command::Status),
    ]
}

proptest! {
    #[test]
    fn decode_encode_round_trip(command in arb_command()) {
        let line = command.to_line();
        let parsed = Command::parse(line.strip_suffix("\r\n").unwrap().as_bytes()).unwrap();
        prop_assert_eq!(parsed, command);
    }

    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        let _ = Command::parse(&bytes);
    }
}
