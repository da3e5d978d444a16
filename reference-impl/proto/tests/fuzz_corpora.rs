//! Replays every committed fuzz corpus and regression input (fuzz/corpus/<target>/ and
//! fuzz/regressions/<target>/) through the same entry points the fuzz targets use, on stable.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut count = 0;
    for kind in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(kind).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("directory entry").path();
            let data = std::fs::read(&path).expect("readable corpus file");
            run(&data);
            count += 1;
        }
    }
    assert!(
        count > 0,
        "no corpus for {target}: seed corpora are committed in fuzz/corpus/{target}/"
    );
}

#[test]
fn command_line() {
    replay("command_line", mtp_proto::fuzzing::command_line);
}

#[test]
fn reply_stream() {
    replay("reply_stream", mtp_proto::fuzzing::reply_stream);
}

#[test]
fn data_round_trip() {
    replay("data_round_trip", mtp_proto::fuzzing::data_round_trip);
}

#[test]
fn server_session() {
    replay("server_session", mtp_proto::fuzzing::server_session);
}

#[test]
fn client_session() {
    replay("client_session", mtp_proto::fuzzing::client_session);
}

#[test]
fn vmtp_session() {
    replay("vmtp_session", mtp_proto::fuzzing::vmtp_session);
}

#[test]
fn mmtp_framing() {
    replay("mmtp_framing", mtp_proto::fuzzing::mmtp_framing);
}

#[test]
fn mmtp_packet() {
    replay("mmtp_packet", mtp_proto::fuzzing::mmtp_packet);
}

#[test]
fn mmtp_session() {
    replay("mmtp_session", mtp_proto::fuzzing::mmtp_session);
}

#[test]
fn hashcash_verify() {
    replay("hashcash_verify", mtp_proto::fuzzing::hashcash_verify);
}

#[test]
fn tags() {
    replay("tags", mtp_proto::fuzzing::tags);
}
