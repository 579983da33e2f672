//! A built-in product's proposed alarms become `alarms` rules in one call per template, and
//! the rules raise when the value crosses the template's threshold for the template's delay
//! and clear when it comes back past the hysteresis.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use alarms::{AlarmSample, Condition, Engine, PointInfo, Priority, RuleSet, SampleValue};
use chrono::{DateTime, Duration, TimeZone, Utc};
use examples::alarm_templates::{rule_for, rules_for_device};
use modbus_devices::Catalogue;
use modbus_devices::catalogue::AlarmKind;

fn at(s: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 8, 0, 0, 0).unwrap() + Duration::seconds(s)
}

#[test]
fn every_template_of_a_product_becomes_a_rule_field_by_field() {
    let catalogue = Catalogue::builtin().unwrap();
    let product = catalogue.require("ECR380D").unwrap();
    assert!(product.alarms.len() >= 4, "{:?}", product.alarms);
    let rules = rules_for_device(product, "main").unwrap();
    assert_eq!(rules.len(), product.alarms.len());
    for (t, r) in product.alarms.iter().zip(&rules) {
        assert_eq!(r.id, format!("main/{}", t.id));
        assert_eq!(
            r.applies_to,
            alarms::AppliesTo::Points(vec![format!("main/{}", t.service)])
        );
        assert_eq!(r.text, t.text);
        assert_eq!(r.hysteresis, t.hysteresis);
        assert_eq!(r.delay, std::time::Duration::from_secs(t.delay_s.into()));
        assert_eq!(
            r.priority.as_str(),
            serde_json::to_value(t.priority).unwrap()
        );
        let threshold = t.threshold.unwrap();
        let expected = match t.kind {
            AlarmKind::High => Condition::High {
                threshold,
                pre_alarm: t.pre_alarm,
            },
            AlarmKind::Low => Condition::Low {
                threshold,
                pre_alarm: t.pre_alarm,
            },
            AlarmKind::Binary => unreachable!("ECR380D proposes threshold alarms"),
        };
        assert_eq!(r.kind, expected, "{}", t.id);
    }
    // The rules go into a rule set as they are.
    let mut set = RuleSet::new();
    for r in rules {
        set.add(r).unwrap();
    }
    assert_eq!(set.rules().len(), product.alarms.len());
    // The words travel: a binary template raising on false.
    let mut binary = product.alarms[0].clone();
    binary.kind = AlarmKind::Binary;
    binary.threshold = None;
    binary.pre_alarm = None;
    binary.hysteresis = 0.0;
    binary.on_false = true;
    let r = rule_for("main", &binary).unwrap();
    assert_eq!(r.kind, Condition::Binary { raise_on: false });
    assert_eq!(r.priority, Priority::Major);
}

#[test]
fn each_rule_raises_on_its_crossing_after_its_delay_and_clears() {
    let catalogue = Catalogue::builtin().unwrap();
    for reference in ["ECR380D", "ECR180D"] {
        let product = catalogue.require(reference).unwrap();
        assert!(!product.alarms.is_empty(), "{reference} proposes alarms");
        for template in &product.alarms {
            // One rule, made in one call.
            let rule = rule_for("dev", template).unwrap();
            let point = format!("dev/{}", template.service);
            let mut set = RuleSet::new();
            set.add(rule).unwrap();
            let mut engine = Engine::new(&set, &[PointInfo::named(&point)]).unwrap();
            let p = engine.point_id(&point).unwrap();

            // Normal, then past the pre-alarm, then past the threshold, held for the delay,
            // then back to normal (no clear delay: it clears at once).
            let threshold = template.threshold.unwrap();
            let pre = template.pre_alarm.unwrap();
            let normal = pre - (threshold - pre);
            let warning = (pre + threshold) / 2.0;
            let alarm = threshold + (threshold - pre) / 2.0;
            let delay = i64::from(template.delay_s);
            assert!(delay > 0, "{}", template.id);
            let mut out = Vec::new();
            for (s, v) in [(0, normal), (100, warning), (200, alarm)] {
                engine.process_one(AlarmSample::new(p, at(s), SampleValue::Number(v)), &mut out);
            }
            engine.tick(at(200 + delay - 1), &mut out);
            let before_delay: Vec<_> = out.iter().map(|t| t.kind().as_str()).collect();
            engine.tick(at(200 + delay), &mut out);
            engine.process_one(
                AlarmSample::new(p, at(1000), SampleValue::Number(normal)),
                &mut out,
            );
            engine.tick(at(1000 + delay), &mut out);
            let seen: Vec<(i64, &str)> = out
                .iter()
                .map(|t| ((t.time() - at(0)).num_seconds(), t.kind().as_str()))
                .collect();
            assert!(
                !before_delay.contains(&"raised"),
                "{}: {seen:?}",
                template.id
            );
            assert_eq!(
                seen,
                vec![
                    (100 + delay, "pre_alarm"),
                    (200 + delay, "raised"),
                    (1000, "cleared"),
                    (1000, "pre_alarm_cleared"),
                ],
                "{reference} {}",
                template.id
            );
        }
    }
}
