//! Unit tables for scanning, encoding, appending and tail repair, all on byte slices.

use ferry_core::Message;
use time::macros::datetime;
use time::OffsetDateTime;

use super::*;
use crate::key::RecordKey;
use crate::record::StoredRecord;

/// A message with the given fields (the store does not validate; the socket server has).
pub(super) fn message(username: &str, text: &str) -> Message {
    Message {
        username: username.to_owned(),
        message: text.to_owned(),
    }
}

/// Scans `file`, applies the tail fix, and returns the appender, as `FileStore::open` does.
pub(super) fn open_bytes(file: &mut Vec<u8>) -> Appender {
    let report = scan(&file[..]).expect("test file scans");
    if let Some(fix) = TailFix::for_scan(&report) {
        fix.apply_to(file);
    }
    Appender::new(&report)
}

/// A positioned write into a file held in memory: overwrites and extends, never truncates.
pub(super) fn write_at(file: &mut Vec<u8>, offset: u64, bytes: &[u8]) {
    let offset = offset as usize;
    let overlap = bytes.len().min(file.len().saturating_sub(offset));
    file[offset..offset + overlap].copy_from_slice(&bytes[..overlap]);
    file.extend_from_slice(&bytes[overlap..]);
}

/// Stores `messages` in the in-memory `file` the way `FileStore::append` does.
pub(super) fn append(
    file: &mut Vec<u8>,
    appender: &mut Appender,
    now: OffsetDateTime,
    messages: &[Message],
) -> Vec<RecordKey> {
    let pending = appender.prepare(now, messages);
    write_at(file, pending.offset(), pending.bytes());
    appender.commit(pending)
}

/// What the original Python app writes with `json.dump(data, f, indent=2)`: ASCII escapes for
/// non-ASCII text, no final newline, and a key without microseconds (Python omits a zero
/// fraction), which ferry keeps but does not count as latest.
pub(crate) const PYTHON_FILE: &str = concat!(
    "{\n",
    "  \"2022-10-29T20:20:58.020261\": {\n",
    "    \"username\": \"krabaton\",\n",
    "    \"message\": \"Caf\\u00e9 \\\"quoted\\\" \\\\ back\"\n",
    "  },\n",
    "  \"2022-10-29T20:21:03\": {\n",
    "    \"username\": \"\\u0416\\ud83d\\ude00\",\n",
    "    \"message\": \"line\\nbreak\\ttab\"\n",
    "  }\n",
    "}"
);

const T: OffsetDateTime = datetime!(2024-09-09 12:34:56.789012 UTC);

/// A file ferry wrote: three records in two appends.
fn ferry_file() -> Vec<u8> {
    let mut file = Vec::new();
    let mut appender = open_bytes(&mut file);
    append(
        &mut file,
        &mut appender,
        T,
        &[message("ann", "hi"), message("bob", "yo")],
    );
    append(&mut file, &mut appender, T, &[message("cy", "a \"quote\"")]);
    file
}

/// (input, records, latest key, append offset, tail)
type ScanCase<'a> = (&'a [u8], u64, Option<&'a str>, u64, Tail);

#[test]
fn scans_acceptable_stores() {
    let python = PYTHON_FILE.as_bytes();
    let ferry = ferry_file();
    let cases: Vec<ScanCase> = vec![
        (b"", 0, None, 0, Tail::Untidy),
        (b" \n\t\r", 0, None, 0, Tail::Untidy),
        (b"{}", 0, None, 0, Tail::Untidy),
        (b"{}\n", 0, None, 0, Tail::Canonical),
        (b"  {}\n", 0, None, 2, Tail::Canonical),
        (b"{ \n }\n\n", 0, None, 0, Tail::Untidy),
        (
            python,
            2,
            Some("2022-10-29T20:20:58.020261"),
            python.len() as u64 - 2,
            Tail::Untidy,
        ),
        (
            &ferry,
            3,
            Some("2024-09-09T12:34:56.789014"),
            ferry.len() as u64 - 3,
            Tail::Canonical,
        ),
        (
            br#"{"k":{"username":"u","message":"m"}}"#,
            1,
            None,
            35,
            Tail::Untidy,
        ),
        (
            br#"{"k": {}, "j": {"n": 1, "b": true, "z": null, "f": -1.5e3}}"#,
            2,
            None,
            58,
            Tail::Untidy,
        ),
        (
            br#"{"2024-01-01T00:00:00.000001": {}, "2023-01-01T00:00:00.000000": {},
                "2024-01-01 00:00:00.000002": {}, "9999": {}}"#,
            4,
            Some("2024-01-01T00:00:00.000001"),
            129,
            Tail::Untidy,
        ),
    ];
    for (input, records, latest, append_offset, tail) in cases {
        let shown = String::from_utf8_lossy(input);
        let report = scan(input).unwrap_or_else(|error| panic!("{shown:?}: {error}"));
        assert_eq!(report.records, records, "{shown:?}");
        assert_eq!(
            report.latest.as_ref().map(RecordKey::as_str),
            latest,
            "{shown:?}"
        );
        assert_eq!(report.append_offset, append_offset, "{shown:?}");
        assert_eq!(report.len, input.len() as u64, "{shown:?}");
        assert_eq!(report.tail, tail, "{shown:?}");
    }
}

#[test]
fn rejects_files_that_are_not_stores() {
    let long_name = format!("{{\"{}\": {{}}}}", "k".repeat(2000));
    let long_field = format!("{{\"k\": {{\"{}\": 1}}}}", "f".repeat(2000));
    // (input, expected error); Syntax and NotRecords details are checked by offset only.
    let cases: Vec<(&[u8], ScanError)> = vec![
        (b"[]", not_records(0)),
        (b"1", not_records(0)),
        (b"\"x\"", not_records(2)),
        (b"null", not_records(3)),
        (br#"{"k": 1}"#, not_records(7)),
        (br#"{"k": "s"}"#, not_records(8)),
        (br#"{"k": [1]}"#, not_records(6)),
        (
            br#"{"k": {"u": {"x": 1}}}"#,
            ScanError::NestedValue { offset: 12 },
        ),
        (
            br#"{"k": {"u": [1]}}"#,
            ScanError::NestedValue { offset: 12 },
        ),
        (br#"{"a": {} "b": {}}"#, syntax(9)),
        (br#"{"a": {}, oops, "b": {}}"#, syntax(10)),
        (br#"{"k": {}} x"#, syntax(10)),
        (br#"{"k": {}}{"j": {}}"#, syntax(9)),
        (
            b"{\"k\": {\"m\": \"\xff\"}, \"j\": {}}",
            ScanError::NotUtf8 { offset: 13 },
        ),
        (
            b"{\"k\": {\"m\": \"\xc3\x28\"}}",
            ScanError::NotUtf8 { offset: 14 },
        ),
        (b"\xef\xbb\xbf{}", syntax(0)),
        (long_name.as_bytes(), ScanError::NameTooLong { offset: 1 }),
        (long_field.as_bytes(), ScanError::NameTooLong { offset: 7 }),
    ];
    let mut mismatches = Vec::new();
    for (input, expected) in cases {
        let shown = String::from_utf8_lossy(input);
        let error = scan(input).expect_err(&shown);
        let matches = match (&error, &expected) {
            (
                ScanError::Syntax { offset, .. } | ScanError::NotRecords { offset, .. },
                ScanError::Syntax { offset: want, .. } | ScanError::NotRecords { offset: want, .. },
            ) => {
                std::mem::discriminant(&error) == std::mem::discriminant(&expected)
                    && offset == want
            }
            _ => error == expected,
        };
        if !matches {
            mismatches.push(format!("{shown:?}: {error:?}, want {expected:?}"));
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

fn not_records(offset: u64) -> ScanError {
    ScanError::NotRecords {
        offset,
        detail: String::new(),
    }
}

fn syntax(offset: u64) -> ScanError {
    ScanError::Syntax {
        offset,
        detail: String::new(),
    }
}

#[test]
fn accepts_long_message_values() {
    let file = format!("{{\"k\": {{\"message\": \"{}\"}}}}", "x".repeat(100_000));
    assert_eq!(scan(file.as_bytes()).map(|report| report.records), Ok(1));
}

#[test]
fn errors_say_where_and_why() {
    let error = scan(&br#"{"a": {}, oops}"#[..]).unwrap_err();
    let text = error.to_string();
    assert_eq!(
        text,
        "not valid JSON at byte 10: key must be a string at line 1 column 11"
    );
    let nested = ScanError::NestedValue { offset: 12 }.to_string();
    assert_eq!(nested, "nested object or array inside a record at byte 12");
}

#[test]
fn encodes_like_python_indent_2() {
    let key = RecordKey::parse("2024-09-09T12:34:56.789012").unwrap();
    let ann = message("ann", "hi");
    let tricky = message("q\"b\\s/", "tab\tnl\ncr\r\u{1}\u{7f} é 😀");
    let mut buf = Vec::new();
    let kept = encode_append(&mut buf, true, [(&key, &ann)]);
    let expected = "{\n  \"2024-09-09T12:34:56.789012\": {\n    \"username\": \"ann\",\n    \
                    \"message\": \"hi\"\n  }\n}\n";
    assert_eq!(String::from_utf8(buf.clone()).unwrap(), expected);
    assert_eq!(kept, buf.len() as u64 - 3);

    buf.clear();
    encode_append(&mut buf, false, [(&key, &ann), (&key, &tricky)]);
    let expected = concat!(
        ",\n  \"2024-09-09T12:34:56.789012\": {\n    \"username\": \"ann\",\n",
        "    \"message\": \"hi\"\n  },\n  \"2024-09-09T12:34:56.789012\": {\n",
        "    \"username\": \"q\\\"b\\\\s/\",\n",
        "    \"message\": \"tab\\tnl\\ncr\\r\\u0001\u{7f} é 😀\"\n  }\n}\n",
    );
    assert_eq!(String::from_utf8(buf).unwrap(), expected);
}

#[test]
fn encodes_nothing_for_no_records() {
    let mut buf = Vec::new();
    assert_eq!(encode_append(&mut buf, false, []), 0);
    assert!(buf.is_empty());
}

#[test]
fn appending_to_a_python_file_keeps_its_bytes() {
    let mut file = PYTHON_FILE.as_bytes().to_vec();
    let mut appender = open_bytes(&mut file);
    let append_offset = PYTHON_FILE.len() - 2;
    assert_eq!(appender.offset(), append_offset as u64);
    assert_eq!(
        file,
        format!("{}\n", PYTHON_FILE).as_bytes(),
        "only the closing is rewritten"
    );
    let keys = append(&mut file, &mut appender, T, &[message("new", "one")]);
    assert_eq!(keys[0].as_str(), "2024-09-09T12:34:56.789012");
    assert_eq!(
        &file[..append_offset],
        &PYTHON_FILE.as_bytes()[..append_offset]
    );
    let records = StoredRecord::read_all(&file).unwrap();
    let names: Vec<&str> = records.iter().map(|r| r.username.as_str()).collect();
    assert_eq!(names, ["krabaton", "Ж😀", "new"]);
    assert_eq!(records[0].message, "Café \"quoted\" \\ back");
    let appended = concat!(
        "\n  },\n  \"2024-09-09T12:34:56.789012\": {\n",
        "    \"username\": \"new\",\n    \"message\": \"one\"\n  }\n}\n"
    );
    assert!(String::from_utf8(file).unwrap().ends_with(appended));
}

#[test]
fn prepare_changes_nothing_until_commit() {
    let mut file = ferry_file();
    let mut appender = open_bytes(&mut file);
    let before = appender.clone();
    let pending = appender.prepare(T, &[message("d", "e")]);
    assert_eq!(
        appender, before,
        "a failed write leaves the state as it was"
    );
    assert_eq!(pending.offset(), before.offset());
    let again = appender.prepare(T, &[message("d", "e")]);
    assert_eq!(
        again, pending,
        "preparing again after a failure gives the same write"
    );
    write_at(&mut file, pending.offset(), pending.bytes());
    let keys = appender.commit(pending);
    assert_eq!(keys.len(), 1);
    assert_eq!(appender.len(), 4);
    assert_eq!(scan(&file[..]).unwrap().append_offset, appender.offset());
}

/// Every cut of `file`, scanned and repaired, keeps exactly the records complete before the cut.
fn check_every_cut(file: &[u8], padding: &[u8]) {
    let whole = StoredRecord::read_all(file).unwrap();
    let mut ends = Vec::new();
    for cut in 0..=file.len() {
        let mut torn = file[..cut].to_vec();
        torn.extend_from_slice(padding);
        let shown = String::from_utf8_lossy(&torn).into_owned();
        let report = scan(&torn[..]).unwrap_or_else(|error| panic!("{shown:?}: {error}"));
        let kept = report.records as usize;
        if ends.len() < kept {
            ends.push(cut);
        }
        let mut repaired = torn.clone();
        if let Some(fix) = TailFix::for_scan(&report) {
            fix.apply_to(&mut repaired);
        }
        assert_eq!(
            StoredRecord::read_all(&repaired).unwrap(),
            whole[..kept],
            "{shown:?}"
        );
        assert_eq!(
            scan(&repaired[..]).unwrap().tail,
            Tail::Canonical,
            "{shown:?}"
        );
    }
    // Each record counts from the cut that includes its closing brace, and all of them do at last.
    assert_eq!(ends.len(), whole.len());
    for (index, &end) in ends.iter().enumerate() {
        assert_eq!(file[end - 1], b'}', "record {index} counted before its end");
    }
}

#[test]
fn recovers_every_cut_of_a_ferry_file() {
    check_every_cut(&ferry_file(), b"");
}

#[test]
fn recovers_every_cut_of_a_python_file() {
    check_every_cut(PYTHON_FILE.as_bytes(), b"");
}

#[test]
fn recovers_cuts_padded_with_nul_bytes() {
    check_every_cut(&ferry_file(), &[0; 40]);
    check_every_cut(PYTHON_FILE.as_bytes(), b"\0\0\0\0");
}

#[test]
fn recovers_an_append_cut_before_it_covered_the_old_closing() {
    // One byte of `,\n  "...` landed over the old `\n}\n`, leaving `,}\n`.
    let file = b"{\n  \"k\": {\n    \"username\": \"a\",\n    \"message\": \"b\"\n  },}\n";
    let report = scan(&file[..]).unwrap();
    assert_eq!((report.records, report.tail), (1, Tail::Torn));
    assert_eq!(report.append_offset, file.len() as u64 - 3);
}

#[test]
fn repair_note_names_the_file_and_the_loss() {
    let mut file = ferry_file();
    let kept = file.len() - 3;
    file.truncate(kept);
    file.extend_from_slice(b",\n  \"2024-09-09T12:3");
    let report = scan(&file[..]).unwrap();
    let fix = TailFix::for_scan(&report).unwrap();
    assert_eq!(fix.truncate_at, kept as u64);
    let note = fix.note(std::path::Path::new("storage/data.json"));
    assert_eq!(
        note.as_deref(),
        Some("repaired storage/data.json: dropped a torn tail of 20 bytes after 3 records")
    );
    let only_closing_missing = scan(&file[..kept]).unwrap();
    let note = TailFix::for_scan(&only_closing_missing)
        .unwrap()
        .note("d.json".as_ref());
    assert_eq!(
        note.as_deref(),
        Some("repaired d.json: restored the missing end of the JSON object after 3 records")
    );
    let untidy = TailFix::for_scan(&scan(&b"{}"[..]).unwrap()).unwrap();
    assert_eq!(
        untidy.note("d.json".as_ref()),
        None,
        "tidying a valid closing is no repair"
    );
}

#[test]
fn never_repairs_damage_before_the_tail() {
    let file = ferry_file();
    let middle = file.len() / 2;
    let cases: Vec<Vec<u8>> = vec![
        // A hole of NUL bytes in the middle, with records after it.
        [&file[..middle], &[0u8; 8][..], &file[middle + 8..]].concat(),
        // Bytes lost from the middle.
        [&file[..middle], &file[middle + 5..]].concat(),
        // A torn entry followed by more text.
        [
            &file[..file.len() - 3],
            &b",\n  \"2024-09\0\0\0 \"x\": {}}"[..],
        ]
        .concat(),
        // A complete value of the wrong kind at the very end.
        [&file[..file.len() - 3], &b",\n  \"k\": 1\n}"[..]].concat(),
        // Nesting at the very end.
        [&file[..file.len() - 3], &b",\n  \"k\": {\"u\": {"[..]].concat(),
    ];
    for case in cases {
        let shown = String::from_utf8_lossy(&case).into_owned();
        assert!(scan(&case[..]).is_err(), "{shown:?}");
    }
}

#[test]
fn positions_stay_exact_in_files_larger_than_the_scan_buffer() {
    // Far more records and lines than one scan buffer holds, so the lexer's windows of record
    // ends and line starts have long dropped their first entries.
    let mut file = Vec::new();
    let mut appender = open_bytes(&mut file);
    let batch: Vec<Message> = (0..100)
        .map(|i| message(&format!("u{i}"), "some text"))
        .collect();
    for _ in 0..200 {
        append(&mut file, &mut appender, T, &batch);
    }
    let report = scan(&file[..]).unwrap();
    assert_eq!((report.records, report.tail), (20_000, Tail::Canonical));
    assert_eq!(report.append_offset, file.len() as u64 - 3);

    let torn = &file[..file.len() - 20];
    let report = scan(torn).unwrap();
    assert_eq!((report.records, report.tail), (19_999, Tail::Torn));
    let last_end = file[..file.len() - 20]
        .iter()
        .rposition(|&b| b == b'}')
        .unwrap() as u64;
    assert_eq!(report.append_offset, last_end + 1);

    let comma = file.len() - 200
        + file[file.len() - 200..]
            .iter()
            .position(|&b| b == b',')
            .unwrap();
    let mut damaged = file.clone();
    damaged[comma] = b';';
    let error = scan(&damaged[..]).unwrap_err();
    assert!(matches!(error, ScanError::Syntax { offset, .. } if offset == comma as u64));
    // The same in the middle, with much of the file still ahead of the parser.
    let middle = file.len() / 2;
    let comma = middle + file[middle..].iter().position(|&b| b == b',').unwrap();
    let mut damaged = file.clone();
    damaged[comma] = b';';
    let error = scan(&damaged[..]).unwrap_err();
    assert!(matches!(error, ScanError::Syntax { offset, .. } if offset == comma as u64));

    // One long line: a compact file whose error sits far beyond the first buffer.
    let mut compact = b"{".to_vec();
    for i in 0..5000 {
        compact.extend_from_slice(format!("\"k{i}\":{{\"m\":\"x\"}},").as_bytes());
    }
    let bad = compact.len();
    compact.extend_from_slice(b"x}");
    assert!(
        matches!(scan(&compact[..]), Err(ScanError::Syntax { offset, .. }) if offset == bad as u64)
    );
}

#[test]
fn a_failing_reader_is_a_read_error() {
    struct Failing;
    impl std::io::Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk on fire"))
        }
    }
    assert!(
        matches!(scan(Failing), Err(ScanError::Read { detail }) if detail.contains("disk on fire"))
    );
}
