//! Publications sent by the monitor: `monitor publish --now NAME` sends the publication
//! folder's archive to a `folder` destination and over SFTP to a real OpenSSH `sshd` (the
//! reports crate's throwaway-server helper), a destination that is down exits nonzero with
//! the failure in the attempt log; in the running monitor ([`Publishing`]) a publication
//! becomes due when its report is written, is sent on a blocking thread, and a failed run
//! waits and is sent at a later cycle.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../../reports/tests/sshd/mod.rs"]
mod sshd;

use std::path::{Path, PathBuf};
use std::time::Duration;

use examples::gateway::report::{Publishing, ScheduledRun};
use examples::site::Site;
use reports::publish::{AttemptLog, Outcome};

/// The demo site (written into `dir`) with `extra` lines after the publication's `keep`.
fn site_file(dir: &Path, extra: &str) -> PathBuf {
    let text = examples::site::DEMO_TEXT.replace("keep = 7", &format!("keep = 7\n{extra}\n"));
    let path = dir.join("site.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Nine runs into the publication's archive (it keeps 7); returns the kept names.
fn fill_archive(site: &Site) -> Vec<String> {
    let folder = site.output_dir().join(&site.publications[0].folder);
    let mut archive = reports::export::Archive::open(&folder, site.publications[0].keep).unwrap();
    for day in 1..=9 {
        let name = format!("export_2026060{day}0015.csv");
        archive
            .store(&name, format!("time;kWh\n{day};{}\n", day * 10).as_bytes())
            .unwrap();
    }
    archive.files().map(str::to_string).collect()
}

/// Every file under `dir` (relative names), sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn publish_now(site: &Path, name: &str) -> (Option<i32>, String, String) {
    let out = common::example("monitor")
        .args(["publish", "--now", name, "--site"])
        .arg(site)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    println!("{stdout}\n{stderr}");
    (out.status.code(), stdout, stderr)
}

fn same_files(from: &Path, to: &Path, names: &[String]) {
    for n in names {
        assert_eq!(
            std::fs::read(from.join(n)).unwrap(),
            std::fs::read(to.join(n)).unwrap(),
            "{n}"
        );
    }
}

#[test]
fn publish_now_copies_the_archive_to_a_folder_destination() {
    let dir = tempfile::tempdir().unwrap();
    let file = site_file(
        dir.path(),
        "[publication.destination]\ntype = \"folder\"\npath = \"drop\"",
    );
    let site = Site::load(&file).unwrap();
    let kept = fill_archive(&site);
    assert_eq!(kept.len(), 7);
    let (code, stdout, stderr) = publish_now(&file, "export");
    assert_eq!(code, Some(0), "{stderr}");
    let drop = dir.path().join("drop");
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.contains(" attempt 1 file://"))
            .count(),
        1,
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "publication export sent 7 file(s), {} bytes to file://",
            7 * 14
        )),
        "{stdout}"
    );
    // the archive's seven files, not the two dropped ones, with their contents
    assert_eq!(tree(&drop), kept);
    assert!(!kept.contains(&"export_202606010015.csv".to_string()));
    same_files(&site.output_dir().join("published"), &drop, &kept);
    // the attempt log, in [output] dir by default
    let log = AttemptLog::new(site.output_dir().join("publications.jsonl"));
    let attempts = log.last(10).unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome, Outcome::Ok);
    assert_eq!(attempts[0].files, kept);
    assert_eq!(attempts[0].publication, "export");

    // an unknown name, and a publication without a destination: status 2, said why
    let (code, _, stderr) = publish_now(&file, "nope");
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("no publication \"nope\"") && stderr.contains("export"),
        "{stderr}"
    );
    let bare = site_file(dir.path(), "");
    let (code, _, stderr) = publish_now(&bare, "export");
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("has no [publication.destination]"),
        "{stderr}"
    );
}

#[test]
fn a_destination_that_is_down_exits_nonzero_and_logs_each_failed_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let port = sshd::free_port(); // nothing listens there
    let file = site_file(
        dir.path(),
        &format!(
            "retry = {{ attempts = 2, first_delay_ms = 100 }}\nlog = \"logs/publish.jsonl\"\n\
             [publication.destination]\ntype = \"sftp\"\nhost = \"127.0.0.1\"\nport = {port}\n\
             user = \"emkit\"\nauth = {{ password = \"x\" }}\nknown_hosts = \"known_hosts\"\n\
             timeout_ms = 2000"
        ),
    );
    let site = Site::load(&file).unwrap();
    fill_archive(&site);
    let started = std::time::Instant::now();
    let (code, stdout, _) = publish_now(&file, "export");
    assert_eq!(code, Some(1), "{stdout}");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        stdout.contains("publication export failed after 2 attempt(s): "),
        "{stdout}"
    );
    assert_eq!(
        stdout.matches(": failed (connect): ").count(),
        2,
        "{stdout}"
    );
    let log = AttemptLog::new(dir.path().join("logs/publish.jsonl"));
    let attempts = log.last(10).unwrap();
    let kinds: Vec<(u32, String)> = attempts
        .iter()
        .map(|a| match &a.outcome {
            Outcome::Failed { kind, .. } => (a.attempt, kind.clone()),
            Outcome::Ok => (a.attempt, "ok".into()),
        })
        .collect();
    assert_eq!(kinds, [(1, "connect".into()), (2, "connect".into())]);
    assert_eq!(attempts[0].files.len(), 7);
    assert!(
        attempts[0]
            .destination
            .starts_with(&format!("sftp://emkit@127.0.0.1:{port}"))
    );
}

#[test]
fn publish_now_over_sftp_to_a_real_sshd_sends_the_archive_then_only_what_changed() {
    let Some(binary) = sshd::sshd_or_skip("monitor publish --now over SFTP") else {
        return;
    };
    let server = sshd::Sshd::start(binary);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("known_hosts"),
        format!("[127.0.0.1]:{} {}\n", server.port, server.host_public),
    )
    .unwrap();
    let remote = server.remote().join("in");
    let file = site_file(
        dir.path(),
        &format!(
            "[publication.destination]\ntype = \"sftp\"\nhost = \"127.0.0.1\"\nport = {}\n\
             user = \"{}\"\nauth = {{ key_file = {{ path = \"{}\" }} }}\n\
             known_hosts = \"known_hosts\"\ndir = \"{}\"\ntimeout_ms = 5000",
            server.port,
            sshd::current_user(),
            server.user_key.display(),
            remote.display()
        ),
    );
    let site = Site::load(&file).unwrap();
    let kept = fill_archive(&site);
    let (code, stdout, stderr) = publish_now(&file, "export");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("publication export sent 7 file(s)"),
        "{stdout}"
    );
    assert_eq!(tree(&remote), kept);
    same_files(&site.output_dir().join("published"), &remote, &kept);
    // a new run of the report: the archive drops its oldest, the sync sends the new one only
    let folder = site.output_dir().join("published");
    let mut archive = reports::export::Archive::open(&folder, 7).unwrap();
    archive
        .store("export_202606100015.csv", b"time;kWh\n10;100\n")
        .unwrap();
    let (code, stdout, stderr) = publish_now(&file, "export");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("publication export sent 1 file(s), 16 bytes"),
        "{stdout}"
    );
    assert!(tree(&remote).contains(&"export_202606100015.csv".to_string()));
}

fn written(report: &str) -> ScheduledRun {
    ScheduledRun {
        report: report.into(),
        due: chrono::Utc::now(),
        result: Ok(Vec::new()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_sends_after_the_report_and_retries_a_failed_run_at_a_later_cycle() {
    let dir = tempfile::tempdir().unwrap();
    // the destination is a file at first: the copy fails until it is replaced by a folder
    let blocked = dir.path().join("drop");
    std::fs::write(&blocked, "not a folder").unwrap();
    let file = site_file(
        dir.path(),
        "retry = { attempts = 1, first_delay_ms = 300, max_delay_ms = 300 }\n\
         [publication.destination]\ntype = \"folder\"\npath = \"drop\"",
    );
    let site = Site::load(&file).unwrap();
    let kept = fill_archive(&site);
    let mut publishing = Publishing::open(&site);
    let now = chrono::Utc::now();
    // nothing is due before its report is written
    assert!(publishing.step(&site, now).await.is_empty());
    assert!(publishing.state().pending.is_empty());
    publishing.reports_written(&site, &[written("daily-energy")], now);
    assert!(publishing.state().pending.contains_key("export"));
    // the cycle starts the run on a blocking thread; a later cycle collects it
    assert!(publishing.step(&site, now).await.is_empty());
    let mut runs = Vec::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        runs = publishing.step(&site, chrono::Utc::now()).await;
        if !runs.is_empty() {
            break;
        }
    }
    assert_eq!(runs.len(), 1);
    assert!(runs[0].result.is_err(), "{}", runs[0].line());
    let pending = publishing.state().pending["export"];
    assert_eq!(pending.failures, 1);
    // the state is on disk (a restart keeps the waiting files)
    let saved = examples::gateway::schedule::Publications::load(
        &examples::gateway::schedule::Publications::path(&site.output_dir()),
    );
    assert_eq!(saved.pending["export"].failures, 1);
    // the destination comes back; the next cycles after the backoff deliver
    std::fs::remove_file(&blocked).unwrap();
    let mut delivered = None;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        for r in publishing.step(&site, chrono::Utc::now()).await {
            delivered = Some(r);
        }
        if delivered.is_some() {
            break;
        }
    }
    let run = delivered.expect("delivered after the backoff");
    assert!(run.result.is_ok(), "{}", run.line());
    assert!(chrono::Utc::now() >= pending.retry_at);
    assert_eq!(tree(&blocked), kept);
    assert!(publishing.state().pending.is_empty());
    let attempts = AttemptLog::new(site.output_dir().join("publications.jsonl"))
        .last(10)
        .unwrap();
    assert_eq!(attempts.len(), 2);
    assert!(matches!(attempts[0].outcome, Outcome::Failed { .. }));
    assert_eq!(attempts[1].outcome, Outcome::Ok);
    // delivered: nothing more runs
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(publishing.step(&site, chrono::Utc::now()).await.is_empty());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(publishing.step(&site, chrono::Utc::now()).await.is_empty());
}

#[test]
fn publish_now_over_scp_sends_one_zip_named_by_its_template() {
    let Some(binary) = sshd::sshd_or_skip("monitor publish --now over SCP") else {
        return;
    };
    let server = sshd::Sshd::start(binary);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("known_hosts"),
        format!("[127.0.0.1]:{} {}\n", server.port, server.host_public),
    )
    .unwrap();
    let remote = server.remote().join("zips");
    let file = site_file(
        dir.path(),
        &format!(
            "[publication.destination]\ntype = \"scp\"\narchive = \"%name_site1.zip\"\n\
             ssh = {{ host = \"127.0.0.1\", port = {}, user = \"{}\", \
             auth = {{ key_file = {{ path = \"{}\" }} }}, known_hosts = \"known_hosts\", \
             dir = \"{}\", timeout_ms = 5000 }}",
            server.port,
            sshd::current_user(),
            server.user_key.display(),
            remote.display()
        ),
    );
    let site = Site::load(&file).unwrap();
    let kept = fill_archive(&site);
    let (code, stdout, stderr) = publish_now(&file, "export");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("publication export sent 7 file(s)"),
        "{stdout}"
    );
    assert_eq!(tree(&remote), ["export_site1.zip"]);
    let zip = std::fs::read(remote.join("export_site1.zip")).unwrap();
    assert!(zip.starts_with(b"PK\x03\x04"), "a zip");
    // every kept file's name is in the zip's directory
    for name in &kept {
        assert!(
            zip.windows(name.len()).any(|w| w == name.as_bytes()),
            "{name} not in the zip"
        );
    }
}
