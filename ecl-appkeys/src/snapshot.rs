//! The commissioning snapshot: every served parameter of a controller at one moment, as a
//! serialisable report (the input of the `reports` commissioning report).
//!
//! [`Snapshot::build`] is pure: it takes the register values already read (a lookup by
//! PNU; the reads are [`crate::pnu::ServedRanges::read_blocks`] of
//! [`Snapshot::pnus`]) and decodes each parameter; a PNU that was not read is listed with
//! no value, so nothing is dropped unseen.
//!
//! ```
//! use ecl_appkeys::{Catalogue, Controller, snapshot::Snapshot};
//!
//! let catalogue = Catalogue::builtin()?;
//! let ecl = Controller::new(&catalogue, "A266.1".parse()?, Some("ecl310"))?;
//! let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).ok_or("time")?;
//! let snap = Snapshot::build(&ecl, "substation-7", at, |pnu| (pnu.get() == 11180).then_some(215));
//! let comfort = snap.entries.iter().find(|e| e.id == "c1_room_comfort").ok_or("missing")?;
//! assert_eq!(comfort.value, Some(21.5));
//! assert_eq!(snap.missing().count(), snap.entries.len() - 1);
//! let json = serde_json::to_string(&snap)?;
//! assert!(json.contains("\"key\":\"A266.1\""));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalogue::{Confidence, KeyId, ParameterKind};
use crate::controller::Controller;
use crate::pnu::Pnu;

/// One parameter in a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotEntry {
    /// Parameter id.
    pub id: String,
    /// Human name.
    pub name: String,
    /// PNU.
    pub pnu: Pnu,
    /// The raw register, when read.
    pub raw: Option<u16>,
    /// The value in the unit, when read.
    pub value: Option<f64>,
    /// Unit symbol.
    pub unit: String,
    /// Whether it may be written.
    pub writable: bool,
    /// Setting, computed value or schedule register.
    pub kind: ParameterKind,
    /// How sure the definition is.
    pub confidence: Confidence,
}

/// A controller's settings at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The device name.
    pub device: String,
    /// When it was read (UTC).
    pub taken_at: DateTime<Utc>,
    /// The application key, when known.
    pub key: Option<KeyId>,
    /// The controller model name, when known.
    pub model: Option<String>,
    /// One entry per parameter of the map, by PNU.
    pub entries: Vec<SnapshotEntry>,
}

impl Snapshot {
    /// The PNUs a snapshot reads: every parameter of the controller's map.
    pub fn pnus(controller: &Controller) -> Vec<Pnu> {
        controller.parameters().iter().map(|p| p.pnu).collect()
    }

    /// Decode the values `read` gives (by PNU) into a snapshot.
    pub fn build(
        controller: &Controller,
        device: &str,
        taken_at: DateTime<Utc>,
        read: impl Fn(Pnu) -> Option<u16>,
    ) -> Self {
        let entries = controller
            .parameters()
            .iter()
            .map(|p| {
                let raw = read(p.pnu);
                SnapshotEntry {
                    id: p.id.clone(),
                    name: p.name.clone(),
                    pnu: p.pnu,
                    raw,
                    value: raw.map(|r| p.decode(r)),
                    unit: p.unit.symbol().to_string(),
                    writable: p.writable,
                    kind: p.kind,
                    confidence: p.confidence,
                }
            })
            .collect();
        Snapshot {
            device: device.to_string(),
            taken_at,
            key: controller.key(),
            model: controller.model().map(|m| m.name.clone()),
            entries,
        }
    }

    /// The entries that were not read.
    pub fn missing(&self) -> impl Iterator<Item = &SnapshotEntry> {
        self.entries.iter().filter(|e| e.raw.is_none())
    }
}
