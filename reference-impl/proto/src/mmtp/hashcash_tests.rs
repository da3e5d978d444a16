use proptest::prelude::*;

use super::*;

const NOW: u64 = 1_625_849_600_000;

fn alice_to_bob(difficulty: u32) -> Stamp {
    Stamp {
        difficulty,
        timestamp_ms: NOW,
        sender: "(alice)%(example.com)".into(),
        recipient: "(bob)%(example.com)".into(),
    }
}

fn policy(difficulty: u32) -> Policy {
    Policy {
        difficulty,
        freshness: Freshness::default(),
    }
}

fn check(token: &HashcashToken, difficulty: u32, now: u64) -> Result<TokenKey, HashcashError> {
    verify(
        token,
        "(alice)%(example.com)",
        "(bob)%(example.com)",
        NOW,
        &policy(difficulty),
        now,
    )
}

#[test]
fn design_vector() {
    let stamp = alice_to_bob(4);
    assert_eq!(mint(&stamp, 0..1_000_000), Some(28383));
    let token = stamp.hashcash_token(28383);
    assert_eq!(
        token.token,
        "1:4:1625849600000:(alice)%(example.com):(bob)%(example.com):1625849600000::28383:"
    );
    let key = check(&token, 4, NOW).unwrap();
    assert!(key.to_string().starts_with("0000"));
}

#[test]
fn mint_splits_over_ranges() {
    let stamp = alice_to_bob(4);
    assert_eq!(mint(&stamp, 0..28383), None);
    assert_eq!(mint(&stamp, 20000..30000), Some(28383));
    assert_eq!(mint(&stamp, 28383..28384), Some(28383));
}

#[test]
fn leading_zeros_count_hex_digits() {
    assert_eq!(leading_zero_hex_digits(&[0x00, 0x0f, 0xff]), 3);
    assert_eq!(leading_zero_hex_digits(&[0x10]), 0);
    assert_eq!(leading_zero_hex_digits(&[0x01]), 1);
    assert_eq!(leading_zero_hex_digits(&[0; 32]), 64);
}

#[test]
fn difficulty_below_the_server_is_refused() {
    let stamp = alice_to_bob(2);
    let counter = mint(&stamp, 0..1_000_000).unwrap();
    let token = stamp.hashcash_token(counter);
    assert!(check(&token, 2, NOW).is_ok());
    assert_eq!(
        check(&token, 3, NOW),
        Err(HashcashError::Insufficient {
            claimed: 2,
            required: 3
        })
    );
}

#[test]
fn claimed_work_must_be_done() {
    // Counter 0 of this stamp does not meet difficulty 4.
    let token = alice_to_bob(4).hashcash_token(0);
    assert!(matches!(
        check(&token, 1, NOW),
        Err(HashcashError::NotEnoughWork { claimed: 4, .. })
    ));
}

#[test]
fn the_resource_is_bound_to_the_packet() {
    let token = alice_to_bob(4).hashcash_token(28383);
    let p = policy(4);
    let other = "(mallory)%(example.com)";
    assert_eq!(
        verify(&token, other, "(bob)%(example.com)", NOW, &p, NOW),
        Err(HashcashError::ResourceMismatch("sender"))
    );
    assert_eq!(
        verify(&token, "(alice)%(example.com)", other, NOW, &p, NOW),
        Err(HashcashError::ResourceMismatch("recipient"))
    );
    assert_eq!(
        verify(
            &token,
            "(alice)%(example.com)",
            "(bob)%(example.com)",
            NOW + 1,
            &p,
            NOW
        ),
        Err(HashcashError::ResourceMismatch("timestamp"))
    );
}

#[test]
fn the_counter_field_must_match() {
    let mut token = alice_to_bob(4).hashcash_token(28383);
    token.counter = 1234;
    assert_eq!(
        check(&token, 4, NOW),
        Err(HashcashError::CounterMismatch {
            in_token: 28383,
            field: 1234
        })
    );
}

#[test]
fn stale_and_future_stamps_are_refused() {
    let token = alice_to_bob(4).hashcash_token(28383);
    let f = Freshness::default();
    assert!(check(&token, 4, NOW + f.max_age_ms).is_ok());
    assert!(matches!(
        check(&token, 4, NOW + f.max_age_ms + 1),
        Err(HashcashError::Stale { .. })
    ));
    assert!(check(&token, 4, NOW - f.max_future_ms).is_ok());
    assert!(matches!(
        check(&token, 4, NOW - f.max_future_ms - 1),
        Err(HashcashError::Stale { .. })
    ));
}

/// Seed §10.1's example writes the resource as `sender:recipient` (eight fields); that form
/// verifies like the original's, with its one timestamp bound to the packet's.
#[test]
fn the_seed_examples_eight_field_form_is_accepted() {
    let prefix = "1:4:1625849600000:(alice)%(example.com):(bob)%(example.com)::";
    let eight = |counter: u64| HashcashToken {
        token: format!("{prefix}{counter}:"),
        counter,
    };
    let counter = (0..1_000_000u64)
        .find(|c| {
            let digest: [u8; 32] = Sha256::digest(eight(*c).token.as_bytes()).into();
            leading_zero_hex_digits(&digest) >= 4
        })
        .expect("a counter below a million");
    assert!(check(&eight(counter), 4, NOW).is_ok());
    assert!(matches!(
        check(&eight(counter), 5, NOW),
        Err(HashcashError::Insufficient { .. })
    ));
    let later = verify(
        &eight(counter),
        "(alice)%(example.com)",
        "(bob)%(example.com)",
        NOW + 1,
        &policy(4),
        NOW,
    );
    assert_eq!(later, Err(HashcashError::ResourceMismatch("timestamp")));
}

#[test]
fn malformed_tokens() {
    for bad in [
        "",
        "1:4:1625849600000:(alice)%(example.com):(bob)%(example.com):1625849600000::28383",
        "2:4:1625849600000:(alice)%(example.com):(bob)%(example.com):1625849600000::28383:",
        "1:x:1625849600000:(alice)%(example.com):(bob)%(example.com):1625849600000::28383:",
        "1:99:1625849600000:(alice)%(example.com):(bob)%(example.com):1625849600000::28383:",
        "1:4:1625849600000:(alice)%(example.com):(bob)%(example.com):1625849600000:ext:28383:",
        "1:4:1625849600000:(alice)%(example.com):(bob)%(example.com):1625849600000::+28383:",
        "1:4:1625849600000:(alice)%(example.com):(bob)%(example.com):1625849600000::28383:x",
        "1:4:1625849600000:(alice)%(example.com):(bob)%(example.com):ext:28383:",
        "1:4:1625849600000:(alice)%(example.com)::28383:",
    ] {
        let token = HashcashToken {
            token: bad.into(),
            counter: 28383,
        };
        assert!(
            matches!(check(&token, 4, NOW), Err(HashcashError::Malformed(_))),
            "{bad}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A minted token verifies for its own packet, and its key is the hash of its text.
    #[test]
    fn minted_tokens_verify(local in "[a-z]{1,8}", ts in 1_000_000u64..2_000_000_000_000, d in 0u32..3) {
        let stamp = Stamp {
            difficulty: d,
            timestamp_ms: ts,
            sender: format!("({local})%(a.example)"),
            recipient: "(x)%(b.example)".into(),
        };
        let counter = mint(&stamp, 0..u64::MAX).unwrap();
        let token = stamp.hashcash_token(counter);
        let p = Policy { difficulty: d, freshness: Freshness::default() };
        let key = verify(&token, &stamp.sender, &stamp.recipient, ts, &p, ts).unwrap();
        prop_assert_eq!(key.to_string(), crate::mmtp::digest::sha256_hex(token.token.as_bytes()));
        prop_assert!(key.to_string().starts_with(&"0".repeat(d as usize)));
    }

    #[test]
    fn decimal_matches_display(n in any::<u64>()) {
        let mut buf = [0u8; 20];
        let text = n.to_string();
        prop_assert_eq!(decimal(n, &mut buf), text.as_bytes());
    }
}
