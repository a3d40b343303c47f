//! Suite: the JSON store on a full disk (SPEC, "Storage": the file is valid JSON after every
//! stored message). The server runs under a file size limit, so its `data.json` fills up after a
//! few messages, as on a tiny disk: messages it cannot store are refused (503), and after every
//! answer the file must parse and hold exactly the acknowledged messages. A restart without the
//! limit then stores again.
//!
//! Each `pub fn` is one test, run by [`crate::suite!`] against a binary.

use std::time::Duration;

use crate::check;
use crate::fixture;
use crate::post::post_form;
use crate::server::{Launch, Signal};
use crate::store;

/// Posts until the store refuses twice, checking the file after each answer, then restarts the
/// server without the limit and checks that a post is stored after the earlier ones.
pub fn a_full_disk_refuses_messages_and_keeps_the_file_valid(bin: &str) {
    let server = Launch::serve(bin, fixture::sandbox("full_disk"))
        .flag("--ack-timeout", format!("{}ms", ACK_TIMEOUT.as_millis()))
        .file_size_limit(FILE_SIZE_LIMIT)
        .start();
    let mut acknowledged: Vec<(String, String)> = Vec::new();
    let mut refused = 0;
    for n in 0..MAX_POSTS {
        let text = format!("message {n:03} {}", "x".repeat(40));
        let response = post_form(server.web(), &[("username", "disk"), ("message", &text)]);
        match response.status {
            303 => acknowledged.push(("disk".to_string(), text)),
            503 => refused += 1,
            other => panic!("post {n}: status {other}, expected 303 or 503"),
        }
        // `read` panics, showing the file, unless it is a valid object of records.
        let stored = store::pairs(&store::read(server.store()));
        assert_eq!(
            stored,
            acknowledged,
            "after post {n} ({}): the file holds exactly the acknowledged messages; stderr: {}",
            response.status,
            server.stderr()
        );
        if refused == REFUSALS {
            break;
        }
    }
    assert_eq!(
        refused, REFUSALS,
        "{MAX_POSTS} posts fit in {FILE_SIZE_LIMIT} bytes"
    );
    assert!(
        !acknowledged.is_empty(),
        "nothing was stored before the disk was full"
    );
    let stopped = server.stop(Signal::Term);
    assert!(
        stopped.status.success(),
        "exit {:?}: {}",
        stopped.status,
        stopped.stderr
    );

    let server = Launch::serve(bin, stopped.dir).start();
    let after = ("disk".to_string(), "after the restart".to_string());
    let response = post_form(
        server.web(),
        &[("username", &after.0), ("message", &after.1)],
    );
    check::status(&response, 303, "post after the limit is lifted");
    acknowledged.push(after);
    assert_eq!(store::pairs(&store::read(server.store())), acknowledged);
}

/// Room for about twenty records of the size posted (about 100 bytes each in the file).
const FILE_SIZE_LIMIT: u64 = 2048;

/// Posts before the test gives up waiting for the store to refuse.
const MAX_POSTS: usize = 100;

/// Refused posts to check: the second shows that a refused append left the store able to refuse
/// cleanly again (and to store, were there room).
const REFUSALS: usize = 2;

/// Short, so each refusal costs little: the web app gives up on an unacknowledged message
/// after this.
const ACK_TIMEOUT: Duration = Duration::from_millis(300);
