//! Suite: the MongoDB store (`--store mongodb://HOST:PORT/DB`, SPEC "Storage") against a real
//! MongoDB-wire-protocol server: the document's exact shape, 500 concurrent posts, the database
//! server killed with SIGKILL and restarted mid-stream, and the web app and socket server as
//! separate processes joined by a host name.
//!
//! The server comes from the environment (see `tools/mongo-test-server`): `FERRY_TEST_MONGODB`
//! is the URL of a shared one; `FERRY_TEST_MONGODB_SERVER` the program to start a private one
//! for the test that kills it. Each test uses a database of its own, so they run in parallel.
//! Documents are read back with the official driver.
//!
//! Each `pub fn` is one test, run by [`crate::suite!`] against a binary and marked ignored
//! there (`needs FERRY_TEST_MONGODB`): a plain `cargo test` lists them as ignored rather than
//! passing tests that did not run, and `cargo test -- --ignored mongo::` runs them, where a
//! missing variable fails the test.

use std::collections::HashMap;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use mongodb::bson::{doc, Bson, Document};
use mongodb::sync::{Client, Collection};

pub use crate::chat::{
    chat_accounts_and_history_live_in_mongodb,
    two_chat_servers_on_one_database_register_a_name_once,
};

use crate::check;
use crate::faults::post_many;
use crate::fixture;
use crate::post::post_form;
use crate::server::{Launch, Server};
use crate::temp::TempDir;

/// One post through `serve` lands as one document holding exactly `_id`, `date`, `username` and
/// `message`, the text unchanged and the date in the SPEC's layout.
pub fn post_lands_as_a_document_of_the_spec_shape(bin: &str) {
    let url = shared_server();
    let database = Database::new(&url, "shape");
    let server = serve(bin, "mongo_shape", &database.store_url());
    let (username, message) = (
        "Zoë $krabaton",
        "First message & \"quotes\" \\ 😀\nline two",
    );
    let response = post_form(
        server.web(),
        &[("username", username), ("message", message)],
    );
    check::status(&response, 303, "post stored in MongoDB");

    let documents = database.documents();
    assert_eq!(documents.len(), 1, "{documents:?}");
    let document = &documents[0];
    let fields: Vec<&str> = document.keys().map(String::as_str).collect();
    assert_eq!(
        fields,
        ["_id", "date", "username", "message"],
        "{document:?}"
    );
    assert_eq!(document.get_str("username").ok(), Some(username));
    assert_eq!(document.get_str("message").ok(), Some(message));
    let date = document.get_str("date").unwrap_or_default();
    assert!(
        is_spec_date(date),
        "date {date:?} is not YYYY-MM-DD HH:MM:SS.ffffff"
    );
    assert!(
        matches!(document.get("_id"), Some(Bson::String(id)) if !id.is_empty()),
        "the message id is the key: {document:?}"
    );
}

/// 500 posts from 25 threads at once: every one answered 303 and stored as one document.
pub fn five_hundred_concurrent_posts_give_five_hundred_documents(bin: &str) {
    let url = shared_server();
    let database = Database::new(&url, "five_hundred");
    let server = serve(bin, "mongo_five_hundred", &database.store_url());
    let answers = post_many(server.web(), CONCURRENT_POSTS, POSTING_THREADS, |_| true);
    let refused: Vec<_> = answers
        .iter()
        .filter(|(_, status)| *status != 303)
        .collect();
    assert!(refused.is_empty(), "not all posts got 303: {refused:?}");

    let counts = count_messages(&database.documents());
    assert_eq!(counts.len(), CONCURRENT_POSTS, "distinct messages stored");
    assert!(counts.values().all(|&n| n == 1), "a message stored twice");
    for (message, _) in &answers {
        assert_eq!(counts.get(message), Some(&1), "{message}");
    }
}

/// The MongoDB server is killed with SIGKILL while posts keep coming, then restarted on the same
/// port and data: the socket server keeps running, every post answered 303 is in the collection
/// exactly once, and posts during the outage got 503 (never anything else).
pub fn killed_mongodb_server_keeps_every_acknowledged_post(bin: &str) {
    killed_mongodb_server_keeps_every_acknowledged_post_over(bin, "udp");
}

/// The same with `--transport tcp`, where the web app sends nothing again by itself: the
/// socket server's own retries, then the 503 and nothing stored, carry the outage.
pub fn killed_mongodb_server_over_tcp_keeps_every_acknowledged_post(bin: &str) {
    killed_mongodb_server_keeps_every_acknowledged_post_over(bin, "tcp");
}

fn killed_mongodb_server_keeps_every_acknowledged_post_over(bin: &str, transport: &str) {
    let program = server_program();
    let dir = TempDir::new(&format!("mongo_killed_server_{transport}"));
    let mut mongo = PrivateServer::start(program, &dir);
    let database = Database::new(&mongo.url(), &format!("killed_{transport}"));
    let server = Launch::serve(bin, fixture::sandbox(&format!("mongo_killed_{transport}")))
        .flag("--store", database.store_url())
        .flag("--transport", transport)
        .start();

    let posting = Arc::new(AtomicBool::new(true));
    let keep_posting = posting.clone();
    let web = server.web();
    let poster = thread::spawn(move || {
        post_many(web, usize::MAX, KILL_POSTING_THREADS, move |_| {
            keep_posting.load(Ordering::SeqCst)
        })
    });
    database.wait_for_documents(50);
    mongo.kill_hard();
    // Posts go on against the dead server for a while: they must not be acknowledged.
    thread::sleep(OUTAGE);
    mongo.restart();
    let before = database.wait_for_documents(0);
    database.wait_for_documents(before + 50);
    posting.store(false, Ordering::SeqCst);
    let answers = poster.join().expect("posting threads");

    let counts = count_messages(&database.documents());
    let twice: Vec<_> = counts.iter().filter(|(_, &n)| n > 1).collect();
    assert!(twice.is_empty(), "stored more than once: {twice:?}");
    let acknowledged: Vec<_> = answers.iter().filter(|(_, s)| *s == 303).collect();
    assert!(
        acknowledged.len() >= 100,
        "too few posts went through: {}",
        acknowledged.len()
    );
    for (message, _) in &acknowledged {
        assert_eq!(
            counts.get(message),
            Some(&1),
            "{message} got 303 but is not stored once"
        );
    }
    for (message, status) in &answers {
        assert!(
            matches!(status, 303 | 503),
            "{message}: unexpected status {status}"
        );
    }
    eprintln!(
        "killed MongoDB server ({transport}): {} posts, {} got 303, {} documents, none twice",
        answers.len(),
        acknowledged.len(),
        counts.len()
    );
    drop(server);
}

/// `ferry socket --store mongodb://...` and `ferry http --forward localhost:PORT` (a host name,
/// not an address) as two processes: a post through the web app lands in the collection.
pub fn http_and_socket_as_separate_processes_store_in_mongodb(bin: &str) {
    let url = shared_server();
    let database = Database::new(&url, "separate");
    let socket = Launch::socket(bin, TempDir::new("mongo_separate_socket"))
        .flag("--store", database.store_url())
        .start();
    let web = Launch::http(
        bin,
        fixture::sandbox("mongo_separate_http"),
        socket.socket(),
    )
    .flag("--forward", format!("localhost:{}", socket.socket().port()))
    .start();
    for i in 0..SEPARATE_POSTS {
        let message = format!("across processes {i}");
        let response = post_form(web.web(), &[("username", "two"), ("message", &message)]);
        check::status(&response, 303, &message);
    }
    let counts = count_messages(&database.documents());
    assert_eq!(counts.len(), SEPARATE_POSTS);
    assert!(counts.values().all(|&n| n == 1));
}

/// One database of the server at `url`, named for the test and this process.
pub struct Database {
    url: String,
    name: String,
    collection: Collection<Document>,
    db: mongodb::sync::Database,
}

impl Database {
    /// A fresh database on the server at `url` (`mongodb://HOST:PORT`), dropped first in case a
    /// crashed run left it behind.
    pub fn new(url: &str, label: &str) -> Database {
        let name = format!("ferry_{label}_{}", std::process::id());
        let client = Client::with_uri_str(url)
            .unwrap_or_else(|e| panic!("cannot use MongoDB URL {url}: {e}"));
        let db = client.database(&name);
        let _ = db.drop().run();
        Database {
            url: url.trim_end_matches('/').to_string(),
            collection: db.collection(COLLECTION),
            db,
            name,
        }
    }

    /// The collection `name` of this database.
    pub fn collection(&self, name: &str) -> Collection<Document> {
        self.db.collection(name)
    }

    /// The `--store` value naming this database.
    pub fn store_url(&self) -> String {
        format!("{}/{}", self.url, self.name)
    }

    /// Every document in `messages`, in insertion order.
    pub fn documents(&self) -> Vec<Document> {
        let cursor = self
            .collection
            .find(doc! {})
            .run()
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", self.name));
        cursor
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", self.name))
    }

    /// Waits (bounded) until `messages` holds at least `count` documents; returns how many.
    /// Reads that fail (the server restarting) are retried until the deadline.
    pub fn wait_for_documents(&self, count: u64) -> u64 {
        let deadline = Instant::now() + WAIT_TIMEOUT;
        loop {
            if let Ok(n) = self.collection.count_documents(doc! {}).run() {
                if n >= count {
                    return n;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{} never held {count} documents",
                self.name
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A test server of our own on a free loopback port, for a test that kills it.
struct PrivateServer {
    program: PathBuf,
    data: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl PrivateServer {
    fn start(program: PathBuf, dir: &TempDir) -> PrivateServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut server = PrivateServer {
            program,
            data: dir.path().to_path_buf(),
            port,
            child: None,
        };
        server.restart();
        server
    }

    fn url(&self) -> String {
        format!("mongodb://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on its port and data folder, and waits until it accepts.
    fn restart(&mut self) {
        let child = Command::new(&self.program)
            .args(["--host", "127.0.0.1", "-p", &self.port.to_string()])
            .arg("--data-dir")
            .arg(self.data.join("data"))
            .arg("--pid-file")
            .arg(self.data.join("server.pid"))
            .arg("--log-file")
            .arg(self.data.join("server.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.program.display()));
        self.child = Some(child);
        let deadline = Instant::now() + WAIT_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            assert!(
                exited.is_none(),
                "the MongoDB test server exited: {exited:?}"
            );
            assert!(
                Instant::now() < deadline,
                "the MongoDB test server never listened"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, then reaped: no shutdown of its own.
    fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        self.kill_hard();
    }
}

/// `serve` with the fixture site and `--store store_url`.
fn serve(bin: &str, label: &str, store_url: &str) -> Server {
    Launch::serve(bin, fixture::sandbox(label))
        .flag("--store", store_url)
        .start()
}

/// The shared server's URL.
pub(crate) fn shared_server() -> String {
    from_environment(URL_VARIABLE)
}

/// The program to start a private server with.
fn server_program() -> PathBuf {
    PathBuf::from(from_environment(SERVER_VARIABLE))
}

/// A MongoDB test variable. These tests run only when asked for (they are ignored otherwise),
/// so a missing variable is a mistake in how they were started: the test fails and says so.
fn from_environment(variable: &str) -> String {
    match std::env::var(variable) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!(
            "{variable} is not set: start the MongoDB test server first with \
             `eval \"$(tools/mongo-test-server start | sed 's/^/export /')\"`"
        ),
    }
}

fn count_messages(documents: &[Document]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for document in documents {
        let message = document.get_str("message").unwrap_or_default().to_string();
        *counts.entry(message).or_insert(0) += 1;
    }
    counts
}

/// `YYYY-MM-DD HH:MM:SS.ffffff`, digit by digit.
fn is_spec_date(date: &str) -> bool {
    const SHAPE: &str = "dddd-dd-dd dd:dd:dd.dddddd";
    date.len() == SHAPE.len()
        && date.bytes().zip(SHAPE.bytes()).all(|(c, s)| match s {
            b'd' => c.is_ascii_digit(),
            _ => c == s,
        })
}

/// The URL of the shared test server.
pub const URL_VARIABLE: &str = "FERRY_TEST_MONGODB";

/// The test server's program, for tests that start their own.
pub const SERVER_VARIABLE: &str = "FERRY_TEST_MONGODB_SERVER";

/// The collection the SPEC names.
const COLLECTION: &str = "messages";

/// The SPEC's "500 concurrent POSTs".
const CONCURRENT_POSTS: usize = 500;

/// Threads posting at once; enough to have several batches in flight.
const POSTING_THREADS: usize = 25;

/// Threads posting through the kill and restart.
const KILL_POSTING_THREADS: usize = 8;

/// Posts across the two processes.
const SEPARATE_POSTS: usize = 20;

/// How long the database stays dead: several of the store's retries and past the web app's
/// 2 s ack timeout, so posts during the outage are answered 503.
const OUTAGE: Duration = Duration::from_millis(2500);

/// Bound on every wait for the server or for documents.
const WAIT_TIMEOUT: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_spec_date_layout() {
        assert!(is_spec_date("2022-10-29 20:20:58.020261"));
        for bad in [
            "2022-10-29T20:20:58.020261",
            "2022-10-29 20:20:58.02026",
            "2022-10-29 20:20:58",
            "2022-10-29 20:20:58.020261Z",
            "",
        ] {
            assert!(!is_spec_date(bad), "{bad}");
        }
    }
}
