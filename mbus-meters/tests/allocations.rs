//! The borrowed decoding path does not allocate: parsing a frame, walking its records and
//! decoding every value to a scaled number, date, text or byte view costs no heap allocation.
//! Counted with a counting global allocator (this file holds a single test so that nothing
//! else allocates while it measures).
//!
//! It runs without the libtest harness (`harness = false`): the harness's own thread may
//! allocate while a test measures, which made the count flaky. `main` runs the one check.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::System;
use std::fs;
use std::path::Path;

use mbus_meters::hex::parse_hex;
use mbus_meters::{Frame, Value};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn borrowed_path_does_not_allocate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/libmbus/test-frames");
    let mut frames = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|e| e == "hex") {
            frames.push(parse_hex(&fs::read_to_string(&p).unwrap()).unwrap());
        }
    }
    assert!(frames.len() >= 38);

    let region = Region::new(GLOBAL);
    let (mut records, mut numbers, mut chars, mut sum) = (0usize, 0usize, 0usize, 0f64);
    for _ in 0..10 {
        for bytes in &frames {
            let frame = Frame::parse(bytes).unwrap();
            let _ = frame.header();
            for r in frame.records() {
                let r = r.unwrap();
                records += 1;
                let _ = (
                    r.quantity(),
                    r.unit(),
                    r.storage(),
                    r.tariff(),
                    r.subunit(),
                    r.function(),
                );
                chars += r.modifiers().count();
                if let Some(t) = r.vif_text() {
                    chars += t.chars().count();
                }
                match r.value() {
                    Value::Number(v) => {
                        numbers += 1;
                        sum += v;
                    }
                    Value::Text(t) => chars += t.chars().count(),
                    Value::Bytes(b) => chars += b.len(),
                    Value::Date(d) => chars += usize::from(d.day),
                    Value::DateTime(d) => chars += usize::from(d.time.minute),
                    _ => {}
                }
            }
        }
    }
    let stats = region.change();
    assert!(records >= 4460, "{records} records");
    assert!(numbers > 3500 && chars > 0 && sum.is_finite());
    assert_eq!(stats.allocations, 0, "{stats:?}");
    assert_eq!(stats.reallocations, 0, "{stats:?}");
    println!(
        "{records} records decoded, {} allocations",
        stats.allocations
    );
}

fn main() {
    borrowed_path_does_not_allocate();
    println!("test borrowed_path_does_not_allocate ... ok");
}
