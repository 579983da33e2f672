//! The `eiec` command end to end: the `--json` contract, class tables, errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Output;

use serde_json::Value as Json;

mod common;

fn eiec(args: &[&str]) -> Output {
    common::example("eiec")
        .args(args)
        .output()
        .expect("the eiec example runs")
}

fn json(args: &[&str]) -> (String, Json) {
    let out = eiec(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let value = serde_json::from_str(text.trim()).unwrap();
    (text, value)
}

fn one_line_error(args: &[&str]) -> String {
    let out = eiec(args);
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    err
}

#[test]
fn json_follows_the_contract() {
    let (text, v) = json(&[
        "--building",
        "commercial",
        "--levels",
        "lighting=4,hvac=3,power-factor=2,metering-supply=0",
        "--json",
    ]);
    // Keys exactly, in the contract's order.
    let keys = [
        "\"building\"",
        "\"total\"",
        "\"max\"",
        "\"class\"",
        "\"next_class\"",
        "\"points_to_next\"",
        "\"criteria\"",
    ];
    let pos: Vec<usize> = keys.iter().map(|k| text.find(k).unwrap()).collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert_eq!(v.as_object().unwrap().len(), keys.len());
    assert_eq!(v["building"], "commercial");
    assert_eq!(v["total"], 9);
    assert_eq!(v["max"], 64);
    assert_eq!(v["class"], "EIEC0");
    assert_eq!(v["next_class"], "EIEC1");
    assert_eq!(v["points_to_next"], 7);
    let criteria = v["criteria"].as_array().unwrap();
    assert_eq!(criteria.len(), 16);
    let mut sum = 0;
    for c in criteria {
        let obj = c.as_object().unwrap();
        let mut k: Vec<&str> = obj.keys().map(String::as_str).collect();
        k.sort_unstable();
        assert_eq!(k, ["id", "level", "points"]);
        sum += c["points"].as_u64().unwrap();
        match c["id"].as_str().unwrap() {
            "lighting" => assert_eq!(
                (c["level"].as_u64(), c["points"].as_u64()),
                (Some(4), Some(4))
            ),
            "metering-supply" => assert_eq!(c["level"], 0),
            // Not named: not considered.
            "motors" => assert!(c["level"].is_null()),
            _ => {}
        }
    }
    assert_eq!(sum, 9);
}

#[test]
fn classes_option_selects_the_table() {
    let all = "load-profile=4,main-distribution-location=4,motors=4,lighting=4,hvac=4,\
               transformers=4,wiring=4,reactive-compensation=4,metering-supply=4,\
               metering-usage=4,metering-zone=4,metering-analysis=4,renewable=4,\
               consumption-coverage=4,power-factor=2";
    // 58 points.
    let (_, six) = json(&["--building", "industrial", "--levels", all, "--json"]);
    assert_eq!(
        (six["total"].as_u64(), six["class"].as_str()),
        (Some(58), Some("EIEC5"))
    );
    assert!(six["next_class"].is_null());
    assert_eq!(six["points_to_next"], 0);
    let (_, five) = json(&[
        "--building",
        "industrial",
        "--levels",
        all,
        "--classes",
        "5",
        "--json",
    ]);
    assert_eq!(five["class"], "EIEC4");
    assert!(five["next_class"].is_null());
    let (_, explicit) = json(&[
        "--building",
        "infrastructure",
        "--levels",
        "lighting=4",
        "--classes",
        "6",
        "--json",
    ]);
    assert_eq!(explicit["points_to_next"], 12);
}

#[test]
fn human_output_shows_the_synoptic_table() {
    let out = eiec(&["--building", "commercial", "--levels", "lighting=2"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("EIEC synoptic table: commercial building"));
    assert!(text.contains("total 2 of 64 -> EIEC0"));
    assert!(text.contains("levels: expected unknown, previous unknown, current EIEC0"));
}

#[test]
fn errors_are_one_line_and_name_the_problem() {
    let e = one_line_error(&["--building", "commercial", "--levels", "lightning=2"]);
    assert!(e.contains("unknown criterion `lightning`"), "{e}");
    let e = one_line_error(&["--building", "residential", "--levels", "motors=2"]);
    assert!(e.contains("`motors`") && e.contains("residential"), "{e}");
    let e = one_line_error(&["--building", "commercial", "--levels", "hvac=5"]);
    assert!(e.contains("`hvac`") && e.contains("level 5"), "{e}");
    let e = one_line_error(&["--building", "residential", "--levels", "lighting=2"]);
    assert!(e.contains("no 6-class table for residential"), "{e}");
    let e = one_line_error(&["--building", "commercial", "--classes", "4"]);
    assert!(e.contains("--classes"), "{e}");
    let e = one_line_error(&["--building", "shed"]);
    assert!(e.contains("shed"), "{e}");
}

#[test]
fn files_and_caller_tables() {
    // A fresh directory of our own (examples has no tempfile dependency).
    let dir = std::env::temp_dir().join(format!("eiec-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tables = dir.join("res.toml");
    std::fs::write(
        &tables,
        "[[table]]\nid = \"res\"\nedition = \"2014\"\nbuilding_types = [\"residential\"]\n\
         lower_bounds = [0, 6, 12, 18, 24, 30]\nconfidence = \"inferred\"\n",
    )
    .unwrap();
    let png = dir.join("chart.png");
    let csv = dir.join("syn.csv");
    let (_, v) = json(&[
        "--building",
        "residential",
        "--levels",
        "lighting=4,hvac=4,wiring=4",
        "--class-tables",
        tables.to_str().unwrap(),
        "--previous",
        "lighting=4",
        "--chart-png",
        png.to_str().unwrap(),
        "--synoptic-csv",
        csv.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(
        (v["total"].as_u64(), v["max"].as_u64()),
        (Some(12), Some(36))
    );
    assert_eq!(v["class"], "EIEC2");
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    let csv_text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(csv_text.lines().count(), 1 + 9);

    // A malformed criteria file: file, line and field on one line.
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        eiec::BUILTIN_CRITERIA.replacen("title = \"HVAC\"", "titel = \"HVAC\"", 1),
    )
    .unwrap();
    let e = one_line_error(&[
        "--building",
        "commercial",
        "--criteria",
        bad.to_str().unwrap(),
    ]);
    assert!(e.contains(&format!("{}:", bad.display())), "{e}");
    assert!(e.contains("titel"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
