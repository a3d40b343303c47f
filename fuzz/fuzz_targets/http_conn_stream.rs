#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ferry_core::check::check_http_stream_ops(std::time::Instant::now(), data)
});
