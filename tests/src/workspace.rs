//! Paths inside the checkout.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A function binary from the same build as the running test (`target/<profile>/NAME`).
/// `LOOKOUT_BIN_DIR` points elsewhere, e.g. at a release build.
///
/// `cargo test -p lookout-tests` builds the tests, not the function binaries they run: after an
/// edit, the binary in the target directory is the old code. So a binary older than any of its
/// sources fails the test with the command that rebuilds it (see [`stale_source`]).
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
    let build = if dir.ends_with("release") {
        "cargo build --release --workspace --bins"
    } else {
        // What scripts/test.sh builds: one set of compiled dependencies for the binaries and
        // the tests (built apart, `--bins` alone resolves other features and compiles again).
        "cargo build --workspace --bins --tests"
    };
    assert!(
        path.exists(),
        "{} is missing: build the functions first ({build}), as scripts/test.sh does",
        path.display()
    );
    if let Some(source) = stale_source(&path, &root(), name) {
        panic!(
            "{} is older than its sources ({} changed after it was built): {build}",
            shown(&path),
            shown(&source)
        );
    }
    path
}

/// The first source of the function `name` (under `root`) that is newer than `binary`, if any.
///
/// The sources are what cargo rebuilds the binary for: `functions/<name>/src/**` and
/// `functions/<name>/build.rs`, `shared/src/**` and `shared/build.rs`. Manifests and Cargo.lock
/// are left out on purpose: cargo does not relink a binary when their change leaves its inputs
/// alone (a comment, or another crate's new dependency rewriting Cargo.lock), so their mtimes
/// would call a fresh binary stale, and no build would clear it. A change in them that does
/// matter (a dependency, a feature, a profile) rebuilds the binary when the build runs.
pub fn stale_source(binary: &Path, root: &Path, name: &str) -> Option<PathBuf> {
    let built = modified(binary)?;
    let mut sources = Vec::new();
    for krate in [root.join("functions").join(name), root.join("shared")] {
        collect_files(&krate.join("src"), &mut sources);
        sources.push(krate.join("build.rs"));
    }
    sources
        .into_iter()
        .find(|source| modified(source).is_some_and(|changed| changed > built))
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// `path` relative to the checkout when it is inside it (`target/debug/log-alert`).
fn shown(path: &Path) -> String {
    let root = root();
    let root = root.canonicalize().unwrap_or(root);
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    path.strip_prefix(&root).unwrap_or(&path).display().to_string()
}

pub fn event_file(relative: &str) -> serde_json::Value {
    let path = root().join("events").join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn set_modified(path: &Path, time: SystemTime) {
        std::fs::File::options()
            .write(true)
            .open(path)
            .and_then(|f| f.set_modified(time))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    fn write(path: &Path, time: SystemTime) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, "").expect("write");
        set_modified(path, time);
    }

    #[test]
    fn stale_source_finds_a_source_newer_than_the_binary() {
        let root = std::env::temp_dir().join(format!("lookout-stale-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let t0 = SystemTime::now() - Duration::from_secs(3600);
        let built = t0 + Duration::from_secs(60);
        let binary = root.join("target/debug/log-alert");
        write(&binary, built);
        write(&root.join("functions/log-alert/src/main.rs"), t0);
        write(&root.join("functions/log-alert/src/render/text.rs"), t0);
        write(&root.join("shared/src/lib.rs"), t0);
        write(&root.join("shared/build.rs"), t0);
        // Another function's edit and the manifests do not make this binary stale.
        write(
            &root.join("functions/scan-alert/src/main.rs"),
            built + Duration::from_secs(60),
        );
        write(
            &root.join("functions/log-alert/Cargo.toml"),
            built + Duration::from_secs(60),
        );
        write(&root.join("Cargo.lock"), built + Duration::from_secs(60));
        assert_eq!(stale_source(&binary, &root, "log-alert"), None);

        // An edit in a nested module of the function, in shared/, in a build script.
        for edited in [
            "functions/log-alert/src/render/text.rs",
            "shared/src/lib.rs",
            "shared/build.rs",
        ] {
            let path = root.join(edited);
            set_modified(&path, built + Duration::from_secs(1));
            assert_eq!(
                stale_source(&binary, &root, "log-alert"),
                Some(path.clone()),
                "{edited}"
            );
            set_modified(&path, t0);
        }

        // Rebuilt after the edit: fresh again.
        set_modified(&root.join("shared/src/lib.rs"), built + Duration::from_secs(1));
        set_modified(&binary, built + Duration::from_secs(2));
        assert_eq!(stale_source(&binary, &root, "log-alert"), None);
        let _ = std::fs::remove_dir_all(&root);
    }
}
