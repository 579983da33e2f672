//! List and show the products of the catalogue.
//!
//! ```text
//! cargo run --example catalogue -- list [--json]
//! cargo run --example catalogue -- show ECR380D
//! cargo run --example catalogue -- --catalogue my-products.toml list
//! ```
//!
//! `list` prints every built-in product (and those of `--catalogue` files) as a table, or with
//! `--json` as the array described in `examples::catalogue_json`. `show` prints one product
//! for humans: identity, source, read limits, signature, services (with their ids, the names
//! points use, and what each is: measurand, direction, phase, tariff, simulated value, channel
//! kind), parameters and alarm templates. Errors print one line and exit 1.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use examples::catalogue_json;
use modbus_devices::catalogue::AddressRange;
use modbus_devices::{Catalogue, Product, Service};

#[derive(Debug, Parser)]
#[command(
    name = "catalogue",
    about = "List and show the products of the Modbus catalogue"
)]
struct Args {
    /// Extra catalogue files (TOML) with custom products, loaded after the built-in ones.
    #[arg(long, value_name = "FILE", global = true)]
    catalogue: Vec<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every product: a table, or a JSON array with --json.
    List {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One product in detail.
    Show {
        /// Any of the product's references (e.g. ECR380D, ECR381D).
        reference: String,
    },
}

/// `writeln!` into a `String`, which cannot fail.
macro_rules! out_line {
    ($($arg:tt)*) => {
        let _ = writeln!($($arg)*);
    };
}

/// Print rows as a table with left-aligned columns.
fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut line = |cells: Vec<&str>| {
        let text: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out_line!(out, "{}", text.join("  ").trim_end());
    };
    line(header.to_vec());
    line(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
    );
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes".into() } else { "NO".into() }
}

fn list(out: &mut String, catalogue: &Catalogue) {
    let rows: Vec<Vec<String>> = catalogue
        .products()
        .iter()
        .map(|p| {
            vec![
                p.references.join(", "),
                p.vendor.clone(),
                p.model.clone(),
                yes_no(p.verified),
                p.services.len().to_string(),
                p.parameters.len().to_string(),
            ]
        })
        .collect();
    table(
        out,
        &[
            "REFERENCES",
            "VENDOR",
            "MODEL",
            "VERIFIED",
            "SERVICES",
            "PARAMETERS",
        ],
        &rows,
    );
    let services: usize = catalogue.products().iter().map(|p| p.services.len()).sum();
    out_line!(
        out,
        "\n{} products, {services} services. \"VERIFIED NO\": part of the map is uncertain (confidence C/D).",
        catalogue.products().len()
    );
}

fn range(r: &AddressRange) -> String {
    format!("{} {:#06X}..{:#06X}", r.function_code, r.from, r.to)
}

/// What a service is, from its catalogue data: `active_energy export L1 T2 partial`, or
/// `= 4` for a simulated constant; empty when the data does not say.
fn what(s: &Service) -> String {
    let mut words: Vec<String> = Vec::new();
    if let Some(m) = s.measurand {
        words.push(m.to_string());
    }
    if let Some(d) = s.direction {
        words.push(d.to_string());
    }
    if let Some(ph) = s.phase {
        words.push(ph.to_string());
    }
    if let Some(t) = s.tariff {
        words.push(format!("T{t}"));
    }
    if let Some(h) = s.harmonic {
        words.push(format!("H{h}"));
    }
    if s.partial {
        words.push("partial".into());
    }
    if let Some(v) = &s.simulated {
        words.push(format!("= {v}"));
    }
    words.join(" ")
}

fn show(out: &mut String, p: &Product) {
    out_line!(out, "{} {} ({})", p.vendor, p.model, p.family);
    if !p.description.is_empty() {
        out_line!(out, "  {}", p.description);
    }
    out_line!(out, "references:  {}", p.references.join(", "));
    let buses: Vec<String> = p
        .field_buses
        .iter()
        .map(|b| format!("{b:?}").to_lowercase())
        .collect();
    out_line!(out, "field buses: {}", buses.join(", "));
    out_line!(out, "verified:    {}", yes_no(p.verified));
    out_line!(out, "source:      {}", p.source);
    let l = &p.limits;
    out_line!(
        out,
        "limits:      at most {} registers per read, gaps up to {} registers",
        l.max_registers_per_read,
        l.max_gap
    );
    if !l.blocks.is_empty() {
        out_line!(
            out,
            "  blocks:    {}",
            l.blocks.iter().map(range).collect::<Vec<_>>().join(", ")
        );
    }
    if !l.forbidden.is_empty() {
        out_line!(
            out,
            "  never read: {}",
            l.forbidden.iter().map(range).collect::<Vec<_>>().join(", ")
        );
    }
    out_line!(out, "signature:");
    for s in &p.signature {
        out_line!(
            out,
            "  {} {:#06X} ({}) must be {}",
            s.register.function_code,
            s.register.address,
            s.register.data_type.name(),
            s.expect
        );
    }
    show_services(out, p);
    show_parameters(out, p);
    show_alarms(out, p);
}

/// The services table: every id, with where it lives and what it is.
fn show_services(out: &mut String, p: &Product) {
    out_line!(
        out,
        "\nservices ({}; points are DEVICE/ID):",
        p.services.len()
    );
    let rows: Vec<Vec<String>> = p
        .services
        .iter()
        .map(|s| {
            let e = catalogue_json::service_entry(s);
            vec![
                e.id,
                e.name,
                e.unit,
                format!("FC{}", e.function_code),
                format!("{:#06X}", e.address),
                e.data_type,
                e.word_order,
                format!("{}", e.scale),
                what(s),
                s.channel_kind.to_string(),
            ]
        })
        .collect();
    table(
        out,
        &[
            "ID", "NAME", "UNIT", "FC", "ADDRESS", "TYPE", "WORDS", "SCALE", "IS", "CHANNEL",
        ],
        &rows,
    );
}

fn show_parameters(out: &mut String, p: &Product) {
    if !p.parameters.is_empty() {
        out_line!(out, "\nparameters ({}):", p.parameters.len());
        let rows: Vec<Vec<String>> = p
            .parameters
            .iter()
            .map(|x| {
                let range = x
                    .register
                    .write_range
                    .map_or_else(String::new, |r| format!("{}..={}", r.min, r.max));
                vec![
                    x.id.clone(),
                    x.name.clone(),
                    format!("{} {:#06X}", x.register.function_code, x.register.address),
                    range,
                    x.description.clone(),
                ]
            })
            .collect();
        table(
            out,
            &["ID", "NAME", "REGISTER", "RANGE", "DESCRIPTION"],
            &rows,
        );
    }
}

fn show_alarms(out: &mut String, p: &Product) {
    if !p.alarms.is_empty() {
        out_line!(out, "\nalarm templates ({}):", p.alarms.len());
        let rows: Vec<Vec<String>> = p
            .alarms
            .iter()
            .map(|a| {
                let opt = |v: Option<f64>| v.map_or_else(String::new, |v| v.to_string());
                vec![
                    a.id.clone(),
                    a.service.clone(),
                    format!("{:?}", a.kind).to_lowercase(),
                    opt(a.threshold),
                    opt(a.pre_alarm),
                    a.hysteresis.to_string(),
                    format!("{} s", a.delay_s),
                    format!("{:?}", a.priority).to_lowercase(),
                    a.text.clone(),
                ]
            })
            .collect();
        table(
            out,
            &[
                "ID",
                "SERVICE",
                "KIND",
                "THRESHOLD",
                "PRE-ALARM",
                "HYSTERESIS",
                "DELAY",
                "PRIORITY",
                "TEXT",
            ],
            &rows,
        );
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let mut catalogue = Catalogue::builtin().context("loading the built-in catalogue")?;
    for file in &args.catalogue {
        catalogue.load_file(file)?;
    }
    let mut out = String::new();
    match args.command {
        Command::List { json: true } => {
            let listing = catalogue_json::listing(&catalogue);
            out = serde_json::to_string_pretty(&listing)?;
            out.push('\n');
        }
        Command::List { json: false } => list(&mut out, &catalogue),
        Command::Show { reference } => show(&mut out, catalogue.require(&reference)?),
    }
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        // A closed pipe (`| head`) is not an error of this command.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let first = e.to_string();
            let first = first.lines().next().unwrap_or("invalid arguments");
            eprintln!(
                "catalogue: {} (see --help)",
                first.trim_start_matches("error: ")
            );
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("catalogue: error: {msg}");
            ExitCode::FAILURE
        }
    }
}
