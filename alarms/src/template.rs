//! Rules from plain template fields: the bridge from a product catalogue's proposed alarms
//! (or any other plain data) to [`Rule`]s, without `alarms` depending on the catalogue.

use std::time::Duration;

use crate::Error;
use crate::rule::{AppliesTo, Condition, Priority, Rule};

/// An alarm proposed as plain data: the fields a product catalogue writes for a default
/// alarm of one of its services, with the same words. [`Rule::from_template`] turns it
/// into a rule in one call.
///
/// The fields map one to one onto those of a catalogue alarm template (`kind`, `text`,
/// `priority`, `threshold`, `pre_alarm`, `hysteresis`, the delay, `on_false`); the words
/// are those of the rules file (see [`crate::file`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Template<'a> {
    /// The condition, as a word: `high` or `low` (with `threshold`, optionally `pre_alarm`),
    /// `binary` (raises on true, or on false with `on_false`) or `controller` (an alarm bit
    /// or code read from the device, active while non-zero).
    pub kind: &'a str,
    /// The text shown to operators; empty: the rule id.
    pub text: &'a str,
    /// The priority, as a word: `critical`, `major`, `minor` or `warning`.
    pub priority: &'a str,
    /// Trigger threshold (`high`, `low`), in the point's unit.
    pub threshold: Option<f64>,
    /// Pre-alarm (warning) threshold (`high`: below the threshold; `low`: above it).
    pub pre_alarm: Option<f64>,
    /// Hysteresis in value units (>= 0; 0 for `binary` and `controller`).
    pub hysteresis: f64,
    /// Activation delay: a crossing raises once it has lasted this long.
    pub delay: Duration,
    /// `binary`: raise on false instead of true.
    pub on_false: bool,
}

impl Rule {
    /// The rule `id` on `applies_to`, from plain template fields; the rest is the defaults
    /// of [`Rule::new`] (enabled, no notification or clear delay, no recipients). The rule is
    /// validated: an error names the rule and the field.
    ///
    /// ```
    /// use std::time::Duration;
    /// use alarms::{AppliesTo, Condition, Priority, Rule, Template};
    ///
    /// let template = Template {
    ///     kind: "high",
    ///     text: "Overvoltage L1-N",
    ///     priority: "major",
    ///     threshold: Some(253.0),
    ///     pre_alarm: Some(241.5),
    ///     hysteresis: 2.0,
    ///     delay: Duration::from_secs(60),
    ///     on_false: false,
    /// };
    /// let points = AppliesTo::Points(vec!["meter-1/v_l1_n".into()]);
    /// let rule = Rule::from_template("meter-1/overvoltage_l1", points, &template)?;
    /// assert_eq!(rule.kind, Condition::High { threshold: 253.0, pre_alarm: Some(241.5) });
    /// assert_eq!((rule.priority, rule.hysteresis), (Priority::Major, 2.0));
    ///
    /// let wrong = Template { kind: "binary", ..template };
    /// let e = Rule::from_template("x", AppliesTo::Points(vec!["m/b".into()]), &wrong).unwrap_err();
    /// assert_eq!(e.to_string(), "rule \"x\": threshold: binary alarms take no threshold, found 253");
    /// # Ok::<(), alarms::Error>(())
    /// ```
    pub fn from_template(
        id: &str,
        applies_to: AppliesTo,
        template: &Template<'_>,
    ) -> Result<Rule, Error> {
        let priority: Priority = template
            .priority
            .parse()
            .map_err(|m| Error::rule(id, "priority", m))?;
        let condition = condition(id, template)?;
        let mut rule = Rule::new(id, condition, priority, &[]);
        rule.applies_to = applies_to;
        if !template.text.is_empty() {
            rule.text = template.text.to_string();
        }
        rule.hysteresis = template.hysteresis;
        rule.delay = template.delay;
        rule.validate()?;
        Ok(rule)
    }
}

/// The template's condition, checking that it carries only the fields its kind takes.
fn condition(id: &str, t: &Template<'_>) -> Result<Condition, Error> {
    let kind = t.kind;
    let none = |field: &str, given: Option<f64>| match given {
        Some(v) => Err(Error::rule(
            id,
            field,
            format!("{kind} alarms take no {field}, found {v}"),
        )),
        None => Ok(()),
    };
    let threshold = || {
        t.threshold.ok_or_else(|| {
            Error::rule(
                id,
                "threshold",
                format!("{kind} alarms need threshold, found none"),
            )
        })
    };
    if t.on_false && kind != "binary" {
        return Err(Error::rule(
            id,
            "on_false",
            format!("{kind} alarms take no on_false (binary alarms only), found true"),
        ));
    }
    match kind {
        "high" => Ok(Condition::High {
            threshold: threshold()?,
            pre_alarm: t.pre_alarm,
        }),
        "low" => Ok(Condition::Low {
            threshold: threshold()?,
            pre_alarm: t.pre_alarm,
        }),
        "binary" | "controller" => {
            none("threshold", t.threshold)?;
            none("pre_alarm", t.pre_alarm)?;
            Ok(if kind == "binary" {
                Condition::Binary {
                    raise_on: !t.on_false,
                }
            } else {
                Condition::Controller
            })
        }
        other => Err(Error::rule(
            id,
            "kind",
            format!("expected one of high, low, binary, controller, found {other:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(kind: &str) -> Template<'_> {
        Template {
            kind,
            text: "",
            priority: "minor",
            threshold: None,
            pre_alarm: None,
            hysteresis: 0.0,
            delay: Duration::ZERO,
            on_false: false,
        }
    }

    fn points() -> AppliesTo {
        AppliesTo::Points(vec!["dev/x".into()])
    }

    #[test]
    fn each_kind_maps_to_its_condition() {
        let low = Template {
            threshold: Some(207.0),
            pre_alarm: Some(218.5),
            hysteresis: 2.0,
            delay: Duration::from_secs(60),
            text: "Undervoltage",
            priority: "critical",
            ..template("low")
        };
        let r = Rule::from_template("u", points(), &low).unwrap();
        assert_eq!(
            r.kind,
            Condition::Low {
                threshold: 207.0,
                pre_alarm: Some(218.5)
            }
        );
        assert_eq!(r.text, "Undervoltage");
        assert_eq!(r.priority, Priority::Critical);
        assert_eq!(r.delay, Duration::from_secs(60));
        assert_eq!(r.hysteresis, 2.0);
        assert_eq!(r.applies_to, points());
        assert!(r.enabled);

        let on_false = Template {
            on_false: true,
            ..template("binary")
        };
        let r = Rule::from_template("b", points(), &on_false).unwrap();
        assert_eq!(r.kind, Condition::Binary { raise_on: false });
        assert_eq!(r.text, "b");
        let r = Rule::from_template("b", points(), &template("binary")).unwrap();
        assert_eq!(r.kind, Condition::Binary { raise_on: true });
        let r = Rule::from_template("c", points(), &template("controller")).unwrap();
        assert_eq!(r.kind, Condition::Controller);
    }

    #[test]
    fn wrong_fields_name_the_rule_and_field() {
        let msg = |t: &Template<'_>| {
            Rule::from_template("r", points(), t)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            msg(&template("high")),
            "rule \"r\": threshold: high alarms need threshold, found none"
        );
        assert_eq!(
            msg(&template("band")),
            "rule \"r\": kind: expected one of high, low, binary, controller, found \"band\""
        );
        assert_eq!(
            msg(&Template {
                priority: "urgent",
                ..template("binary")
            }),
            "rule \"r\": priority: expected one of critical, major, minor, warning, found \"urgent\""
        );
        assert_eq!(
            msg(&Template {
                on_false: true,
                threshold: Some(1.0),
                ..template("high")
            }),
            "rule \"r\": on_false: high alarms take no on_false (binary alarms only), found true"
        );
        assert_eq!(
            msg(&Template {
                pre_alarm: Some(1.0),
                ..template("controller")
            }),
            "rule \"r\": pre_alarm: controller alarms take no pre_alarm, found 1"
        );
        // The rule's own validation runs too.
        assert_eq!(
            msg(&Template {
                threshold: Some(10.0),
                pre_alarm: Some(12.0),
                ..template("high")
            }),
            "rule \"r\": pre_alarm: expected a pre-alarm below the high threshold 10, found 12"
        );
        assert_eq!(
            msg(&Template {
                hysteresis: 1.0,
                ..template("binary")
            }),
            "rule \"r\": hysteresis: binary alarms take no hysteresis, found 1"
        );
    }
}
