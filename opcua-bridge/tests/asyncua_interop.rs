//! Python asyncua (PyPI, 2.x) as the client of our server: browse, values with units, range,
//! type and quality, a subscription receiving changes, writes allowed and denied by role,
//! range and handler, a wrong password and anonymous access refused, SignAndEncrypt with a
//! client certificate refused until it is trusted. The client is `asyncua_client.py`; it
//! prints what it saw as one JSON object and this test checks it.
#![cfg(feature = "server")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod peers;

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use opcua_bridge::server::{Bridge, Role, ServerConfig, WriteHandler, WriteRefusal, WriteRequest};
use opcua_bridge::{Area, Device, Point, PointTree, PointValue, Quality, Site, Unit, Update};
use serde_json::Value;

fn tree() -> PointTree {
    let main = Device::new("main")
        .with_description("Hager ECR380D")
        .with_point(
            Point::number("e_import", Unit::KWh)
                .with_description("imported energy")
                .with_range(0.0, 1e9),
        )
        .with_point(Point::number("t_supply", Unit::DegC))
        .with_point(Point::number("t_return", Unit::DegC))
        .with_point(Point::bool("breaker"))
        .with_point(Point::text("status"))
        .with_point(
            Point::number("t_set", Unit::DegC)
                .with_range(10.0, 90.0)
                .writable(),
        );
    let site = Site::new("Plant").with_area(Area::new("Substation 1").with_device(main));
    match PointTree::new(site) {
        Ok(t) => t,
        Err(e) => panic!("test tree: {e}"),
    }
}

fn number(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

type Writes = Arc<Mutex<Vec<(String, PointValue, Option<String>)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asyncua_client_against_our_server() {
    if !peers::asyncua() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let writes = Writes::default();
    let (bridge, r) = serve_and_run_client(&dir, &writes).await;
    check_endpoints_and_browse(&r);
    check_values(&r);
    check_subscription(&r);
    check_writes(&r, &writes, &bridge);
    check_refusals_and_certificates(&r);
}

/// A handler that takes 200 ms, as a controller behind a slow bus would, and refuses 42.
struct SlowController {
    writes: Writes,
}

#[async_trait::async_trait]
impl WriteHandler for SlowController {
    async fn write(&self, w: &WriteRequest) -> Result<(), WriteRefusal> {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if w.value == PointValue::Number(42.0) {
            return Err(WriteRefusal::NotAllowed);
        }
        let entry = (w.point.clone(), w.value.clone(), w.user.clone());
        self.writes.lock().unwrap().push(entry);
        Ok(())
    }
}

/// Starts the server with the test tree, feeds it, runs the asyncua client; returns what
/// the client saw.
async fn serve_and_run_client(dir: &tempfile::TempDir, writes: &Writes) -> (Arc<Bridge>, Value) {
    let pki = dir.path().join("pki");
    let mut config = ServerConfig::new("127.0.0.1", 0, &pki)
        .with_user("reader", "reader-pw", Role::ReadOnly)
        .with_user("operator", "operator-pw", Role::Operator);
    config.allow_none = true;

    let handler = SlowController {
        writes: writes.clone(),
    };
    let bridge = Arc::new(
        Bridge::start(config, tree(), Some(Arc::new(handler)))
            .await
            .unwrap(),
    );
    assert!(
        pki.join("own/cert.der").exists(),
        "the certificate is created in the configured pki folder"
    );

    let t0 = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
    let report = bridge.update([
        Update::good("main/e_import", PointValue::Number(1234.5), t0),
        Update::good("main/t_supply", PointValue::Number(70.0), t0),
        Update::without_value("main/t_return", Quality::BadCommunication, t0),
        Update::good("main/breaker", PointValue::Bool(true), t0),
        Update::good("main/status", PointValue::Text("running".into()), t0),
        Update::good("main/t_set", PointValue::Number(60.0), t0),
    ]);
    assert!(report.rejected.is_empty(), "{report:?}");

    // Changes for the subscription: t_supply moves every 150 ms while the client runs.
    let feeder = {
        let bridge = bridge.clone();
        tokio::spawn(async move {
            for i in 1..400 {
                tokio::time::sleep(Duration::from_millis(150)).await;
                let t = t0 + chrono::Duration::milliseconds(150 * i);
                bridge.update([Update::good(
                    "main/t_supply",
                    PointValue::Number(70.0 + i as f64),
                    t,
                )]);
            }
        })
    };

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/asyncua_client.py");
    let url = bridge.endpoint_url().to_owned();
    let (pki_arg, work) = (pki.clone(), dir.path().to_owned());
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args([script, &url, "urn:emkit:opcua-bridge:points"])
            .arg(&pki_arg)
            .arg(&work)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    feeder.abort();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "asyncua client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    println!("{}", serde_json::to_string_pretty(&r).unwrap());
    for step in [
        "endpoints",
        "as_reader",
        "as_operator",
        "refused",
        "sign_and_encrypt",
    ] {
        assert!(
            r.get(format!("{step}_failed")).is_none(),
            "{step}: {}",
            r[format!("{step}_failed")]
        );
    }
    (bridge, r)
}

fn check_endpoints_and_browse(r: &Value) {
    // Endpoints: the secure ones, and None because this test enables it; user names only.
    assert_eq!(
        r["endpoints"],
        serde_json::json!([
            "Aes128_Sha256_RsaOaep Sign",
            "Aes128_Sha256_RsaOaep SignAndEncrypt",
            "Basic256Sha256 Sign",
            "Basic256Sha256 SignAndEncrypt",
            "None None_",
        ])
    );
    assert_eq!(r["user_tokens"], serde_json::json!(["UserName"]));
    assert_eq!(
        r["none_password_policy"],
        serde_json::json!(["http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256"]),
        "the password is encrypted even on the None endpoint"
    );

    // Browse: the tree under Objects, browse names in our namespace.
    assert_eq!(r["ns"], 2);
    let mut browse: Vec<&str> = r["browse"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    browse.sort_unstable();
    assert_eq!(
        browse,
        [
            "Plant",
            "Plant/Substation 1",
            "Plant/Substation 1/main",
            "Plant/Substation 1/main/breaker",
            "Plant/Substation 1/main/e_import",
            "Plant/Substation 1/main/status",
            "Plant/Substation 1/main/t_return",
            "Plant/Substation 1/main/t_set",
            "Plant/Substation 1/main/t_supply",
        ]
    );
}

/// Values with units, ranges, types, timestamps and quality.
fn check_values(r: &Value) {
    let p = &r["points"];
    let e = &p["main/e_import"];
    assert_eq!(number(&e["value"]), 1234.5);
    assert_eq!(e["status"], "Good");
    assert_eq!(e["type_definition"], 2368, "AnalogItemType");
    assert_eq!(e["description"], "imported energy");
    assert_eq!(e["EngineeringUnits"]["unit_id"], 4_937_544, "KWH");
    assert_eq!(e["EngineeringUnits"]["display_name"], "kWh");
    assert_eq!(
        e["EngineeringUnits"]["namespace_uri"],
        "http://www.opcfoundation.org/UA/units/un/cefact"
    );
    assert_eq!(e["EURange"], serde_json::json!([0.0, 1e9]));
    assert!(
        e["source_time"]
            .as_str()
            .unwrap()
            .starts_with("2026-01-02T03:04:05"),
        "{}",
        e["source_time"]
    );
    assert!(e["server_time"].is_string());
    assert_eq!(p["main/t_supply"]["EngineeringUnits"]["display_name"], "°C");
    assert_eq!(p["main/t_return"]["status"], "BadCommunicationError");
    assert_eq!(p["main/breaker"]["value"], true);
    assert_eq!(p["main/breaker"]["type_definition"], 2365, "DataItemType");
    assert_eq!(p["main/status"]["value"], "running");
    assert_eq!(p["main/t_set"]["EURange"], serde_json::json!([10.0, 90.0]));
}

/// Subscription: changes arrive as they were pushed.
fn check_subscription(r: &Value) {
    let changes: Vec<f64> = r["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(number)
        .collect();
    assert!(changes.len() >= 4, "{changes:?}");
    assert!(
        changes.windows(2).all(|w| w[0] < w[1]),
        "changes arrive in order: {changes:?}"
    );
}

/// Writes: the role, the range and the handler decide.
fn check_writes(r: &Value, writes: &Writes, bridge: &Bridge) {
    assert_eq!(r["reader_write"], "BadUserAccessDenied");
    assert_eq!(r["operator_write_ok"], "Good");
    assert_eq!(number(&r["operator_read_back"]), 55.5);
    assert_eq!(r["operator_write_out_of_range"], "BadOutOfRange");
    assert_eq!(
        r["operator_write_refused_by_handler"],
        "BadUserAccessDenied"
    );
    assert_eq!(
        r["operator_write_read_only_point"], "BadNotWritable",
        "a point that is not writable is so for everyone"
    );
    assert_eq!(
        *writes.lock().unwrap(),
        [(
            "main/t_set".to_owned(),
            PointValue::Number(55.5),
            Some("operator".to_owned())
        )],
        "the handler learns the user"
    );
    assert_eq!(
        bridge.point("main/t_set").and_then(|p| p.state.value),
        Some(PointValue::Number(55.5))
    );
}

/// Refused sessions; SignAndEncrypt refused while the client certificate is unknown (it
/// lands in rejected/), accepted once it is moved to trusted/.
fn check_refusals_and_certificates(r: &Value) {
    assert_ne!(r["wrong_password"], "connected");
    assert_ne!(r["anonymous"], "connected");

    assert_ne!(
        number(&r["untrusted_cert"]),
        1234.5,
        "{}",
        r["untrusted_cert"]
    );
    assert_eq!(
        r["rejected_files"].as_array().map(Vec::len),
        Some(1),
        "{}",
        r["rejected_files"]
    );
    assert_eq!(number(&r["trusted_cert"]), 1234.5, "{}", r["trusted_cert"]);
    // Every other secure endpoint the server offers works with a real client too.
    for endpoint in [
        "basic256sha256_sign",
        "aes128_sign_and_encrypt",
        "aes128_sign",
    ] {
        assert_eq!(number(&r[endpoint]), 1234.5, "{endpoint}: {}", r[endpoint]);
    }
}
