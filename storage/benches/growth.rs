//! Does an append cost the same in a small store and a large one?
//!
//! Pre-fills stores with 1,000, 100,000 and 1,000,000 records (written directly, in ferry's own
//! layout), then times appends into each with `FsyncPolicy::Never` (the cost of the write alone)
//! and `FsyncPolicy::Batch` (write plus one `sync_data` per call), and prints microseconds per
//! stored message and the ratio between the largest and the smallest store. Also prints how long
//! opening (the one scan) takes. Each figure is the median of a few rounds on fresh copies of the
//! pre-filled file, the sizes taking turns within each round. Run with `cargo bench -p ferry-storage`; this measures, it never asserts.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use ferry_core::Message;
use ferry_storage::format::{closing, encode_append};
use ferry_storage::{FileStore, FsyncPolicy, RecordKey, StoreOptions};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

fn main() {
    let dir = std::env::temp_dir().join(format!("ferry-storage-growth-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("create the bench folder");
    let templates: Vec<PathBuf> = PREFILLED
        .iter()
        .map(|&records| prefill(&dir, records))
        .collect();
    // Sizes are measured in turn within each round, so drift on a shared machine touches them
    // alike instead of showing up as growth.
    let mut never: Vec<Vec<Measured>> = PREFILLED.iter().map(|_| Vec::new()).collect();
    let mut batch: Vec<Vec<Measured>> = PREFILLED.iter().map(|_| Vec::new()).collect();
    for _ in 0..ROUNDS {
        for (i, (&records, template)) in PREFILLED.iter().zip(&templates).enumerate() {
            never[i].push(measure(
                &dir,
                template,
                records,
                FsyncPolicy::Never,
                NEVER_BATCHES,
            ));
            batch[i].push(measure(
                &dir,
                template,
                records,
                FsyncPolicy::Batch,
                BATCH_BATCHES,
            ));
        }
    }
    println!(
        "records   open (scan) ms   Never us/msg   Batch us/msg   (medians of {ROUNDS} interleaved rounds)"
    );
    let mut results = Vec::new();
    for (i, &records) in PREFILLED.iter().enumerate() {
        let (never, batch) = (median(&mut never[i]), median(&mut batch[i]));
        println!(
            "{records:>9} {:>16.1} {:>14.2} {:>14.2}",
            never.open_ms, never.us, batch.us
        );
        results.push((never.us, batch.us));
    }
    if let (Some(first), Some(last)) = (results.first(), results.last()) {
        println!(
            "ratio largest/smallest store: Never {:.2}, Batch {:.2}",
            last.0 / first.0,
            last.1 / first.1
        );
    }
    let _ = fs::remove_dir_all(&dir);
}

struct Measured {
    open_ms: f64,
    us: f64,
}

/// The medians of both figures over the rounds.
fn median(rounds: &mut [Measured]) -> Measured {
    let middle = rounds.len() / 2;
    rounds.sort_by(|a, b| a.us.total_cmp(&b.us));
    let us = rounds[middle].us;
    rounds.sort_by(|a, b| a.open_ms.total_cmp(&b.open_ms));
    Measured {
        open_ms: rounds[middle].open_ms,
        us,
    }
}

/// Opens a copy of `template` (a store of `records` records) and times `batches` appends of
/// `BATCH_LEN` messages each.
fn measure(
    dir: &Path,
    template: &Path,
    records: u64,
    fsync: FsyncPolicy,
    batches: u32,
) -> Measured {
    let path = dir.join("data.json");
    fs::copy(template, &path).expect("copy the pre-filled store");
    File::open(&path)
        .and_then(|file| file.sync_all())
        .expect("sync the copy");
    let started = Instant::now();
    let (mut store, _) = FileStore::open(&path, StoreOptions { fsync }).expect("open the store");
    let open_ms = started.elapsed().as_secs_f64() * 1e3;
    assert_eq!(store.len(), records);
    let messages: Vec<Message> = (0..BATCH_LEN)
        .map(|index| Message {
            username: format!("user{index}"),
            message: "a message of a typical length, about fifty bytes".to_owned(),
        })
        .collect();
    let started = Instant::now();
    for _ in 0..batches {
        store
            .append(OffsetDateTime::now_utc(), &messages)
            .expect("append");
    }
    let stored = f64::from(batches) * BATCH_LEN as f64;
    let us = started.elapsed().as_secs_f64() * 1e6 / stored;
    drop(store);
    let _ = fs::remove_file(&path);
    Measured { open_ms, us }
}

/// Writes a store of `records` records straight to a file, as ferry would have written them.
fn prefill(dir: &Path, records: u64) -> PathBuf {
    let path = dir.join(format!("template-{records}.json"));
    let mut out = BufWriter::new(File::create(&path).expect("create the store file"));
    let message = Message {
        username: "someone".to_owned(),
        message: "hello there".to_owned(),
    };
    let mut buf = Vec::new();
    for index in 0..records {
        let micros = i64::try_from(index).expect("record count fits in i64");
        let key = RecordKey::from_time(PREFILL_START + Duration::microseconds(micros));
        let kept = encode_append(&mut buf, index == 0, [(&key, &message)]);
        out.write_all(&buf[..kept as usize])
            .expect("write a record");
        buf.clear();
    }
    out.write_all(closing(records == 0))
        .expect("write the closing");
    // Sync now, so the first timed `sync_data` does not also flush the whole pre-filled file.
    let file = out.into_inner().expect("flush the store file");
    file.sync_all().expect("sync the store file");
    path
}

/// Store sizes to compare.
const PREFILLED: &[u64] = &[1_000, 100_000, 1_000_000];

/// Messages per append call, as a busy socket server would batch them.
const BATCH_LEN: usize = 10;

/// Append calls timed without sync: enough for the per-message figure to settle.
const NEVER_BATCHES: u32 = 2_000;

/// Append calls timed with a sync each: fewer, since every one waits for the disk.
const BATCH_BATCHES: u32 = 100;

/// Rounds per store size and policy; the median is printed, as the disk is shared.
const ROUNDS: usize = 5;

/// Keys of the pre-filled records start here, one microsecond apart.
const PREFILL_START: OffsetDateTime = datetime!(2024-01-01 00:00:00 UTC);
