//! The gateway's Modbus/TCP Security listener: clients with certificates signed by the CA
//! reach the RTU line behind it; the role in a client's certificate decides whether it may
//! write (the `read-only` role gets exception 0x01 and nothing reaches the bus). The clients
//! here are our own poller over TLS: the monitor's poller sharing the gateway's line.
#![cfg(feature = "io")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use modbus_devices::device::{
    Bus, BusKind, DeviceAddress, DeviceInstance, Installation, TcpSettings, TlsSettings,
};
use modbus_devices::gateway::{Gateway, GatewayConfig};
use modbus_devices::poll::tls::{READ_ONLY_ROLE, ROLE_OID, ServerTlsConfig, encode_role_extension};
use modbus_devices::poll::{ModbusException, Poller};
use modbus_devices::sim::{SimClock, Simulator};
use modbus_devices::{Catalogue, Quality, Value};
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, IsCa, Issuer, KeyPair, SanType,
};

const UNIT: u8 = 7;

struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    let cert = p.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(p, key),
    }
}

/// (certificate PEM, key PEM)
fn signed(p: CertificateParams, by: &Ca) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, &by.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn server_params() -> CertificateParams {
    let mut p = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    p.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    p
}

fn client_params(name: &str, role: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, name);
    p.custom_extensions.push(CustomExtension::from_oid_content(
        ROLE_OID,
        encode_role_extension(role),
    ));
    p
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn poller(
    catalogue: &Catalogue,
    dir: &tempfile::TempDir,
    gateway: SocketAddr,
    ca: &Ca,
    tag: &str,
    identity: &(String, String),
) -> Poller {
    let mut tcp = TcpSettings::new("127.0.0.1", gateway.port());
    tcp.timeout_ms = 2_000;
    tcp.retries = 0;
    let tls = TlsSettings {
        tcp,
        ca_cert: Some(write(dir, &format!("{tag}-ca.pem"), &ca.pem)),
        client_cert: Some(write(dir, &format!("{tag}.pem"), &identity.0)),
        client_key: Some(write(dir, &format!("{tag}.key"), &identity.1)),
        server_name: None,
        check_dates: true,
        accept_self_signed: false,
    };
    let mut site = Installation::default();
    site.add_bus(Bus {
        name: "gateway".into(),
        kind: BusKind::Tls(tls),
    })
    .unwrap();
    let mut d = DeviceInstance::new("meter", "ECR380D", "gateway", DeviceAddress::Unit(UNIT));
    d.services = Some(vec!["v_l1_n".into(), "freq".into()]);
    site.add_device(d).unwrap();
    Poller::new(&site, catalogue).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_roles_decide_who_may_write() {
    let catalogue = Catalogue::builtin().unwrap();
    let sim = Simulator::new(SimClock::real());
    sim.add_device(UNIT, catalogue.require("ECR380D").unwrap().clone())
        .unwrap();
    let (line, _sim) = sim.serve_rtu_over_tcp("127.0.0.1:0").await.unwrap();

    let ca = ca("gateway test CA");
    let server = signed(server_params(), &ca);
    let config = ServerTlsConfig::from_pem(server.0.as_bytes(), server.1.as_bytes())
        .unwrap()
        .require_client_certs_from_pem(ca.pem.as_bytes())
        .unwrap()
        .build()
        .unwrap();
    let gateway = Gateway::start(GatewayConfig::new(vec![Bus {
        name: "line".into(),
        kind: BusKind::RtuOverTcp(TcpSettings::new("127.0.0.1", line.port())),
    }]))
    .unwrap();
    let (addr, _server) = gateway.serve_tls("127.0.0.1:0", config).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let viewer = signed(client_params("viewer", READ_ONLY_ROLE), &ca);
    let operator = signed(client_params("operator", "operator"), &ca);
    let viewer = poller(&catalogue, &dir, addr, &ca, "viewer", &viewer);
    let operator = poller(&catalogue, &dir, addr, &ca, "operator", &operator);

    for p in [&viewer, &operator] {
        let readings = tokio::time::timeout(Duration::from_secs(8), p.poll_once())
            .await
            .unwrap();
        assert!(
            !readings.is_empty() && readings.iter().all(|r| r.quality == Quality::Good),
            "{readings:?}"
        );
    }
    let before = sim.request_count(UNIT);
    let err = viewer
        .write_parameter("meter", "modbus_address", &Value::Number(12.0))
        .await
        .unwrap_err();
    assert_eq!(
        err.exception(),
        Some(ModbusException::IllegalFunction),
        "{err}"
    );
    assert_eq!(
        sim.request_count(UNIT),
        before,
        "the refused write never reached the bus"
    );
    operator
        .write_parameter("meter", "modbus_address", &Value::Number(12.0))
        .await
        .unwrap();
    assert!(sim.request_count(UNIT) > before);

    let stats = gateway.stats();
    let roles: Vec<_> = stats
        .clients
        .iter()
        .map(|c| (c.role.clone(), c.read_only))
        .collect();
    assert!(
        roles.contains(&(Some(READ_ONLY_ROLE.into()), true)),
        "{roles:?}"
    );
    assert!(
        roles.contains(&(Some("operator".into()), false)),
        "{roles:?}"
    );
    let refused: u64 = stats
        .clients
        .iter()
        .map(|c| c.counters.exceptions_with(0x01))
        .sum();
    assert_eq!(refused, 1);
}
