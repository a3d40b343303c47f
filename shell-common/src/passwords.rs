//! Password hashes: Argon2id with OWASP's parameters (19 MiB, two passes, one lane), a salt
//! from the operating system, and verification in constant time (the argon2 crate compares the
//! hashes that way). The only module that touches a password's bytes with cryptography; the
//! rules about which password is asked for, and when, are the core's.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Hashes `password` with a fresh salt: a PHC string, `$argon2id$v=19$m=19456,t=2,p=1$...`.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    let hasher = argon2()?;
    hasher
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Whether `password` matches `hash` (a PHC string; its own parameters are used). A hash that
/// cannot be read matches nothing.
pub fn verify_password(hash: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Whether `hash` is a PHC string this module can verify against.
pub fn check_hash(hash: &str) -> Result<(), String> {
    let parsed = PasswordHash::new(hash).map_err(|e| e.to_string())?;
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return Err("not an Argon2id hash".into());
    }
    // The PHC syntax lets both be left out; a hash without them verifies nothing.
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err("the salt or the hash itself is missing".into());
    }
    Params::try_from(&parsed).map_err(|e| e.to_string())?;
    Ok(())
}

/// The hasher with OWASP's minimum for Argon2id (Password Storage Cheat Sheet): m = 19 MiB,
/// t = 2, p = 1. Each hash costs those 19 MiB while it runs, which is why they run on a small
/// pool of threads and never on an event loop.
fn argon2() -> Result<Argon2<'static>, String> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).map_err(|e| e.to_string())?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// 19 MiB in KiB.
pub const MEMORY_KIB: u32 = 19 * 1024;
pub const PASSES: u32 = 2;
pub const LANES: u32 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hash = hash_password("correct horse").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password(&hash, "correct horse"));
        assert!(!verify_password(&hash, "correct horsE"));
        assert!(!verify_password("not a hash", "correct horse"));
        assert!(check_hash(&hash).is_ok());
        assert!(check_hash("$argon2id$nonsense").is_err());
        assert_ne!(
            hash,
            hash_password("correct horse").unwrap(),
            "salts differ"
        );
    }
}
