//! `monitor` subcommands other than `run` and `scan`, through the binary: `catalogue list`,
//! `catalogue validate FILE`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Output;

use modbus_devices::Catalogue;

/// A user product (one service) for the catalogue files of these tests.
const USER_PRODUCT: &str = r#"
[[product]]
references = ["MC-TEST"]
vendor = "Tester"
model = "MC-TEST-1"
defaults = { function_code = 3 }

[[product.service]]
id = "v_l1_n"
name = "Voltage L1-N"
quantity = "voltage"
unit = "V"
category = "voltage"
register = { address = 0x0000, type = "u16", scale = 0.01 }
"#;

fn monitor(args: &[&str]) -> Output {
    common::example("monitor")
        .args(args)
        .output()
        .expect("monitor runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn catalogue_list_shows_builtin_and_site_products() {
    let builtin = Catalogue::builtin().unwrap();
    let out = monitor(&["catalogue", "list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // header + one line per built-in product
    assert_eq!(
        stdout.lines().count(),
        builtin.products().len() + 1,
        "{stdout}"
    );
    let ecr = builtin.require("ECR380D").unwrap();
    let line = stdout.lines().find(|l| l.starts_with("ECR380D ")).unwrap();
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        cells.last().unwrap(),
        &ecr.services.len().to_string(),
        "{line}"
    );
    assert!(line.contains(&ecr.vendor), "{line}");

    // A site with a user catalogue file lists that product too.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mine.toml"), USER_PRODUCT).unwrap();
    let site = dir.path().join("site.toml");
    std::fs::write(
        &site,
        "[site]\nname = \"t\"\ntime_zone = \"UTC\"\n[catalogue]\nfiles = [\"mine.toml\"]\n",
    )
    .unwrap();
    let site_arg = site.to_str().unwrap();
    let out = monitor(&["catalogue", "list", "--site", site_arg]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let line = stdout.lines().find(|l| l.starts_with("MC-TEST ")).unwrap();
    assert!(
        line.contains("Tester") && line.contains("MC-TEST-1"),
        "{line}"
    );
    assert!(line.trim_end().ends_with(" 1"), "{line}");

    let out = monitor(&["catalogue", "list", "--site", site_arg, "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let products = json.as_array().unwrap();
    assert_eq!(products.len(), builtin.products().len() + 1);
    let mine = products
        .iter()
        .find(|p| p["references"][0] == "MC-TEST")
        .unwrap();
    assert_eq!(mine["services"][0]["id"], "v_l1_n");
}

#[test]
fn catalogue_validate_names_line_and_field_or_lists_products() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, USER_PRODUCT).unwrap();
    let out = monitor(&["catalogue", "validate", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("1 product(s)"), "{stdout}");
    let line = stdout.lines().find(|l| l.starts_with("MC-TEST ")).unwrap();
    assert!(line.contains("MC-TEST-1"), "{stdout}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[product]]\nreferences = [\"X\"]\nvendor = 3\n").unwrap();
    let out = monitor(&["catalogue", "validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("bad.toml:3:") && err.contains(": product[0].vendor: "),
        "{err}"
    );
    assert!(out.stdout.is_empty());

    // A reference that exists built in is refused too.
    let dup = dir.path().join("dup.toml");
    std::fs::write(&dup, USER_PRODUCT.replace("\"MC-TEST\"", "\"ECR380D\"")).unwrap();
    let out = monitor(&["catalogue", "validate", dup.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("ECR380D"));
}
