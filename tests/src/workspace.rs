//! Paths inside the checkout.

use std::path::PathBuf;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A function binary from the same build as the running test (`target/<profile>/NAME`).
/// `LOOKOUT_BIN_DIR` points elsewhere, e.g. at a release build.
pub fn binary(name: &str) -> PathBuf {
    let dir = match std::env::var_os("LOOKOUT_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            // target/<profile>/deps/<test> or target/<profile>/<bin> → target/<profile>
            let exe = std::env::current_exe().expect("current executable");
            let dir = exe.parent().expect("target dir");
            if dir.ends_with("deps") {
                dir.parent().expect("target dir").to_path_buf()
            } else {
                dir.to_path_buf()
            }
        }
    };
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the functions first (cargo build --workspace --bins), as scripts/test.sh does",
        path.display()
    );
    path
}

pub fn event_file(relative: &str) -> serde_json::Value {
    let path = root().join("events").join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
