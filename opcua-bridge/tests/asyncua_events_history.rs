//! Python asyncua (PyPI, 2.x) as the client of our server's alarms and history: it
//! subscribes to `AlarmConditionType` events on `Server` and on the site folder, receives
//! the alarms this test publishes (severity from the priority, source, message, states),
//! calls `Acknowledge` as the read-only user (refused), with an unknown event id (refused)
//! and as the operator (the handler sees it, an event with `AckedState` true follows), and
//! reads the raw history of a point (all at once, in pages through continuation points,
//! newest first) from this test's `HistorySource`. The client is `asyncua_events.py`; it
//! prints what it saw as one JSON object and this test checks it.
#![cfg(feature = "server")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod peers;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use opcua_bridge::server::{
    AcknowledgeHandler, AcknowledgeRefusal, AcknowledgeRequest, AlarmError, AlarmOccurrence,
    AlarmPriority, Bridge, Handlers, HistoricValue, HistoryError, HistoryQuery, HistorySource,
    Role, ServerConfig,
};
use opcua_bridge::{Area, Device, Point, PointTree, PointValue, Quality, Site, Unit};
use serde_json::Value;

const COUNT: i64 = 25;
const STEP_S: i64 = 900;

fn tree() -> PointTree {
    let main = Device::new("main")
        .with_point(Point::number("e_import", Unit::KWh))
        .with_point(Point::number("t_supply", Unit::DegC))
        .with_point(
            Point::number("t_set", Unit::DegC)
                .with_range(10.0, 90.0)
                .writable(),
        );
    let site = Site::new("Plant").with_area(Area::new("Substation 1").with_device(main));
    PointTree::new(site).unwrap()
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

/// The stored values of `main/e_import`: one every 15 min, one uncertain, one missing.
fn stored() -> Vec<HistoricValue> {
    (0..COUNT)
        .map(|i| {
            let (value, quality) = match i {
                7 => (
                    Some(PointValue::Number(1000.0 + i as f64 * 0.25)),
                    Quality::Uncertain,
                ),
                12 => (None, Quality::BadCommunication),
                _ => (
                    Some(PointValue::Number(1000.0 + i as f64 * 0.25)),
                    Quality::Good,
                ),
            };
            HistoricValue {
                value,
                source_time: t0() + chrono::Duration::seconds(i * STEP_S),
                quality,
            }
        })
        .collect()
}

/// An in-memory store answering queries as the trait asks; `main/t_supply` fails.
struct Store {
    values: BTreeMap<String, Vec<HistoricValue>>,
    queries: Mutex<Vec<HistoryQuery>>,
}

#[async_trait]
impl HistorySource for Store {
    async fn read_raw(&self, q: &HistoryQuery) -> Result<Vec<HistoricValue>, HistoryError> {
        self.queries.lock().unwrap().push(q.clone());
        if q.point == "main/t_supply" {
            return Err(HistoryError::Unavailable("archive offline".into()));
        }
        let mut out: Vec<HistoricValue> = self
            .values
            .get(&q.point)
            .ok_or(HistoryError::NoHistory)?
            .iter()
            .filter(|h| {
                q.from.is_none_or(|f| h.source_time >= f) && q.to.is_none_or(|t| h.source_time <= t)
            })
            .cloned()
            .collect();
        if q.newest_first {
            out.reverse();
        }
        out.truncate(q.limit.unwrap_or(usize::MAX));
        Ok(out)
    }
}

/// Records acknowledgements; refuses an empty comment as the alarms crate does.
#[derive(Default)]
struct Acks(Mutex<Vec<AcknowledgeRequest>>);

#[async_trait]
impl AcknowledgeHandler for Acks {
    async fn acknowledge(&self, r: &AcknowledgeRequest) -> Result<(), AcknowledgeRefusal> {
        if r.comment.trim().is_empty() {
            return Err(AcknowledgeRefusal::InvalidState(
                "a comment is required".into(),
            ));
        }
        self.0.lock().unwrap().push(r.clone());
        Ok(())
    }
}

fn config(pki: &std::path::Path) -> ServerConfig {
    let mut config = ServerConfig::new("127.0.0.1", 0, pki)
        .with_user("reader", "reader-pw", Role::ReadOnly)
        .with_user("operator", "operator-pw", Role::Operator);
    config.allow_none = true;
    config
}

fn occurrences() -> [AlarmOccurrence; 2] {
    let raised = t0() + chrono::Duration::seconds(3600);
    let mut t_high = AlarmOccurrence::raised(
        41,
        "t_high",
        "main/t_supply",
        AlarmPriority::Major,
        "supply too hot",
        raised,
    );
    t_high.value = Some(95.5);
    let plant = AlarmOccurrence::raised(
        42,
        "plant_fault",
        "",
        AlarmPriority::Critical,
        "plant in fault",
        raised,
    );
    [t_high, plant]
}

/// Runs the client; publishes the alarms when it says READY; returns its JSON.
async fn run_client(bridge: Arc<Bridge>) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/asyncua_events.py");
    let mut child = Command::new("python3")
        .args([
            script,
            bridge.endpoint_url(),
            "urn:emkit:opcua-bridge:points",
            &t0().timestamp().to_string(),
            &STEP_S.to_string(),
            &COUNT.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let reader = std::thread::spawn(move || {
        let mut ready = Some(ready_tx);
        let mut last = String::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if line == "READY" {
                if let Some(tx) = ready.take() {
                    let _ = tx.send(());
                }
            } else {
                last = line;
            }
        }
        last
    });
    tokio::time::timeout(std::time::Duration::from_secs(60), ready_rx)
        .await
        .expect("the client subscribes within 60 s")
        .unwrap();
    for o in occurrences() {
        bridge.publish_alarm(o).unwrap();
    }
    let (last, output) = tokio::task::spawn_blocking(move || {
        let last = reader.join().unwrap();
        (last, child.wait_with_output().unwrap())
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "asyncua client failed:\n{last}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let r: Value = serde_json::from_str(&last).unwrap_or_else(|e| panic!("{e}: {last}"));
    println!("{}", serde_json::to_string_pretty(&r).unwrap());
    for step in ["connect", "alarms", "history"] {
        assert!(
            r.get(format!("{step}_failed")).is_none(),
            "{step}: {}",
            r[format!("{step}_failed")]
        );
    }
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asyncua_receives_alarms_acknowledges_and_reads_history() {
    if !peers::asyncua() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let acks = Arc::new(Acks::default());
    let store = Arc::new(Store {
        values: BTreeMap::from([("main/e_import".to_owned(), stored())]),
        queries: Mutex::default(),
    });
    let handlers = Handlers::default()
        .with_acknowledge(acks.clone())
        .with_history(store.clone());
    let bridge = Arc::new(
        Bridge::start_with(config(&dir.path().join("pki")), tree(), handlers)
            .await
            .unwrap(),
    );
    let r = run_client(bridge.clone()).await;
    check_raised(&r);
    check_acknowledgements(&r, &acks);
    check_history(&r, &store);
}

fn events_named<'a>(events: &'a Value, name: &str) -> Vec<&'a Value> {
    events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["condition_name"] == name)
        .collect()
}

fn same_time(json: &Value, t: DateTime<Utc>) -> bool {
    json.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .is_some_and(|j| j == t)
}

/// The raised alarms as the client saw them, on Server and on the site folder.
fn check_raised(r: &Value) {
    assert_eq!(r["raised_received"], true, "{r}");
    let [t_high, plant] = occurrences();
    for events in [&r["server_events"], &r["site_events"]] {
        let e = events_named(events, "t_high");
        assert_eq!(e.len(), 1, "{events}");
        let e = e[0];
        assert_eq!(e["event_type"], "i=2915", "AlarmConditionType");
        assert_eq!(e["severity"], 700, "major");
        assert_eq!(e["source_node"], "ns=2;s=main/t_supply");
        assert_eq!(e["source_name"], "main/t_supply");
        assert_eq!(e["message"], "supply too hot");
        assert!(same_time(&e["time"], t_high.time), "{}", e["time"]);
        assert!(e["receive_time"].is_string());
        assert_eq!(e["condition_id"], "ns=2;s=#alarm/t_high@main/t_supply");
        assert_eq!(e["active"], true);
        assert_eq!(e["active_text"], "Active");
        assert_eq!(e["acked"], false);
        assert_eq!(e["retain"], true);
        assert_eq!(e["event_id"].as_str().map(str::len), Some(32));

        let p = events_named(events, "plant_fault");
        assert_eq!(p.len(), 1, "{events}");
        assert_eq!(p[0]["severity"], 900, "critical");
        assert_eq!(
            p[0]["source_node"], "ns=2;s=#site",
            "a group alarm's source is the site"
        );
        assert_eq!(p[0]["source_name"], "Plant");
        assert_eq!(p[0]["message"], plant.text.as_str());
    }
}

/// Acknowledge: refused for the reader and an unknown event id, accepted for the operator
/// (the handler learns it, an event says so), refused once done.
fn check_acknowledgements(r: &Value, acks: &Acks) {
    assert_eq!(r["ack_by_reader"], "BadUserAccessDenied");
    assert_eq!(r["ack_unknown_event_id"], "BadEventIdUnknown");
    assert_eq!(r["ack_by_operator"], "Good");
    assert_eq!(r["ack_again"], "BadConditionBranchAlreadyAcked");
    assert_eq!(
        *acks.0.lock().unwrap(),
        [AcknowledgeRequest {
            occurrence: 41,
            alarm: "t_high".into(),
            target: "main/t_supply".into(),
            user: "operator".into(),
            comment: "pump checked".into(),
        }],
        "the handler saw the operator's acknowledgement only"
    );
    let after = events_named(&r["after_ack"], "t_high");
    assert_eq!(after.len(), 1, "{}", r["after_ack"]);
    let e = after[0];
    assert_eq!(e["acked"], true);
    assert_eq!(e["active"], true);
    assert_eq!(e["retain"], true, "still active");
    assert_eq!(e["comment"], "pump checked");
    assert_eq!(e["client_user_id"], "operator");
    assert_eq!(e["severity"], 700);
    assert_eq!(
        r["condition_node"],
        serde_json::json!({
            "type_definition": 2915,
            "acked_id": true,
            "active_id": true,
            "comment": "pump checked",
            "severity": 700,
            "retain": true,
        }),
        "the condition node's variables follow its events"
    );
    let raised = events_named(&r["server_events"], "t_high")[0];
    assert_ne!(
        e["event_id"], raised["event_id"],
        "every event has its own id"
    );
}

/// The client's values: (value, status, source time).
fn values(json: &Value) -> Vec<(Value, String, String)> {
    json.as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["value"].clone(),
                v["status"].as_str().unwrap_or("").to_owned(),
                v["source_time"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// The stored values as the client should see them.
fn expected(range: impl Iterator<Item = usize>) -> Vec<(Value, String, String)> {
    let all = stored();
    range
        .map(|i| {
            let h = &all[i];
            let (value, status) = match (&h.value, h.quality) {
                (None, _) => (Value::Null, "BadCommunicationError"),
                (Some(PointValue::Number(x)), Quality::Uncertain) => (Value::from(*x), "Uncertain"),
                (Some(PointValue::Number(x)), _) => (Value::from(*x), "Good"),
                (Some(other), _) => panic!("unexpected {other:?}"),
            };
            let time = h
                .source_time
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
            (value, status.to_owned(), time)
        })
        .collect()
}

fn check_history(r: &Value, store: &Store) {
    assert_eq!(r["historizing"], true);
    let history_read = 4;
    assert_eq!(
        r["access_level"].as_i64().unwrap() & history_read,
        history_read
    );
    assert_eq!(
        r["user_access_level"].as_i64().unwrap() & history_read,
        history_read
    );

    let n = usize::try_from(COUNT).unwrap();
    let all = values(&r["history_all"]);
    assert_eq!(all, expected(0..n), "all values, oldest first");

    let paged = &r["history_paged"];
    assert_eq!(paged["status"], "Good");
    assert_eq!(
        paged["sizes"],
        serde_json::json!([10, 10, 5]),
        "two continuation points"
    );
    assert_eq!(values(&paged["values"]), expected(0..n));

    let newest = &r["history_newest_first"];
    assert_eq!(newest["status"], "Good");
    assert_eq!(
        values(&newest["values"]),
        expected((1..n).rev()),
        "start after end: newest first, the end excluded"
    );

    assert_eq!(r["history_unknown_node"], "BadNodeIdUnknown");
    assert_eq!(r["history_failing_source"], "BadDataUnavailable");
    assert_eq!(r["history_no_history"], "BadNoData");
    assert_eq!(
        r["history_foreign_continuation_point"],
        "BadContinuationPointInvalid"
    );

    // The paged read asked the source for one value more than a page (and resumed after
    // the last value returned); the last query is the first page of the foreign
    // continuation point test.
    let queries = store.queries.lock().unwrap();
    let paged: Vec<&HistoryQuery> = queries
        .iter()
        .filter(|q| q.point == "main/e_import" && !q.newest_first && q.limit.is_some())
        .collect();
    let limits: Vec<Option<usize>> = paged.iter().map(|q| q.limit).collect();
    assert_eq!(limits, [Some(11), Some(12), Some(12), Some(11)]);
    let step = |i: i64| Some(t0() + chrono::Duration::seconds(i * STEP_S));
    let froms: Vec<_> = paged.iter().map(|q| q.from).collect();
    assert_eq!(froms, [step(0), step(9), step(19), step(0)]);
    assert!(paged.iter().all(|q| q.to == step(COUNT)));
}

/// Without a peer: what `publish_alarm` refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarms_on_unknown_targets_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bridge = Bridge::start_with(config(&dir.path().join("pki")), tree(), Handlers::default())
        .await
        .unwrap();
    let [t_high, plant] = occurrences();
    assert!(bridge.publish_alarm(t_high.clone()).is_ok());
    assert!(bridge.publish_alarm(plant).is_ok(), "the site");
    let mut on_device = t_high.clone();
    on_device.target = "main".into();
    assert!(bridge.publish_alarm(on_device).is_ok(), "a device");
    let mut unknown = t_high.clone();
    unknown.target = "main/nope".into();
    assert_eq!(
        bridge.publish_alarm(unknown),
        Err(AlarmError::UnknownTarget {
            alarm: "t_high".into(),
            target: "main/nope".into()
        })
    );
    let mut unnamed = t_high;
    unnamed.alarm = String::new();
    assert!(matches!(
        bridge.publish_alarm(unnamed),
        Err(AlarmError::EmptyAlarm { .. })
    ));
    bridge.shutdown().await;
}
