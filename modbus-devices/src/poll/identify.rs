//! Identification: read a device's signature and say whether it is the declared product.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::read::Block;
use super::{DeviceEntry, PollError, Poller};
use crate::catalogue::{Expect, Product, SignatureCheck};
use crate::register::{FunctionCode, RegisterDef};
use crate::value::Value;

/// What the signature read found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Identification {
    /// Every signature read found what the declared product's signature expects.
    Match {
        /// The declared product reference.
        declared: String,
        /// What was read.
        detail: String,
    },
    /// The device answered, but not as the declared product: `found` names the catalogue
    /// product whose signature matches instead, when one does.
    Mismatch {
        /// The declared product reference.
        declared: String,
        /// The product found instead, if a catalogue product's signature matches.
        found: Option<String>,
        /// `declared X but found Y`.
        detail: String,
    },
    /// The signature could not be read (timeout, CRC, connection), or the product has none.
    Error {
        /// The declared product reference.
        declared: String,
        /// The error, naming the device.
        detail: String,
    },
}

impl Identification {
    /// `match`, `mismatch` or `error` (the `modbus-read --json` status).
    pub fn status(&self) -> &'static str {
        match self {
            Identification::Match { .. } => "match",
            Identification::Mismatch { .. } => "mismatch",
            Identification::Error { .. } => "error",
        }
    }

    /// The human explanation.
    pub fn detail(&self) -> &str {
        match self {
            Identification::Match { detail, .. }
            | Identification::Mismatch { detail, .. }
            | Identification::Error { detail, .. } => detail,
        }
    }

    /// Whether the declared product was confirmed.
    pub fn is_match(&self) -> bool {
        matches!(self, Identification::Match { .. })
    }
}

type Key = (FunctionCode, u16, u16);

fn label(def: &RegisterDef) -> String {
    format!("{} {:#06x}", def.function_code, def.address)
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => "not available".into(),
        Some(Value::Text(t)) => format!("{t:?}"),
        Some(v) => v.to_string(),
    }
}

/// An identifying check (not a mere plausibility range).
fn identifies(c: &SignatureCheck) -> bool {
    !matches!(c.expect, Expect::Within { .. })
}

/// The outcome of one signature check.
enum Check {
    Ok(String),
    Wrong(String),
    NoAnswer(PollError),
}

impl Poller {
    /// Read the declared product's signature from the device and report a match, a
    /// mismatch ("declared X but found Y", trying the other catalogue products' signatures
    /// to name Y) or the error that prevented the read. Fails only for an unknown device.
    ///
    /// Identification reads count in the statistics but do not change the device state.
    pub async fn identify(&self, device: &str) -> Result<Identification, PollError> {
        let d = self.entry(device)?;
        let bus = &self.buses[d.bus];
        let declared = d.product.reference().to_string();
        let who = d.describe(&bus.name);
        if d.product.signature.is_empty() {
            return Ok(Identification::Error {
                declared: declared.clone(),
                detail: format!(
                    "Identification of {who} impossible: product {declared} has no signature"
                ),
            });
        }
        let mut link = bus.link.lock().await;
        let mut cache: BTreeMap<Key, Result<Vec<u16>, PollError>> = BTreeMap::new();
        let mut seen = Vec::new();
        let mut wrong = Vec::new();
        for c in &d.product.signature {
            match self.check(&mut link, bus, d, c, &mut cache).await {
                Check::Ok(s) => seen.push(s),
                Check::Wrong(s) => {
                    seen.push(s.clone());
                    wrong.push(s);
                }
                Check::NoAnswer(e) => {
                    return Ok(Identification::Error {
                        declared,
                        detail: format!(
                            "Identification of {who} failed, no answer to the signature read: {e}"
                        ),
                    });
                }
            }
        }
        if wrong.is_empty() {
            return Ok(Identification::Match {
                detail: format!("{who} matches {declared}: {}", seen.join(", ")),
                declared,
            });
        }
        let mut found = None;
        'products: for p in self.catalogue.products() {
            if p.reference() == declared
                || !p.signature.iter().any(identifies)
                || p.signature == d.product.signature
            {
                continue;
            }
            for c in &p.signature {
                match self.check(&mut link, bus, d, c, &mut cache).await {
                    Check::Ok(_) => {}
                    Check::Wrong(_) => continue 'products,
                    Check::NoAnswer(_) => break 'products,
                }
            }
            found = Some(p);
            break;
        }
        let detail = match found {
            Some(p) => format!(
                "{who}: declared {declared} but found {} ({} {}); read {}",
                p.reference(),
                p.vendor,
                p.model,
                wrong.join(", ")
            ),
            None => format!(
                "{who}: declared {declared} but found {}, which no catalogue product matches",
                wrong.join(", ")
            ),
        };
        Ok(Identification::Mismatch {
            declared,
            found: found.map(|p: &Product| p.reference().to_string()),
            detail,
        })
    }

    async fn check(
        &self,
        link: &mut super::Link,
        bus: &super::BusHandle,
        d: &DeviceEntry,
        c: &SignatureCheck,
        cache: &mut BTreeMap<Key, Result<Vec<u16>, PollError>>,
    ) -> Check {
        let def = &c.register;
        let key = (def.function_code, def.address, def.count());
        if let std::collections::btree_map::Entry::Vacant(slot) = cache.entry(key) {
            let block = Block {
                function_code: key.0,
                address: key.1,
                count: key.2,
            };
            slot.insert(self.read_block(link, bus, d, &block).await);
        }
        let what = label(def);
        match cache.get(&key) {
            Some(Ok(words)) => match def.decode(words) {
                Ok(v) if c.expect.matches(v.as_ref()) => {
                    Check::Ok(format!("{what} = {}", show(v.as_ref())))
                }
                Ok(v) => Check::Wrong(format!(
                    "{what} = {} (expected {})",
                    show(v.as_ref()),
                    c.expect
                )),
                Err(e) => Check::Wrong(format!("{what}: {e} (expected {})", c.expect)),
            },
            Some(Err(e)) if e.is_no_answer() => Check::NoAnswer(e.clone()),
            Some(Err(PollError::Exception { exception, .. })) => {
                Check::Wrong(format!("{what}: {exception} (expected {})", c.expect))
            }
            Some(Err(e)) => Check::Wrong(format!("{what}: {e}")),
            None => Check::Wrong(format!("{what}: not read")),
        }
    }
}
