#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mtp_proto::fuzzing::mmtp_session(data));
