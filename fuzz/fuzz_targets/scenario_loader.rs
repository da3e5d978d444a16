#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| mtpspec_scenario::fuzzing::scenario_loader(data));
