//! Points the caller monitors, and rule selections resolved against them.
//!
//! A point is named `device/service`. Rules name points explicitly or select them by
//! device name, service, location or tag patterns (`*` any run of characters, `?` one
//! character), in the manner of smart groups.

use serde::{Deserialize, Serialize};

/// A point known to the caller: its name and what selections look at.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointInfo {
    /// `device/service`
    pub name: String,
    /// Where the device is, e.g. `"north/substation-3"` (optional).
    #[serde(default)]
    pub location: Option<String>,
    /// Free tags, e.g. `["supply", "dh"]`.
    #[serde(default)]
    pub tags: Vec<String>,
}

impl PointInfo {
    /// A point with only a name.
    ///
    /// ```
    /// let p = alarms::PointInfo::named("substation-1/flow_temperature");
    /// assert_eq!(p.device(), "substation-1");
    /// assert_eq!(p.service(), "flow_temperature");
    /// ```
    pub fn named(name: &str) -> PointInfo {
        PointInfo {
            name: name.to_string(),
            location: None,
            tags: Vec::new(),
        }
    }

    /// The device part of the name (everything before the last `/`, or the whole name).
    pub fn device(&self) -> &str {
        device_of(&self.name)
    }

    /// The service part of the name (after the last `/`, or empty).
    pub fn service(&self) -> &str {
        self.name.rsplit_once('/').map_or("", |(_, s)| s)
    }
}

/// The device part of a point name.
pub(crate) fn device_of(name: &str) -> &str {
    name.rsplit_once('/').map_or(name, |(d, _)| d)
}

/// A selection of points by patterns; every given pattern must match.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    /// Pattern on the device name.
    #[serde(default)]
    pub device: Option<String>,
    /// Pattern on the service id.
    #[serde(default)]
    pub service: Option<String>,
    /// Pattern on the location.
    #[serde(default)]
    pub location: Option<String>,
    /// Pattern that at least one tag must match.
    #[serde(default)]
    pub tag: Option<String>,
}

impl Selection {
    /// Whether the point matches every given pattern.
    ///
    /// ```
    /// use alarms::{PointInfo, Selection};
    /// let s = Selection { device: Some("sub-*".into()), service: Some("flow_*".into()), ..Default::default() };
    /// assert!(s.matches(&PointInfo::named("sub-7/flow_temperature")));
    /// assert!(!s.matches(&PointInfo::named("boiler/flow_temperature")));
    /// ```
    pub fn matches(&self, p: &PointInfo) -> bool {
        let ok =
            |pat: &Option<String>, text: &str| pat.as_deref().is_none_or(|pat| glob(pat, text));
        ok(&self.device, p.device())
            && ok(&self.service, p.service())
            && self
                .location
                .as_deref()
                .is_none_or(|pat| p.location.as_deref().is_some_and(|l| glob(pat, l)))
            && self
                .tag
                .as_deref()
                .is_none_or(|pat| p.tags.iter().any(|t| glob(pat, t)))
    }

    /// Whether no pattern is given (a selection that would match everything is refused).
    pub fn is_empty(&self) -> bool {
        self.device.is_none()
            && self.service.is_none()
            && self.location.is_none()
            && self.tag.is_none()
    }
}

/// Glob match with `*` and `?` (no escapes), on characters.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_like_a_shell() {
        assert!(glob("*", ""));
        assert!(glob("sub-*", "sub-12"));
        assert!(glob("s?b-*-x", "sub-1-x"));
        assert!(!glob("sub-?", "sub-12"));
        assert!(glob("*temp*", "flow_temperature"));
        assert!(!glob("a*b", "acb-"));
    }

    #[test]
    fn selection_by_location_and_tag() {
        let p = PointInfo {
            name: "sub-1/flow".into(),
            location: Some("north/zone-2".into()),
            tags: vec!["dh".into(), "supply".into()],
        };
        let by_loc = Selection {
            location: Some("north/*".into()),
            ..Default::default()
        };
        let by_tag = Selection {
            tag: Some("sup*".into()),
            ..Default::default()
        };
        let wrong = Selection {
            tag: Some("return".into()),
            ..Default::default()
        };
        assert!(by_loc.matches(&p));
        assert!(by_tag.matches(&p));
        assert!(!wrong.matches(&p));
        assert!(!by_loc.matches(&PointInfo::named("sub-1/flow")));
    }
}
