#![no_main]
const CERT: &[u8] = include_bytes!("../../core/src/tls/testdata/cert.pem");
const KEY: &[u8] = include_bytes!("../../core/src/tls/testdata/key.pem");
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ferry_core::check::check_tls_http(std::time::Instant::now(), CERT, KEY, data)
});
