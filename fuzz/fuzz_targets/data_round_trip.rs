#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mtp_proto::fuzzing::data_round_trip(data));
