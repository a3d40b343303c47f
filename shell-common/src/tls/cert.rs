//! `ferry cert`: a self-signed certificate and its key for trying TLS out locally, made with
//! rcgen (a P-256 key from the system's randomness, through ring) and written as `cert.pem`
//! and `key.pem` (the key readable by its owner only).

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::ExitCode;

use ferry_cli::CertOptions;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

/// Writes the certificate and key `options` ask for; prints where, or one line on error.
pub fn run_cert(program: &str, options: &CertOptions) -> ExitCode {
    match write_pair(options) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{program}: {message}");
            ExitCode::FAILURE
        }
    }
}

fn write_pair(options: &CertOptions) -> Result<String, String> {
    let cert_path = options.out.join(CERT_FILE);
    let key_path = options.out.join(KEY_FILE);
    for path in [&cert_path, &key_path] {
        if path.exists() {
            return Err(format!(
                "'{}' already exists; remove it or choose another --out",
                path.display()
            ));
        }
    }
    let now = OffsetDateTime::now_utc();
    let (cert_pem, key_pem) = generate(&options.names, now)?;
    fs::create_dir_all(&options.out)
        .map_err(|e| format!("cannot create '{}': {e}", options.out.display()))?;
    write_new(&key_path, key_pem.as_bytes(), KEY_MODE)?;
    if let Err(error) = write_new(&cert_path, cert_pem.as_bytes(), CERT_MODE) {
        let _ = fs::remove_file(&key_path);
        return Err(error);
    }
    let until = now + VALIDITY;
    Ok(format!(
        "wrote {} and {} (self-signed, for {}, valid until {}-{:02}-{:02})",
        cert_path.display(),
        key_path.display(),
        options.names.join(", "),
        until.year(),
        u8::from(until.month()),
        until.day()
    ))
}

/// A certificate for `names` (DNS names or IP addresses), valid from a day before `now` (for
/// clocks slightly behind) for [`VALIDITY`], and its key, both PEM.
pub(super) fn generate(names: &[String], now: OffsetDateTime) -> Result<(String, String), String> {
    let key = KeyPair::generate().map_err(|e| format!("cannot make a key: {e}"))?;
    let mut params = CertificateParams::new(names.to_vec())
        .map_err(|e| format!("cannot make a certificate for {names:?}: {e}"))?;
    let mut subject = DistinguishedName::new();
    subject.push(
        DnType::CommonName,
        names.first().map_or("localhost", String::as_str),
    );
    subject.push(DnType::OrganizationName, "ferry (self-signed)");
    params.distinguished_name = subject;
    params.not_before = now - Duration::days(1);
    params.not_after = now + VALIDITY;
    // A server certificate, not an authority: it cannot sign others, whoever trusts it.
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("cannot sign the certificate: {e}"))?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Creates `path` (never replacing a file) with `mode` and writes `bytes`.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        });
    written.map_err(|e: io::Error| format!("cannot write '{}': {e}", path.display()))
}

/// What `ferry cert` writes, in `--out`.
pub const CERT_FILE: &str = "cert.pem";
pub const KEY_FILE: &str = "key.pem";
/// A year: under the 398 days browsers and checkers accept for a server certificate.
const VALIDITY: Duration = Duration::days(365);
const KEY_MODE: u32 = 0o600;
const CERT_MODE: u32 = 0o644;
