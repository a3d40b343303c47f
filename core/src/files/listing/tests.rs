use time::macros::datetime;

use super::page::PageOptions;
use super::*;
use crate::files::resolve;

fn entry(name: &str, kind: EntryKind, size: u64, minute: u8) -> Entry {
    Entry {
        name: name.to_owned(),
        kind,
        size,
        modified: datetime!(2026-01-02 03:00:00 UTC) + time::Duration::minutes(minute.into()),
    }
}

fn sample() -> Vec<Entry> {
    vec![
        entry("b.txt", EntryKind::File, 300, 1),
        entry("a.txt", EntryKind::File, 20, 3),
        entry("zeta", EntryKind::Folder, 0, 2),
        entry("c.bin", EntryKind::File, 1000, 0),
        entry("alpha", EntryKind::Folder, 0, 5),
    ]
}

fn names(entries: &[Entry]) -> Vec<&str> {
    entries.iter().map(|e| e.name.as_str()).collect()
}

fn page(target: &str, entries: &[Entry], writable: bool) -> String {
    let folder = resolve(target).unwrap();
    let options = PageOptions {
        writable,
        truncated: false,
    };
    let query = ListQuery::from_target(target);
    String::from_utf8(render_page(&folder, entries, &query, options)).unwrap()
}

#[test]
fn queries_pick_the_order_and_the_form() {
    let cases = [
        ("/", SortKey::Name, false, false),
        ("/?sort=size&order=desc", SortKey::Size, true, false),
        ("/d/?order=desc&sort=time", SortKey::Time, true, false),
        ("/?sort=time&order=asc&json", SortKey::Time, false, true),
        ("/?json=1#x", SortKey::Name, false, true),
        ("/?sort=SIZE&order=up&x=%zz", SortKey::Name, false, false),
        ("/#?sort=size", SortKey::Name, false, false),
        ("/?&&sort=size&", SortKey::Size, false, false),
    ];
    for (target, sort, descending, json) in cases {
        let query = ListQuery::from_target(target);
        assert_eq!(
            query,
            ListQuery {
                sort,
                descending,
                json
            },
            "{target}"
        );
    }
    let query = ListQuery::from_target("/?sort=size&order=desc");
    assert_eq!(query.to_query(), "sort=size&order=desc");
}

#[test]
fn json_wins_only_when_preferred() {
    let cases = [
        (None, false),
        (Some("application/json"), true),
        (Some("application/json, text/plain"), true),
        (Some("*/*"), false),
        (Some("text/html,application/xhtml+xml,*/*;q=0.8"), false),
        (Some("text/html;q=0.5, application/json"), true),
        (Some("application/json;q=0.5, */*;q=0.9"), false),
        (Some("application/*"), true),
        (Some("application/json;q=0"), false),
        (Some("application/json;q=2"), false),
        (Some("APPLICATION/JSON"), true),
        (Some("text/*;q=0.2, application/json;q=0.3"), true),
        (Some("garbage"), false),
    ];
    for (accept, json) in cases {
        assert_eq!(prefers_json(accept), json, "{accept:?}");
    }
}

#[test]
fn hidden_and_reserved_names_are_left_out() {
    assert!(is_listed("a.txt", true, false));
    assert!(!is_listed(".env", true, false));
    assert!(is_listed(".env", true, true));
    assert!(!is_listed(".ferry-uploads", true, true));
    assert!(is_listed(".ferry-uploads", false, true));
    let temp = crate::files::temp_name(9);
    assert!(!is_listed(&temp, false, true));
}

#[test]
fn folders_come_first_in_every_order() {
    let mut entries = sample();
    let order = |entries: &mut Vec<Entry>, target: &str| {
        sort_entries(entries, &ListQuery::from_target(target));
        names(entries).join(" ")
    };
    assert_eq!(order(&mut entries, "/"), "alpha zeta a.txt b.txt c.bin");
    assert_eq!(
        order(&mut entries, "/?order=desc"),
        "zeta alpha c.bin b.txt a.txt"
    );
    assert_eq!(
        order(&mut entries, "/?sort=size"),
        "alpha zeta a.txt b.txt c.bin"
    );
    assert_eq!(
        order(&mut entries, "/?sort=size&order=desc"),
        "zeta alpha c.bin b.txt a.txt"
    );
    assert_eq!(
        order(&mut entries, "/?sort=time"),
        "zeta alpha c.bin b.txt a.txt"
    );
    assert_eq!(
        order(&mut entries, "/?sort=time&order=desc"),
        "alpha zeta a.txt b.txt c.bin"
    );
}

#[test]
fn json_lists_name_type_size_and_time() {
    let entries = vec![
        entry("dir", EntryKind::Folder, 0, 0),
        entry("a \"b\".txt", EntryKind::File, 5, 1),
    ];
    let json: serde_json::Value = serde_json::from_slice(&render_json(&entries)).unwrap();
    assert_eq!(
        json,
        serde_json::json!([
            {"name": "dir", "type": "dir", "size": null, "modified": "2026-01-02T03:00:00Z"},
            {"name": "a \"b\".txt", "type": "file", "size": 5, "modified": "2026-01-02T03:01:00Z"},
        ])
    );
    assert_eq!(render_json(&[]), b"[]\n");
}

#[test]
fn hostile_names_are_escaped_and_encoded() {
    let entries = vec![
        entry("<script>alert(1)</script>", EntryKind::File, 1, 0),
        entry("q\"uote's & <b>", EntryKind::Folder, 0, 0),
        entry("new\nline", EntryKind::File, 1, 0),
        entry("100% #1?.txt", EntryKind::File, 1, 0),
    ];
    let html = page("/", &entries, true);
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("href=\"%3Cscript%3Ealert%281%29%3C%2Fscript%3E\""));
    assert!(html.contains("q&quot;uote&#39;s &amp; &lt;b&gt;/"));
    assert!(html.contains("href=\"q%22uote%27s%20%26%20%3Cb%3E/\""));
    assert!(html.contains("href=\"100%25%20%231%3F.txt\""));
    // A name with a newline cannot be requested: shown, not linked, and never breaks a tag.
    assert!(html
        .contains("<span class=\"odd\" title=\"this name cannot be requested\">new\u{240a}line"));
    assert!(!html.contains("href=\"new%0Aline\""));
}

#[test]
fn links_are_relative_and_the_root_has_no_parent() {
    let entries = vec![
        entry("sub", EntryKind::Folder, 0, 0),
        entry("f.txt", EntryKind::File, 1, 0),
    ];
    let root = page("/", &entries, false);
    assert!(!root.contains("href=\"../\""));
    assert!(root.contains("<a href=\"sub/\">sub/</a>"));
    assert!(root.contains("<a href=\"f.txt\">f.txt</a>"));
    let deep = page("/a/b%20c/", &entries, false);
    assert!(deep.contains("<a href=\"../\">../</a>"));
    assert!(deep.contains("Index of <a href=\"../../\">/</a><a href=\"../\">a/</a>"));
    assert!(deep.contains("<span class=\"here\">b c/</span>"));
    assert!(deep.contains("<title>Index of /a/b c/</title>"));
    for html in [&root, &deep] {
        assert!(!html.contains("href=\"/"), "an absolute link");
        assert!(!html.contains("src="), "an external resource");
        assert!(!html.contains("href=\"http") && !html.contains("url(http"));
        assert!(!html.contains("url(/") && !html.contains("url(\"/"));
    }
}

#[test]
fn write_controls_only_when_writes_may_be_allowed() {
    let entries = vec![entry("f.txt", EntryKind::File, 1, 0)];
    let read_only = page("/", &entries, false);
    assert!(!read_only.contains("<script>"));
    assert!(!read_only.contains("id=\"upload\""));
    assert!(!read_only.contains("class=\"del\""));
    let writable = page("/", &entries, true);
    assert!(writable.contains("data-writable=\"1\""));
    assert!(writable.contains("<input type=\"file\" id=\"pick\" multiple>"));
    assert!(writable.contains("data-href=\"f.txt\""));
    assert!(writable.contains("XMLHttpRequest"));
}

#[test]
fn sort_headers_toggle_the_order_of_their_column() {
    let html = page("/?sort=size&order=asc", &sample(), false);
    assert!(html.contains(
        "<button name=\"sort\" value=\"size\" aria-sort=\"ascending\" class=\"on\">Size ▴\
         </button><input type=\"hidden\" name=\"order\" value=\"desc\">"
    ));
    assert!(html.contains(
        "<button name=\"sort\" value=\"name\">Name</button><input type=\"hidden\" \
         name=\"order\" value=\"asc\">"
    ));
}

#[test]
fn sizes_read_like_a_person_would_say_them() {
    let entries = vec![
        entry("a", EntryKind::File, 1023, 0),
        entry("b", EntryKind::File, 1536, 0),
        entry("c", EntryKind::File, 5 << 30, 0),
    ];
    let html = page("/", &entries, false);
    assert!(html.contains("title=\"1023 bytes\">1023 B<"));
    assert!(html.contains(">1.5 KiB<"));
    assert!(html.contains(">5.0 GiB<"));
    assert!(html.contains("0 folders, 3 files (5.0 GiB)"));
}
