#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ferry_core::check::check_ws_frames(std::time::Instant::now(), data)
});
