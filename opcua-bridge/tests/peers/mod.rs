//! Peer detection for the interop tests, one rule per peer (what `.ci/run` installs):
//! `python3` with pymodbus `>=3,<4` and asyncua `>=2,<3` (PyPI), `mbpoll` and `socat`
//! (Debian). A missing peer skips the test with a printed reason, unless
//! `EMKIT_REQUIRE_PEERS=1`, which makes it a failure. Every interop test declares
//! `mod peers;` and decides through these functions, so all decide the same way.
//!
//! This file is identical in `modbus-devices/tests/peers/`, `mbus-meters/tests/peers/`,
//! `ecl-appkeys/tests/peers/` and `opcua-bridge/tests/peers/` (the libraries share no
//! code); change the copies together (`examples/tests/identical_copies.rs` compares them).
#![allow(dead_code)]

use std::process::{Command, Stdio};

/// Whether missing peers must fail the test (`EMKIT_REQUIRE_PEERS=1`).
pub fn peers_required() -> bool {
    std::env::var("EMKIT_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

/// `true` when the probe runs and succeeds; otherwise prints why the test is skipped, or
/// panics when peers are required.
pub fn peer(name: &str, probe: &mut Command) -> bool {
    let ok = probe
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let msg = format!("peer {name} is not available");
        assert!(!peers_required(), "{msg} and EMKIT_REQUIRE_PEERS=1");
        eprintln!("SKIPPED: {msg} (install it to run this interop test)");
    }
    ok
}

/// The version rule for pymodbus, as CI installs it (`pymodbus<4`, and the tests use the
/// 3.x API): major version 3.
pub const PYMODBUS_RULE: &str = "import pymodbus, sys; \
    major = int(pymodbus.__version__.split('.')[0]); \
    sys.exit(0 if 3 <= major < 4 else 1)";

/// python3 with pymodbus `>=3,<4` importable.
pub fn pymodbus() -> bool {
    peer(
        "python3 with pymodbus>=3,<4",
        Command::new("python3").args(["-c", PYMODBUS_RULE]),
    )
}

/// The version rule for asyncua, as CI installs it (`asyncua>=2,<3`; the tests use the 2.x
/// API): major version 2.
pub const ASYNCUA_RULE: &str = "import asyncua, sys; \
    from importlib.metadata import version; \
    major = int(version('asyncua').split('.')[0]); \
    sys.exit(0 if major == 2 else 1)";

/// python3 with asyncua `>=2,<3` importable.
pub fn asyncua() -> bool {
    peer(
        "python3 with asyncua>=2,<3",
        Command::new("python3").args(["-c", ASYNCUA_RULE]),
    )
}

/// socat on the PATH.
pub fn socat() -> bool {
    peer("socat", Command::new("socat").arg("-V"))
}

/// mbpoll on the PATH.
pub fn mbpoll() -> bool {
    peer("mbpoll", Command::new("mbpoll").arg("-V"))
}
