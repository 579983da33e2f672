//! The product catalogue: built-in products and user catalogue files.
//!
//! Products are data. The built-in catalogue is a set of TOML files embedded in the crate
//! (`modbus-devices/catalogue/*.toml`) and loaded through the same [`Catalogue::load_str`]
//! path as a user's file, so both are validated by the same code. The format is described,
//! with a complete annotated example, in [`format`](mod@format).
//!
//! ```
//! use modbus_devices::Catalogue;
//!
//! let catalogue = Catalogue::builtin().unwrap();
//! let ecr = catalogue.get("ECR380D").unwrap();
//! assert_eq!(ecr.vendor, "Hager");
//! assert!(ecr.service("v_l1_n").is_some());
//! ```
//!
//! # The service ids of a product
//!
//! A point is named `DEVICE/SERVICE-ID` (`meter1/v_l1_n`). To see every service id of a
//! built-in product, with its name, unit, register and what it is (measurand, direction,
//! phase, tariff, channel kind), run
//!
//! ```text
//! cargo run --example catalogue -- show ECR380D
//! ```
//!
//! (`list` shows every product; `list --json` the same as JSON). In code, the ids are the
//! [`Service::id`]s of [`Product::services`], in catalogue order, and the fields a file gives
//! about each one are described in [`format`](mod@format#what-a-service-is):
//!
//! ```
//! use modbus_devices::Catalogue;
//! use modbus_devices::catalogue::{ChannelKind, Direction, Measurand, Phase};
//!
//! let catalogue = Catalogue::builtin().unwrap();
//! let ecr = catalogue.get("ECR380D").unwrap();
//! let ids: Vec<&str> = ecr.services.iter().map(|s| s.id.as_str()).collect();
//! assert!(ids.contains(&"ea_import") && ids.contains(&"v_l2_n"));
//!
//! // What a service is comes from the data, not from its id.
//! let e = ecr.service("ea_import").unwrap();
//! assert_eq!(e.measurand, Some(Measurand::ActiveEnergy));
//! assert_eq!((e.direction, e.phase), (Some(Direction::Import), Some(Phase::Total)));
//! // The bridge to `reports`: channel kind and recording interval in its words.
//! assert_eq!((e.channel_kind.as_str(), e.recording_interval_min), ("counter", 15));
//! assert_eq!(ecr.service("v_l2_n").unwrap().channel_kind, ChannelKind::Instantaneous);
//! ```

pub mod file;
mod model;
mod refresh;
mod resolve;

#[doc = include_str!("FORMAT.md")]
pub mod format {}

pub use model::*;
pub use refresh::Refresh;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::CatalogueError;
use crate::register::{DataType, FunctionCode, RegisterDef};

/// The embedded catalogue files: (name, text).
pub const BUILTIN_FILES: &[(&str, &str)] = &[
    (
        "hager-ecr.toml",
        include_str!("../../catalogue/hager-ecr.toml"),
    ),
    ("eastron.toml", include_str!("../../catalogue/eastron.toml")),
    (
        "carlo-gavazzi.toml",
        include_str!("../../catalogue/carlo-gavazzi.toml"),
    ),
    ("abb.toml", include_str!("../../catalogue/abb.toml")),
    (
        "schneider.toml",
        include_str!("../../catalogue/schneider.toml"),
    ),
    ("janitza.toml", include_str!("../../catalogue/janitza.toml")),
    ("legrand.toml", include_str!("../../catalogue/legrand.toml")),
];

/// A set of products indexed by every one of their references.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    products: Vec<Product>,
    /// reference -> (index in products, origin file)
    index: BTreeMap<String, (usize, String)>,
}

impl Catalogue {
    /// An empty catalogue (for custom products only).
    pub fn new() -> Self {
        Self::default()
    }

    /// The built-in catalogue. It is tested to load, so an error here is a build defect,
    /// but it is still reported rather than panicking.
    pub fn builtin() -> Result<Self, CatalogueError> {
        let mut c = Self::new();
        for (name, text) in BUILTIN_FILES {
            c.load_str(Path::new(&format!("<builtin>/{name}")), text)?;
        }
        Ok(c)
    }

    /// Load a catalogue file's text; `file` names it in errors. All-or-nothing: on any
    /// error (an invalid file, a duplicate reference) nothing is added. Returns the main
    /// references of the products added.
    pub fn load_str(&mut self, file: &Path, text: &str) -> Result<Vec<String>, CatalogueError> {
        let products = file::parse(file, text)?;
        self.insert_all(file, products)
    }

    /// Add one product built in code (e.g. by [`generic_energy_meter`]), refusing a
    /// product without references and a reference that already exists (errors name the
    /// origin `<added>`).
    ///
    /// ```
    /// use modbus_devices::Catalogue;
    /// use modbus_devices::catalogue::generic_energy_meter;
    ///
    /// let mut catalogue = Catalogue::builtin().unwrap();
    /// catalogue.add(generic_energy_meter("PV-METER", 3, "0x0100", 2, 0.01).unwrap()).unwrap();
    /// // ECR380D is a built-in reference already.
    /// assert!(catalogue.add(generic_energy_meter("ECR380D", 3, "0100", 2, 1.0).unwrap()).is_err());
    /// ```
    pub fn add(&mut self, product: Product) -> Result<(), CatalogueError> {
        if product.references.is_empty() || product.references.iter().any(|r| r.trim().is_empty()) {
            return Err(CatalogueError::InvalidArgument {
                field: "references",
                expected: "at least one non-empty reference",
                found: format!("{:?}", product.references),
            });
        }
        self.insert_all(Path::new("<added>"), vec![product])
            .map(|_| ())
    }

    /// Insert products after checking their references (all-or-nothing).
    fn insert_all(
        &mut self,
        file: &Path,
        products: Vec<Product>,
    ) -> Result<Vec<String>, CatalogueError> {
        let origin = file.display().to_string();
        let mut seen: BTreeMap<&str, ()> = BTreeMap::new();
        for p in &products {
            for r in &p.references {
                if let Some((_, existing)) = self.index.get(r) {
                    return Err(CatalogueError::DuplicateReference {
                        file: file.to_path_buf(),
                        reference: r.clone(),
                        existing: existing.clone(),
                    });
                }
                if seen.insert(r, ()).is_some() {
                    return Err(CatalogueError::DuplicateReference {
                        file: file.to_path_buf(),
                        reference: r.clone(),
                        existing: origin.clone(),
                    });
                }
            }
        }
        let mut added = Vec::new();
        for p in products {
            let i = self.products.len();
            for r in &p.references {
                self.index.insert(r.clone(), (i, origin.clone()));
            }
            added.push(p.reference().to_string());
            self.products.push(p);
        }
        Ok(added)
    }

    /// Load a user catalogue file from disk.
    pub fn load_file(&mut self, path: impl AsRef<Path>) -> Result<Vec<String>, CatalogueError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| CatalogueError::Io {
            file: PathBuf::from(path),
            message: e.to_string(),
        })?;
        self.load_str(path, &text)
    }

    /// The product with this reference (any of its references).
    pub fn get(&self, reference: &str) -> Option<&Product> {
        self.index.get(reference).map(|(i, _)| &self.products[*i])
    }

    /// The product with this reference, or an error naming it.
    pub fn require(&self, reference: &str) -> Result<&Product, CatalogueError> {
        self.get(reference)
            .ok_or_else(|| CatalogueError::UnknownReference(reference.to_string()))
    }

    /// All products, in load order.
    pub fn products(&self) -> &[Product] {
        &self.products
    }

    /// Remove a product (by any reference), refusing while a device uses any of its
    /// references. `in_use` yields `(device name, product reference)` pairs.
    pub fn remove<'a>(
        &mut self,
        reference: &str,
        in_use: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Product, CatalogueError> {
        let (i, _) = self
            .index
            .get(reference)
            .cloned()
            .ok_or_else(|| CatalogueError::UnknownReference(reference.to_string()))?;
        let refs = &self.products[i].references;
        if let Some((device, _)) = in_use
            .into_iter()
            .find(|(_, r)| refs.iter().any(|x| x == r))
        {
            return Err(CatalogueError::InUse {
                reference: reference.to_string(),
                device: device.to_string(),
            });
        }
        let product = self.products.remove(i);
        self.index.retain(|_, (j, _)| *j != i);
        for (j, _) in self.index.values_mut() {
            if *j > i {
                *j -= 1;
            }
        }
        Ok(product)
    }
}

/// Largest plausible energy (kWh) of a generic meter's signature read.
const GENERIC_MAX_KWH: f64 = 1e15;

/// Build a "generic Modbus meter" product, as the Legrand Energy Web Server defines one: a
/// third-party meter read for its positive active energy only, from `function_code` 3
/// (holding) or 4 (input), the register address in hex (`"0x0048"`, `"B060"`; 0-based, as
/// sent on the wire), the number of 16-bit words (1, 2 or 4: an unsigned 16, 32 or 64-bit
/// counter, high word first) and a multiplier (raw x multiplier = kWh).
///
/// The product has one service, `ea_import` (kWh), and a plausibility signature (the
/// register answers a value >= 0). It is marked `verified = false`: the map is the user's.
/// Every argument is validated; a wrong one gives [`CatalogueError::InvalidArgument`].
///
/// ```
/// use modbus_devices::catalogue::generic_energy_meter;
/// use modbus_devices::{Catalogue, FunctionCode, Value};
///
/// // An Eastron SDM630's import energy: FC4, 0x0048... as a 2-word counter in 0.1 kWh.
/// let meter = generic_energy_meter("MY-METER", 4, "0x0048", 2, 0.1).unwrap();
/// let energy = meter.service("ea_import").unwrap();
/// assert_eq!(energy.register.function_code, FunctionCode::Input);
/// assert_eq!(energy.register.address, 0x48);
/// assert_eq!(energy.register.decode(&[0, 12345]).unwrap(), Some(Value::Number(1234.5)));
///
/// // Refused: function code 5, 3 words, a non-hex register.
/// assert!(generic_energy_meter("X", 5, "0048", 2, 1.0).is_err());
/// assert!(generic_energy_meter("X", 3, "0048", 3, 1.0).is_err());
/// assert!(generic_energy_meter("X", 3, "40001", 2, 1.0).is_err());
///
/// // It joins a catalogue like any product.
/// let mut catalogue = Catalogue::new();
/// catalogue.add(meter).unwrap();
/// assert!(catalogue.get("MY-METER").is_some());
/// ```
pub fn generic_energy_meter(
    reference: &str,
    function_code: u8,
    register_hex: &str,
    words: u16,
    multiplier: f64,
) -> Result<Product, CatalogueError> {
    let invalid = |field, expected, found: String| CatalogueError::InvalidArgument {
        field,
        expected,
        found,
    };
    let reference = reference.trim();
    if reference.is_empty() {
        return Err(invalid(
            "reference",
            "a non-empty reference",
            "an empty text".into(),
        ));
    }
    let fc = match function_code {
        3 => FunctionCode::Holding,
        4 => FunctionCode::Input,
        other => {
            return Err(invalid(
                "function_code",
                "3 (holding registers) or 4 (input registers)",
                other.to_string(),
            ));
        }
    };
    let address = generic_register_address(register_hex)?;
    let data_type = match words {
        1 => DataType::U16,
        2 => DataType::U32,
        4 => DataType::U64,
        other => return Err(invalid("words", "1, 2 or 4 words", other.to_string())),
    };
    if !(multiplier.is_finite() && multiplier > 0.0) {
        return Err(invalid(
            "multiplier",
            "a finite number above 0",
            multiplier.to_string(),
        ));
    }
    let register = RegisterDef::new(fc, address, data_type).with_scale(multiplier);
    if register.check().is_err() {
        return Err(invalid(
            "register",
            "a value whose words end at or before address 0xFFFF",
            format!("{words} words from {address:#06x}"),
        ));
    }
    Ok(Product {
        references: vec![reference.to_string()],
        vendor: "Generic".into(),
        product_code: None,
        family: "Generic Modbus meter".into(),
        model: format!(
            "Generic Modbus meter (FC{function_code} {address:#06x}, {words} words, x {multiplier})"
        ),
        description: "A third-party meter read for its positive active energy only".into(),
        field_buses: vec![FieldBus::Rtu, FieldBus::Tcp],
        verified: false,
        source: "user-defined generic Modbus meter (function code, register, words, multiplier)"
            .into(),
        limits: RequestLimits::default(),
        signature: vec![SignatureCheck {
            register: register.clone(),
            expect: Expect::Within {
                min: 0.0,
                max: GENERIC_MAX_KWH,
            },
        }],
        services: vec![Service {
            id: "ea_import".into(),
            name: "Active energy import".into(),
            quantity: "active_energy_import".into(),
            unit: crate::value::Unit::KWh,
            category: Category::Energy,
            register,
            recording_interval_min: 15,
            description: String::new(),
            measurand: Some(Measurand::ActiveEnergy),
            phase: Some(Phase::Total),
            direction: Some(Direction::Import),
            tariff: None,
            harmonic: None,
            partial: false,
            channel_kind: ChannelKind::Counter,
            simulated: None,
        }],
        parameters: Vec::new(),
        alarms: Vec::new(),
    })
}

/// The 0-based address of a generic meter's register, given in hex (`"0x0048"`, `"B060"`).
fn generic_register_address(register_hex: &str) -> Result<u16, CatalogueError> {
    let hex = register_hex.trim();
    let digits = hex
        .strip_prefix("0x")
        .or_else(|| hex.strip_prefix("0X"))
        .unwrap_or(hex);
    if (1..=4).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_hexdigit()) {
        u16::from_str_radix(digits, 16).ok()
    } else {
        None
    }
    .ok_or_else(|| CatalogueError::InvalidArgument {
        field: "register",
        expected: "a 0-based register address in hex, 0000..FFFF, optionally 0x-prefixed",
        found: format!("{register_hex:?}"),
    })
}
