//! A throwaway OpenSSH `sshd` on a free loopback port for the SSH publication tests.
//!
//! Each server gets its own temporary folder with a fresh Ed25519 host key, a user key in
//! its `authorized_keys`, and a configuration that runs as the current user (`StrictModes
//! no`, `UsePAM no`, root allowed so the tests also run as root, `internal-sftp`).
//! Without `sshd` or `ssh-keygen` the tests skip with a printed reason, unless
//! `EMKIT_REQUIRE_PEERS=1` (then they fail).

#![allow(dead_code, reason = "each test binary uses a part of the helper")]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `sshd` binary, or `None` (with the reason printed) when the test must skip.
pub fn sshd_or_skip(test: &str) -> Option<PathBuf> {
    let found = ["/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    let keygen = Command::new("ssh-keygen")
        .arg("-?")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    let reason = match (&found, keygen) {
        (Some(_), true) => return found,
        (None, _) => "OpenSSH sshd not found (apt-get install openssh-server)",
        (Some(_), false) => "ssh-keygen not found (apt-get install openssh-client)",
    };
    assert!(
        std::env::var("EMKIT_REQUIRE_PEERS").as_deref() != Ok("1"),
        "{test}: {reason}, and EMKIT_REQUIRE_PEERS=1"
    );
    eprintln!("skipping {test}: {reason}");
    None
}

/// The current user's name (the account the tests log in to).
pub fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("run id -un");
    String::from_utf8(out.stdout)
        .expect("user name is UTF-8")
        .trim()
        .to_owned()
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "emkit-test", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("run ssh-keygen");
    assert!(status.success(), "ssh-keygen -f {} failed", path.display());
}

/// A free loopback TCP port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a free port")
}

/// A running `sshd` with its keys and folders.
pub struct Sshd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub sshd: PathBuf,
    /// The authorized user key (private key file).
    pub user_key: PathBuf,
    /// The server's host public key line (`ssh-ed25519 AAAA... comment`).
    pub host_public: String,
    child: Option<Child>,
}

impl Sshd {
    /// Generate keys and configuration and start the server.
    pub fn start(sshd: PathBuf) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        keygen(&dir.path().join("host_ed25519"));
        keygen(&dir.path().join("id_ed25519"));
        std::fs::copy(
            dir.path().join("id_ed25519.pub"),
            dir.path().join("authorized_keys"),
        )
        .expect("authorized_keys");
        std::fs::create_dir(dir.path().join("remote")).expect("remote dir");
        let host_public = std::fs::read_to_string(dir.path().join("host_ed25519.pub"))
            .expect("host key")
            .trim()
            .to_owned();
        let port = free_port();
        let d = dir.path().display();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_ed25519\n\
             PidFile {d}/sshd.pid\nAuthorizedKeysFile {d}/authorized_keys\nStrictModes no\n\
             UsePAM no\nPermitRootLogin yes\nPasswordAuthentication yes\n\
             KbdInteractiveAuthentication no\nSubsystem sftp internal-sftp\nLogLevel ERROR\n"
        );
        std::fs::write(dir.path().join("sshd_config"), config).expect("sshd_config");
        // As root, sshd needs its privilege-separation folder (Debian creates it at boot).
        if current_user() == "root" && !Path::new("/run/sshd").exists() {
            let _ = std::fs::create_dir_all("/run/sshd");
        }
        let mut server = Self {
            user_key: dir.path().join("id_ed25519"),
            dir,
            port,
            sshd,
            host_public,
            child: None,
        };
        server.restart();
        server
    }

    /// The folder the tests publish to.
    pub fn remote(&self) -> PathBuf {
        self.dir.path().join("remote")
    }

    /// Start (again) on the same port and wait until it accepts connections.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "sshd already running");
        let log = std::fs::File::create(self.dir.path().join("sshd.log")).expect("sshd.log");
        let mut child = Command::new(&self.sshd)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(self.dir.path().join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn sshd");
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let log =
                    std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default();
                panic!("sshd exited at start ({status}): {log}");
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "sshd did not listen on {addr}");
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child = Some(child);
    }

    /// Stop the server (the listener; it accepts nothing afterwards).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}
