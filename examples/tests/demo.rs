//! The `demo` binary end to end: on a pipe it prints plain blocks (no escape codes) with
//! values and units, the injected fault raises the offline alarm and its recovery clears it,
//! and the output folder holds the store, the notifications, the report CSV and a PNG
//! chart; it exits 0 after `--for`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

/// Index of the first line containing `what`, with the output in the panic message.
fn position(lines: &[&str], what: &str, output: &str) -> usize {
    lines
        .iter()
        .position(|l| l.contains(what))
        .unwrap_or_else(|| panic!("no line with {what:?} in:\n{output}"))
}

#[test]
#[allow(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
fn the_demo_shows_values_raises_and_clears_the_offline_alarm_and_writes_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo-out");
    let started = Instant::now();
    let output = common::example("demo")
        .args([
            "--for",
            "26",
            "--live",
            "1s",
            "--fault-after",
            "3",
            "--fault-for",
            "12",
            "--offline",
            "5",
            "--opcua-port",
            "0",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    assert!(took < Duration::from_secs(55), "took {took:?}");
    assert!(
        !stdout.contains('\x1b'),
        "escape codes on a pipe:\n{stdout}"
    );
    let lines: Vec<&str> = stdout.lines().collect();

    // the header says where things are
    assert!(
        stdout.contains("simulated lan: Modbus/TCP 127.0.0.1:"),
        "{stdout}"
    );
    assert!(
        stdout.contains("OPC UA server: opc.tcp://127.0.0.1:") && stdout.contains("(a free port)"),
        "{stdout}"
    );
    // values with units, every cycle a block
    let cycles = lines.iter().filter(|l| l.contains("] cycle ")).count();
    assert!(cycles >= 10, "{cycles} cycles:\n{stdout}");
    for (device, units) in [
        ("ecl1 (ECL A266.1)", &["°C"][..]),
        ("hm1 (heat meter)", &["kW,", "kWh"][..]),
        ("main (ECR380D)", &["kW,", "kWh"][..]),
    ] {
        let line = lines[position(&lines, device, &stdout)];
        assert!(line.contains(" ok "), "{line}");
        for unit in units {
            assert!(line.contains(unit), "{unit} in {line}");
        }
    }
    // the fault: injected, the offline alarm raised, lifted, cleared, in that order (by
    // block: one block per cycle, its events listed after its values)
    let blocks: Vec<&str> = stdout.split("\n\n").collect();
    let block = |what: &str| {
        blocks
            .iter()
            .position(|b| b.contains(what))
            .unwrap_or_else(|| panic!("no block with {what:?} in:\n{stdout}"))
    };
    let injected = block("fault injected: lighting stops answering");
    let silent = block("lighting (ECR180D)  no answer");
    let raised = block("alarm raised: critical offline lighting");
    let shown = block("CRITICAL offline lighting (active");
    let lifted = block("fault lifted: lighting answers again");
    let cleared = block("alarm cleared: critical offline lighting");
    assert!(
        injected <= silent && silent < raised && raised <= lifted && lifted <= cleared,
        "{injected} {silent} {raised} {lifted} {cleared}:\n{stdout}"
    );
    assert_eq!(shown, raised, "{stdout}");
    assert!(
        blocks[cleared].contains("lighting ok") && blocks[cleared].contains("(cleared, "),
        "{}",
        blocks[cleared]
    );
    // the notification went to the output folder
    let notifications = std::fs::read_to_string(out.join("notifications.jsonl")).unwrap();
    assert!(
        notifications.contains("\"alarm\":\"offline\"") && notifications.contains("lighting"),
        "{notifications}"
    );

    // the summary names the files, and they are there
    let summary = &lines[position(&lines, "demo: stopped after", &stdout)..];
    let path_of = |label: &str| -> std::path::PathBuf {
        let line = summary
            .iter()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} in the summary:\n{stdout}"));
        line.trim_start()[label.len()..].trim().into()
    };
    assert_eq!(path_of("store:"), out.join("emkit.sqlite"));
    assert!(out.join("emkit.sqlite").exists());
    assert_eq!(path_of("notifications:"), out.join("notifications.jsonl"));
    let csv = path_of("final report");
    assert_eq!(csv.parent(), Some(out.as_path()));
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut rows = text.lines();
    assert!(
        rows.next().unwrap().starts_with("label;energy (Wh);"),
        "{text}"
    );
    // the heat meters counted energy while the demo ran (16 kW for 20 s: about 90 Wh)
    for meter in ["hm1", "hm2"] {
        let row = rows
            .clone()
            .find(|r| r.starts_with(&format!("{meter};")))
            .unwrap_or_else(|| panic!("no {meter} row:\n{text}"));
        let energy: f64 = row.split(';').nth(1).unwrap().parse().unwrap();
        assert!(energy > 0.0, "{row}");
    }
    let first = path_of("first report");
    assert!(first.exists() && first != csv);
    let charts: Vec<_> = summary
        .iter()
        .filter(|l| l.trim_start().starts_with("chart"))
        .map(|l| std::path::PathBuf::from(l.trim_start()["chart".len()..].trim()))
        .collect();
    assert_eq!(charts.len(), 2, "{stdout}");
    for chart in charts {
        let png = std::fs::read(&chart).unwrap();
        assert!(png.len() > 1000, "{}: {} bytes", chart.display(), png.len());
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{}", chart.display());
    }
    assert!(out.join("pki").is_dir());
    assert!(
        summary
            .iter()
            .any(|l| l.contains("OPC UA:") && l.contains("opc.tcp://127.0.0.1:")),
        "{stdout}"
    );
}

#[test]
fn a_device_the_demo_site_does_not_have_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let output = common::example("demo")
        .args(["--for", "1", "--fault-device", "nonesuch", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--fault-device") && stderr.contains("nonesuch"),
        "{stderr}"
    );
}
