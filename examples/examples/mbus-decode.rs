//! Decodes one M-Bus frame and prints it as JSON.
//!
//! ```sh
//! cargo run --release --example mbus-decode -- FILE
//! echo "10 5B 01 5C 16" | cargo run --release --example mbus-decode -- -
//! ```
//!
//! FILE holds whitespace-separated hex bytes (as the libmbus corpus files do), or is `-` for
//! standard input. On success one JSON object is printed (the contract is documented in
//! `mbus_meters::owned`) and the exit status is 0; a frame that cannot be decoded prints a
//! one-line error naming the byte offset and exits 1.
#![forbid(unsafe_code)]

use std::io::Read;
use std::process::ExitCode;

use clap::Parser;

/// Decode an M-Bus frame (hex bytes) to JSON.
#[derive(Parser)]
#[command(name = "mbus-decode")]
struct Args {
    /// File of whitespace-separated hex bytes, or `-` for standard input.
    file: String,
}

fn run(args: &Args) -> Result<String, String> {
    let text = if args.file == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("reading standard input: {e}"))?;
        s
    } else {
        std::fs::read_to_string(&args.file).map_err(|e| format!("reading {}: {e}", args.file))?
    };
    let bytes = mbus_meters::hex::parse_hex(&text).map_err(|e| e.to_string())?;
    let frame = mbus_meters::decode(&bytes).map_err(|e| e.to_string())?;
    serde_json::to_string_pretty(&frame).map_err(|e| format!("writing JSON: {e}"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mbus-decode: {e}");
            ExitCode::FAILURE
        }
    }
}
