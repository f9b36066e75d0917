//! Atomic writes: the new bytes or the old file, never a mix, no temporary file left behind, and a
//! missing folder is an error that names the path.

use metamorph_host::fs::{write_atomic, write_bytes_atomic};

#[test]
fn replaces_whole_files_and_keeps_the_old_one_on_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.bin");
    write_bytes_atomic(&path, b"first").unwrap();
    write_bytes_atomic(&path, b"second").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"second");
    let err = write_atomic(&path, |tmp| {
        std::fs::write(tmp, b"half")?;
        anyhow::bail!("interrupted")
    })
    .unwrap_err();
    assert!(format!("{err:#}").contains("interrupted"), "{err:#}");
    assert_eq!(std::fs::read(&path).unwrap(), b"second", "the old file survives a failed write");
    assert!(!dir.path().join("out.bin.tmp").exists(), "no temporary file left behind");
}

#[test]
fn a_missing_folder_is_an_error_not_a_new_folder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing/out.bin");
    let err = write_bytes_atomic(&path, b"x").unwrap_err();
    assert!(format!("{err:#}").contains("missing/out.bin"), "{err:#}");
    assert!(!dir.path().join("missing").exists());
}

#[test]
fn writability_is_checked_without_leaving_anything() {
    let dir = tempfile::tempdir().unwrap();
    metamorph_host::fs::check_writable(&dir.path().join("out.mmh")).unwrap();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the probe is removed");
    let err = metamorph_host::fs::check_writable(&dir.path().join("missing/out.mmh")).unwrap_err();
    assert!(format!("{err:#}").contains("does not exist"), "{err:#}");
    assert!(metamorph_host::fs::check_writable(dir.path()).is_err(), "a folder is not a file");
    assert!(metamorph_host::fs::check_writable(std::path::Path::new("/proc/x/out.mmh")).is_err());
}
