//! Password hashes: Argon2id with OWASP's parameters (19 MiB, two passes, one lane), a salt
//! from the operating system, and verification in constant time (the argon2 crate's `Output`
//! compares that way). The only module that touches a password's bytes with cryptography; the
//! rules about which password is asked for, and when, are the core's.
//!
//! Each thread keeps its 19 MiB of Argon2 memory for the next hash instead of allocating it
//! anew: glibc serves a freed block of that size from the heap again, where small allocations
//! made in between split it, so every login grew the heap by another 19 MiB (ferry-std held
//! ~19 MiB per logged-in client). Reused, a hashing thread holds 19 MiB, whatever the count.

use std::cell::RefCell;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// Hashes `password` with a fresh salt: a PHC string, `$argon2id$v=19$m=19456,t=2,p=1$...`.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    let hasher = argon2()?;
    let output = compute(
        &hasher,
        password.as_bytes(),
        salt.as_salt(),
        Params::DEFAULT_OUTPUT_LEN,
    )
    .map_err(|e| format!("cannot hash the password: {e}"))?;
    let params = hasher
        .params()
        .try_into()
        .map_err(|e| format!("cannot hash the password: {e}"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches `hash` (a PHC string; its own parameters are used). A hash that
/// cannot be read matches nothing.
pub fn verify_password(hash: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let hasher = Argon2::new(algorithm, version, params);
    match compute(&hasher, password.as_bytes(), salt, expected.len()) {
        // `Output`'s equality is the crate's constant-time comparison.
        Ok(computed) => computed == expected,
        Err(_) => false,
    }
}

/// The raw hash of `password` with `salt`, in this thread's kept Argon2 memory.
fn compute(
    hasher: &Argon2<'_>,
    password: &[u8],
    salt: argon2::password_hash::Salt<'_>,
    output_len: usize,
) -> Result<Output, argon2::password_hash::Error> {
    let mut salt_bytes = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_bytes)?;
    let blocks = hasher.params().block_count();
    Output::init_with(output_len, |out| {
        with_memory(blocks, |memory| {
            hasher.hash_password_into_with_memory(password, salt, out, memory)
        })
        .map_err(Into::into)
    })
}

thread_local! {
    /// The Argon2 memory of this thread's last hash, kept for its next one.
    static KEPT_MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs `hash` with `blocks` blocks of memory: this thread's kept memory when the parameters
/// are ours, a one-off allocation for a stored hash with larger ones (not kept, so a single
/// odd hash does not hold its memory for the process's life).
fn with_memory<T>(blocks: usize, hash: impl FnOnce(&mut [Block]) -> T) -> T {
    if blocks > MEMORY_KIB as usize {
        return hash(&mut vec![Block::default(); blocks]);
    }
    KEPT_MEMORY.with(|kept| {
        let Ok(mut memory) = kept.try_borrow_mut() else {
            // Not reached (hashing does not re-enter), but never worth a panic.
            return hash(&mut vec![Block::default(); blocks]);
        };
        if memory.len() < blocks {
            memory.resize(MEMORY_KIB as usize, Block::default());
        }
        hash(&mut memory[..blocks])
    })
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

    #[test]
    fn kept_memory_hashes_agree_with_the_crates_own_hashing_both_ways() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let ours = hash_password("correct horse").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        let crates = argon2().unwrap();
        assert!(crates.verify_password(b"correct horse", &parsed).is_ok());
        assert!(crates.verify_password(b"wrong horse", &parsed).is_err());
        let salt = SaltString::generate(&mut OsRng);
        let theirs = crates
            .hash_password(b"battery staple", &salt)
            .unwrap()
            .to_string();
        // Twice on one thread: the second hash runs in memory the first left full.
        assert!(verify_password(&theirs, "battery staple"));
        assert!(verify_password(&theirs, "battery staple"));
        assert!(!verify_password(&theirs, "battery stapler"));
        // A stored hash with other parameters (smaller and larger memory, more passes).
        for (memory_kib, passes) in [(8 * 1024, 3), (MEMORY_KIB * 2, 1)] {
            let params = Params::new(memory_kib, passes, LANES, None).unwrap();
            let other = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
            let hash = other
                .hash_password(b"tr0ub4dor", &salt)
                .unwrap()
                .to_string();
            assert!(verify_password(&hash, "tr0ub4dor"), "{hash}");
            assert!(!verify_password(&hash, "tr0ub4dor&3"), "{hash}");
        }
    }
}
