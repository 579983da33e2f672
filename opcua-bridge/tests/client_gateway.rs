//! The client gateway against Python asyncua (PyPI, 2.x) as the server
//! (`asyncua_server.py`): browse, subscribe and receive changing values with units and
//! qualities, write a setpoint and see it on the server, lose the server (killed) and see
//! every point go bad-communication, restart it on the same port and see values flow
//! again; nodes that cannot feed a point and unreachable servers give typed errors.
//! Every wait is bounded.
#![cfg(feature = "client")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod peers;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use opcua_bridge::client::{
    Error, Gateway, GatewayConfig, Login, NodeMapping, NodeType, SecurityMode, SecurityPolicy,
    WriteFailure,
};
use opcua_bridge::{ApplyReport, PointTree, PointValue, Quality, Site, Unit, Update, ValueKind};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

/// The asyncua server process and its stdout lines.
struct PyServer {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
}

impl PyServer {
    async fn start(port: u16) -> PyServer {
        PyServer::start_with(port, &[]).await
    }

    /// With extra arguments (a PKI folder: the secure server).
    async fn start_with(port: u16, extra: &[&Path]) -> PyServer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/asyncua_server.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(port.to_string())
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start asyncua_server.py");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = PyServer { child, lines };
        let ready = server.line_starting("ready", Duration::from_secs(30)).await;
        assert!(ready.is_some(), "asyncua_server.py did not get ready");
        server
    }

    async fn line_starting(&mut self, prefix: &str, within: Duration) -> Option<String> {
        let deadline = Instant::now() + within;
        loop {
            let line = timeout(
                deadline.saturating_duration_since(Instant::now()),
                self.lines.recv(),
            )
            .await
            .ok()??;
            if line.starts_with(prefix) {
                return Some(line);
            }
        }
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Logs to the test's output, filtered by `RUST_LOG` (none when unset).
fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn config(port: u16, pki: &Path) -> GatewayConfig {
    let mut c = GatewayConfig::new(format!("opc.tcp://127.0.0.1:{port}/"), pki)
        .with_node(NodeMapping::new("ns=2;s=Boiler.T", "boiler/t"))
        .with_node(NodeMapping::new("ns=2;s=Boiler.SetT", "boiler/t_set"))
        .with_node(NodeMapping::new("ns=2;s=Boiler.Running", "boiler/running"))
        .with_node(NodeMapping::new("ns=2;s=Boiler.State", "boiler/state"))
        .with_node(NodeMapping::new("ns=2;s=Boiler.Flow", "boiler/flow"))
        .with_node(
            NodeMapping::new("ns=2;s=Boiler.Pressure", "boiler/pressure").with_unit(Unit::Bar),
        )
        .with_node(
            NodeMapping::new("/Objects/2:Meter/2:Energy", "meter/e")
                .with_unit(Unit::KWh)
                .with_scale(0.001),
        );
    c.publishing_interval_ms = 100;
    c.reconnect_initial_ms = 100;
    c.reconnect_max_ms = 400;
    c.keep_alive_ms = 1000;
    c.timeout_ms = 5000;
    c
}

/// Received updates: everything, and the latest per point.
#[derive(Default)]
struct Seen {
    all: Vec<Update>,
    latest: HashMap<String, Update>,
    applied: usize,
}

impl Seen {
    /// Applies the updates not applied yet.
    fn apply_new(&mut self, tree: &mut PointTree) -> ApplyReport {
        let new = self.all[self.applied..].to_vec();
        self.applied = self.all.len();
        tree.apply(new, Utc::now())
    }

    /// Receives batches until `done` holds (checked after each batch) or `within` passes.
    async fn until(
        &mut self,
        rx: &mut mpsc::UnboundedReceiver<Vec<Update>>,
        within: Duration,
        what: &str,
        mut done: impl FnMut(&Seen, &[Update]) -> bool,
    ) {
        let deadline = Instant::now() + within;
        loop {
            let batch = timeout(
                deadline.saturating_duration_since(Instant::now()),
                rx.recv(),
            )
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}; latest: {:#?}", self.latest))
            .unwrap_or_else(|| panic!("update channel closed waiting for {what}"));
            for u in &batch {
                self.all.push(u.clone());
                self.latest.insert(u.point.clone(), u.clone());
            }
            if done(self, &batch) {
                return;
            }
        }
    }

    fn value(&self, point: &str) -> Option<&PointValue> {
        self.latest.get(point).and_then(|u| u.value.as_ref())
    }

    fn quality(&self, point: &str) -> Option<Quality> {
        self.latest.get(point).map(|u| u.quality)
    }

    fn good_numbers(&self, point: &str) -> Vec<f64> {
        self.all
            .iter()
            .filter(|u| u.point == point && u.quality == Quality::Good)
            .filter_map(|u| match u.value {
                Some(PointValue::Number(x)) => Some(x),
                _ => None,
            })
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_against_asyncua_server_with_restart() {
    if !peers::asyncua() {
        return;
    }
    logs();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = PyServer::start(port).await;
    let (gateway, mut rx) = timeout(
        Duration::from_secs(20),
        Gateway::connect(config(port, &dir.path().join("pki"))),
    )
    .await
    .expect("connect in time")
    .expect("connect");
    assert!(gateway.is_connected());

    check_points_and_browse(&gateway).await;
    let mut tree = PointTree::new(Site {
        name: "Plant".into(),
        description: String::new(),
        areas: Vec::new(),
        devices: gateway.devices(),
    })
    .expect("the gateway's devices make a tree");
    let mut seen = Seen::default();
    check_values(&mut seen, &mut rx, &mut tree).await;

    // A setpoint reaches the server, and comes back through the subscription.
    gateway
        .write("boiler/t_set", PointValue::Number(55.0))
        .await
        .expect("write the setpoint");
    let echoed = server
        .line_starting("setpoint", Duration::from_secs(5))
        .await;
    assert_eq!(echoed.as_deref(), Some("setpoint 55.0"));
    seen.until(
        &mut rx,
        Duration::from_secs(5),
        "the setpoint back",
        |s, _| s.value("boiler/t_set") == Some(&PointValue::Number(55.0)),
    )
    .await;
    check_write_errors(&gateway).await;

    server.kill();
    check_down(&gateway, &mut seen, &mut rx, &mut tree).await;

    // Restarted on the same port: a new session, a new subscription, values again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _server = PyServer::start(port).await;
    let before = seen.all.len();
    seen.until(
        &mut rx,
        Duration::from_secs(20),
        "values after the restart",
        |s, _| {
            let after = &s.all[before..];
            let good = |p: &str| {
                after
                    .iter()
                    .filter(|u| u.point == p && u.quality == Quality::Good)
                    .count()
            };
            good("boiler/t") >= 2 && good("boiler/t_set") >= 1 && good("boiler/running") >= 1
        },
    )
    .await;
    assert!(gateway.is_connected());
    let report = seen.apply_new(&mut tree);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let q = |name: &str| tree.point(name).map(|p| p.state.quality);
    assert_eq!(q("boiler/t"), Some(Quality::Good));
    assert_eq!(q("boiler/running"), Some(Quality::Good));
    assert_eq!(q("boiler/pressure"), Some(Quality::BadCommunication));
    let v = |name: &str| tree.point(name).and_then(|p| p.state.value.clone());
    assert_eq!(
        v("boiler/t_set"),
        Some(PointValue::Number(50.0)),
        "the restarted server's"
    );

    // Writes work on the new session.
    gateway
        .write("boiler/t_set", PointValue::Number(61.5))
        .await
        .expect("write after the restart");
    timeout(Duration::from_secs(5), gateway.shutdown())
        .await
        .expect("shutdown in time");
    let closed = timeout(Duration::from_secs(5), async {
        while rx.recv().await.is_some() {}
    })
    .await;
    assert!(closed.is_ok(), "the update channel closes after shutdown");
}

/// Values flow, with units (checked before), scale and qualities; the tree takes them.
async fn check_values(
    seen: &mut Seen,
    rx: &mut mpsc::UnboundedReceiver<Vec<Update>>,
    tree: &mut PointTree,
) {
    seen.until(rx, Duration::from_secs(10), "changing values", |s, _| {
        s.good_numbers("boiler/t").len() >= 3 && s.good_numbers("meter/e").len() >= 3
    })
    .await;
    assert_eq!(seen.value("boiler/running"), Some(&PointValue::Bool(true)));
    assert_eq!(
        seen.value("boiler/state"),
        Some(&PointValue::Text("heating".into()))
    );
    assert_eq!(seen.value("boiler/t_set"), Some(&PointValue::Number(50.0)));
    assert_eq!(seen.quality("boiler/flow"), Some(Quality::Uncertain));
    assert_eq!(seen.value("boiler/flow"), Some(&PointValue::Number(1.5)));
    assert_eq!(
        seen.quality("boiler/pressure"),
        Some(Quality::BadCommunication)
    );
    assert_eq!(
        seen.value("boiler/pressure"),
        None,
        "a bad value is not passed on"
    );
    let t = seen.good_numbers("boiler/t");
    assert!(
        t.windows(2).all(|w| w[1] > w[0]),
        "temperature rises: {t:?}"
    );
    let e = seen.good_numbers("meter/e");
    assert!(
        e.iter().all(|x| (1.0..100.0).contains(x)) && e.windows(2).all(|w| w[1] > w[0]),
        "Wh counter scaled to kWh: {e:?}"
    );
    let report = seen.apply_new(tree);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
}

/// The server is gone: one batch marks every point bad-communication, without a value;
/// writes say so; the tree takes the marks.
async fn check_down(
    gateway: &Gateway,
    seen: &mut Seen,
    rx: &mut mpsc::UnboundedReceiver<Vec<Update>>,
    tree: &mut PointTree,
) {
    let n_points = gateway.points().len();
    seen.until(
        rx,
        Duration::from_secs(10),
        "bad-communication marks",
        |_, batch| {
            batch.len() == n_points
                && batch
                    .iter()
                    .all(|u| u.quality == Quality::BadCommunication && u.value.is_none())
        },
    )
    .await;
    assert!(!gateway.is_connected());
    assert!(matches!(
        gateway
            .write("boiler/t_set", PointValue::Number(60.0))
            .await,
        Err(Error::Disconnected { .. })
    ));
    let report = seen.apply_new(tree);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    for p in tree.points() {
        assert_eq!(
            p.point.state.quality,
            Quality::BadCommunication,
            "{}",
            p.name
        );
        if p.name != "boiler/pressure" {
            assert!(
                p.point.state.value.is_some(),
                "{} keeps its last value",
                p.name
            );
        }
    }
}

async fn check_points_and_browse(gateway: &Gateway) {
    let p = |name: &str| {
        gateway
            .points()
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("{name} mapped"))
            .clone()
    };
    assert_eq!(p("boiler/t").unit, Unit::DegC, "from EngineeringUnits");
    assert_eq!(p("boiler/flow").unit, Unit::M3PerH, "from EngineeringUnits");
    assert_eq!(p("boiler/pressure").unit, Unit::Bar, "from the mapping");
    assert_eq!(p("boiler/state").unit, Unit::None, "no EngineeringUnits");
    assert_eq!(
        p("meter/e").node_id,
        "ns=2;s=Meter.E",
        "browse path resolved"
    );
    assert_eq!(p("meter/e").node_type, NodeType::UInt32);
    assert_eq!(p("boiler/running").kind, ValueKind::Bool);
    assert_eq!(p("boiler/state").kind, ValueKind::Text);
    assert!(p("boiler/t_set").writable);
    assert!(!p("boiler/t").writable);

    let objects = gateway.browse("i=85").await.expect("browse Objects");
    assert!(
        objects.iter().any(|e| e.browse_name == "2:Boiler"
            && e.node_id == "ns=2;s=Boiler"
            && e.node_class == "Object"),
        "{objects:#?}"
    );
    let boiler = gateway
        .browse("ns=2;s=Boiler")
        .await
        .expect("browse Boiler");
    let t = boiler
        .iter()
        .find(|e| e.browse_name == "2:T")
        .unwrap_or_else(|| panic!("{boiler:#?}"));
    assert_eq!(t.node_id, "ns=2;s=Boiler.T");
    assert_eq!(t.node_class, "Variable");
    assert_eq!(t.data_type.as_deref(), Some("Double"));
    assert_eq!(t.unit, Some(Unit::DegC));
    let state = boiler.iter().find(|e| e.browse_name == "2:State");
    assert_eq!(state.and_then(|e| e.data_type.as_deref()), Some("String"));
    let unknown = gateway.browse("ns=2;s=NoSuchNode").await;
    assert!(
        matches!(&unknown, Err(Error::Service { status, .. }) if status.starts_with("BadNodeId")),
        "{unknown:?}"
    );
    assert!(matches!(
        gateway.browse("not a node id").await,
        Err(Error::InvalidConfig { .. })
    ));
}

async fn check_write_errors(gateway: &Gateway) {
    match gateway.write("boiler/t", PointValue::Number(1.0)).await {
        Err(Error::WriteRefused {
            failure, status, ..
        }) => {
            assert_eq!(failure, WriteFailure::AccessDenied, "{status}");
        }
        other => panic!("a read-only node: {other:?}"),
    }
    assert!(matches!(
        gateway.write("boiler/t_set", PointValue::Bool(true)).await,
        Err(Error::BadSetpoint { .. })
    ));
    assert!(matches!(
        gateway.write("meter/e", PointValue::Number(-1.0)).await,
        Err(Error::BadSetpoint { .. })
    ));
    assert!(matches!(
        gateway.write("nope/x", PointValue::Number(1.0)).await,
        Err(Error::NotMapped(p)) if p == "nope/x"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_that_cannot_feed_points_are_typed_errors() {
    if !peers::asyncua() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = PyServer::start(port).await;
    let endpoint = format!("opc.tcp://127.0.0.1:{port}/");
    let with = |m: NodeMapping| {
        let mut c = GatewayConfig::new(&endpoint, dir.path().join("pki")).with_node(m);
        c.timeout_ms = 5000;
        c
    };
    let connect = |c: GatewayConfig| async move {
        timeout(Duration::from_secs(60), Gateway::connect(c))
            .await
            .expect("an answer in time")
            .map(|_| ())
    };
    match connect(with(NodeMapping::new("ns=2;s=Boiler.Nope", "boiler/nope"))).await {
        Err(Error::UnknownNode { point, status, .. }) => {
            assert_eq!(point, "boiler/nope");
            assert!(status.contains("BadNodeIdUnknown"), "{status}");
        }
        other => panic!("unknown node id: {other:?}"),
    }
    assert!(matches!(
        connect(with(NodeMapping::new(
            "/Objects/2:Meter/2:Nope",
            "meter/nope"
        )))
        .await,
        Err(Error::UnknownNode { .. })
    ));
    match connect(with(NodeMapping::new("ns=2;s=Boiler.Odd", "boiler/odd"))).await {
        Err(Error::Mapping { message, .. }) => assert!(message.contains("FAR"), "{message}"),
        other => panic!("a unit that is not ours: {other:?}"),
    }
    // With the unit given, the same node is fine.
    let ok = with(NodeMapping::new("ns=2;s=Boiler.Odd", "boiler/odd").with_unit(Unit::None));
    assert_eq!(connect(ok).await, Ok(()));
    assert!(matches!(
        connect(with(NodeMapping::new("ns=2;s=Boiler", "boiler/folder"))).await,
        Err(Error::Mapping { message, .. }) if message.contains("not a variable")
    ));
    assert!(matches!(
        connect(with(
            NodeMapping::new("ns=2;s=Boiler.Running", "boiler/running").with_scale(2.0)
        ))
        .await,
        Err(Error::Mapping { .. })
    ));
    assert!(matches!(
        connect(with(NodeMapping::new("ns=2;x=1", "boiler/x"))).await,
        Err(Error::InvalidConfig { field, .. }) if field == "node[0].node"
    ));
    // A secure endpoint the server does not offer.
    let mut secure = with(NodeMapping::new("ns=2;s=Boiler.T", "boiler/t"));
    secure.security_policy = opcua_bridge::client::SecurityPolicy::Basic256Sha256;
    secure.security_mode = opcua_bridge::client::SecurityMode::SignAndEncrypt;
    assert!(matches!(connect(secure).await, Err(Error::Connect { .. })));
    // Nobody listening.
    let mut gone = with(NodeMapping::new("ns=2;s=Boiler.T", "boiler/t"));
    gone.endpoint = format!("opc.tcp://127.0.0.1:{}/", free_port());
    assert!(matches!(connect(gone).await, Err(Error::Connect { .. })));
    // No nodes yet: connected only to browse, while writing the configuration.
    let mut bare = GatewayConfig::new(&endpoint, dir.path().join("pki"));
    bare.timeout_ms = 5000;
    let (gateway, _rx) = timeout(Duration::from_secs(20), Gateway::connect(bare))
        .await
        .expect("an answer in time")
        .expect("connect without nodes");
    assert!(gateway.points().is_empty() && gateway.devices().is_empty());
    let meter = gateway.browse("ns=2;s=Meter").await.expect("browse Meter");
    let energy = meter.iter().find(|e| e.browse_name == "2:Energy");
    assert_eq!(
        energy.map(|e| (e.node_id.as_str(), e.data_type.as_deref(), e.unit)),
        Some(("ns=2;s=Meter.E", Some("UInt32"), None))
    );
    gateway.shutdown().await;
}

/// A server that stops answering without closing the connection (the process is
/// stopped, as behind a dead network link): the keep-alive reads time out, the points go
/// bad-communication; once it answers again the session comes back and values that never
/// changed (`running`, `state`) are good again too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_is_detected_and_unchanged_values_resume() {
    if !peers::asyncua() {
        return;
    }
    logs();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = PyServer::start(port).await;
    let mut c = config(port, &dir.path().join("pki"));
    c.keep_alive_ms = 300;
    c.timeout_ms = 1000;
    let (gateway, mut rx) = timeout(Duration::from_secs(20), Gateway::connect(c))
        .await
        .expect("connect in time")
        .expect("connect");
    let mut tree = PointTree::new(Site {
        name: "Plant".into(),
        description: String::new(),
        areas: Vec::new(),
        devices: gateway.devices(),
    })
    .unwrap();
    let mut seen = Seen::default();
    seen.until(&mut rx, Duration::from_secs(10), "first values", |s, _| {
        s.value("boiler/running").is_some() && s.good_numbers("boiler/t").len() >= 2
    })
    .await;

    let pid = server.child.id().to_string();
    let signal = |sig: &str| {
        let ok = Command::new("kill")
            .args([sig, &pid])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig} {pid}");
    };
    signal("-STOP");
    let n_points = gateway.points().len();
    seen.until(
        &mut rx,
        Duration::from_secs(15),
        "bad-communication marks",
        |_, batch| {
            batch.len() == n_points && batch.iter().all(|u| u.quality == Quality::BadCommunication)
        },
    )
    .await;
    assert!(!gateway.is_connected());
    signal("-CONT");
    let before = seen.all.len();
    seen.until(
        &mut rx,
        Duration::from_secs(20),
        "values after the silence",
        |s, _| {
            let after = &s.all[before..];
            let good = |p: &str| {
                after
                    .iter()
                    .any(|u| u.point == p && u.quality == Quality::Good)
            };
            good("boiler/running") && good("boiler/state") && good("boiler/t")
        },
    )
    .await;
    let report = seen.apply_new(&mut tree);
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    for name in ["boiler/running", "boiler/state", "boiler/t", "boiler/t_set"] {
        assert_eq!(
            tree.point(name).map(|p| p.state.quality),
            Some(Quality::Good),
            "{name} after the silence"
        );
    }
    timeout(Duration::from_secs(5), gateway.shutdown())
        .await
        .expect("shutdown in time");
    drop(server);
}

/// Basic256Sha256 SignAndEncrypt with a username login: the gateway's certificate is
/// created in its PKI folder, the server's is refused (and kept in `rejected/`) until
/// moved to `trusted/`; a wrong password and an untrusted server are connection errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_and_encrypt_with_a_user() {
    if !peers::asyncua() {
        return;
    }
    logs();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = PyServer::start_with(port, &[&dir.path().join("server-pki")]).await;
    let pki = dir.path().join("pki");
    let secure = |password: &str| {
        let mut c = GatewayConfig::new(format!("opc.tcp://127.0.0.1:{port}/"), &pki)
            .with_node(NodeMapping::new("ns=2;s=Boiler.T", "boiler/t"));
        c.security_policy = SecurityPolicy::Basic256Sha256;
        c.security_mode = SecurityMode::SignAndEncrypt;
        c.user = Some(Login {
            name: "emkit".into(),
            password: password.into(),
        });
        c.timeout_ms = 5000;
        c.publishing_interval_ms = 100;
        c
    };
    let connect = |c: GatewayConfig| async move {
        timeout(Duration::from_secs(30), Gateway::connect(c))
            .await
            .expect("an answer in time")
    };
    match connect(secure("gw-secret")).await {
        Err(Error::Connect { status, .. }) => {
            assert!(status.contains("Certificate"), "{status}");
        }
        other => panic!("an untrusted server: {other:?}"),
    }
    assert!(
        pki.join("own/cert.der").exists(),
        "our certificate is created in pki_dir"
    );
    let rejected: Vec<_> = std::fs::read_dir(pki.join("rejected"))
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert_eq!(
        rejected.len(),
        1,
        "the server's certificate waits in rejected/"
    );
    // Trusting it is moving it to trusted/.
    std::fs::create_dir_all(pki.join("trusted")).unwrap();
    let name = rejected[0].file_name().unwrap();
    std::fs::rename(&rejected[0], pki.join("trusted").join(name)).unwrap();
    match connect(secure("wrong")).await {
        Err(Error::Connect { status, .. }) => assert_eq!(status, "BadUserAccessDenied"),
        other => panic!("a wrong password: {other:?}"),
    }
    let (gateway, mut rx) = connect(secure("gw-secret")).await.expect("connect");
    let mut seen = Seen::default();
    seen.until(
        &mut rx,
        Duration::from_secs(10),
        "values over SignAndEncrypt",
        |s, _| s.good_numbers("boiler/t").len() >= 2,
    )
    .await;
    assert_eq!(gateway.points()[0].unit, Unit::DegC);
    timeout(Duration::from_secs(5), gateway.shutdown())
        .await
        .expect("shutdown in time");
}
