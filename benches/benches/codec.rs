//! Register codec (issue 2, section 10): decode throughput, in values per second, of the
//! full Hager ECR380D map decoded from one simulated register image, service by service and
//! through a read plan's responses.
#![allow(clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use modbus_devices::plan::{Plan, PlanDevice};
use modbus_devices::register::{DataType, FunctionCode, RegisterDef};
use modbus_devices::{Catalogue, Product, Value};

/// One table of 65 536 words per function code.
struct Image(Vec<Vec<u16>>);

impl Image {
    fn table(&self, fc: FunctionCode) -> &[u16] {
        &self.0[usize::from(fc.code() - 1)]
    }

    fn words(&self, fc: FunctionCode, address: u16, count: u16) -> &[u16] {
        let t = self.table(fc);
        let a = usize::from(address);
        &t[a..(a + usize::from(count)).min(t.len())]
    }

    /// Every service of the product holds a plausible value (its encoding of a value in its
    /// type), like a simulated meter.
    fn of(product: &Product) -> Self {
        let mut tables = vec![vec![0u16; 65_536]; 4];
        for (k, s) in product.services.iter().enumerate() {
            let d = &s.register;
            let value = sample(d, k);
            if let Ok(words) = d.encode(&value) {
                let t = &mut tables[usize::from(d.function_code.code() - 1)];
                for (i, w) in words.iter().enumerate() {
                    if let Some(slot) = t.get_mut(usize::from(d.address) + i) {
                        *slot = *w;
                    }
                }
            }
        }
        Self(tables)
    }
}

fn sample(d: &RegisterDef, k: usize) -> Value {
    match d.data_type {
        DataType::Bit => Value::Bool(k.is_multiple_of(2)),
        DataType::String => Value::Text("Hager".into()),
        DataType::Flags => Value::Flags(0x0203),
        _ => Value::Number(d.offset + d.factor() * (k as f64 + 17.0)),
    }
}

fn decode_all(product: &Product, image: &Image) -> usize {
    let mut n = 0;
    for s in &product.services {
        let d = &s.register;
        let words = image.words(d.function_code, d.address, d.count());
        let scale = d.scale_register.map(|sr| {
            let fc = sr.function_code.unwrap_or(d.function_code);
            image.table(fc)[usize::from(sr.address)] as i16
        });
        if black_box(d.decode_scaled(black_box(words), scale)).is_ok() {
            n += 1;
        }
    }
    n
}

fn codec(c: &mut Criterion) {
    let catalogue = Catalogue::builtin().expect("the built-in catalogue loads");
    let ecr = catalogue.require("ECR380D").expect("ECR380D is built in");
    let image = Image::of(ecr);
    let services = ecr.services.len();
    assert_eq!(decode_all(ecr, &image), services, "every service decodes");

    // A plain measurement printed in values per second, before criterion's own.
    let rounds = 20_000;
    let start = Instant::now();
    for _ in 0..rounds {
        black_box(decode_all(ecr, &image));
    }
    let per_s = (rounds * services) as f64 / start.elapsed().as_secs_f64();
    println!();
    println!(
        "ECR380D map: {services} services; decode throughput {:.1} million values/s",
        per_s / 1e6
    );

    let plan = Plan::build([PlanDevice::new("ecr", 1, ecr)]).expect("plan");
    let dp = &plan.devices()[0];
    let responses: Vec<Option<Vec<u16>>> = dp
        .requests()
        .iter()
        .map(|r| Some(image.words(r.function_code, r.address, r.count).to_vec()))
        .collect();
    let decoded = dp.decode(&responses);
    assert!(decoded.iter().all(|d| d.value().is_some()));
    let start = Instant::now();
    for _ in 0..rounds {
        black_box(dp.decode(black_box(&responses)));
    }
    let per_s_plan = (rounds * decoded.len()) as f64 / start.elapsed().as_secs_f64();
    println!(
        "ECR380D map through the read plan ({} requests): {:.1} million values/s",
        dp.requests().len(),
        per_s_plan / 1e6
    );
    println!();

    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Elements(services as u64));
    g.bench_function("decode ECR380D map", |b| {
        b.iter(|| decode_all(ecr, black_box(&image)))
    });
    g.throughput(Throughput::Elements(decoded.len() as u64));
    g.bench_function("decode ECR380D map via plan", |b| {
        b.iter(|| dp.decode(black_box(&responses)))
    });
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
