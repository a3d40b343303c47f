//! The file server and its client on the command line: `files` and `client`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ferry_core::files::auth::anonymous_writes_allowed;
use ferry_core::files::client::ClientMethod;
use ferry_core::files::{AuthScope, FilesConfig, DEFAULT_MAX_UPLOAD, DEFAULT_UPLOAD_TIMEOUT};
use ferry_core::http::{
    HttpConfig, DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_WRITE_TIMEOUT,
};

use crate::size::{format_duration, format_size};
use crate::tls::{ClientTlsFlags, TlsFlags};
use crate::values;

/// Settings of the file server (`ferry files`).
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct FilesOptions {
    /// Where the file server listens.
    #[arg(long, env = "FERRY_BIND", value_name = "ADDR", default_value = DEFAULT_BIND,
          value_parser = values::address)]
    pub bind: String,
    /// The folder served; nothing outside it is read or written.
    #[arg(long, env = "FERRY_ROOT", value_name = "DIR", default_value = DEFAULT_ROOT,
          value_parser = values::path)]
    pub root: PathBuf,
    /// Append the access log to this file instead of printing it on stdout (the default).
    #[arg(long, env = "FERRY_LOG", value_name = "FILE", value_parser = values::path)]
    pub log: Option<PathBuf>,
    /// Refuse uploads: PUT is answered 405. A value after '=', and the variable, may say on or
    /// off (1/0, true/false, yes/no).
    #[arg(long, env = "FERRY_READ_ONLY", value_name = "on|off",
          default_value = values::switch_text(FilesConfig::default().read_only),
          num_args = 0..=1, require_equals = true, default_missing_value = values::switch_text(true),
          value_parser = values::switch)]
    pub read_only: bool,
    /// Answer a folder without an index.html with 404 instead of listing it.
    #[arg(long, env = "FERRY_NO_LIST", value_name = "on|off",
          default_value = values::switch_text(!FilesConfig::default().list),
          num_args = 0..=1, require_equals = true, default_missing_value = values::switch_text(true),
          value_parser = values::switch)]
    pub no_list: bool,
    /// List dot files (hidden files) too; the server's own upload folder is never listed.
    #[arg(long, env = "FERRY_HIDDEN", value_name = "on|off",
          default_value = values::switch_text(FilesConfig::default().hidden),
          num_args = 0..=1, require_equals = true, default_missing_value = values::switch_text(true),
          value_parser = values::switch)]
    pub hidden: bool,
    /// Require HTTP Basic credentials from this password file (lines user:$argon2id$..., as
    /// 'ferry passwd' writes them) for PUT and DELETE; without it, only a server bound to
    /// loopback takes writes (see --allow-anonymous-writes).
    #[arg(long, env = "FERRY_AUTH", value_name = "FILE", value_parser = values::path)]
    pub auth: Option<PathBuf>,
    /// With --auth: require credentials for reads (GET, HEAD, listings) too.
    #[arg(long, env = "FERRY_AUTH_READ", value_name = "on|off",
          default_value = values::switch_text(false), requires = "auth",
          num_args = 0..=1, require_equals = true, default_missing_value = values::switch_text(true),
          value_parser = values::switch)]
    pub auth_read: bool,
    /// Without --auth, take uploads and deletions from anyone even when listening beyond
    /// loopback (a warning is printed at start); by default only a loopback server takes them.
    #[arg(long, env = "FERRY_ALLOW_ANONYMOUS_WRITES", value_name = "on|off",
          default_value = values::switch_text(false),
          num_args = 0..=1, require_equals = true, default_missing_value = values::switch_text(true),
          value_parser = values::switch)]
    pub allow_anonymous_writes: bool,
    /// The largest upload; a larger one gets 413 before it is sent.
    #[arg(long, env = "FERRY_MAX_UPLOAD", value_name = "SIZE",
          default_value = format_size(DEFAULT_MAX_UPLOAD), value_parser = values::limit)]
    pub max_upload: u64,
    /// How long a client may take to send a whole request head; then it gets 408.
    #[arg(long, env = "FERRY_HEADER_TIMEOUT", value_name = "DURATION",
          default_value = format_duration(DEFAULT_HEADER_TIMEOUT), value_parser = values::timeout)]
    pub header_timeout: Duration,
    /// How long an upload may stall between two reads; then it gets 408.
    #[arg(long, env = "FERRY_BODY_TIMEOUT", value_name = "DURATION",
          default_value = format_duration(DEFAULT_BODY_TIMEOUT), value_parser = values::timeout)]
    pub body_timeout: Duration,
    /// How long a whole request (head and body, an upload included) may take from its first
    /// byte; then it gets 408.
    #[arg(long, env = "FERRY_REQUEST_TIMEOUT", value_name = "DURATION",
          default_value = format_duration(DEFAULT_UPLOAD_TIMEOUT), value_parser = values::timeout)]
    pub request_timeout: Duration,
    /// How long an idle keep-alive connection stays open.
    #[arg(long, env = "FERRY_IDLE_TIMEOUT", value_name = "DURATION",
          default_value = format_duration(DEFAULT_IDLE_TIMEOUT), value_parser = values::timeout)]
    pub idle_timeout: Duration,
    /// How long a client may take no byte of its answer (a download included) before it is
    /// closed.
    #[arg(long, env = "FERRY_WRITE_TIMEOUT", value_name = "DURATION",
          default_value = format_duration(DEFAULT_WRITE_TIMEOUT), value_parser = values::timeout)]
    pub write_timeout: Duration,
    /// How long a client may keep a file without asking again (Cache-Control: max-age); 0 sends
    /// no-cache, so clients revalidate with the ETag and Last-Modified each time.
    #[arg(long, env = "FERRY_MAX_AGE", value_name = "DURATION",
          default_value = format_duration(FilesConfig::default().max_age),
          value_parser = values::max_age)]
    pub max_age: Duration,
    #[command(flatten)]
    pub tls: TlsFlags,
}

impl FilesOptions {
    /// The HTTP connection settings of the file server: bodies streamed, up to `--max-upload`.
    pub fn http_config(&self) -> HttpConfig {
        HttpConfig {
            stream_bodies: true,
            max_body: self.max_upload,
            header_timeout: self.header_timeout,
            body_timeout: self.body_timeout,
            request_timeout: self.request_timeout,
            idle_timeout: self.idle_timeout,
            write_timeout: self.write_timeout,
            ..HttpConfig::default()
        }
    }

    /// The answers' settings of the file server. Whether anyone may write without credentials
    /// depends on where the server listens: read from `--bind` when it is an address; for a
    /// host name the shell settles it once bound (`FileServer::bound`).
    pub fn files_config(&self) -> FilesConfig {
        let auth = match (&self.auth, self.auth_read) {
            (None, _) => AuthScope::Off,
            (Some(_), false) => AuthScope::Writes,
            (Some(_), true) => AuthScope::Everything,
        };
        FilesConfig {
            read_only: self.read_only,
            max_upload: self.max_upload,
            max_age: self.max_age,
            list: !self.no_list,
            hidden: self.hidden,
            auth,
            anonymous_writes: match self.bind.parse::<SocketAddr>() {
                Ok(address) => anonymous_writes_allowed(address.ip(), self.allow_anonymous_writes),
                Err(_) => self.allow_anonymous_writes,
            },
        }
    }
}

/// Settings of the file client (`ferry client`).
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct FileClientOptions {
    /// The file server's host name or IP address (IPv6 with or without brackets).
    #[arg(value_name = "HOST", value_parser = values::host)]
    pub host: String,
    /// The file server's port.
    #[arg(value_name = "PORT", value_parser = values::port)]
    pub port: u16,
    /// GET, PUT or HEAD.
    #[arg(value_name = "METHOD", value_parser = values::client_method)]
    pub method: ClientMethod,
    /// The file's path on the server, starting with /, sent as written.
    #[arg(value_name = "PATH", value_parser = values::client_path)]
    pub path: String,
    /// GET: save the download here instead of under the last name of PATH in this folder.
    #[arg(long, env = "FERRY_OUT", value_name = "FILE", value_parser = values::path)]
    pub out: Option<PathBuf>,
    /// PUT: upload this local file instead of the one named like the last name of PATH.
    #[arg(long, env = "FERRY_FILE", value_name = "LOCAL", value_parser = values::path)]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub tls: ClientTlsFlags,
}

/// Settings of `ferry passwd`.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct PasswdOptions {
    /// The password file; created (readable by its owner only) when missing.
    #[arg(value_name = "FILE", value_parser = values::path)]
    pub file: PathBuf,
    /// The user whose password is set; their line is replaced, or added.
    #[arg(value_name = "USER", value_parser = values::user)]
    pub user: String,
}

/// Where the file server listens unless told: this machine only, the SPEC's port 8080, since a
/// file server open to the network should be a decision.
const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// The folder served unless told: the one the server starts in, as `python3 -m http.server`.
const DEFAULT_ROOT: &str = ".";
