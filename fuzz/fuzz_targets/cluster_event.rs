#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ferry_core::check::check_cluster_payload(std::time::Instant::now(), data)
});
