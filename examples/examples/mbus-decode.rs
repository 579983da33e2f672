//! Decodes M-Bus frames and prints them as JSON.
//!
//! ```sh
//! cargo run --release --example mbus-decode -- FILE...
//! echo "10 5B 01 5C 16" | cargo run --release --example mbus-decode -- -
//! cargo run --release --example mbus-decode -- --strict capture.bin
//! ```
//!
//! Each FILE (or `-` for standard input) holds either
//! - hex text: whitespace-separated hex bytes, as the libmbus corpus files do, or
//! - binary: the raw bytes of one or more frames back to back, as captured from a serial
//!   line or a TCP gateway.
//!
//! The kind is recognised from the content: valid hex text is read as hex, anything else
//! must be a sequence of whole frames starting at the first byte. A file that is neither is
//! refused with a one-line message and exit status 1.
//!
//! Output: one frame in total prints one JSON object (the contract is documented in
//! `mbus_meters::owned`); more frames (several files, or several frames in one file) print
//! a JSON array of those objects, each with an extra `"file"` member naming its input
//! (`"-"` for standard input). Records are decoded in the library's default lenient mode
//! (a bad record is listed under `errors`, the others decoded); `--strict` refuses a frame
//! at its first bad record. Any error prints one line naming the file and exits 1, with
//! nothing on standard output.
#![forbid(unsafe_code)]

use std::io::Read;
use std::process::ExitCode;

use clap::Parser;
use mbus_meters::{DecodeMode, Frame, OwnedFrame};

/// Decode M-Bus frames (hex text or raw binary) to JSON.
#[derive(Parser)]
#[command(name = "mbus-decode")]
struct Args {
    /// Files of hex text or raw frame bytes; `-` for standard input.
    #[arg(required = true)]
    files: Vec<String>,
    /// Refuse a frame at its first bad record instead of decoding the others.
    #[arg(long)]
    strict: bool,
}

/// How an input was recognised.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Hex,
    Binary,
}

/// The frames of one input, as bytes, with how they were written.
fn frames_of(name: &str, content: &[u8]) -> Result<(Kind, Vec<Vec<u8>>), String> {
    if content.is_empty() {
        return Err(format!(
            "{name}: empty input, expected hex text or M-Bus frames"
        ));
    }
    // hex text: only hex digits and whitespace
    let text = std::str::from_utf8(content).ok();
    let (kind, bytes) = match text.map(mbus_meters::hex::parse_hex) {
        Some(Ok(bytes)) if !bytes.is_empty() => (Kind::Hex, bytes),
        _ if looks_like_text(content) => {
            // text that is not hex: say what is wrong with it
            let err = text
                .map(mbus_meters::hex::parse_hex)
                .and_then(Result::err)
                .map_or_else(|| "no bytes".to_string(), |e| e.to_string());
            return Err(format!(
                "{name}: neither hex text ({err}) nor binary M-Bus frames (the first byte, {:#04X}, starts no frame)",
                content[0]
            ));
        }
        _ => (Kind::Binary, content.to_vec()),
    };
    let mut frames = Vec::new();
    let mut rest = bytes.as_slice();
    let mut offset = 0;
    while !rest.is_empty() {
        let len = match mbus_meters::link::parse_link_prefix(rest) {
            Ok(link) => link.len,
            Err(e) if kind == Kind::Binary && offset == 0 => {
                return Err(format!(
                    "{name}: neither hex text nor binary M-Bus frames ({e})"
                ));
            }
            Err(e) => {
                return Err(format!(
                    "{name}: frame {} at byte {offset}: {e}",
                    frames.len() + 1
                ));
            }
        };
        frames.push(rest[..len].to_vec());
        rest = &rest[len..];
        offset += len;
    }
    Ok((kind, frames))
}

/// Printable ASCII and whitespace only (a binary frame starts with 0x68, 0x10 or 0xE5 and
/// carries a control byte, so it is never all text).
fn looks_like_text(content: &[u8]) -> bool {
    content
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
}

fn read_input(name: &str) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    if name == "-" {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| format!("reading standard input: {e}"))?;
    } else {
        bytes = std::fs::read(name).map_err(|e| format!("reading {name}: {e}"))?;
    }
    Ok(bytes)
}

fn run(args: &Args) -> Result<String, String> {
    let mode = if args.strict {
        DecodeMode::Strict
    } else {
        DecodeMode::Lenient
    };
    let mut decoded: Vec<(String, OwnedFrame)> = Vec::new();
    for name in &args.files {
        let content = read_input(name)?;
        let (_, frames) = frames_of(name, &content)?;
        let count = frames.len();
        for (i, bytes) in frames.iter().enumerate() {
            let frame = Frame::parse(bytes)
                .and_then(|f| OwnedFrame::from_frame_with(&f, mode))
                .map_err(|e| {
                    if count == 1 {
                        format!("{name}: {e}")
                    } else {
                        format!("{name}: frame {}: {e}", i + 1)
                    }
                })?;
            decoded.push((name.clone(), frame));
        }
    }
    let json = if let [(_, frame)] = decoded.as_slice() {
        serde_json::to_value(frame)
    } else {
        decoded
            .iter()
            .map(|(name, frame)| {
                serde_json::to_value(frame).map(|mut v| {
                    if let Some(o) = v.as_object_mut() {
                        o.insert("file".into(), name.clone().into());
                    }
                    v
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(serde_json::Value::Array)
    }
    .map_err(|e| format!("writing JSON: {e}"))?;
    serde_json::to_string_pretty(&json).map_err(|e| format!("writing JSON: {e}"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mbus-decode: {}", e.replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
