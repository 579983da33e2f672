//! The `mbus-decode` command end to end: hex text and binary captures, several files,
//! standard input, and inputs that are neither.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use serde_json::Value as Json;

mod common;

const CORPUS: &str = "mbus-meters/tests/corpus/libmbus/test-frames";

fn corpus_file(name: &str) -> PathBuf {
    common::workspace_root().join(CORPUS).join(name)
}

/// The bytes of a corpus frame (its hex text parsed).
fn corpus_bytes(name: &str) -> Vec<u8> {
    mbus_meters::hex::parse_hex(&std::fs::read_to_string(corpus_file(name)).unwrap()).unwrap()
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = common::example("mbus-decode");
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("the mbus-decode example runs");
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn json(args: &[&str], stdin: Option<&[u8]>) -> Json {
    let out = run(args, stdin);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn one_line_error(args: &[&str], stdin: Option<&[u8]>) -> String {
    let out = run(args, stdin);
    assert!(!out.status.success(), "{args:?} should fail");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.starts_with("mbus-decode: "), "{err}");
    err
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_string_lossy().into_owned()
}

const WATERSTAR: &str = "EFE_Engelmann-WaterStar.hex";
const KAMSTRUP: &str = "kamstrup_382_005.hex";

#[test]
fn hex_text_and_binary_capture_decode_the_same() {
    let hex = corpus_file(WATERSTAR);
    let from_hex = json(&[hex.to_str().unwrap()], None);
    assert_eq!(from_hex["frame"], "long");
    assert!(from_hex["records"].as_array().unwrap().len() > 3);
    assert_eq!(from_hex["header"]["manufacturer"], "EFE");
    // the same frame as raw bytes, as captured from the line
    let dir = tempfile::tempdir().unwrap();
    let bin = write(dir.path(), "waterstar.bin", &corpus_bytes(WATERSTAR));
    assert_eq!(json(&[&bin], None), from_hex);
    // and the library's own decode
    let expected = serde_json::to_value(mbus_meters::decode(&corpus_bytes(WATERSTAR)).unwrap());
    assert_eq!(from_hex, expected.unwrap());
}

#[test]
fn several_files_and_several_frames_in_one_capture() {
    let dir = tempfile::tempdir().unwrap();
    let kam = corpus_bytes(KAMSTRUP);
    let water = corpus_bytes(WATERSTAR);
    // a capture of two telegrams back to back
    let mut both = kam.clone();
    both.extend_from_slice(&water);
    let capture = write(dir.path(), "capture.bin", &both);
    let hex = corpus_file(KAMSTRUP);
    let hex = hex.to_str().unwrap();
    let v = json(&[hex, &capture], None);
    let frames = v.as_array().expect("several frames print an array");
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[0]["file"], hex);
    assert_eq!(frames[1]["file"], capture.as_str());
    assert_eq!(frames[2]["file"], capture.as_str());
    assert_eq!(frames[0]["header"]["manufacturer"], "KAM");
    assert_eq!(frames[1]["header"]["manufacturer"], "KAM");
    assert_eq!(frames[2]["header"]["manufacturer"], "EFE");
    // each equals the library's decode of that frame, plus its file
    for (i, bytes) in [&kam, &kam, &water].into_iter().enumerate() {
        let mut expected = serde_json::to_value(mbus_meters::decode(bytes).unwrap()).unwrap();
        expected["file"] = frames[i]["file"].clone();
        assert_eq!(frames[i], expected, "frame {i}");
    }
}

#[test]
fn standard_input_takes_hex_text_and_binary() {
    let expected = serde_json::to_value(mbus_meters::decode(&corpus_bytes(KAMSTRUP)).unwrap());
    let expected = expected.unwrap();
    let text = std::fs::read(corpus_file(KAMSTRUP)).unwrap();
    assert_eq!(json(&["-"], Some(&text)), expected);
    assert_eq!(json(&["-"], Some(&corpus_bytes(KAMSTRUP))), expected);
    // a short frame, as in the command's documentation
    let v = json(&["-"], Some(b"10 5B 01 5C 16\n"));
    assert_eq!(v["frame"], "short");
    assert_eq!((v["c"].as_u64(), v["a"].as_u64()), (Some(0x5B), Some(1)));
    // stdin among files
    let hex = corpus_file(WATERSTAR);
    let v = json(&[hex.to_str().unwrap(), "-"], Some(&corpus_bytes(KAMSTRUP)));
    assert_eq!(v[1]["file"], "-");
    assert_eq!(v[1]["header"]["manufacturer"], "KAM");
}

#[test]
fn input_that_is_neither_is_refused_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    // text that is not hex
    let notes = write(dir.path(), "notes.txt", b"meter 7: read on Monday\n");
    let err = one_line_error(&[&notes], None);
    assert!(err.contains("notes.txt: neither hex text"), "{err}");
    assert!(err.contains("nor binary M-Bus frames"), "{err}");
    // binary that starts no frame
    let blob = write(dir.path(), "blob.bin", &[0x00, 0x01, 0xFE, 0x80, 0x7F]);
    let err = one_line_error(&[&blob], None);
    assert!(
        err.contains("blob.bin: neither hex text nor binary M-Bus frames"),
        "{err}"
    );
    assert!(err.contains("invalid start byte at 0"), "{err}");
    // an empty file
    let empty = write(dir.path(), "empty.bin", b"");
    let err = one_line_error(&[&empty], None);
    assert!(err.contains("empty.bin: empty input"), "{err}");
    // a good file does not excuse a bad one: nothing is printed
    let hex = corpus_file(KAMSTRUP);
    let err = one_line_error(&[hex.to_str().unwrap(), &blob], None);
    assert!(err.contains("blob.bin"), "{err}");
    // a capture whose second frame is cut off names the frame and its offset
    let mut cut = corpus_bytes(KAMSTRUP);
    let len = cut.len();
    cut.extend_from_slice(&corpus_bytes(WATERSTAR)[..20]);
    let cut = write(dir.path(), "cut.bin", &cut);
    let err = one_line_error(&[&cut], None);
    assert!(
        err.contains(&format!("cut.bin: frame 2 at byte {len}: truncated")),
        "{err}"
    );
    // standard input that is neither
    let err = one_line_error(&["-"], Some(b"hello"));
    assert!(err.contains("-: neither hex text"), "{err}");
    // a missing file
    let err = one_line_error(&["/nonexistent/frame.hex"], None);
    assert!(err.contains("reading /nonexistent/frame.hex"), "{err}");
}

#[test]
fn strict_mode_refuses_what_lenient_mode_reports() {
    // one record with VIF 0x7D and no VIFE, then a volume record
    let frame = mbus_meters::hex::parse_hex(
        "68 16 16 68 08 00 72 78 56 34 12 24 40 01 07 55 00 00 00 01 7D 07 02 13 D2 04 BF 16",
    )
    .unwrap();
    let v = json(&["-"], Some(&frame));
    assert_eq!(v["records"][0]["quantity"], "unknown");
    assert_eq!(v["records"][0]["value"], 7.0);
    assert_eq!(v["records"][1]["quantity"], "volume");
    let err = one_line_error(&["--strict", "-"], Some(&frame));
    assert!(err.contains("-: invalid VIF at 20"), "{err}");
}
