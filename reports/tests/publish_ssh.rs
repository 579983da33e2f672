//! SFTP and SCP destinations against a real OpenSSH `sshd` on loopback (see `sshd/mod.rs`).
#![cfg(feature = "publish")]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod sshd;

use std::io::Read;
use std::path::Path;
use std::time::{Duration, SystemTime};

use reports::publish::ssh::{Scp, Sftp, SshAuth, SshConfig};
use reports::publish::{Destination, PublishError, Sent, UploadFile};
use sshd::{Sshd, current_user, sshd_or_skip};

fn config(server: &Sshd, known_hosts: &Path) -> SshConfig {
    let mut c = SshConfig::new(
        "127.0.0.1",
        current_user(),
        SshAuth::KeyFile {
            path: server.user_key.clone(),
            passphrase: None,
        },
        known_hosts,
    );
    c.port = server.port;
    c.dir = server.remote().join("in").display().to_string();
    c.timeout_ms = 5_000;
    c
}

/// A known_hosts file that trusts `server`'s host key.
fn known_hosts_for(server: &Sshd, dir: &Path) -> std::path::PathBuf {
    let path = dir.join("known_hosts");
    std::fs::write(
        &path,
        format!("[127.0.0.1]:{} {}\n", server.port, server.host_public),
    )
    .unwrap();
    path
}

fn write_file(dir: &Path, name: &str, contents: &str, age_secs: u64) -> UploadFile {
    let local = dir.join(name.replace('/', "_"));
    std::fs::write(&local, contents).unwrap();
    let file = std::fs::File::options().write(true).open(&local).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(age_secs))
        .unwrap();
    UploadFile {
        local,
        remote_name: name.into(),
    }
}

fn sent(file: &str, bytes: u64, skipped: bool) -> Sent {
    Sent {
        file: file.into(),
        bytes,
        skipped_unchanged: skipped,
    }
}

/// Every file under `dir` (relative names), sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out.sort();
    out
}

#[test]
fn sftp_sync_trusts_on_first_use_only_when_asked_and_resends_only_changed_files() {
    let Some(bin) = sshd_or_skip("sftp_sync") else {
        return;
    };
    let server = Sshd::start(bin);
    let local = tempfile::tempdir().unwrap();
    let known_hosts = local.path().join("known_hosts");
    let files = vec![
        write_file(local.path(), "a.csv", "time;kWh\n1;2\n", 600),
        write_file(local.path(), "b.csv", "time;kWh\n3;4\n", 600),
        write_file(local.path(), "2026/c.csv", "x\n", 600),
    ];

    // Unknown host, no first-use trust: refused, nothing written anywhere.
    let mut sftp = Sftp::new(config(&server, &known_hosts));
    let err = sftp.send(&files).unwrap_err();
    assert!(matches!(err, PublishError::HostKey { .. }), "{err}");
    assert!(err.to_string().contains("not in"), "{err}");
    assert!(!known_hosts.exists());
    assert!(tree(&server.remote()).is_empty());

    // First-use trust: the key is recorded and everything is sent.
    let mut tofu = config(&server, &known_hosts);
    tofu.trust_on_first_use = true;
    let first = Sftp::new(tofu).send(&files).unwrap();
    assert_eq!(
        first,
        vec![
            sent("a.csv", 13, false),
            sent("b.csv", 13, false),
            sent("2026/c.csv", 2, false)
        ]
    );
    let recorded = std::fs::read_to_string(&known_hosts).unwrap();
    let host_key_b64 = server.host_public.split(' ').nth(1).unwrap();
    assert!(
        recorded.contains(&format!("[127.0.0.1]:{}", server.port))
            && recorded.contains(host_key_b64),
        "{recorded}"
    );
    let remote = server.remote().join("in");
    assert_eq!(
        tree(&remote),
        ["2026/c.csv", "a.csv", "b.csv"],
        "no .part left"
    );
    assert_eq!(
        std::fs::read_to_string(remote.join("a.csv")).unwrap(),
        "time;kWh\n1;2\n"
    );

    // Second run, same files: nothing sent (the recorded key is now trusted without TOFU).
    let second = sftp.send(&files).unwrap();
    assert_eq!(
        second,
        vec![
            sent("a.csv", 0, true),
            sent("b.csv", 0, true),
            sent("2026/c.csv", 0, true)
        ]
    );

    // b.csv changes (same size, newer time): only it is sent and replaced.
    write_file(local.path(), "b.csv", "time;kWh\n5;6\n", 0);
    let third = sftp.send(&files).unwrap();
    assert_eq!(
        third,
        vec![
            sent("a.csv", 0, true),
            sent("b.csv", 13, false),
            sent("2026/c.csv", 0, true)
        ]
    );
    assert_eq!(
        std::fs::read_to_string(remote.join("b.csv")).unwrap(),
        "time;kWh\n5;6\n"
    );
    // A file removed on the server is sent again.
    std::fs::remove_file(remote.join("a.csv")).unwrap();
    let fourth = sftp.send(&files).unwrap();
    assert_eq!(fourth[0], sent("a.csv", 13, false));
    assert!(fourth[1].skipped_unchanged && fourth[2].skipped_unchanged);
    assert_eq!(tree(&remote), ["2026/c.csv", "a.csv", "b.csv"]);
}

#[test]
fn scp_sends_one_zip_that_unzips_to_the_files() {
    let Some(bin) = sshd_or_skip("scp_zip") else {
        return;
    };
    let server = Sshd::start(bin);
    let local = tempfile::tempdir().unwrap();
    let known_hosts = known_hosts_for(&server, local.path());
    let big: String = (0..20_000).map(|i| format!("{i};{}\n", i * 7)).collect();
    let files = vec![
        write_file(local.path(), "energy.csv", &big, 60),
        write_file(local.path(), "day/water.csv", "time;m3\n", 60),
    ];
    let mut scp = Scp::new(config(&server, &known_hosts), "export_202603290130.zip").unwrap();
    assert!(scp.describe().starts_with("scp://"));
    let sent_files = scp.send(&files).unwrap();
    assert_eq!(
        sent_files,
        vec![
            sent("energy.csv", big.len() as u64, false),
            sent("day/water.csv", 8, false)
        ]
    );
    let remote = server.remote().join("in");
    assert_eq!(tree(&remote), ["export_202603290130.zip"], "no .part left");

    let zip_file = std::fs::File::open(remote.join("export_202603290130.zip")).unwrap();
    let mut zip = zip::ZipArchive::new(zip_file).unwrap();
    let mut names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["day/water.csv", "energy.csv"]);
    let mut energy = String::new();
    let mut entry = zip.by_name("energy.csv").unwrap();
    assert_eq!(entry.compression(), zip::CompressionMethod::Deflated);
    assert!(entry.compressed_size() < entry.size() / 2, "deflated");
    entry.read_to_string(&mut energy).unwrap();
    drop(entry);
    assert_eq!(energy, big);
    let mut water = String::new();
    zip.by_name("day/water.csv")
        .unwrap()
        .read_to_string(&mut water)
        .unwrap();
    assert_eq!(water, "time;m3\n");

    // The next run's zip has another name; the first one stays.
    scp.set_archive_name("export_202603290230.zip").unwrap();
    scp.send(&files[1..]).unwrap();
    assert_eq!(
        tree(&remote),
        ["export_202603290130.zip", "export_202603290230.zip"]
    );
}

#[test]
fn a_host_key_other_than_the_recorded_one_is_refused() {
    let Some(bin) = sshd_or_skip("wrong_host_key") else {
        return;
    };
    let server = Sshd::start(bin);
    let local = tempfile::tempdir().unwrap();
    // known_hosts holds another Ed25519 key (the user key) for this host and port.
    let other = std::fs::read_to_string(server.user_key.with_extension("pub")).unwrap();
    let known_hosts = local.path().join("known_hosts");
    std::fs::write(
        &known_hosts,
        format!("# comment\n[127.0.0.1]:{} {}", server.port, other.trim()),
    )
    .unwrap();
    let files = vec![write_file(local.path(), "a.csv", "1\n", 0)];
    for tofu in [false, true] {
        let mut c = config(&server, &known_hosts);
        c.trust_on_first_use = tofu;
        let err = Sftp::new(c.clone()).send(&files).unwrap_err();
        assert!(matches!(err, PublishError::HostKey { .. }), "{err}");
        assert!(err.to_string().contains("differs"), "{err}");
        let err = Scp::new(c, "x.zip").unwrap().send(&files).unwrap_err();
        assert!(matches!(err, PublishError::HostKey { .. }), "{err}");
    }
    assert!(tree(&server.remote()).is_empty());
    // First-use trust never replaces a recorded key.
    let after = std::fs::read_to_string(&known_hosts).unwrap();
    assert!(!after.contains(server.host_public.split(' ').nth(1).unwrap()));
}

/// Password authentication: a wrong password is refused with `Auth`. (An accepted password
/// is not tested: it would need a known password on a real account of this machine; the
/// key path covers a successful login.) A key the server does not authorize is refused too.
#[test]
fn wrong_credentials_are_refused_with_auth() {
    let Some(bin) = sshd_or_skip("wrong_credentials") else {
        return;
    };
    let server = Sshd::start(bin);
    let local = tempfile::tempdir().unwrap();
    let known_hosts = known_hosts_for(&server, local.path());
    let files = vec![write_file(local.path(), "a.csv", "1\n", 0)];

    let mut c = config(&server, &known_hosts);
    c.auth = SshAuth::Password("not-the-password".into());
    let err = Sftp::new(c.clone()).send(&files).unwrap_err();
    assert!(matches!(err, PublishError::Auth { .. }), "{err}");
    assert!(!format!("{err} {c:?}").contains("not-the-password"));

    // The host key as a user key: a valid key the server does not authorize.
    c.auth = SshAuth::KeyFile {
        path: server.dir.path().join("host_ed25519"),
        passphrase: None,
    };
    let err = Scp::new(c.clone(), "x.zip")
        .unwrap()
        .send(&files)
        .unwrap_err();
    assert!(matches!(err, PublishError::Auth { .. }), "{err}");

    // Not a key at all: a configuration error naming the file.
    c.auth = SshAuth::KeyFile {
        path: files[0].local.clone(),
        passphrase: None,
    };
    let err = Sftp::new(c).send(&files).unwrap_err();
    assert!(matches!(err, PublishError::Config { .. }), "{err}");
    assert!(err.to_string().contains("a.csv"), "{err}");
    assert!(tree(&server.remote()).is_empty());
}

#[test]
fn a_stopped_server_gives_connect_and_the_retry_sends_the_waiting_files() {
    let Some(bin) = sshd_or_skip("server_stopped") else {
        return;
    };
    let mut server = Sshd::start(bin);
    let local = tempfile::tempdir().unwrap();
    let known_hosts = known_hosts_for(&server, local.path());
    let mut sftp = Sftp::new(config(&server, &known_hosts));
    let a = write_file(local.path(), "a.csv", "1\n", 60);
    assert_eq!(
        sftp.send(std::slice::from_ref(&a)).unwrap(),
        vec![sent("a.csv", 2, false)]
    );

    server.stop();
    let b = write_file(local.path(), "b.csv", "22\n", 60);
    let waiting = vec![a, b];
    let err = sftp.send(&waiting).unwrap_err();
    assert!(matches!(err, PublishError::Connect { .. }), "{err}");
    let mut scp = Scp::new(config(&server, &known_hosts), "all.zip").unwrap();
    let err = scp.send(&waiting).unwrap_err();
    assert!(matches!(err, PublishError::Connect { .. }), "{err}");

    server.restart();
    assert_eq!(
        sftp.send(&waiting).unwrap(),
        vec![sent("a.csv", 0, true), sent("b.csv", 3, false)]
    );
    scp.send(&waiting).unwrap();
    assert_eq!(
        tree(&server.remote().join("in")),
        ["a.csv", "all.zip", "b.csv"]
    );
}

/// The monitor calls `send` from `spawn_blocking`; called straight from a runtime thread it
/// blocks that thread but works (its own runtime runs on a thread of its own).
#[tokio::test(flavor = "current_thread")]
async fn send_runs_from_spawn_blocking_and_inside_a_runtime() {
    let Some(bin) = sshd_or_skip("send_in_runtime") else {
        return;
    };
    let server = Sshd::start(bin);
    let local = tempfile::tempdir().unwrap();
    let known_hosts = known_hosts_for(&server, local.path());
    let files = vec![write_file(local.path(), "a.csv", "1\n", 60)];
    let mut sftp = Sftp::new(config(&server, &known_hosts));
    let blocking_files = files.clone();
    let (sftp_back, first) = tokio::task::spawn_blocking(move || {
        let sent = sftp.send(&blocking_files);
        (sftp, sent)
    })
    .await
    .unwrap();
    assert_eq!(first.unwrap(), vec![sent("a.csv", 2, false)]);
    sftp = sftp_back;
    assert_eq!(sftp.send(&files).unwrap(), vec![sent("a.csv", 0, true)]);
}
