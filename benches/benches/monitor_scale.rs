//! The monitor at scale (issue 13 §5): `examples::gateway::Monitor` polling a simulated site
//! of 2 000 Modbus TCP devices and 500 M-Bus heat meters every 10 s for at least 2 minutes.
//!
//! ```text
//! cargo bench -p benches --bench monitor_scale            # 130 s of monitoring (13 cycles)
//! EMKIT_SCALE_SECONDS=30 cargo bench -p benches --bench monitor_scale   # a smoke run
//! ```
//!
//! The bench writes a site file (`examples::site` format) into a temporary folder:
//! - 2 000 `[[device]]`s over 9 Modbus/TCP buses (unit ids 1..=247 per bus, so 8 full
//!   buses and one of 24 devices), products of the built-in catalogue taken in turn:
//!   [`PRODUCTS`] (Hager ECR380D / ECR180D, Legrand 412045, Eastron SDM630, Carlo Gavazzi
//!   EM340, ABB B23, Janitza UMG96RM, Schneider iEM3155: their whole register maps, several
//!   requests per device per cycle);
//! - 500 `[[meter]]`s (heat) over 2 M-Bus buses, primary addresses 1..=250 each;
//! - `[poll] live = "10s"`, `record = "15min"`, the store, catalogue alarm templates and
//!   offline alarms, a JSON-lines `[[notify]]`, and an OPC UA server (the whole tree: areas,
//!   devices, every point).
//!
//! Three processes: this one (which only watches), `examples::simulation::SimulatedSite`
//! serving the site (this bench binary re-executed with `EMKIT_SCALE_ROLE=sim`, on ephemeral
//! ports) and the monitor (re-executed with `EMKIT_SCALE_ROLE=monitor`, on a multi-threaded
//! tokio runtime like the `monitor` binary's, `Monitor::run` with the site's live period).
//! Measured on the monitor process alone:
//! - cores used = (utime + stime of `/proc/PID/stat`) / wall time, from the monitor's
//!   `ready` (started: store open, ECLs detected, OPC UA tree built) to the end of its last
//!   cycle; the start-up CPU is printed apart;
//! - peak RSS = `VmHWM` of `/proc/PID/status` at the end of the run;
//! - on time: a cycle is on time when it finished before the next one was due (its duration
//!   below the live period, and it started no later than one live period after the previous
//!   one's start, give or take 100 ms of timer slack).
//!
//! The work is checked: every cycle after the first reads exactly the site's points (the
//! regular plan's services of every device, `modbus_devices::plan::Plan::for_installation`,
//! plus 7 points per heat meter), all of good quality, and the first cycle at least that
//! many (it also reads identification and configuration). The simulation's CPU is printed
//! too, to show it is not the bottleneck (all three processes share the machine).
//!
//! Targets (issue 13 §5): at most 0.5 core, at most 300 MB peak RSS, every cycle on time.
//! The process exits with a failure when a target or a check fails.
//!
//! Diagnostics (not the issue's figures): `EMKIT_SCALE_DEVICES=N` / `EMKIT_SCALE_METERS=N`
//! change the counts (0 leaves that side out), `EMKIT_SCALE_OPCUA=0` leaves the OPC UA
//! server out, `EMKIT_SCALE_WRAP="heaptrack -o FILE"` (or `perf record -g -o FILE`) runs the
//! monitor under a profiler (the figures are then the profiler process's).
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

#[path = "common/child.rs"]
mod child;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use examples::gateway::{CycleStatus, Monitor, MonitorOptions};
use examples::simulation::{SimOptions, SimulatedSite};
use examples::site::Site;

const DEVICES: usize = 2000;
const UNITS_PER_BUS: usize = 247;
const METERS: usize = 500;
const METERS_PER_BUS: usize = 250;
const HEAT_METER_POINTS: usize = 7;
const LIVE: Duration = Duration::from_secs(10);
const DEFAULT_SECONDS: u64 = 130;
const SLACK: Duration = Duration::from_millis(100);
const TARGET_CORES: f64 = 0.5;
const TARGET_RSS_MB: f64 = 300.0;
/// Electrical meters of the built-in catalogue, given to the devices in turn.
const PRODUCTS: [&str; 8] = [
    "ECR380D", "ECR180D", "412045", "SDM630", "EM340", "B23", "UMG96RM", "iEM3155",
];
const ROLE_ENV: &str = "EMKIT_SCALE_ROLE";
const SITE_ENV: &str = "EMKIT_SCALE_SITE";
const DIR_ENV: &str = "EMKIT_SCALE_DIR";
const SECONDS_ENV: &str = "EMKIT_SCALE_SECONDS";

/// A count from the environment (diagnostics: `EMKIT_SCALE_DEVICES=0` leaves the Modbus
/// devices out), else the issue's.
fn count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn devices() -> usize {
    count("EMKIT_SCALE_DEVICES", DEVICES)
}

fn meters() -> usize {
    count("EMKIT_SCALE_METERS", METERS)
}

fn modbus_buses() -> usize {
    devices().div_ceil(UNITS_PER_BUS)
}

fn mbus_buses() -> usize {
    meters().div_ceil(METERS_PER_BUS)
}

/// The site file; `address(bus)` gives each bus's `HOST:PORT`.
fn site_text(address: impl Fn(&str) -> String) -> String {
    let mut t = String::new();
    t.push_str("[site]\nname = \"Scale bench\"\ntime_zone = \"Europe/Copenhagen\"\n\n");
    for b in 0..modbus_buses() {
        let name = format!("lan{b}");
        let _ = writeln!(
            t,
            "[[bus]]\nname = \"{name}\"\nkind = \"tcp\"\naddress = \"{}\"\n",
            address(&name)
        );
    }
    for i in 0..devices() {
        let _ = writeln!(
            t,
            "[[device]]\nname = \"m{i}\"\nproduct = \"{}\"\nbus = \"lan{}\"\nunit = {}\narea = \"Floor {}\"\n",
            PRODUCTS[i % PRODUCTS.len()],
            i / UNITS_PER_BUS,
            i % UNITS_PER_BUS + 1,
            i / 100
        );
    }
    for b in 0..mbus_buses() {
        let name = format!("mbus{b}");
        let _ = writeln!(
            t,
            "[[mbus_bus]]\nname = \"{name}\"\naddress = \"{}\"\n",
            address(&name)
        );
    }
    for i in 0..meters() {
        let _ = writeln!(
            t,
            "[[meter]]\nname = \"hm{i}\"\nbus = \"mbus{}\"\nprimary = {}\nsecondary = \"{:08}\"\nmedium = \"heat\"\narea = \"Substation {}\"\n",
            i / METERS_PER_BUS,
            i % METERS_PER_BUS + 1,
            20_000_000 + i,
            i / 50
        );
    }
    let _ = write!(
        t,
        r#"[poll]
live = "{}s"
record = "15min"

[store]
path = "store.sqlite"

[alarms]
templates = true
offline = "30s"

[[notify]]
name = "events"
type = "json-lines"
path = "notifications.jsonl"

[output]
dir = "output"
"#,
        LIVE.as_secs()
    );
    // `EMKIT_SCALE_OPCUA=0` (diagnostics): without the OPC UA server.
    if std::env::var("EMKIT_SCALE_OPCUA").as_deref() != Ok("0") {
        t.push_str(
            "\n[opcua]\nlisten = \"127.0.0.1:4840\"\npki = \"pki\"\nallow_anonymous = true\nallow_none = true\n",
        );
    }
    t
}

fn main() {
    match std::env::var(ROLE_ENV).as_deref() {
        Ok("sim") => return serve(),
        Ok("monitor") => return monitor(),
        _ => {}
    }
    std::process::exit(if bench() { 0 } else { 1 });
}

fn env_path(name: &str) -> PathBuf {
    PathBuf::from(std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set")))
}

/// Waits until the parent closes this process's standard input.
fn wait_for_stdin_close() {
    let mut line = String::new();
    while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
        line.clear();
    }
}

/// `EMKIT_SCALE_ROLE=sim`: serves the site file (ports 0: ephemeral), prints
/// `bus NAME ADDRESS` per bus, then `ready`; stops when standard input closes.
fn serve() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let site = Site::load(env_path(SITE_ENV)).unwrap();
        let sim = SimulatedSite::start(&site, SimOptions::default())
            .await
            .unwrap();
        let names = site
            .buses
            .iter()
            .map(|b| b.name.clone())
            .chain(site.mbus_buses.iter().map(|b| b.name.clone()));
        for name in names {
            let address = sim.address(&name).unwrap();
            println!("bus {name} {address}");
        }
        println!("ready");
        tokio::task::spawn_blocking(wait_for_stdin_close)
            .await
            .unwrap();
        sim.stop().await;
    });
}

/// `EMKIT_SCALE_ROLE=monitor`: the monitor of the site file for `EMKIT_SCALE_SECONDS`;
/// prints `ready` once started, one `cycle ...` line per cycle, `ran` after the last
/// cycle, and stops when standard input closes.
fn monitor() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let seconds = seconds();
    rt.block_on(async {
        let site = Site::load(env_path(SITE_ENV)).unwrap();
        let dir = env_path(DIR_ENV);
        let options = MonitorOptions {
            opcua_port: Some(0),
            opcua_pki: Some(dir.join("pki")),
            ..MonitorOptions::default()
        };
        let mut monitor = Monitor::start(&site, options).await.unwrap();
        println!("ready");
        let stop = tokio::time::sleep(Duration::from_secs(seconds));
        monitor
            .run(stop, |s: &CycleStatus| {
                println!(
                    "cycle {} {} {} {} {} {} {} {}",
                    s.number,
                    s.started.timestamp_millis(),
                    s.took.as_micros(),
                    s.readings,
                    s.good,
                    s.stored,
                    s.alarms,
                    s.store_refused + s.alarm_rejected + s.opcua_rejected
                );
            })
            .await;
        println!("ran");
        tokio::task::spawn_blocking(wait_for_stdin_close)
            .await
            .unwrap();
        monitor.shutdown().await.unwrap();
    });
}

fn seconds() -> u64 {
    std::env::var(SECONDS_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SECONDS)
}

/// A child process of this bench binary in a role, its output read line by line.
struct Role {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Role {
    fn spawn(role: &str, site: &Path, dir: &Path) -> Role {
        let exe = std::env::current_exe().unwrap();
        // `EMKIT_SCALE_WRAP="heaptrack -o FILE"` runs the monitor under a profiler (its
        // figures are then the profiler's process's).
        let wrap = std::env::var("EMKIT_SCALE_WRAP").unwrap_or_default();
        let mut wrap = wrap.split_whitespace().filter(|_| role == "monitor");
        let mut command = match wrap.next() {
            Some(program) => {
                let mut c = Command::new(program);
                c.args(wrap).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let mut child = command
            .env(ROLE_ENV, role)
            .env(SITE_ENV, site)
            .env(DIR_ENV, dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Role {
            child,
            stdin,
            lines,
        }
    }

    fn next_line(&mut self) -> String {
        match self.lines.next() {
            Some(Ok(line)) => line,
            other => panic!("child {} ended early: {other:?}", self.child.id()),
        }
    }

    /// utime + stime so far.
    fn cpu(&self) -> Duration {
        child::cpu(self.child.id())
    }

    /// Peak resident set size (VmHWM), in MB.
    fn peak_rss_mb(&self) -> f64 {
        child::status_mb(self.child.id(), "VmHWM:")
    }

    /// Resident set size now (VmRSS), in MB.
    fn rss_mb(&self) -> f64 {
        child::status_mb(self.child.id(), "VmRSS:")
    }

    fn stop(mut self) {
        child::stop(&mut self.child, &mut self.stdin, Duration::from_secs(30));
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `cycle` line of the monitor.
#[derive(Debug)]
struct CycleLine {
    number: u64,
    started_ms: i64,
    took: Duration,
    readings: usize,
    good: usize,
    stored: u64,
    alarms: usize,
    refused: u64,
}

fn parse_cycle(line: &str) -> CycleLine {
    let f: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(f.len(), 9, "{line}");
    CycleLine {
        number: f[1].parse().unwrap(),
        started_ms: f[2].parse().unwrap(),
        took: Duration::from_micros(f[3].parse().unwrap()),
        readings: f[4].parse().unwrap(),
        good: f[5].parse().unwrap(),
        stored: f[6].parse().unwrap(),
        alarms: f[7].parse().unwrap(),
        refused: f[8].parse().unwrap(),
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

/// The points a regular cycle reads: the regular plan's services + the heat meters' points.
fn expected_points(site: &Site) -> (usize, usize) {
    let installation = site.installation().unwrap();
    let plan =
        modbus_devices::plan::Plan::for_installation(&installation, site.catalogue()).unwrap();
    let services: usize = plan.devices().iter().map(|d| d.services().count()).sum();
    (
        services + site.meters.len() * HEAT_METER_POINTS,
        plan.request_count(),
    )
}

fn bench() -> bool {
    let seconds = seconds();
    let dir = std::env::temp_dir().join(format!("emkit-monitor-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // The simulation first, on ephemeral ports; then the monitor's site file with its ports.
    let sim_file = dir.join("sim-site.toml");
    std::fs::write(&sim_file, site_text(|_| "127.0.0.1:0".into())).unwrap();
    let started = Instant::now();
    let mut sim = Role::spawn("sim", &sim_file, &dir);
    let mut addresses = std::collections::BTreeMap::new();
    loop {
        let line = sim.next_line();
        if line == "ready" {
            break;
        }
        if let Some(rest) = line.strip_prefix("bus ")
            && let Some((name, address)) = rest.split_once(' ')
        {
            addresses.insert(name.to_owned(), address.to_owned());
        }
    }
    let sim_ready = started.elapsed();
    let site_file = dir.join("site.toml");
    std::fs::write(&site_file, site_text(|name| addresses[name].clone())).unwrap();
    let site = Site::load(&site_file).unwrap();
    let (points, requests) = expected_points(&site);
    println!(
        "monitor_scale: {} Modbus TCP devices on {} buses ({} products), {} M-Bus heat meters \
         on {} buses, {points} points ({requests} Modbus requests + {} M-Bus readouts per \
         cycle), live {} s, {seconds} s (simulation ready in {:.1} s)",
        site.devices.len(),
        site.buses.len(),
        PRODUCTS.len(),
        site.meters.len(),
        site.mbus_buses.len(),
        site.meters.len(),
        LIVE.as_secs(),
        sim_ready.as_secs_f64()
    );

    let sim_cpu0 = sim.cpu();
    let started = Instant::now();
    let mut monitor = Role::spawn("monitor", &site_file, &dir);
    // (a profiler given in EMKIT_SCALE_WRAP may print lines of its own first)
    while monitor.next_line() != "ready" {}
    let start_up = started.elapsed();
    let start_cpu = monitor.cpu();
    let start_rss = (monitor.rss_mb(), monitor.peak_rss_mb());
    let t0 = Instant::now();
    let mut cycles = Vec::new();
    loop {
        let line = monitor.next_line();
        if line == "ran" {
            break;
        }
        if !line.starts_with("cycle ") {
            continue;
        }
        let c = parse_cycle(&line);
        println!(
            "  cycle {:>3}: {:>6} ms, {}/{} good, {} stored, {} open alarms, RSS {:.0} MB",
            c.number,
            c.took.as_millis(),
            c.good,
            c.readings,
            c.stored,
            c.alarms,
            monitor.rss_mb()
        );
        cycles.push(c);
    }
    let wall = t0.elapsed();
    let run_cpu = monitor.cpu() - start_cpu;
    let rss = monitor.peak_rss_mb();
    let sim_cpu = sim.cpu() - sim_cpu0;
    monitor.stop();
    sim.stop();

    let measured = Measured {
        cycles,
        points,
        seconds,
        wall,
        run_cpu,
        rss,
        sim_cpu,
        start_up,
        start_cpu,
        start_rss,
    };
    let all = measured.report();
    let _ = std::io::stdout().flush();
    let _ = std::fs::remove_dir_all(&dir);
    all
}

/// What one run measured of the monitor.
struct Measured {
    cycles: Vec<CycleLine>,
    /// Points of a regular cycle.
    points: usize,
    seconds: u64,
    /// From the monitor's `ready` to its `ran`.
    wall: Duration,
    run_cpu: Duration,
    /// Peak RSS at the end, MB.
    rss: f64,
    sim_cpu: Duration,
    start_up: Duration,
    start_cpu: Duration,
    /// RSS and peak RSS at `ready`, MB.
    start_rss: (f64, f64),
}

impl Measured {
    /// Prints the figures and the targets; true when every target and check passes.
    fn report(&self) -> bool {
        // On time: finished before the next cycle was due.
        let mut on_time = 0;
        for (i, c) in self.cycles.iter().enumerate() {
            let finished_in_time = c.took < LIVE;
            let started_in_time = i == 0
                || Duration::from_millis(
                    u64::try_from(c.started_ms - self.cycles[i - 1].started_ms).unwrap_or(u64::MAX),
                ) <= LIVE + SLACK;
            if finished_in_time && started_in_time {
                on_time += 1;
            }
        }
        let mut took: Vec<Duration> = self.cycles.iter().map(|c| c.took).collect();
        took.sort();
        let p50 = took.get(took.len() / 2).copied().unwrap_or_default();
        let max = took.last().copied().unwrap_or_default();
        let cores = self.run_cpu.as_secs_f64() / self.wall.as_secs_f64();
        let sim_cores = self.sim_cpu.as_secs_f64() / self.wall.as_secs_f64();
        let regular = self.cycles.get(1..).unwrap_or_default();
        let readings_ok = self
            .cycles
            .first()
            .is_some_and(|c| c.readings >= self.points)
            && regular.iter().all(|c| c.readings == self.points);
        let good_ok = self.cycles.iter().all(|c| c.good == c.readings);
        let refused: u64 = self.cycles.iter().map(|c| c.refused).sum();
        let enough = self.cycles.len() as u64 >= self.seconds / LIVE.as_secs();

        println!(
            "monitor_scale: {} cycles, {on_time}/{} on time ({:.0} %), cycle p50 {} ms, max {} ms",
            self.cycles.len(),
            self.cycles.len(),
            100.0 * on_time as f64 / self.cycles.len().max(1) as f64,
            p50.as_millis(),
            max.as_millis()
        );
        println!(
            "monitor_scale: readings per cycle: first {}, then {:?} (expected {}), {} not \
             good, {refused} refused by the store, the alarm engine or the OPC UA tree",
            self.cycles.first().map_or(0, |c| c.readings),
            regular
                .iter()
                .map(|c| c.readings)
                .collect::<std::collections::BTreeSet<_>>(),
            self.points,
            self.cycles
                .iter()
                .map(|c| c.readings - c.good)
                .sum::<usize>()
        );
        println!(
            "monitor_scale: monitor start-up {:.1} s ({:.1} s CPU, RSS {:.0} MB, peak {:.0} MB); running: {:.3} cores \
             ({:.1} s CPU over {:.1} s), peak RSS {:.0} MB; simulation {sim_cores:.3} cores",
            self.start_up.as_secs_f64(),
            self.start_cpu.as_secs_f64(),
            self.start_rss.0,
            self.start_rss.1,
            cores,
            self.run_cpu.as_secs_f64(),
            self.wall.as_secs_f64(),
            self.rss
        );
        let checks = [
            (
                format!("cores used {cores:.3} <= {TARGET_CORES}"),
                cores <= TARGET_CORES,
            ),
            (
                format!("peak RSS {:.0} MB <= {TARGET_RSS_MB} MB", self.rss),
                self.rss <= TARGET_RSS_MB,
            ),
            (
                format!("every cycle on time ({on_time}/{})", self.cycles.len()),
                on_time == self.cycles.len() && enough,
            ),
            (
                format!("every regular cycle read the site's {} points", self.points),
                readings_ok,
            ),
            ("every reading good".to_owned(), good_ok),
            (
                "nothing refused by the store, the alarm engine or the OPC UA tree".to_owned(),
                refused == 0,
            ),
        ];
        let mut all = true;
        for (what, ok) in &checks {
            println!("  {} {what}", verdict(*ok));
            all &= ok;
        }
        all
    }
}
