//! Modbus/TCP Security: our poller against our simulator's TLS listener, with certificates
//! generated here (rcgen): a CA, server certificates (CA-signed, expired, self-signed), a
//! good client, a read-only client (role extension) and a client signed by another CA that
//! the server rejects.
#![cfg(feature = "io")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use modbus_devices::Catalogue;
use modbus_devices::device::{
    Bus, BusKind, DeviceAddress, DeviceInstance, Installation, TcpSettings, TlsSettings,
};
use modbus_devices::poll::tls::{
    READ_ONLY_ROLE, ROLE_OID, ServerTlsConfig, encode_role_extension, role_from_cert,
};
use modbus_devices::poll::{DeviceState, ModbusException, PollError, Poller};
use modbus_devices::sim::{SimClock, Simulator, SimulatorHandle};
use modbus_devices::{Quality, Value};
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, IsCa, Issuer, KeyPair, SanType,
    date_time_ymd,
};

const UNIT: u8 = 7;

struct Pki {
    dir: tempfile::TempDir,
}

/// A CA that can sign.
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

fn server_params() -> CertificateParams {
    let mut p = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    p.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    p.distinguished_name
        .push(DnType::CommonName, "emkit test server");
    p
}

/// (certificate PEM, key PEM)
fn signed(p: CertificateParams, by: &Ca) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, &by.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn client_params(name: &str, role: Option<&str>) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, name);
    if let Some(role) = role {
        p.custom_extensions.push(CustomExtension::from_oid_content(
            ROLE_OID,
            encode_role_extension(role),
        ));
    }
    p
}

impl Pki {
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

struct Fixture {
    pki: Pki,
    ca: Ca,
    other_ca: Ca,
    sim: Simulator,
    catalogue: Catalogue,
}

impl Fixture {
    fn new() -> Self {
        let catalogue = Catalogue::builtin().unwrap();
        let sim = Simulator::new(SimClock::real());
        sim.add_device(UNIT, catalogue.require("ECR380D").unwrap().clone())
            .unwrap();
        Self {
            pki: Pki {
                dir: tempfile::tempdir().unwrap(),
            },
            ca: ca("emkit test CA"),
            other_ca: ca("rogue CA"),
            sim,
            catalogue,
        }
    }

    /// A TLS listener with this server certificate, requiring clients signed by our CA.
    async fn serve(&self, cert: &(String, String)) -> (SocketAddr, SimulatorHandle) {
        let config = ServerTlsConfig::from_pem(cert.0.as_bytes(), cert.1.as_bytes())
            .unwrap()
            .require_client_certs_from_pem(self.ca.pem.as_bytes())
            .unwrap()
            .build()
            .unwrap();
        self.sim.serve_tls("127.0.0.1:0", config).await.unwrap()
    }

    /// Client settings: trusting `trust` (PEM), presenting `identity`.
    fn settings(
        &self,
        addr: SocketAddr,
        tag: &str,
        trust: Option<&str>,
        identity: Option<&(String, String)>,
    ) -> TlsSettings {
        let mut tcp = TcpSettings::new("127.0.0.1", addr.port());
        tcp.timeout_ms = 1000;
        tcp.retries = 0;
        TlsSettings {
            tcp,
            ca_cert: trust.map(|t| self.pki.write(&format!("{tag}-trust.pem"), t)),
            client_cert: identity.map(|i| self.pki.write(&format!("{tag}-client.pem"), &i.0)),
            client_key: identity.map(|i| self.pki.write(&format!("{tag}-client.key"), &i.1)),
            server_name: None,
            check_dates: true,
            accept_self_signed: false,
        }
    }

    fn poller(&self, settings: TlsSettings) -> Poller {
        let mut site = Installation::default();
        site.add_bus(Bus {
            name: "tls".into(),
            kind: BusKind::Tls(settings),
        })
        .unwrap();
        let mut d = DeviceInstance::new("meter", "ECR380D", "tls", DeviceAddress::Unit(UNIT));
        d.services = Some(vec!["v_l1_n".into(), "freq".into()]);
        site.add_device(d).unwrap();
        Poller::new(&site, &self.catalogue).unwrap()
    }
}

/// Poll once: Ok(values) when every reading is good, Err(last error) otherwise.
async fn read(p: &Poller) -> Result<Vec<f64>, String> {
    let readings = tokio::time::timeout(std::time::Duration::from_secs(8), p.poll_once())
        .await
        .unwrap();
    if readings.iter().all(|r| r.quality == Quality::Good) {
        Ok(readings
            .iter()
            .map(|r| r.value.as_ref().and_then(Value::as_f64).unwrap())
            .collect())
    } else {
        Err(p
            .stats()
            .device("meter")
            .and_then(|d| d.last_error.clone())
            .unwrap_or_default())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_client_reads_and_writes_rejected_client_gets_nothing() {
    let f = Fixture::new();
    let server = signed(server_params(), &f.ca);
    let (addr, _h) = f.serve(&server).await;

    // A client signed by our CA, role "operator": reads and writes.
    let operator = signed(client_params("operator", Some("operator")), &f.ca);
    let good = f.poller(f.settings(addr, "good", Some(&f.ca.pem), Some(&operator)));
    let values = read(&good).await.unwrap();
    assert!((220.0..240.0).contains(&values[0]), "{values:?}");
    assert!((49.0..51.0).contains(&values[1]), "{values:?}");
    assert_eq!(good.state("meter"), Some(DeviceState::Communicating));
    good.write_parameter("meter", "modbus_address", &Value::Number(12.0))
        .await
        .unwrap();
    // The range check happens before the wire.
    let err = good
        .write_parameter("meter", "modbus_address", &Value::Number(300.0))
        .await
        .unwrap_err();
    assert!(matches!(err, PollError::WriteRefused { .. }), "{err}");

    // A client signed by another CA: the server refuses it; nothing reaches the device.
    let before = f.sim.request_count(UNIT);
    let rogue = signed(client_params("rogue", Some("operator")), &f.other_ca);
    let rejected = f.poller(f.settings(addr, "rogue", Some(&f.ca.pem), Some(&rogue)));
    let err = read(&rejected).await.unwrap_err();
    eprintln!("rejected client: {err}");
    assert_eq!(
        rejected.state("meter"),
        Some(DeviceState::NotCommunicating),
        "{err}"
    );
    assert!(
        err.contains("transport error") || err.contains("cannot connect"),
        "{err}"
    );
    assert_eq!(
        f.sim.request_count(UNIT),
        before,
        "a rejected client must not get a request through"
    );

    // No client certificate at all: refused too.
    let anonymous = f.poller(f.settings(addr, "anon", Some(&f.ca.pem), None));
    assert!(read(&anonymous).await.is_err());
    assert_eq!(f.sim.request_count(UNIT), before);

    // The good client still works.
    assert!(read(&good).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_role_cannot_write() {
    let f = Fixture::new();
    let server = signed(server_params(), &f.ca);
    let (addr, _h) = f.serve(&server).await;
    let viewer = signed(client_params("viewer", Some(READ_ONLY_ROLE)), &f.ca);
    let der = rustls_pemfile::certs(&mut viewer.0.as_bytes())
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(
        role_from_cert(der.as_ref()).as_deref(),
        Some(READ_ONLY_ROLE)
    );

    let p = f.poller(f.settings(addr, "ro", Some(&f.ca.pem), Some(&viewer)));
    assert!(read(&p).await.is_ok(), "a read-only client reads");
    let before = f.sim.request_count(UNIT);
    let err = p
        .write_parameter("meter", "modbus_address", &Value::Number(12.0))
        .await
        .unwrap_err();
    assert_eq!(
        err.exception(),
        Some(ModbusException::IllegalFunction),
        "{err}"
    );
    assert!(
        err.to_string().contains("exception 01 (illegal function)"),
        "{err}"
    );
    assert_eq!(
        f.sim.request_count(UNIT),
        before,
        "the refused write never reached the device"
    );
    assert_eq!(p.stats().device("meter").unwrap().counters.exceptions, 1);
    assert_eq!(p.state("meter"), Some(DeviceState::Communicating));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_certificate_checks_dates_and_self_signed() {
    let f = Fixture::new();
    let me = signed(client_params("operator", None), &f.ca);

    // Our client must trust the server's CA.
    let (addr, _h1) = f.serve(&signed(server_params(), &f.ca)).await;
    let wrong_trust = f.poller(f.settings(addr, "wrong-trust", Some(&f.other_ca.pem), Some(&me)));
    let err = read(&wrong_trust).await.unwrap_err();
    assert!(
        err.contains("TLS handshake failed") && err.contains("UnknownIssuer"),
        "{err}"
    );

    // An expired server certificate: refused when dates are checked, accepted otherwise.
    let mut old = server_params();
    old.not_before = date_time_ymd(2020, 1, 1);
    old.not_after = date_time_ymd(2021, 1, 1);
    let (addr, _h2) = f.serve(&signed(old, &f.ca)).await;
    let strict = f.poller(f.settings(addr, "strict", Some(&f.ca.pem), Some(&me)));
    let err = read(&strict).await.unwrap_err();
    assert!(
        err.contains("TLS handshake failed") && err.to_lowercase().contains("expired"),
        "{err}"
    );
    let mut lenient_settings = f.settings(addr, "lenient", Some(&f.ca.pem), Some(&me));
    lenient_settings.check_dates = false;
    let lenient = f.poller(lenient_settings);
    assert!(read(&lenient).await.is_ok());
    // Not checking dates does not mean trusting anyone: an expired certificate of another
    // CA is still refused.
    let mut rogue_old = server_params();
    rogue_old.not_after = date_time_ymd(2021, 1, 1);
    let (addr_rogue_old, _h3) = f.serve(&signed(rogue_old, &f.other_ca)).await;
    let mut s = f.settings(addr_rogue_old, "lenient-rogue", Some(&f.ca.pem), Some(&me));
    s.check_dates = false;
    assert!(
        read(&f.poller(s))
            .await
            .unwrap_err()
            .contains("UnknownIssuer")
    );

    // A self-signed server certificate: refused unless accepted explicitly.
    let key = KeyPair::generate().unwrap();
    let own = server_params().self_signed(&key).unwrap();
    let (addr, _h4) = f.serve(&(own.pem(), key.serialize_pem())).await;
    let refused = f.poller(f.settings(addr, "ss-refused", Some(&f.ca.pem), Some(&me)));
    assert!(read(&refused).await.unwrap_err().contains("UnknownIssuer"));
    let mut s = f.settings(addr, "ss-accepted", Some(&f.ca.pem), Some(&me));
    s.accept_self_signed = true;
    assert!(read(&f.poller(s)).await.is_ok());
    // Without any CA file, accept_self_signed alone is enough.
    let mut s = f.settings(addr, "ss-only", None, Some(&me));
    s.accept_self_signed = true;
    assert!(read(&f.poller(s)).await.is_ok());
    // accept_self_signed does not accept a certificate signed by an unknown CA.
    let (addr, _h5) = f.serve(&signed(server_params(), &f.other_ca)).await;
    let mut s = f.settings(addr, "ss-rogue", Some(&f.ca.pem), Some(&me));
    s.accept_self_signed = true;
    assert!(
        read(&f.poller(s))
            .await
            .unwrap_err()
            .contains("UnknownIssuer")
    );
    // ... and the name is still checked: a self-signed certificate for another host.
    let key = KeyPair::generate().unwrap();
    let elsewhere = CertificateParams::new(vec!["elsewhere.example".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (addr, _h6) = f.serve(&(elsewhere.pem(), key.serialize_pem())).await;
    let mut s = f.settings(addr, "ss-name", None, Some(&me));
    s.accept_self_signed = true;
    let err = read(&f.poller(s)).await.unwrap_err();
    assert!(err.contains("not valid for name"), "{err}");
}

#[test]
fn tls_settings_errors_are_reported() {
    let f = Fixture::new();
    let addr: SocketAddr = "127.0.0.1:802".parse().unwrap();
    // Neither a CA nor accept_self_signed.
    let mut site = Installation::default();
    site.add_bus(Bus {
        name: "tls".into(),
        kind: BusKind::Tls(f.settings(addr, "none", None, None)),
    })
    .unwrap();
    let err = Poller::new(&site, &f.catalogue).unwrap_err();
    assert!(
        matches!(err, PollError::Tls(_)) && err.to_string().contains("ca_cert"),
        "{err}"
    );
    // A CA file that does not exist.
    let mut s = f.settings(addr, "missing", None, None);
    s.ca_cert = Some(Path::new("/nonexistent/ca.pem").to_path_buf());
    let mut site = Installation::default();
    site.add_bus(Bus {
        name: "tls".into(),
        kind: BusKind::Tls(s),
    })
    .unwrap();
    let err = Poller::new(&site, &f.catalogue).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    // A CA file that is not PEM.
    let garbage = f.pki.write("garbage.pem", "not a certificate");
    let mut s = f.settings(addr, "garbage", None, None);
    s.ca_cert = Some(garbage);
    let mut site = Installation::default();
    site.add_bus(Bus {
        name: "tls".into(),
        kind: BusKind::Tls(s),
    })
    .unwrap();
    assert!(matches!(
        Poller::new(&site, &f.catalogue),
        Err(PollError::Tls(_))
    ));
}
