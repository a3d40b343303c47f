use std::fs;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::symlink;
use std::path::PathBuf;

use ferry_core::files::{resolve, temp_name};

use super::*;

/// A scratch folder holding an empty `root/` and an `outside/` with one file.
fn scratch(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferry-root-{}-{label}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("root")).unwrap();
    fs::create_dir(dir.join("outside")).unwrap();
    fs::write(dir.join("outside/secret"), "secret").unwrap();
    dir
}

fn path(target: &str) -> FilePath {
    resolve(target).unwrap()
}

/// Every entry under `folder`, relative and sorted.
fn tree(folder: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        for entry in fs::read_dir(folder.join(&relative)).unwrap().flatten() {
            let name = relative.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                pending.push(name.clone());
            }
            found.push(name.to_string_lossy().into_owned());
        }
    }
    found.sort();
    found
}

#[test]
fn lookups_tell_files_folders_and_what_may_not_be_read() {
    let dir = scratch("lookup");
    let root_dir = dir.join("root");
    fs::create_dir(root_dir.join("docs")).unwrap();
    fs::write(root_dir.join("docs/a.txt"), "hello").unwrap();
    symlink(dir.join("outside/secret"), root_dir.join("out")).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(root_dir.join("pipe"))
        .status()
        .unwrap();
    assert!(status.success());
    let root = FileRoot::open(&root_dir).unwrap();
    let (found, file) = root.lookup(&path("/docs/a.txt"));
    assert!(matches!(found, Lookup::File { len: 5, .. }));
    assert!(file.is_some());
    assert_eq!(root.lookup(&path("/docs/")).0, Lookup::Folder);
    assert_eq!(root.lookup(&path("/none")).0, Lookup::Missing);
    assert_eq!(root.lookup(&path("/docs/a.txt/x")).0, Lookup::Missing);
    assert_eq!(root.lookup(&path("/out")).0, Lookup::Forbidden);
    // A FIFO opens without blocking and is not served.
    assert_eq!(root.lookup(&path("/pipe")).0, Lookup::Missing);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_upload_is_written_in_the_upload_folder_then_renamed() {
    let dir = scratch("upload");
    let root_dir = dir.join("root");
    let root = FileRoot::open(&root_dir).unwrap();
    let mut upload = root.begin_upload(&path("/a/b/new.bin")).unwrap();
    upload.write(b"first");
    let during = tree(&root_dir);
    assert_eq!(during.len(), 4, "{during:?}");
    assert_eq!(during[0], UPLOAD_FOLDER);
    assert!(is_temp_name(
        during[1].trim_start_matches(".ferry-uploads/")
    ));
    assert_eq!(during[2..], ["a", "a/b"]);
    assert_eq!(upload.commit(), WriteOutcome::Created);
    assert_eq!(fs::read(root_dir.join("a/b/new.bin")).unwrap(), b"first");
    let mut again = root.begin_upload(&path("/a/b/new.bin")).unwrap();
    again.write(b"second");
    assert_eq!(again.commit(), WriteOutcome::Replaced);
    assert_eq!(fs::read(root_dir.join("a/b/new.bin")).unwrap(), b"second");
    assert_eq!(
        tree(&root_dir),
        [".ferry-uploads", "a", "a/b", "a/b/new.bin"]
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_upload_dropped_leaves_nothing_it_made() {
    let dir = scratch("dropped");
    let root_dir = dir.join("root");
    fs::create_dir(root_dir.join("kept")).unwrap();
    let root = FileRoot::open(&root_dir).unwrap();
    let mut upload = root.begin_upload(&path("/kept/new/deeper/x.bin")).unwrap();
    upload.write(b"partial");
    drop(upload);
    assert_eq!(tree(&root_dir), [".ferry-uploads", "kept"]);
    // The same when the stop removes the temporary file first.
    let upload = root.begin_upload(&path("/kept/y.bin")).unwrap();
    root.remove_temps();
    assert_eq!(tree(&root_dir), [".ferry-uploads", "kept"]);
    assert_eq!(upload.commit(), WriteOutcome::Failed);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn uploads_through_or_onto_a_symlink_out_write_nothing() {
    let dir = scratch("symlink-out");
    let root_dir = dir.join("root");
    symlink(dir.join("outside"), root_dir.join("out")).unwrap();
    symlink(dir.join("outside/secret"), root_dir.join("link")).unwrap();
    symlink(dir.join("outside/none"), root_dir.join("dangling")).unwrap();
    let root = FileRoot::open(&root_dir).unwrap();
    for target in ["/out/x.bin", "/out/new/x.bin", "/link", "/dangling"] {
        let refused = root.begin_upload(&path(target)).err();
        assert_eq!(refused, Some(WriteOutcome::Forbidden), "{target}");
    }
    assert_eq!(tree(&dir.join("outside")), ["secret"]);
    assert_eq!(fs::read(dir.join("outside/secret")).unwrap(), b"secret");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_folder_in_the_way_is_a_conflict() {
    let dir = scratch("conflict");
    let root_dir = dir.join("root");
    fs::create_dir(root_dir.join("dir")).unwrap();
    fs::write(root_dir.join("file"), "x").unwrap();
    let root = FileRoot::open(&root_dir).unwrap();
    for target in ["/dir", "/file/x.bin"] {
        let refused = root.begin_upload(&path(target)).err();
        assert_eq!(refused, Some(WriteOutcome::Conflict), "{target}");
    }
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn stale_temporary_files_go_at_start_and_locked_ones_stay() {
    let dir = scratch("stale");
    let uploads = dir.join("root").join(UPLOAD_FOLDER);
    fs::create_dir(&uploads).unwrap();
    fs::write(uploads.join(temp_name(1)), "crashed").unwrap();
    fs::write(uploads.join("notes.txt"), "not ours").unwrap();
    let mut live = fs::File::create(uploads.join(temp_name(2))).unwrap();
    live.write_all(b"another server is writing").unwrap();
    assert!(try_lock(live.as_fd()).unwrap());
    FileRoot::open(&dir.join("root")).unwrap();
    let mut left: Vec<String> = fs::read_dir(&uploads)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, [temp_name(2), "notes.txt".to_string()]);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_long_name_still_gets_its_temporary_file() {
    let dir = scratch("long");
    let root = FileRoot::open(&dir.join("root")).unwrap();
    let name = "n".repeat(255);
    let mut upload = root.begin_upload(&path(&format!("/{name}"))).unwrap();
    upload.write(b"x");
    assert_eq!(upload.commit(), WriteOutcome::Created);
    fs::remove_dir_all(dir).unwrap();
}
