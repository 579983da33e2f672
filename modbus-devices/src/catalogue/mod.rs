//! The product catalogue: built-in products and user catalogue files.
//!
//! Products are data. The built-in catalogue is a set of TOML files embedded in the crate
//! (`modbus-devices/catalogue/*.toml`) and loaded through the same [`Catalogue::load_str`]
//! path as a user's file, so both are validated by the same code. The format is described,
//! with a complete annotated example, in the crate documentation.
//!
//! ```
//! use modbus_devices::Catalogue;
//!
//! let catalogue = Catalogue::builtin().unwrap();
//! let ecr = catalogue.get("ECR380D").unwrap();
//! assert_eq!(ecr.vendor, "Hager");
//! assert!(ecr.service("v_l1_n").is_some());
//! ```

pub mod file;
mod model;

pub use model::*;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::CatalogueError;

/// The embedded catalogue files: (name, text).
pub const BUILTIN_FILES: &[(&str, &str)] = &[(
    "hager-ecr.toml",
    include_str!("../../catalogue/hager-ecr.toml"),
)];

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
    /// error (invalid format, duplicate reference) nothing is added. Returns the main
    /// references of the products added.
    pub fn load_str(&mut self, file: &Path, text: &str) -> Result<Vec<String>, CatalogueError> {
        let products = file::parse(file, text)?;
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
