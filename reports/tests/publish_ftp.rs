//! Publication to a real FTP/FTPS server: `tests/ftp_server.py` (pyftpdlib, and pyOpenSSL for
//! FTPS) on a free loopback port. Skipped with a printed reason when python3 with pyftpdlib and
//! pyOpenSSL is absent, unless `EMKIT_REQUIRE_PEERS=1`, which makes a missing peer a failure.
//! Install: `python3 -m pip install pyftpdlib pyopenssl`.
#![cfg(feature = "publish")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reports::publish::{
    AttemptLog, Destination, Ftp, FtpConfig, FtpTls, Outcome, PublishError, Publisher, RetryPolicy,
    UploadFile,
};

const USER: &str = "emkit";
const PASSWORD: &str = "Pub-l1sh!";

/// Whether the peer may be used: prints the reason it is skipped, or fails under
/// `EMKIT_REQUIRE_PEERS=1`.
fn pyftpdlib() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import pyftpdlib.servers, OpenSSL"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let required = std::env::var("EMKIT_REQUIRE_PEERS").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "peer python3 with pyftpdlib and pyOpenSSL is not available and EMKIT_REQUIRE_PEERS=1 \
             (python3 -m pip install pyftpdlib pyopenssl)"
        );
        eprintln!(
            "SKIPPED: python3 with pyftpdlib and pyOpenSSL is not available \
             (python3 -m pip install pyftpdlib pyopenssl)"
        );
    }
    ok
}

/// `tests/ftp_server.py` serving a temporary folder; killed on drop.
struct Server {
    child: Child,
    port: u16,
    root: tempfile::TempDir,
    events: PathBuf,
}

impl Server {
    fn start(tls: Option<(&Path, &Path)>) -> Server {
        let root = tempfile::tempdir().unwrap();
        let events = root.path().with_extension("events");
        let mut cmd = Command::new("python3");
        cmd.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ftp_server.py"))
            .arg("--root")
            .arg(root.path())
            .arg("--events")
            .arg(&events)
            .args(["--user", USER, "--password", PASSWORD]);
        if let Some((cert, key)) = tls {
            cmd.arg("--tls").arg(cert).arg(key);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!("ftp_server.py did not start: {line:?}")
            });
        Server {
            child,
            port,
            root,
            events,
        }
    }

    fn config(&self, tls: FtpTls, dir: &str) -> FtpConfig {
        FtpConfig {
            host: "127.0.0.1".into(),
            port: self.port,
            user: USER.into(),
            password: PASSWORD.into(),
            dir: dir.into(),
            tls,
            ca_file: None,
            allow_self_signed: false,
            timeout_ms: 10_000,
        }
    }

    fn events(&self) -> Vec<String> {
        std::fs::read_to_string(&self.events)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Every file under the root, relative, sorted.
    fn files(&self) -> Vec<String> {
        fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                let name = format!("{prefix}{}", p.file_name().unwrap().to_string_lossy());
                if p.is_dir() {
                    walk(&p, &format!("{name}/"), out);
                } else {
                    out.push(name);
                }
            }
        }
        let mut out = Vec::new();
        walk(self.root.path(), "", &mut out);
        out.sort();
        out
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.events);
    }
}

/// Two local files: a CSV with LF line endings (sent unchanged: binary mode) and 200 kB of
/// bytes (several data-channel buffers).
fn local_files(dir: &Path) -> Vec<UploadFile> {
    let a = dir.join("a.csv");
    std::fs::write(&a, "time;kWh\n2026-05-04 00:00;12.5\n").unwrap();
    let b = dir.join("b.bin");
    std::fs::write(
        &b,
        (0..200_000u32)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    vec![
        UploadFile {
            local: a,
            remote_name: "a.csv".into(),
        },
        UploadFile {
            local: b,
            remote_name: "sub/b.bin".into(),
        },
    ]
}

fn assert_delivered(server: &Server, dir: &str, files: &[UploadFile]) {
    for f in files {
        let remote = server.root.path().join(dir).join(&f.remote_name);
        assert_eq!(
            std::fs::read(&remote).unwrap(),
            std::fs::read(&f.local).unwrap(),
            "{}",
            f.remote_name
        );
    }
}

#[test]
fn ftp_upload_goes_to_a_temporary_name_then_is_renamed() {
    if !pyftpdlib() {
        return;
    }
    let server = Server::start(None);
    let local = tempfile::tempdir().unwrap();
    let files = local_files(local.path());
    let mut ftp = Ftp::new(server.config(FtpTls::None, "in/deep")).unwrap();
    assert_eq!(
        ftp.describe(),
        format!("ftp://{USER}@127.0.0.1:{}/in/deep", server.port)
    );
    let sent = ftp.send(&files).unwrap();
    assert_eq!(
        sent.iter().map(|s| s.bytes).collect::<Vec<_>>(),
        [31, 200_000]
    );
    assert_delivered(&server, "in/deep", &files);
    assert_eq!(server.files(), ["in/deep/a.csv", "in/deep/sub/b.bin"]);
    // The server stored each file under its temporary name and only then renamed it.
    assert_eq!(
        server.events(),
        [
            "STORED in/deep/.a.csv.part",
            "RENAMED in/deep/.a.csv.part in/deep/a.csv",
            "STORED in/deep/sub/.b.bin.part",
            "RENAMED in/deep/sub/.b.bin.part in/deep/sub/b.bin",
        ]
    );
    // Sending again replaces the files (at-least-once delivery is idempotent).
    std::fs::write(&files[0].local, "time;kWh\n").unwrap();
    ftp.send(&files).unwrap();
    assert_delivered(&server, "in/deep", &files);
    assert_eq!(server.files(), ["in/deep/a.csv", "in/deep/sub/b.bin"]);
    assert_eq!(server.events().len(), 8);
}

#[test]
fn ftp_wrong_password_is_an_auth_error() {
    if !pyftpdlib() {
        return;
    }
    let server = Server::start(None);
    let local = tempfile::tempdir().unwrap();
    let mut cfg = server.config(FtpTls::None, "");
    cfg.password = "wrong".into();
    match Ftp::new(cfg).unwrap().send(&local_files(local.path())) {
        Err(PublishError::Auth { destination, .. }) => assert!(destination.starts_with("ftp://")),
        other => panic!("{other:?}"),
    }
    assert!(server.files().is_empty());
}

/// A self-signed certificate for 127.0.0.1 (PEM files: cert, key).
fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
    let paths = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&paths.0, cert.pem()).unwrap();
    std::fs::write(&paths.1, key.serialize_pem()).unwrap();
    paths
}

#[test]
fn ftps_self_signed_certificate_is_refused_unless_allowed_or_trusted() {
    if !pyftpdlib() {
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(certs.path());
    let server = Server::start(Some((&cert, &key)));
    let local = tempfile::tempdir().unwrap();
    let files = local_files(local.path());

    // Verified by default: the Mozilla roots do not know this certificate.
    let mut strict = Ftp::new(server.config(FtpTls::Explicit, "out")).unwrap();
    match strict.send(&files) {
        Err(PublishError::Tls {
            destination,
            message,
        }) => {
            assert!(destination.starts_with("ftps://"), "{destination}");
            assert!(message.to_lowercase().contains("certificate"), "{message}");
        }
        other => panic!("expected a TLS error, got {other:?}"),
    }
    assert!(
        server.files().is_empty(),
        "nothing was sent: {:?}",
        server.files()
    );

    // Plain FTP is refused by a server that requires TLS (no credentials in clear).
    let plain = Ftp::new(server.config(FtpTls::None, "out"))
        .unwrap()
        .send(&files);
    assert!(matches!(plain, Err(PublishError::Auth { .. })), "{plain:?}");

    // Allowed explicitly: sent, encrypted (the server requires PROT P for data).
    let mut cfg = server.config(FtpTls::Explicit, "out");
    cfg.allow_self_signed = true;
    Ftp::new(cfg).unwrap().send(&files).unwrap();
    assert_delivered(&server, "out", &files);

    // Trusted through ca_file: verified, name included.
    let mut cfg = server.config(FtpTls::Explicit, "out2");
    cfg.ca_file = Some(cert.clone());
    Ftp::new(cfg).unwrap().send(&files).unwrap();
    assert_delivered(&server, "out2", &files);
    assert_eq!(
        server.files(),
        ["out/a.csv", "out/sub/b.bin", "out2/a.csv", "out2/sub/b.bin"]
    );
}

#[test]
fn a_server_that_is_down_is_a_connect_error_retried_and_logged() {
    // No peer needed: nothing listens on the port.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let files = local_files(dir.path());
    let cfg = FtpConfig {
        host: "127.0.0.1".into(),
        port,
        user: USER.into(),
        password: PASSWORD.into(),
        dir: String::new(),
        tls: FtpTls::Explicit,
        ca_file: None,
        allow_self_signed: false,
        timeout_ms: 2_000,
    };
    let log = AttemptLog::new(dir.path().join("publish.jsonl"));
    let mut p = Publisher::new("daily", Ftp::new(cfg).unwrap())
        .with_log(log.clone())
        .with_retry(RetryPolicy {
            attempts: 2,
            first_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(50),
        });
    match p.run(&files) {
        Err(PublishError::Connect {
            destination,
            message,
        }) => {
            assert_eq!(destination, format!("ftps://{USER}@127.0.0.1:{port}/"));
            assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let attempts = log.last(10).unwrap();
    assert_eq!(attempts.len(), 2);
    for (i, a) in attempts.iter().enumerate() {
        assert_eq!(a.attempt, u32::try_from(i + 1).unwrap());
        assert_eq!(a.publication, "daily");
        assert_eq!(a.files, ["a.csv", "sub/b.bin"]);
        assert_eq!(a.bytes, 0);
        match &a.outcome {
            Outcome::Failed { kind, .. } => assert_eq!(kind, "connect"),
            Outcome::Ok => panic!("attempt {i} logged as delivered"),
        }
    }
}

#[test]
fn publisher_delivers_to_ftp_and_logs_the_bytes() {
    if !pyftpdlib() {
        return;
    }
    let server = Server::start(None);
    let dir = tempfile::tempdir().unwrap();
    let files = local_files(dir.path());
    let log = AttemptLog::new(dir.path().join("publish.jsonl"));
    let ftp = Ftp::new(server.config(FtpTls::None, "")).unwrap();
    let mut p = Publisher::new("weekly", ftp).with_log(log.clone());
    p.run(&files).unwrap();
    let a = log.last(1).unwrap().remove(0);
    assert_eq!((a.attempt, a.bytes, a.outcome), (1, 200_031, Outcome::Ok));
    assert_eq!(a.sent.len(), 2);
    assert_delivered(&server, "", &files);
}
