//! A bench's measured child process (Linux `/proc`): its CPU time and memory, and a stop
//! that closes its stdin (the child's signal to finish) and kills it only after a grace time.
//! Included by the benches that run a peer or our side as a separate process
//! (`#[path = "common/child.rs"] mod child;`).

use std::process::{Child, ChildStdin};
use std::time::{Duration, Instant};

/// User plus system CPU time of process `pid` so far.
pub fn cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces) in parentheses; utime and stime
    // are fields 14 and 15 of the line, 12 and 13 after the name, in USER_HZ (100 per second
    // on Linux).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

/// A memory figure of `/proc/PID/status` (given in kB: `VmHWM:`, `VmRSS:`), in MB.
#[allow(dead_code)] // not every bench reads memory
pub fn status_mb(pid: u32, key: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024.0
}

/// Closes the child's stdin, waits up to `grace` for it to exit, then kills it.
pub fn stop(child: &mut Child, stdin: &mut Option<ChildStdin>, grace: Duration) {
    drop(stdin.take());
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}
