//! The point model: a site / area / device / point tree the caller builds, each point with
//! a value (number, bool, text), an engineering unit, a range, a description, timestamps
//! and a quality, updated in batches.
//!
//! [`Site`] and the types under it are plain serde data (a configuration file or the
//! caller's code builds them); [`PointTree::new`] checks the names and flattens the tree
//! into folders and points, in parent-before-child order, keyed by the workspace's point
//! name `device/service`.

use std::collections::{HashMap, HashSet};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Unit;

/// The whole tree: one site with its areas (areas nest), each area with devices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// The site's name (the top folder's browse name).
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Areas of the site.
    #[serde(default)]
    pub areas: Vec<Area>,
    /// Devices directly under the site.
    #[serde(default)]
    pub devices: Vec<Device>,
}

/// An area (building, floor, substation); areas nest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Area {
    /// Unique among its sibling areas.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Nested areas.
    #[serde(default)]
    pub areas: Vec<Area>,
    /// Devices in this area.
    #[serde(default)]
    pub devices: Vec<Device>,
}

/// A device: its name is unique within the site (the `device` of `device/service`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// Unique within the site.
    pub name: String,
    /// Free text (product, location).
    #[serde(default)]
    pub description: String,
    /// The device's points.
    #[serde(default)]
    pub points: Vec<Point>,
}

/// What kind of value a point holds; an update of another kind is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    /// `f64` (an OPC UA `AnalogItemType` of `Double`).
    Number,
    /// `bool` (a `DataItemType` of `Boolean`).
    Bool,
    /// text (a `DataItemType` of `String`).
    Text,
}

/// A point's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointValue {
    /// A number in the point's unit.
    Number(f64),
    /// A binary state.
    Bool(bool),
    /// Text.
    Text(String),
}

impl PointValue {
    /// The kind of this value.
    pub fn kind(&self) -> ValueKind {
        match self {
            PointValue::Number(_) => ValueKind::Number,
            PointValue::Bool(_) => ValueKind::Bool,
            PointValue::Text(_) => ValueKind::Text,
        }
    }
}

/// The quality of a point's value; OPC UA carries it as the value's `StatusCode`.
///
/// | quality | meaning | StatusCode |
/// |---|---|---|
/// | `good` | a value was read | `Good` |
/// | `uncertain` | the device answered but has no usable value (the workspace's "not available" and "invalid"); the last value is kept | `Uncertain` |
/// | `bad-communication` | nothing usable arrived (the workspace's "no answer") | `BadCommunicationError` |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Quality {
    /// A value was read.
    Good,
    /// A value of doubtful use; also a point that has never been updated.
    #[default]
    Uncertain,
    /// The device did not answer.
    BadCommunication,
}

impl Quality {
    /// The word (`good`, `uncertain`, `bad-communication`).
    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Good => "good",
            Quality::Uncertain => "uncertain",
            Quality::BadCommunication => "bad-communication",
        }
    }

    /// From a workspace quality word (`ARCHITECTURE.md`): `good`; `not available` and
    /// `invalid` are uncertain; `no answer` is bad-communication. Underscores may stand for
    /// spaces (`not_available`, as `modbus_devices::Quality` serialises).
    pub fn from_workspace_word(word: &str) -> Option<Quality> {
        match word.replace('_', " ").as_str() {
            "good" => Some(Quality::Good),
            "not available" | "invalid" => Some(Quality::Uncertain),
            "no answer" => Some(Quality::BadCommunication),
            _ => None,
        }
    }
}

impl fmt::Display for Quality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The engineering range of a number point (OPC UA `EURange`); for a writable point a write
/// outside it is refused.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    /// Lowest value, inclusive.
    pub low: f64,
    /// Highest value, inclusive.
    pub high: f64,
}

impl Range {
    /// Whether `x` lies in the range (inclusive; NaN never does).
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// Who may write a point (through the write handler the caller registers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Read only for everyone.
    #[default]
    Read,
    /// Users with the operator role may write.
    ReadWrite,
}

/// The last state of a point.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointState {
    /// The last value; `None` until the first update with a value.
    pub value: Option<PointValue>,
    /// The quality of the last update.
    pub quality: Quality,
    /// When the value was measured (UTC), from the update.
    pub source_time: Option<DateTime<Utc>>,
    /// When the bridge took the update (UTC).
    pub server_time: Option<DateTime<Utc>>,
}

/// A point: one service of a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Point {
    /// The service id (the `service` of `device/service`), unique within its device.
    pub service: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// The kind of value.
    pub kind: ValueKind,
    /// The engineering unit (`""` for none).
    #[serde(default = "no_unit")]
    pub unit: Unit,
    /// The engineering range (number points only).
    #[serde(default)]
    pub range: Option<Range>,
    /// Who may write.
    #[serde(default)]
    pub access: Access,
    /// The current state (usually absent in a configuration file).
    #[serde(default)]
    pub state: PointState,
}

fn no_unit() -> Unit {
    Unit::None
}

impl Point {
    /// A number point in `unit`.
    pub fn number(service: impl Into<String>, unit: Unit) -> Point {
        Point::new(service, ValueKind::Number, unit)
    }

    /// A bool point.
    pub fn bool(service: impl Into<String>) -> Point {
        Point::new(service, ValueKind::Bool, Unit::None)
    }

    /// A text point.
    pub fn text(service: impl Into<String>) -> Point {
        Point::new(service, ValueKind::Text, Unit::None)
    }

    fn new(service: impl Into<String>, kind: ValueKind, unit: Unit) -> Point {
        Point {
            service: service.into(),
            description: String::new(),
            kind,
            unit,
            range: None,
            access: Access::Read,
            state: PointState::default(),
        }
    }

    /// With an engineering range.
    #[must_use]
    pub fn with_range(mut self, low: f64, high: f64) -> Point {
        self.range = Some(Range { low, high });
        self
    }

    /// With a description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Point {
        self.description = description.into();
        self
    }

    /// Writable by operators.
    #[must_use]
    pub fn writable(mut self) -> Point {
        self.access = Access::ReadWrite;
        self
    }
}

impl Device {
    /// A device without points.
    pub fn new(name: impl Into<String>) -> Device {
        Device {
            name: name.into(),
            description: String::new(),
            points: Vec::new(),
        }
    }

    /// With a description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Device {
        self.description = description.into();
        self
    }

    /// With one more point.
    #[must_use]
    pub fn with_point(mut self, point: Point) -> Device {
        self.points.push(point);
        self
    }
}

impl Area {
    /// An empty area.
    pub fn new(name: impl Into<String>) -> Area {
        Area {
            name: name.into(),
            description: String::new(),
            areas: Vec::new(),
            devices: Vec::new(),
        }
    }

    /// With a description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Area {
        self.description = description.into();
        self
    }

    /// With a nested area.
    #[must_use]
    pub fn with_area(mut self, area: Area) -> Area {
        self.areas.push(area);
        self
    }

    /// With one more device.
    #[must_use]
    pub fn with_device(mut self, device: Device) -> Area {
        self.devices.push(device);
        self
    }
}

impl Site {
    /// An empty site.
    pub fn new(name: impl Into<String>) -> Site {
        Site {
            name: name.into(),
            description: String::new(),
            areas: Vec::new(),
            devices: Vec::new(),
        }
    }

    /// With a description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Site {
        self.description = description.into();
        self
    }

    /// With an area.
    #[must_use]
    pub fn with_area(mut self, area: Area) -> Site {
        self.areas.push(area);
        self
    }

    /// With a device directly under the site.
    #[must_use]
    pub fn with_device(mut self, device: Device) -> Site {
        self.devices.push(device);
        self
    }
}

/// A tree that cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// A name is empty, has a `/` or `#`, a control character, or space at either end.
    #[error("{what} name {name:?}: {reason}")]
    BadName {
        /// `site`, `area`, `device` or `point`.
        what: &'static str,
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two devices of the site, two sibling areas or two points of a device share a name.
    #[error("{what} {name:?} appears twice")]
    Duplicate {
        /// `area`, `device` or `point`.
        what: &'static str,
        /// The name (`device/service` for a point, the area path for an area).
        name: String,
    },
    /// A range with `low > high` or a bound that is not finite.
    #[error("point {point}: range {low}..{high} is not a finite range with low <= high")]
    BadRange {
        /// `device/service`.
        point: String,
        /// The low bound.
        low: f64,
        /// The high bound.
        high: f64,
    },
    /// A range on a bool or text point.
    #[error("point {point}: only number points have a range")]
    RangeOnNonNumber {
        /// `device/service`.
        point: String,
    },
}

/// What a folder of the tree stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FolderKind {
    /// The site (the root).
    Site,
    /// An area.
    Area,
    /// A device.
    Device,
}

/// A folder of the flattened tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Folder {
    /// A key unique in the tree: `#site`, `#area/NAME/NAME..`, or the device name.
    pub key: String,
    /// Its browse name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Site, area or device.
    pub kind: FolderKind,
    /// Index of the parent folder in [`PointTree::folders`]; `None` for the site.
    pub parent: Option<usize>,
}

/// A point of the flattened tree.
#[derive(Debug, Clone, PartialEq)]
pub struct PointEntry {
    /// `device/service`.
    pub name: String,
    /// Index of its device's folder in [`PointTree::folders`].
    pub folder: usize,
    /// The point with its current state.
    pub point: Point,
}

/// One update of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Update {
    /// `device/service`.
    pub point: String,
    /// The new value; `None` keeps the last value and changes quality and times only (a
    /// device that did not answer).
    pub value: Option<PointValue>,
    /// The quality.
    pub quality: Quality,
    /// When the value was measured (UTC).
    pub source_time: DateTime<Utc>,
}

impl Update {
    /// A good value measured at `source_time`.
    pub fn good(point: impl Into<String>, value: PointValue, source_time: DateTime<Utc>) -> Update {
        Update {
            point: point.into(),
            value: Some(value),
            quality: Quality::Good,
            source_time,
        }
    }

    /// No value, with `quality` (usually bad-communication), at `source_time`.
    pub fn without_value(
        point: impl Into<String>,
        quality: Quality,
        source_time: DateTime<Utc>,
    ) -> Update {
        Update {
            point: point.into(),
            value: None,
            quality,
            source_time,
        }
    }
}

/// Why an update of a batch was not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// No point has that name.
    UnknownPoint,
    /// The value is of another kind than the point's.
    WrongKind,
    /// Its source time is before the point's current source time.
    OutOfOrder,
}

/// What a batch did: every update is either applied or rejected with its reason.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApplyReport {
    /// Indexes in [`PointTree::points`] of the points updated, in batch order (a point
    /// updated twice appears twice).
    pub applied: Vec<usize>,
    /// Rejected updates: the point name as given and the reason.
    pub rejected: Vec<(String, Rejection)>,
}

/// The checked, flattened tree with the points' current state.
///
/// ```
/// use chrono::Utc;
/// use opcua_bridge::{Area, Device, Point, PointTree, PointValue, Quality, Site, Unit, Update};
///
/// let site = Site::new("Plant").with_area(
///     Area::new("Substation 1").with_device(
///         Device::new("main")
///             .with_point(Point::number("v_l1_n", Unit::V).with_range(0.0, 300.0))
///             .with_point(Point::number("t_supply_set", Unit::DegC).with_range(10.0, 90.0).writable()),
///     ),
/// );
/// let mut tree = PointTree::new(site)?;
/// let now = Utc::now();
/// let report = tree.apply(
///     [
///         Update::good("main/v_l1_n", PointValue::Number(231.5), now),
///         Update::good("main/nope", PointValue::Number(1.0), now),
///     ],
///     now,
/// );
/// assert_eq!(report.applied.len(), 1);
/// assert_eq!(report.rejected.len(), 1);
/// let v = tree.point("main/v_l1_n").ok_or("no point")?;
/// assert_eq!(v.state.value, Some(PointValue::Number(231.5)));
/// assert_eq!(v.state.quality, Quality::Good);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PointTree {
    folders: Vec<Folder>,
    points: Vec<PointEntry>,
    index: HashMap<String, usize>,
}

/// The key of the site folder.
pub const SITE_KEY: &str = "#site";

impl PointTree {
    /// Checks the names and ranges and flattens `site`.
    ///
    /// # Errors
    /// A bad name, a duplicate device (anywhere in the site), sibling area or service, or a
    /// bad range.
    pub fn new(site: Site) -> Result<PointTree, ModelError> {
        check_name("site", &site.name)?;
        let mut tree = PointTree {
            folders: Vec::new(),
            points: Vec::new(),
            index: HashMap::new(),
        };
        tree.folders.push(Folder {
            key: SITE_KEY.to_owned(),
            name: site.name,
            description: site.description,
            kind: FolderKind::Site,
            parent: None,
        });
        let mut devices = HashSet::new();
        tree.add_children(0, "#area", site.areas, site.devices, &mut devices)?;
        Ok(tree)
    }

    fn add_children(
        &mut self,
        parent: usize,
        area_prefix: &str,
        areas: Vec<Area>,
        devices: Vec<Device>,
        seen_devices: &mut HashSet<String>,
    ) -> Result<(), ModelError> {
        let mut sibling_areas = HashSet::new();
        for area in areas {
            check_name("area", &area.name)?;
            let key = format!("{area_prefix}/{}", area.name);
            if !sibling_areas.insert(area.name.clone()) {
                return Err(ModelError::Duplicate {
                    what: "area",
                    name: key,
                });
            }
            self.folders.push(Folder {
                key: key.clone(),
                name: area.name,
                description: area.description,
                kind: FolderKind::Area,
                parent: Some(parent),
            });
            let me = self.folders.len() - 1;
            self.add_children(me, &key, area.areas, area.devices, seen_devices)?;
        }
        for device in devices {
            check_name("device", &device.name)?;
            if !seen_devices.insert(device.name.clone()) {
                return Err(ModelError::Duplicate {
                    what: "device",
                    name: device.name,
                });
            }
            self.folders.push(Folder {
                key: device.name.clone(),
                name: device.name.clone(),
                description: device.description,
                kind: FolderKind::Device,
                parent: Some(parent),
            });
            let folder = self.folders.len() - 1;
            for point in device.points {
                self.add_point(folder, &device.name, point)?;
            }
        }
        Ok(())
    }

    fn add_point(&mut self, folder: usize, device: &str, point: Point) -> Result<(), ModelError> {
        check_name("point", &point.service)?;
        let name = format!("{device}/{}", point.service);
        if let Some(r) = point.range {
            if point.kind != ValueKind::Number {
                return Err(ModelError::RangeOnNonNumber { point: name });
            }
            if !(r.low.is_finite() && r.high.is_finite() && r.low <= r.high) {
                return Err(ModelError::BadRange {
                    point: name,
                    low: r.low,
                    high: r.high,
                });
            }
        }
        if self.index.contains_key(&name) {
            return Err(ModelError::Duplicate {
                what: "point",
                name,
            });
        }
        self.index.insert(name.clone(), self.points.len());
        self.points.push(PointEntry {
            name,
            folder,
            point,
        });
        Ok(())
    }

    /// The folders: the site first, every parent before its children.
    pub fn folders(&self) -> &[Folder] {
        &self.folders
    }

    /// The points, in tree order.
    pub fn points(&self) -> &[PointEntry] {
        &self.points
    }

    /// The index of a point in [`PointTree::points`].
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// A point by its `device/service` name.
    pub fn point(&self, name: &str) -> Option<&Point> {
        self.index_of(name)
            .and_then(|i| self.points.get(i))
            .map(|e| &e.point)
    }

    /// Applies a batch: each update is applied or rejected (unknown point, wrong kind, older
    /// than the point's current source time); `server_time` stamps the applied ones.
    pub fn apply(
        &mut self,
        batch: impl IntoIterator<Item = Update>,
        server_time: DateTime<Utc>,
    ) -> ApplyReport {
        let mut report = ApplyReport::default();
        for u in batch {
            match self.apply_one(u, server_time) {
                Ok(i) => report.applied.push(i),
                Err((name, why)) => report.rejected.push((name, why)),
            }
        }
        report
    }

    fn apply_one(
        &mut self,
        u: Update,
        server_time: DateTime<Utc>,
    ) -> Result<usize, (String, Rejection)> {
        let Some(i) = self.index_of(&u.point) else {
            return Err((u.point, Rejection::UnknownPoint));
        };
        let Some(entry) = self.points.get_mut(i) else {
            return Err((u.point, Rejection::UnknownPoint));
        };
        let p = &mut entry.point;
        if u.value.as_ref().is_some_and(|v| v.kind() != p.kind) {
            return Err((u.point, Rejection::WrongKind));
        }
        if p.state.source_time.is_some_and(|t| u.source_time < t) {
            return Err((u.point, Rejection::OutOfOrder));
        }
        if let Some(v) = u.value {
            p.state.value = Some(v);
        }
        p.state.quality = u.quality;
        p.state.source_time = Some(u.source_time);
        p.state.server_time = Some(server_time);
        Ok(i)
    }
}

fn check_name(what: &'static str, name: &str) -> Result<(), ModelError> {
    let reason = if name.is_empty() {
        Some("is empty")
    } else if name.contains('/') || name.contains('#') {
        Some("has a '/' or '#'")
    } else if name.chars().any(char::is_control) {
        Some("has a control character")
    } else if name.trim() != name {
        Some("has space at either end")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ModelError::BadName {
            what,
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0)
            .single()
            .unwrap_or_default()
    }

    fn site() -> Site {
        Site::new("Plant")
            .with_area(
                Area::new("North").with_area(
                    Area::new("Floor 1").with_device(
                        Device::new("m1")
                            .with_point(Point::number("p", Unit::KW).with_range(-100.0, 100.0))
                            .with_point(Point::bool("breaker")),
                    ),
                ),
            )
            .with_area(
                Area::new("South").with_device(Device::new("m2").with_point(Point::text("status"))),
            )
            .with_device(Device::new("outdoor").with_point(Point::number("t", Unit::DegC)))
    }

    #[test]
    fn flattens_parent_first() -> Result<(), ModelError> {
        let tree = PointTree::new(site())?;
        let keys: Vec<_> = tree.folders().iter().map(|f| f.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "#site",
                "#area/North",
                "#area/North/Floor 1",
                "m1",
                "#area/South",
                "m2",
                "outdoor"
            ]
        );
        for (i, f) in tree.folders().iter().enumerate() {
            assert!(f.parent.is_none_or(|p| p < i));
        }
        let names: Vec<_> = tree.points().iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["m1/p", "m1/breaker", "m2/status", "outdoor/t"]);
        assert_eq!(tree.folders()[tree.points()[3].folder].key, "outdoor");
        Ok(())
    }

    #[test]
    fn refuses_bad_trees() {
        let dup_device = site().with_device(Device::new("m1"));
        assert_eq!(
            PointTree::new(dup_device),
            Err(ModelError::Duplicate {
                what: "device",
                name: "m1".into()
            })
        );
        let dup_point = Site::new("s").with_device(
            Device::new("d")
                .with_point(Point::bool("x"))
                .with_point(Point::text("x")),
        );
        assert!(matches!(
            PointTree::new(dup_point),
            Err(ModelError::Duplicate { what: "point", .. })
        ));
        let dup_area = Site::new("s")
            .with_area(Area::new("a"))
            .with_area(Area::new("a"));
        assert!(matches!(
            PointTree::new(dup_area),
            Err(ModelError::Duplicate { what: "area", .. })
        ));
        for bad in ["", "a/b", "#x", " a", "a\n"] {
            let s = Site::new("s").with_device(Device::new(bad));
            assert!(
                matches!(
                    PointTree::new(s),
                    Err(ModelError::BadName { what: "device", .. })
                ),
                "{bad:?}"
            );
        }
        let r = Site::new("s").with_device(
            Device::new("d").with_point(Point::number("x", Unit::V).with_range(2.0, 1.0)),
        );
        assert!(matches!(
            PointTree::new(r),
            Err(ModelError::BadRange { .. })
        ));
        let r = Site::new("s").with_device(
            Device::new("d").with_point(Point::number("x", Unit::V).with_range(0.0, f64::NAN)),
        );
        assert!(matches!(
            PointTree::new(r),
            Err(ModelError::BadRange { .. })
        ));
        let r = Site::new("s")
            .with_device(Device::new("d").with_point(Point::bool("x").with_range(0.0, 1.0)));
        assert!(matches!(
            PointTree::new(r),
            Err(ModelError::RangeOnNonNumber { .. })
        ));
    }

    #[test]
    fn batches_apply_or_say_why_not() -> Result<(), ModelError> {
        let mut tree = PointTree::new(site())?;
        let r = tree.apply(
            [
                Update::good("m1/p", PointValue::Number(5.0), t(10)),
                Update::good("m1/breaker", PointValue::Number(1.0), t(10)),
                Update::good("m9/p", PointValue::Number(1.0), t(10)),
                Update::good("m1/p", PointValue::Number(4.0), t(9)),
                Update::without_value("m1/p", Quality::BadCommunication, t(20)),
                Update::good("m2/status", PointValue::Text("ok".into()), t(10)),
            ],
            t(21),
        );
        assert_eq!(r.applied, [0, 0, 2]);
        assert_eq!(
            r.rejected,
            [
                ("m1/breaker".to_owned(), Rejection::WrongKind),
                ("m9/p".to_owned(), Rejection::UnknownPoint),
                ("m1/p".to_owned(), Rejection::OutOfOrder),
            ]
        );
        let p = tree.point("m1/p").ok_or(ModelError::RangeOnNonNumber {
            point: String::new(),
        })?;
        assert_eq!(
            p.state.value,
            Some(PointValue::Number(5.0)),
            "the last value is kept"
        );
        assert_eq!(p.state.quality, Quality::BadCommunication);
        assert_eq!(p.state.source_time, Some(t(20)));
        assert_eq!(p.state.server_time, Some(t(21)));
        assert_eq!(
            tree.point("m1/breaker").map(|p| &p.state),
            Some(&PointState::default())
        );
        Ok(())
    }

    #[test]
    fn serde_shapes() -> Result<(), serde_json::Error> {
        assert_eq!(
            serde_json::to_string(&Quality::BadCommunication)?,
            r#""bad-communication""#
        );
        assert_eq!(
            serde_json::to_string(&PointValue::Number(1.5))?,
            r#"{"number":1.5}"#
        );
        let json = r#"{"name":"Plant","areas":[{"name":"A","devices":[{"name":"m","points":[
            {"service":"e","kind":"number","unit":"kWh","range":{"low":0,"high":1e9}},
            {"service":"sp","kind":"number","unit":"degC","access":"read_write"}]}]}]}"#;
        let site: Site = serde_json::from_str(json)?;
        let tree = PointTree::new(site.clone()).map_err(serde::de::Error::custom)?;
        assert_eq!(tree.point("m/e").map(|p| p.unit), Some(Unit::KWh));
        assert_eq!(
            tree.point("m/sp").map(|p| p.access),
            Some(Access::ReadWrite)
        );
        let back: Site = serde_json::from_str(&serde_json::to_string(&site)?)?;
        assert_eq!(back, site);
        assert!(serde_json::from_str::<Site>(r#"{"name":"x","colour":1}"#).is_err());
        let u: Update = serde_json::from_str(
            r#"{"point":"m/e","value":{"number":3.0},"quality":"good","source_time":"2026-01-01T00:00:00Z"}"#,
        )?;
        assert_eq!(u.value, Some(PointValue::Number(3.0)));
        Ok(())
    }

    #[test]
    fn workspace_quality_words() {
        assert_eq!(Quality::from_workspace_word("good"), Some(Quality::Good));
        assert_eq!(
            Quality::from_workspace_word("not_available"),
            Some(Quality::Uncertain)
        );
        assert_eq!(
            Quality::from_workspace_word("invalid"),
            Some(Quality::Uncertain)
        );
        assert_eq!(
            Quality::from_workspace_word("no answer"),
            Some(Quality::BadCommunication)
        );
        assert_eq!(Quality::from_workspace_word("meh"), None);
    }
}
