//! Properties of the format: random appends always leave the exact records in order, and a cut
//! anywhere in the last append recovers every record completed before it.

use ferry_core::Message;
use proptest::prelude::*;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::tests::{append, message, open_bytes, write_at, PYTHON_FILE};
use super::*;
use crate::record::StoredRecord;

/// Text that stresses the encoder: any Unicode, or a mix of quotes, backslashes, control
/// characters, DEL, non-ASCII and emoji.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\"\\\\/\\x00-\\x1f\\x7f a-zé\u{2028}😀]{0,16}"
    ]
}

fn batch() -> impl Strategy<Value = Vec<Message>> {
    prop::collection::vec((text(), text()), 1..6).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(user, body)| message(&user, &body))
            .collect()
    })
}

/// Wall-clock offsets in microseconds: mostly tiny steps (repeats, backwards), sometimes jumps.
fn clock_step() -> impl Strategy<Value = i64> {
    prop_oneof![Just(0i64), -3i64..=3, -5_000_000i64..=5_000_000]
}

/// What a store file starts as.
fn start() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(""), Just("{}"), Just(" { }\n\n"), Just(PYTHON_FILE)]
}

const BASE: OffsetDateTime = datetime!(2024-09-09 12:00:00 UTC);

/// The records a message batch becomes, with the keys it was given.
fn expected(keys: &[crate::key::RecordKey], messages: &[Message]) -> Vec<StoredRecord> {
    keys.iter()
        .zip(messages)
        .map(|(key, m)| StoredRecord {
            key: key.as_str().to_owned(),
            username: m.username.clone(),
            message: m.message.clone(),
        })
        .collect()
}

proptest! {
    #[test]
    fn appends_store_exactly_the_records_in_order(
        start in start(),
        batches in prop::collection::vec((clock_step(), batch()), 1..8),
    ) {
        let mut file = start.as_bytes().to_vec();
        let mut appender = open_bytes(&mut file);
        let mut records = StoredRecord::read_all(start.as_bytes()).unwrap();
        let first_new = records.len();
        let mut now = BASE;
        for (step, messages) in &batches {
            now += Duration::microseconds(*step);
            let keys = append(&mut file, &mut appender, now, messages);
            records.extend(expected(&keys, messages));

            // The file is valid after every append, and a fresh scan agrees with the appender.
            prop_assert_eq!(&StoredRecord::read_all(&file).unwrap(), &records);
            let report = scan(&file[..]).unwrap();
            prop_assert_eq!(report.tail, Tail::Canonical);
            prop_assert_eq!(report.records, appender.len());
            prop_assert_eq!(report.append_offset, appender.offset());
            prop_assert_eq!(report.latest, keys.last().cloned());
        }
        let ours: Vec<&str> = records[first_new..].iter().map(|r| r.key.as_str()).collect();
        prop_assert!(ours.windows(2).all(|pair| pair[0] < pair[1]), "keys ascend: {:?}", ours);
        let kept = scan(start.as_bytes()).unwrap().append_offset as usize;
        prop_assert_eq!(&file[..kept], &start.as_bytes()[..kept], "bytes before the append point");
    }

    #[test]
    fn a_cut_anywhere_in_the_last_append_keeps_every_complete_record(
        start in start(),
        earlier in prop::collection::vec(batch(), 0..3),
        last in batch(),
        padding in prop_oneof![Just(0usize), 1usize..64],
        // NUL bytes from a power cut, spaces from the room an append takes before its records.
        pad_byte in prop_oneof![Just(0u8), Just(b' ')],
    ) {
        let mut file = start.as_bytes().to_vec();
        let mut appender = open_bytes(&mut file);
        for messages in &earlier {
            append(&mut file, &mut appender, BASE, messages);
        }
        let before = StoredRecord::read_all(&file).unwrap();
        let pending = appender.prepare(BASE, &last);
        let new_records = expected(pending.keys(), &last);
        // Where each record of the last append ends inside its bytes.
        let ends: Vec<usize> = (1..=last.len())
            .map(|count| {
                let mut prefix = Vec::new();
                let keys = &pending.keys()[..count];
                encode_append(&mut prefix, appender.is_empty(), keys.iter().zip(&last)) as usize
            })
            .collect();
        for cut in 0..=pending.bytes().len() {
            // An interrupted positioned write: a prefix of the new bytes over the old file.
            let mut torn = file.clone();
            write_at(&mut torn, pending.offset(), &pending.bytes()[..cut]);
            torn.resize(torn.len() + padding, pad_byte);
            let report = scan(&torn[..]).map_err(|error| TestCaseError::fail(error.to_string()))?;
            let mut repaired = torn.clone();
            if let Some(fix) = TailFix::for_scan(&report) {
                fix.apply_to(&mut repaired);
            }
            let complete = ends.iter().filter(|&&end| end <= cut).count();
            let mut want = before.clone();
            want.extend_from_slice(&new_records[..complete]);
            prop_assert_eq!(StoredRecord::read_all(&repaired).unwrap(), want, "cut at {}", cut);
            let again = scan(&repaired[..]).unwrap();
            prop_assert_eq!(again.tail, Tail::Canonical);
            prop_assert_eq!(again.records, report.records);
        }
    }
}
