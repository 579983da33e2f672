//! Running the example binaries from integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root (commands run from there, as in the README).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The example binary that `cargo test` built beside this test: tests run from
/// `<target>/<profile>/deps/`, examples sit in `<target>/<profile>/examples/`. Running it
/// directly (not through `cargo run`) keeps compiler output out of its stderr and avoids a
/// second build with other features.
pub fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is not built (`cargo test` builds the examples)",
        path.display()
    );
    path
}

/// A command for the example, run from the workspace root.
pub fn example(name: &str) -> Command {
    let mut cmd = Command::new(example_path(name));
    cmd.current_dir(workspace_root());
    cmd
}
