//! A validated set of rules with their hierarchy, recipients and digest time.

use std::collections::HashMap;

use crate::Error;
use crate::rule::{Condition, DigestConfig, Recipient, Rule};

/// Rules by id, the group hierarchy (each alarm has at most one parent, no cycles), the
/// recipients and the digest time.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    index: HashMap<String, usize>,
    parent: HashMap<String, String>,
    children: HashMap<String, Vec<String>>,
    recipients: Vec<Recipient>,
    digest: DigestConfig,
}

impl RuleSet {
    /// An empty set.
    pub fn new() -> RuleSet {
        RuleSet::default()
    }

    /// Load and validate a rules file's text; `file` names it in errors.
    ///
    /// ```
    /// let set = alarms::RuleSet::from_toml("rules.toml", r#"
    /// [[rule]]
    /// id = "supply-high"
    /// points = ["substation-1/flow_temperature"]
    /// kind = "high"
    /// threshold = 90.0
    /// pre_alarm = 85.0
    /// hysteresis = 2.0
    /// delay = "5m"
    /// priority = "major"
    /// "#)?;
    /// assert_eq!(set.rules().len(), 1);
    /// # Ok::<(), alarms::Error>(())
    /// ```
    pub fn from_toml(file: impl AsRef<std::path::Path>, text: &str) -> Result<RuleSet, Error> {
        crate::file::parse(file.as_ref(), text)
    }

    /// Read, load and validate a rules file.
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<RuleSet, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            file: path.to_path_buf(),
            message: format!("cannot read: {e}"),
        })?;
        crate::file::parse(path, &text)
    }

    /// All rules, in the order they were added.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule with this id.
    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.index.get(id).map(|&i| &self.rules[i])
    }

    /// Add a rule after validating it (unique id, known recipients).
    ///
    /// ```
    /// use alarms::{Condition, Priority, Rule, RuleSet};
    /// let mut set = RuleSet::new();
    /// set.add(Rule::new("a", Condition::Binary { raise_on: true }, Priority::Minor, &["d/x"]))?;
    /// assert!(set.add(Rule::new("a", Condition::Controller, Priority::Minor, &["d/y"])).is_err());
    /// # Ok::<(), alarms::Error>(())
    /// ```
    pub fn add(&mut self, rule: Rule) -> Result<(), Error> {
        rule.validate()?;
        if self.index.contains_key(&rule.id) {
            return Err(Error::DuplicateAlarm(rule.id));
        }
        if let Some(unknown) = rule
            .recipients
            .iter()
            .find(|r| !self.recipients.iter().any(|k| &k.name == *r))
        {
            let known: Vec<&str> = self.recipients.iter().map(|r| r.name.as_str()).collect();
            return Err(Error::rule(
                &rule.id,
                "recipients",
                format!(
                    "expected a defined recipient ({}), found {unknown:?}",
                    known.join(", ")
                ),
            ));
        }
        self.index.insert(rule.id.clone(), self.rules.len());
        self.rules.push(rule);
        Ok(())
    }

    /// Delete a rule. An alarm inside a hierarchy (with a parent or children) is refused.
    ///
    /// ```
    /// use alarms::{Condition, Priority, Rule, RuleSet};
    /// let mut set = RuleSet::new();
    /// set.add(Rule::new("building", Condition::Group, Priority::Major, &[]))?;
    /// set.add(Rule::new("pump", Condition::Controller, Priority::Minor, &["p/alarm"]))?;
    /// set.add_child("building", "pump")?;
    /// assert!(set.remove("pump").is_err());
    /// set.remove_child("pump")?;
    /// assert_eq!(set.remove("pump")?.id, "pump");
    /// # Ok::<(), alarms::Error>(())
    /// ```
    pub fn remove(&mut self, id: &str) -> Result<Rule, Error> {
        let &i = self
            .index
            .get(id)
            .ok_or_else(|| Error::UnknownAlarm(id.to_string()))?;
        if let Some(p) = self.parent.get(id) {
            return Err(Error::InHierarchy {
                alarm: id.to_string(),
                relation: format!("child of {p:?}"),
            });
        }
        if let Some(c) = self.children.get(id).filter(|c| !c.is_empty()) {
            let names: Vec<String> = c.iter().map(|c| format!("{c:?}")).collect();
            return Err(Error::InHierarchy {
                alarm: id.to_string(),
                relation: format!("parent of {}", names.join(", ")),
            });
        }
        let rule = self.rules.remove(i);
        self.index = self
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        self.children.remove(id);
        Ok(rule)
    }

    /// Place `child` under the group alarm `parent`. An alarm has at most one parent and the
    /// hierarchy has no cycles.
    pub fn add_child(&mut self, parent: &str, child: &str) -> Result<(), Error> {
        let p = self
            .get(parent)
            .ok_or_else(|| Error::UnknownAlarm(parent.to_string()))?;
        if !matches!(p.kind, Condition::Group) {
            return Err(Error::NotAGroup(parent.to_string()));
        }
        if self.get(child).is_none() {
            return Err(Error::UnknownAlarm(child.to_string()));
        }
        if let Some(existing) = self.parent.get(child) {
            return Err(Error::AlreadyHasParent {
                child: child.to_string(),
                parent: existing.clone(),
            });
        }
        // Walk up from the parent: meeting the child means a cycle.
        let mut chain = vec![child.to_string(), parent.to_string()];
        let mut at = parent;
        loop {
            if at == child {
                return Err(Error::Cycle {
                    parent: parent.to_string(),
                    child: child.to_string(),
                    path: chain.join(" -> "),
                });
            }
            match self.parent.get(at) {
                Some(up) => {
                    chain.push(up.clone());
                    at = up;
                }
                None => break,
            }
        }
        self.parent.insert(child.to_string(), parent.to_string());
        self.children
            .entry(parent.to_string())
            .or_default()
            .push(child.to_string());
        Ok(())
    }

    /// Take `child` out of its parent; returns the former parent.
    pub fn remove_child(&mut self, child: &str) -> Result<String, Error> {
        let parent = self
            .parent
            .remove(child)
            .ok_or_else(|| Error::NoParent(child.to_string()))?;
        if let Some(c) = self.children.get_mut(&parent) {
            c.retain(|c| c != child);
        }
        Ok(parent)
    }

    /// The parent of an alarm.
    pub fn parent_of(&self, id: &str) -> Option<&str> {
        self.parent.get(id).map(String::as_str)
    }

    /// The direct children of a group alarm, in the order they were added.
    pub fn children_of(&self, id: &str) -> &[String] {
        self.children.get(id).map_or(&[], Vec::as_slice)
    }

    /// The recipients.
    pub fn recipients(&self) -> &[Recipient] {
        &self.recipients
    }

    /// Add a recipient (unique name, valid time zone and hour).
    pub fn add_recipient(&mut self, r: Recipient) -> Result<(), Error> {
        let at = |field: &str, msg: String| Error::InvalidRule {
            rule: format!("recipient {}", r.name),
            field: field.into(),
            message: msg,
        };
        if r.name.trim().is_empty() {
            return Err(at(
                "name",
                "expected a non-empty name, found an empty string".into(),
            ));
        }
        if self.recipients.iter().any(|k| k.name == r.name) {
            return Err(at(
                "name",
                format!("expected a unique name, found {:?} twice", r.name),
            ));
        }
        if let Some(tz) = &r.time_zone {
            crate::tz::parse_tz(tz).map_err(|m| at("time_zone", m))?;
        }
        if let Some(h) = r.digest_hour.filter(|h| *h > 23) {
            return Err(at(
                "digest_hour",
                format!("expected an hour 0..=23, found {h}"),
            ));
        }
        self.recipients.push(r);
        Ok(())
    }

    /// When digests go out by default.
    pub fn digest(&self) -> &DigestConfig {
        &self.digest
    }

    /// Set the default digest time.
    pub fn set_digest(&mut self, digest: DigestConfig) -> Result<(), Error> {
        if digest.hour > 23 {
            return Err(Error::InvalidRule {
                rule: "digest".into(),
                field: "hour".into(),
                message: format!("expected an hour 0..=23, found {}", digest.hour),
            });
        }
        self.digest = digest;
        Ok(())
    }
}
