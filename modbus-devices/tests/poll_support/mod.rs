//! Helpers shared by the poller's integration tests: peers, ports, child processes.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

// Peer detection is shared with the simulator's tests: a test using this module declares
// `mod peers;` (tests/peers/mod.rs) next to it.
#[allow(unused_imports)]
pub use crate::peers::{peers_required, pymodbus, socat};

/// A free TCP port on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when dropped.
pub struct Peer(pub Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Wait until something accepts TCP connections on the port (bounded).
pub fn wait_for_port(port: u16, peer: &mut Peer, within: Duration) {
    let start = Instant::now();
    while start.elapsed() < within {
        if let Ok(Some(status)) = peer.0.try_wait() {
            panic!("peer exited early with {status}");
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on 127.0.0.1:{port} after {within:?}");
}

/// The pymodbus TCP server used by the tests: serves the units of a JSON spec
/// `{ "UNIT": { "size": N, "hr": { "ADDR": [words] }, "ir": { ... } } }`.
pub const PYMODBUS_SERVER: &str = r#"
import asyncio, json, logging, sys
from pymodbus.datastore import ModbusDeviceContext, ModbusServerContext, ModbusSequentialDataBlock
from pymodbus.server import StartAsyncTcpServer

logging.disable(logging.WARNING)
spec = json.load(open(sys.argv[1]))
port = int(sys.argv[2])

def block(table, size):
    values = [0] * size
    for addr, words in table.items():
        a = int(addr)
        values[a:a + len(words)] = words
    # pymodbus 3.x data blocks are 1-based: protocol address 0 is index 1.
    return ModbusSequentialDataBlock(1, values)

devices = {
    int(unit): ModbusDeviceContext(hr=block(d.get("hr", {}), d["size"]), ir=block(d.get("ir", {}), d["size"]))
    for unit, d in spec.items()
}
asyncio.run(StartAsyncTcpServer(context=ModbusServerContext(devices=devices, single=False), address=("127.0.0.1", port)))
"#;

/// Start the pymodbus server with a spec; returns it once it accepts connections.
pub fn start_pymodbus(dir: &Path, spec: &serde_json::Value, port: u16) -> Peer {
    let script = dir.join("server.py");
    std::fs::write(&script, PYMODBUS_SERVER).unwrap();
    let spec_path = dir.join("spec.json");
    std::fs::write(&spec_path, serde_json::to_vec(spec).unwrap()).unwrap();
    let child = Command::new("python3")
        .arg(&script)
        .arg(&spec_path)
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut peer = Peer(child);
    wait_for_port(port, &mut peer, Duration::from_secs(10));
    peer
}
