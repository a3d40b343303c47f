//! Every way an append can stop: each step cut at every byte, each followed by a kill (then the
//! scan and repair of the next open) or by the undo (which itself may be cut), all on byte slices.

use super::*;
use crate::format::tests::{message, open_bytes, write_at, PYTHON_FILE};
use crate::format::{scan, TailFix};
use crate::record::StoredRecord;
use time::macros::datetime;

const T: OffsetDateTime = datetime!(2024-09-09 12:00:00 UTC);

/// Performs `op` on an in-memory file, only its first `landed` bytes for a write.
fn perform(file: &mut Vec<u8>, op: FileOp<'_>, landed: usize) {
    match op {
        FileOp::Write { offset, bytes } => {
            write_at(file, offset, &bytes[..landed.min(bytes.len())])
        }
        FileOp::SetLen(len) => file.resize(len as usize, 0),
    }
}

fn perform_all(file: &mut Vec<u8>, ops: &[FileOp<'_>]) {
    for &op in ops {
        perform(file, op, usize::MAX);
    }
}

fn written(op: FileOp<'_>) -> usize {
    match op {
        FileOp::Write { bytes, .. } => bytes.len(),
        FileOp::SetLen(_) => 0,
    }
}

/// What the next open makes of `file`: the records kept once its tail is repaired.
fn reopened(file: &[u8]) -> Vec<StoredRecord> {
    let shown = String::from_utf8_lossy(file).into_owned();
    let report = scan(file).unwrap_or_else(|error| panic!("refused at open: {error}\n{shown:?}"));
    let mut repaired = file.to_vec();
    if let Some(fix) = TailFix::for_scan(&report) {
        fix.apply_to(&mut repaired);
    }
    StoredRecord::read_all(&repaired).unwrap_or_else(|error| panic!("{error}\n{shown:?}"))
}

/// Store files to append to, each as ferry leaves it after opening.
fn starts() -> Vec<(Vec<u8>, Appender)> {
    let mut with_records = Vec::new();
    let mut appender = open_bytes(&mut with_records);
    let pending = appender.prepare(T, &[message("ann", "one"), message("bob", "two")]);
    perform_all(&mut with_records, &pending.steps());
    appender.commit(pending);
    [b"".to_vec(), PYTHON_FILE.as_bytes().to_vec()]
        .into_iter()
        .map(|mut file| {
            let appender = open_bytes(&mut file);
            (file, appender)
        })
        .chain([(with_records, appender)])
        .collect()
}

fn batches() -> Vec<Vec<Message>> {
    vec![
        vec![message("cy", "three")],
        vec![message("d\"q", "four\n"), message("é", "😀")],
    ]
}

#[test]
fn the_steps_end_in_the_bytes_of_the_append() {
    for (file, appender) in starts() {
        for batch in batches() {
            let pending = appender.prepare(T, &batch);
            let [room, records] = pending.steps();
            let mut done = file.clone();
            perform(&mut done, room, usize::MAX);
            let grown = done.len();
            perform(&mut done, records, usize::MAX);
            assert_eq!(
                done.len(),
                grown,
                "the records need no room the first step did not take"
            );
            let mut expected = file[..pending.offset() as usize].to_vec();
            expected.extend_from_slice(pending.bytes());
            assert_eq!(done, expected);
            assert_eq!(pending.undo(), appender.restore());
        }
    }
}

#[test]
fn a_short_first_step_leaves_valid_json_with_the_old_records() {
    for (file, appender) in starts() {
        let old = StoredRecord::read_all(&file).unwrap();
        for batch in batches() {
            let pending = appender.prepare(T, &batch);
            let [room, _] = pending.steps();
            for landed in 0..=written(room) {
                let mut torn = file.clone();
                perform(&mut torn, room, landed);
                let shown = String::from_utf8_lossy(&torn).into_owned();
                let read = StoredRecord::read_all(&torn);
                assert_eq!(read.as_ref().ok(), Some(&old), "{shown:?}");
            }
        }
    }
}

#[test]
fn every_stop_is_undone_to_the_old_bytes_or_reopens_without_losing_a_record() {
    for (file, appender) in starts() {
        let old = StoredRecord::read_all(&file).unwrap();
        for batch in batches() {
            let pending = appender.prepare(T, &batch);
            let mut new = old.clone();
            new.extend(
                pending
                    .keys()
                    .iter()
                    .zip(&batch)
                    .map(|(key, m)| StoredRecord {
                        key: key.as_str().to_owned(),
                        username: m.username.clone(),
                        message: m.message.clone(),
                    }),
            );
            let steps = pending.steps();
            for (step, &op) in steps.iter().enumerate() {
                for landed in 0..=written(op) {
                    let mut stopped = file.clone();
                    perform_all(&mut stopped, &steps[..step]);
                    perform(&mut stopped, op, landed);
                    let shown = String::from_utf8_lossy(&stopped).into_owned();
                    let complete = step == steps.len() - 1 && landed == written(op);

                    // Killed here: the next open keeps the old records and any new ones that
                    // are whole, and all of them once the last step is done.
                    let kept = reopened(&stopped);
                    assert!(
                        new.starts_with(&kept) && kept.len() >= old.len(),
                        "{shown:?}"
                    );
                    if complete {
                        assert_eq!(kept, new, "{shown:?}");
                    }

                    // Failed here: the undo gives back the file byte for byte.
                    let mut undone = stopped.clone();
                    perform_all(&mut undone, &pending.undo());
                    assert_eq!(undone, file, "undo after {shown:?}");

                    // Killed during the undo: the next open keeps the old records.
                    let [cut, closing] = pending.undo();
                    let mut half_undone = stopped.clone();
                    perform(&mut half_undone, cut, 0);
                    for landed in 0..=written(closing) {
                        let mut partly = half_undone.clone();
                        perform(&mut partly, closing, landed);
                        assert_eq!(reopened(&partly), old, "undo cut at {landed} of {shown:?}");
                    }
                }
            }
        }
    }
}
