//! `ferry passwd FILE USER`: sets a user's password in a file server's password file.
//!
//! The password is read twice without being shown (rpassword turns the terminal's echo off
//! while it is typed), or as two lines of standard input when that is not a terminal (scripts,
//! tests); it is hashed with Argon2id and only the hash is written. The file is replaced atomically (a new
//! file beside it, synced, renamed over it, the folder synced), so a crash leaves the old file
//! or the new one, and it keeps its permissions (a new one is readable by its owner only).
//! The file's format and which line changes are the core's ([`ferry_core::files::auth`]).

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, IsTerminal, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use ferry_cli::PasswdOptions;
use ferry_core::files::auth::{with_user, PasswordTable};

use crate::passwords::hash_password;

/// Runs `ferry passwd`.
pub fn run_passwd(options: &PasswdOptions) -> Result<(), String> {
    let path = &options.file;
    let named = |what: String| format!("password file '{}': {what}", path.display());
    let existing = match fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(named(e.to_string())),
    };
    if let Some(text) = &existing {
        // Never rewrite a file the server would refuse to read anyway.
        PasswordTable::parse(text).map_err(|e| named(e.to_string()))?;
    }
    let password = read_password_twice(&options.user)?;
    let hash = hash_password(&password)?;
    drop(password);
    let text = with_user(existing.as_deref().unwrap_or(""), &options.user, &hash);
    replace_file(path, text.as_bytes()).map_err(|e| named(e.to_string()))?;
    println!("set the password of {} in {}", options.user, path.display());
    Ok(())
}

/// Asks for the password twice; both must be the same and not empty.
fn read_password_twice(user: &str) -> Result<String, String> {
    let stdin = io::stdin();
    let terminal = stdin.is_terminal();
    let mut lines = stdin.lock();
    let first = read_secret(&mut lines, terminal, &format!("New password for {user}: "))?;
    if first.is_empty() {
        return Err("the password is empty; nothing was changed".into());
    }
    let second = read_secret(&mut lines, terminal, "The same again: ")?;
    if first != second {
        return Err("the two passwords differ; nothing was changed".into());
    }
    Ok(first)
}

/// Reads one password: typed at the terminal with its echo off (rpassword prompts on the
/// terminal itself, so the prompt never mixes with redirected output), or one line of standard
/// input when that is not a terminal.
fn read_secret(input: &mut impl BufRead, terminal: bool, prompt: &str) -> Result<String, String> {
    if terminal {
        return rpassword::prompt_password(prompt)
            .map_err(|e| format!("cannot read the password from the terminal: {e}"));
    }
    let mut line = String::new();
    let read = input
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password: {e}"))?;
    if read == 0 {
        return Err("no password was given; nothing was changed".into());
    }
    let trimmed = line.strip_suffix('\n').unwrap_or(&line);
    Ok(trimmed.strip_suffix('\r').unwrap_or(trimmed).to_owned())
}

/// Writes `bytes` as the new content of `path`, atomically, keeping its permissions.
fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mode = fs::metadata(path).map_or(NEW_FILE_MODE, |m| m.permissions().mode() & 0o7777);
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => ".".into(),
    };
    let mut temp_name = OsString::from(".");
    temp_name.push(path.file_name().unwrap_or_default());
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = folder.join(temp_name);
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)?;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written?;
    File::open(&folder)?.sync_all()
}

/// A new password file: its owner alone reads it, since its hashes can be attacked offline.
const NEW_FILE_MODE: u32 = 0o600;
