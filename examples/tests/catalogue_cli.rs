//! The `catalogue` command: the JSON listing contract, and end-to-end runs of the example.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Output;

use examples::catalogue_json::{listing, service_entry};
use modbus_devices::Catalogue;
use serde_json::Value as Json;

mod common;

/// Run the example from the workspace root, as the README does.
fn run_catalogue(args: &[&str]) -> Output {
    common::example("catalogue")
        .args(args)
        .output()
        .expect("catalogue runs")
}

#[test]
fn listing_follows_the_contract() {
    let catalogue = Catalogue::builtin().unwrap();
    let json = serde_json::to_value(listing(&catalogue)).unwrap();
    let products = json.as_array().unwrap();
    assert_eq!(products.len(), catalogue.products().len());
    for p in products {
        let obj = p.as_object().unwrap();
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["model", "references", "services", "vendor", "verified"]
        );
        assert!(p["references"].as_array().is_some_and(|r| !r.is_empty()));
        assert!(p["verified"].is_boolean());
        for s in p["services"].as_array().unwrap() {
            let mut keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(
                keys,
                [
                    "address",
                    "data_type",
                    "function_code",
                    "id",
                    "name",
                    "quantity",
                    "scale",
                    "unit",
                    "word_order"
                ]
            );
            assert!((1..=4).contains(&s["function_code"].as_u64().unwrap()));
            assert!(s["address"].as_u64().unwrap() <= 0xFFFF);
            assert!(s["scale"].is_number());
            assert!(["high_first", "low_first"].contains(&s["word_order"].as_str().unwrap()));
        }
    }
    let find = |reference: &str| -> &Json {
        products
            .iter()
            .find(|p| {
                p["references"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r == reference)
            })
            .unwrap()
    };
    let service = |p: &Json, id: &str| -> Json {
        p["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .cloned()
            .unwrap()
    };
    let ecr = find("ECR381D");
    assert_eq!(ecr["vendor"], "Hager");
    assert_eq!(ecr["verified"], true);
    let v = service(ecr, "v_l1_n");
    assert_eq!(v["function_code"], 3);
    assert_eq!(v["address"], 45056);
    assert_eq!(v["data_type"], "u16");
    assert_eq!(v["word_order"], "high_first");
    assert_eq!(v["scale"], 0.01);
    assert_eq!(v["unit"], "V");
    assert_eq!(v["quantity"], "voltage");
    let p = service(ecr, "p_total");
    assert_eq!(
        (p["scale"].as_f64(), p["data_type"].as_str()),
        (Some(10.0), Some("s32"))
    );
    let pf = service(ecr, "pf_total_iec");
    assert_eq!(pf["unit"], "");
    let em = find("EM340");
    assert_eq!(service(em, "v_l1_n")["word_order"], "low_first");
    let sdm = find("SDM630");
    assert_eq!(service(sdm, "freq")["function_code"], 4);
    assert_eq!(service(sdm, "freq")["data_type"], "f32");
    assert_eq!(find("412045")["verified"], false);
}

#[test]
fn service_entry_uses_the_combined_factor() {
    let catalogue = Catalogue::builtin().unwrap();
    for p in catalogue.products() {
        for s in &p.services {
            let e = service_entry(s);
            assert_eq!(e.scale, s.register.factor());
            assert_eq!(e.address, s.register.address);
            assert_eq!(e.unit, s.unit.symbol());
        }
    }
}

#[test]
fn list_json_end_to_end() {
    let out = run_catalogue(&["list", "--json"]);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Json = serde_json::from_slice(&out.stdout).unwrap();
    let expected = serde_json::to_value(listing(&Catalogue::builtin().unwrap())).unwrap();
    assert_eq!(printed, expected);

    // Human output: a table with every product, and `show` for one.
    let out = run_catalogue(&["list"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("REFERENCES"));
    for r in [
        "ECR380D, ECR381D",
        "SDM630",
        "EM340, EM330",
        "B24",
        "GENERIC-MODBUS-METER",
    ] {
        assert!(text.contains(r), "{r} missing from\n{text}");
    }
    let out = run_catalogue(&["show", "ECA381D"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Hager ECA380D"), "{text}");
    assert!(text.contains("0xB0B4"), "set tariff parameter: {text}");
    assert!(text.contains("overvoltage_l1"), "alarm templates: {text}");
}

#[test]
fn show_lists_every_service_id() {
    let catalogue = Catalogue::builtin().unwrap();
    for reference in ["ECR180T", "SDM630"] {
        let out = run_catalogue(&["show", reference]);
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let product = catalogue.get(reference).unwrap();
        assert!(
            text.contains(&format!("services ({};", product.services.len())),
            "{text}"
        );
        for s in &product.services {
            assert!(
                text.lines()
                    .any(|l| l.split_whitespace().next() == Some(s.id.as_str())),
                "{reference}: service {} missing from\n{text}",
                s.id
            );
        }
        if reference == "ECR180T" {
            // What a service is, from the catalogue data.
            let line = |id: &str| {
                text.lines()
                    .find(|l| l.split_whitespace().next() == Some(id))
                    .unwrap()
                    .to_string()
            };
            assert!(
                line("network_type").contains("= 1"),
                "{}",
                line("network_type")
            );
            let e = line("ea_import_m2_t3");
            assert!(
                e.contains("active_energy import L2 T3") && e.ends_with("counter"),
                "{e}"
            );
        }
    }
}

#[test]
fn errors_are_one_line_and_fail() {
    let out = run_catalogue(&["show", "NO-SUCH-PRODUCT"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("NO-SUCH-PRODUCT"), "{err}");

    let dir = tempfile_dir();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[[product]]\nreferences = [\"X\"]\nvendor = 3\n").unwrap();
    let out = run_catalogue(&["--catalogue", bad.to_str().unwrap(), "list"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("bad.toml:3:") && err.contains(": product[0].vendor: "),
        "{err}"
    );

    let out = run_catalogue(&["frobnicate"]);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8(out.stderr)
            .unwrap()
            .trim_end()
            .lines()
            .count(),
        1
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A fresh directory under the system temp dir (no extra dev-dependency needed).
fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("emkit-catalogue-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
