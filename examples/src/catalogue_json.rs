//! The `catalogue list --json` document (issue 2, section 8): an array with one object per
//! product.
//!
//! ```text
//! [ { "references": ["ECR380D", "ECR381D"], "vendor": "Hager", "model": "ECR380D",
//!     "verified": true,
//!     "services": [ { "id": "v_l1_n", "name": "Voltage L1-N", "quantity": "voltage",
//!                     "unit": "V", "function_code": 3, "address": 45056,
//!                     "data_type": "u16", "word_order": "high_first", "scale": 0.01 } ] } ]
//! ```
//!
//! `address` is the 0-based protocol address; `scale` is the combined static factor
//! (`scale x 10^pow10`): physical value = raw x scale (+ offset, which no built-in product
//! uses).

use modbus_devices::register::WordOrder;
use modbus_devices::{Catalogue, Product, Service};
use serde::Serialize;

/// One product of the listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProductEntry {
    /// Order references; the first is the main one.
    pub references: Vec<String>,
    /// Maker.
    pub vendor: String,
    /// Model.
    pub model: String,
    /// `false` when part of the map is uncertain.
    pub verified: bool,
    /// The services.
    pub services: Vec<ServiceEntry>,
}

/// One service of a product.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceEntry {
    /// Service id (points are `device/id`).
    pub id: String,
    /// Human name.
    pub name: String,
    /// Physical quantity.
    pub quantity: String,
    /// Unit symbol (`""` when dimensionless).
    pub unit: String,
    /// Modbus function code used to read it (1..=4).
    pub function_code: u8,
    /// 0-based protocol address.
    pub address: u16,
    /// `u16`, `s32`, `f32`, `string`, ...
    pub data_type: String,
    /// `high_first` or `low_first`.
    pub word_order: String,
    /// Combined static factor: physical = raw x scale.
    pub scale: f64,
}

/// `"high_first"` or `"low_first"`.
pub fn word_order_str(order: WordOrder) -> &'static str {
    match order {
        WordOrder::HighFirst => "high_first",
        WordOrder::LowFirst => "low_first",
    }
}

/// The listing entry of one service.
pub fn service_entry(s: &Service) -> ServiceEntry {
    ServiceEntry {
        id: s.id.clone(),
        name: s.name.clone(),
        quantity: s.quantity.clone(),
        unit: s.unit.symbol().to_string(),
        function_code: s.register.function_code.code(),
        address: s.register.address,
        data_type: s.register.data_type.name().to_string(),
        word_order: word_order_str(s.register.word_order).to_string(),
        scale: s.register.factor(),
    }
}

/// The listing entry of one product.
pub fn product_entry(p: &Product) -> ProductEntry {
    ProductEntry {
        references: p.references.clone(),
        vendor: p.vendor.clone(),
        model: p.model.clone(),
        verified: p.verified,
        services: p.services.iter().map(service_entry).collect(),
    }
}

/// The whole listing, in catalogue order.
///
/// ```
/// let catalogue = modbus_devices::Catalogue::builtin().unwrap();
/// let listing = examples::catalogue_json::listing(&catalogue);
/// let json = serde_json::to_value(&listing).unwrap();
/// let ecr = json.as_array().unwrap().iter()
///     .find(|p| p["references"][0] == "ECR380D").unwrap();
/// assert_eq!(ecr["services"][0]["address"], 4096);
/// ```
pub fn listing(catalogue: &Catalogue) -> Vec<ProductEntry> {
    catalogue.products().iter().map(product_entry).collect()
}

/// A plain-text table of products, one line each: main reference, vendor, model and number
/// of services (what `monitor catalogue list` and `monitor catalogue validate` print).
///
/// ```
/// let catalogue = modbus_devices::Catalogue::builtin().unwrap();
/// let text = examples::catalogue_json::summary_table(catalogue.products().iter());
/// let ecr = text.lines().find(|l| l.starts_with("ECR380D ")).unwrap();
/// assert!(ecr.contains("Hager"));
/// ```
pub fn summary_table<'a>(products: impl IntoIterator<Item = &'a Product>) -> String {
    let header = [
        "REFERENCE".to_string(),
        "VENDOR".into(),
        "MODEL".into(),
        "SERVICES".into(),
    ];
    let rows: Vec<[String; 4]> = products
        .into_iter()
        .map(|p| {
            [
                p.reference().to_string(),
                p.vendor.clone(),
                p.model.clone(),
                p.services.len().to_string(),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
