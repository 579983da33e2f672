//! The server without a peer: it starts on a free port of the configured host, creates its
//! certificate in the configured PKI folder, takes batches, refuses a wildcard host, and
//! stops on `shutdown` (the port is free again).
#![cfg(feature = "server")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::Utc;
use opcua_bridge::server::{Bridge, Role, ServerConfig, ServerError};
use opcua_bridge::{Device, Point, PointTree, PointValue, Quality, Rejection, Site, Unit, Update};

fn tree() -> PointTree {
    PointTree::new(
        Site::new("Plant").with_device(Device::new("m").with_point(Point::number("p", Unit::KW))),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_updates_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("nested/pki");
    let config = ServerConfig::new("127.0.0.1", 0, &pki).with_user("u", "secret", Role::ReadOnly);
    let t = std::time::Instant::now();
    let bridge = Bridge::start(config, tree(), None).await.unwrap();
    eprintln!("start (certificate created) {:?}", t.elapsed());
    let url = bridge.endpoint_url().to_owned();
    let port: u16 = url
        .strip_prefix("opc.tcp://127.0.0.1:")
        .and_then(|rest| rest.strip_suffix('/'))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("endpoint url {url}"));
    assert_ne!(port, 0);
    assert!(pki.join("own/cert.der").is_file());
    assert!(pki.join("private/private.pem").is_file());
    assert_eq!(bridge.namespace_index(), 2);

    let now = Utc::now();
    let report = bridge.update([
        Update::good("m/p", PointValue::Number(3.5), now),
        Update::good("m/q", PointValue::Number(1.0), now),
        Update::good("m/p", PointValue::Bool(true), now),
    ]);
    assert_eq!(report.applied, [0]);
    assert_eq!(
        report.rejected,
        [
            ("m/q".to_owned(), Rejection::UnknownPoint),
            ("m/p".to_owned(), Rejection::WrongKind)
        ]
    );
    let p = bridge.point("m/p").unwrap();
    assert_eq!(p.state.value, Some(PointValue::Number(3.5)));
    assert_eq!(p.state.quality, Quality::Good);

    let t = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(10), bridge.shutdown())
        .await
        .expect("shutdown within 10 s");
    eprintln!("shutdown {:?}", t.elapsed());
    // The port is free again.
    let mut rebound = false;
    for _ in 0..50 {
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            rebound = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(rebound, "port {port} still taken after shutdown");
}

#[tokio::test]
async fn refuses_a_wildcard_host_and_a_taken_port() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig::new("0.0.0.0", 0, dir.path()).with_user("u", "p", Role::Operator);
    assert!(matches!(
        Bridge::start(config, tree(), None).await,
        Err(ServerError::Config(_))
    ));

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let config =
        ServerConfig::new("127.0.0.1", port, dir.path()).with_user("u", "p", Role::Operator);
    assert!(matches!(
        Bridge::start(config, tree(), None).await,
        Err(ServerError::Listen { .. })
    ));
}
