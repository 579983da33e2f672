//! Loading rules from TOML: the accepted forms and the validation errors, each naming the
//! file, line, rule and field.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use alarms::{AppliesTo, Condition, Direction, Error, Priority, RuleSet};

fn err(text: &str) -> String {
    RuleSet::from_toml("rules.toml", text)
        .map(|_| ())
        .unwrap_err()
        .to_string()
}

const MINIMAL: &str = r#"
[[rule]]
id = "supply-high"
points = ["substation-1/flow_temperature"]
kind = "high"          # high | low | band | binary | offline | rate
threshold = 90.0
pre_alarm = 85.0       # optional
hysteresis = 2.0
delay = "5m"           # activation delay; humantime form
priority = "major"     # critical | major | minor | warning
"#;

#[test]
fn the_contract_form_is_accepted() {
    let set = RuleSet::from_toml("rules.toml", MINIMAL).unwrap();
    let r = set.get("supply-high").unwrap();
    assert_eq!(
        r.kind,
        Condition::High {
            threshold: 90.0,
            pre_alarm: Some(85.0)
        }
    );
    assert_eq!(r.hysteresis, 2.0);
    assert_eq!(r.delay, std::time::Duration::from_secs(300));
    assert_eq!(r.priority, Priority::Major);
    assert_eq!(r.text, "supply-high");
    assert!(r.enabled);
    assert_eq!(
        r.applies_to,
        AppliesTo::Points(vec!["substation-1/flow_temperature".into()])
    );
}

#[test]
fn every_kind_and_option_loads() {
    let text = r#"
[digest]
hour = 6
time_zone = "Europe/Copenhagen"

[[recipient]]
name = "ops"
address = "ops@example.invalid"
[[recipient]]
name = "boss"
immediate = false
digest_hour = 9

[[rule]]
id = "band"
text = "Room temperature out of band"
description = "Comfort band"
select = { device = "room-*", service = "temperature" }
kind = "band"
low = 18.0
high = 26.0
low_pre_alarm = 19.0
high_pre_alarm = 25.0
hysteresis = 0.5
delay = "10m"
clear_delay = "1m"
notification_delay = "15m"
priority = "minor"
recipients = ["ops", "boss"]
[rule.schedule]
time_zone = "Europe/Copenhagen"
windows = [{ days = ["weekdays"], from = "07:00", to = "18:00" }, { days = ["sat"], from = "09:00", to = "12:00" }]
holidays = ["2024-12-24", "2024-12-25"]

[[rule]]
id = "door"
points = ["door/open"]
kind = "binary"
raise_on = false
priority = "warning"
enabled = false

[[rule]]
id = "offline"
select = { tag = "dh" }
kind = "offline"
timeout = "15m"
priority = "critical"

[[rule]]
id = "ecl-alarm"
points = ["ecl-1/alarm_code"]
kind = "controller"
priority = "major"

[[rule]]
id = "surge"
points = ["meter/power"]
kind = "rate"
threshold = 50.0
per = "1m"
direction = "up"
priority = "minor"

[[rule]]
id = "site"
kind = "group"
children = ["band", "ecl-alarm"]
priority = "critical"
"#;
    let set = RuleSet::from_toml("rules.toml", text).unwrap();
    assert_eq!(set.rules().len(), 6);
    assert_eq!(set.digest().hour, 6);
    assert_eq!(set.recipients().len(), 2);
    assert!(!set.recipients()[1].immediate);
    assert_eq!(set.parent_of("band"), Some("site"));
    assert_eq!(
        set.children_of("site"),
        ["band".to_string(), "ecl-alarm".to_string()]
    );
    assert!(!set.get("door").unwrap().enabled);
    assert!(matches!(
        set.get("surge").unwrap().kind,
        Condition::Rate {
            direction: Direction::Up,
            ..
        }
    ));
    assert!(set.get("band").unwrap().schedule.is_some());
}

#[test]
fn negative_hysteresis_names_rule_field_and_line() {
    let e = err(&MINIMAL.replace("hysteresis = 2.0", "hysteresis = -2.0"));
    assert_eq!(
        e,
        "rules.toml:8:1: rule[0].hysteresis: rule \"supply-high\": expected a hysteresis >= 0, found -2"
    );
}

#[test]
fn pre_alarm_on_the_wrong_side() {
    let e = err(&MINIMAL.replace("pre_alarm = 85.0", "pre_alarm = 95.0"));
    assert!(
        e.contains("rule[0].pre_alarm") && e.contains("\"supply-high\""),
        "{e}"
    );
    assert!(
        e.contains("expected a pre-alarm below the high threshold 90, found 95"),
        "{e}"
    );
    let low = MINIMAL.replace("kind = \"high\"", "kind = \"low\"");
    let e = err(&low);
    assert!(
        e.contains("expected a pre-alarm above the low threshold 90, found 85"),
        "{e}"
    );
}

#[test]
fn low_above_high_in_a_band() {
    let text = "[[rule]]\nid = \"b\"\npoints = [\"d/x\"]\nkind = \"band\"\nlow = 30.0\nhigh = 20.0\npriority = \"minor\"\n";
    let e = err(text);
    assert_eq!(
        e,
        "rules.toml:5:1: rule[0].low: rule \"b\": expected low below high (20), found low = 30"
    );
    let squeezed = text
        .replace("low = 30.0", "low = 19.0")
        .replace("priority", "hysteresis = 1.0\npriority");
    let e = err(&squeezed);
    assert!(
        e.contains("rule[0].hysteresis") && e.contains("so the alarm can clear"),
        "{e}"
    );
}

#[test]
fn unknown_priority() {
    let e = err(&MINIMAL.replace("\"major\"", "\"urgent\""));
    assert_eq!(
        e,
        "rules.toml:10:1: rule[0].priority: rule \"supply-high\": expected one of critical, major, minor, warning, found \"urgent\""
    );
}

#[test]
fn unknown_time_zone() {
    let text = format!(
        "{MINIMAL}[rule.schedule]\ntime_zone = \"Europe/Atlantis\"\nwindows = [{{ from = \"07:00\", to = \"17:00\" }}]\n"
    );
    let e = err(&text);
    assert!(e.contains("rule[0].schedule.time_zone"), "{e}");
    assert!(e.contains("found \"Europe/Atlantis\""), "{e}");
    assert!(e.starts_with("rules.toml:12:1:"), "{e}");
}

#[test]
fn window_ending_before_it_starts() {
    let text = format!(
        "{MINIMAL}[rule.schedule]\ntime_zone = \"UTC\"\nwindows = [{{ from = \"22:00\", to = \"06:00\" }}]\n"
    );
    let e = err(&text);
    assert!(e.contains("rule[0].schedule.windows[0]"), "{e}");
    assert!(
        e.contains("the window ends before it starts: from \"22:00\" to \"06:00\""),
        "{e}"
    );
}

#[test]
fn other_mistakes_are_named() {
    // Unknown field (deny_unknown_fields) with its position.
    let e = err(&MINIMAL.replace("hysteresis = 2.0", "hysteresys = 2.0"));
    assert!(
        e.starts_with("rules.toml:8:") && e.contains("rule[0]") && e.contains("hysteresys"),
        "{e}"
    );
    // A field that does not apply to the kind.
    let e = err(&MINIMAL.replace("kind = \"high\"", "kind = \"binary\""));
    assert!(e.contains("binary alarms take no threshold"), "{e}");
    // Unknown kind, bad duration, missing points, duplicate id.
    assert!(err(&MINIMAL.replace("\"high\"", "\"higher\"")).contains("found \"higher\""));
    assert!(err(&MINIMAL.replace("\"5m\"", "\"5 parsecs\"")).contains("rule[0].delay"));
    assert!(
        err(&MINIMAL.replace("points = [\"substation-1/flow_temperature\"]", ""))
            .contains("expected points or select")
    );
    let twice = format!("{MINIMAL}{MINIMAL}");
    let e = err(&twice);
    assert!(
        e.contains("rule[1].id") && e.contains("expected a unique id"),
        "{e}"
    );
    // Offline needs a timeout; rate needs per.
    assert!(
        err("[[rule]]\nid=\"o\"\npoints=[\"d/x\"]\nkind=\"offline\"\npriority=\"major\"\n")
            .contains("need a timeout")
    );
    assert!(err("[[rule]]\nid=\"r\"\npoints=[\"d/x\"]\nkind=\"rate\"\nthreshold=1.0\npriority=\"major\"\n").contains("need per"));
    // Unknown recipient.
    let e = err(&MINIMAL.replace(
        "priority = \"major\"",
        "priority = \"major\"\nrecipients = [\"nobody\"]",
    ));
    assert!(
        e.contains("rule[0].recipients") && e.contains("found \"nobody\""),
        "{e}"
    );
    // Not TOML at all.
    assert!(err("[[rule]\n").starts_with("rules.toml:1:"));
}

#[test]
fn hierarchy_errors_in_the_file() {
    let base = "[[rule]]\nid = \"a\"\nkind = \"group\"\npriority = \"major\"\nchildren = [\"c\"]\n\
                [[rule]]\nid = \"b\"\nkind = \"group\"\npriority = \"major\"\nchildren = [\"c\"]\n\
                [[rule]]\nid = \"c\"\npoints = [\"d/x\"]\nkind = \"controller\"\npriority = \"minor\"\n";
    let e = err(base);
    assert!(e.contains("rule[1].children"), "{e}");
    assert!(
        e.contains("alarm \"c\" already has a hierarchical parent (\"a\"), only one is allowed"),
        "{e}"
    );
    let cyc = "[[rule]]\nid = \"a\"\nkind = \"group\"\npriority = \"major\"\nchildren = [\"b\"]\n\
               [[rule]]\nid = \"b\"\nkind = \"group\"\npriority = \"major\"\nchildren = [\"a\"]\n";
    let e = err(cyc);
    assert!(e.contains("would make a cycle (a -> b -> a)"), "{e}");
}

#[test]
fn programmatic_rules_are_validated_too() {
    use alarms::Rule;
    let mut r = Rule::new(
        "x",
        Condition::High {
            threshold: 1.0,
            pre_alarm: None,
        },
        Priority::Minor,
        &["d/x"],
    );
    r.hysteresis = -1.0;
    let e = RuleSet::new().add(r).unwrap_err();
    assert!(
        matches!(e, Error::InvalidRule { ref rule, ref field, .. } if rule == "x" && field == "hysteresis")
    );
}

#[test]
fn a_bad_field_after_multibyte_characters_is_located_in_characters() {
    // "Zürich" and "°C" are multi-byte in UTF-8: the column counts characters.
    let text = "[[rule]]\nid = \"r\"\npoints = [\"dev/x\"]\nkind = \"high\"\npriority = \"major\"\n\
                threshold = 90.0\n\
                schedule = { time_zone = \"Europe/Zürich\", windows = [{ days = [\"mon\"], from = \"07:00 °C\", to = 17 }] }\n";
    let line = text.lines().nth(6).unwrap();
    let column = line[..line.find("17").unwrap()].chars().count() + 1;
    assert_eq!(column, 96);
    let e = RuleSet::from_toml("rules.toml", text).unwrap_err();
    let Error::InvalidFile {
        file,
        line,
        column,
        field,
        ..
    } = &e
    else {
        panic!("{e:?}");
    };
    assert_eq!((file.to_str(), *line, *column), (Some("rules.toml"), 7, 96));
    assert_eq!(field, "rule[0].schedule.windows[0].to");
    assert_eq!(
        e.to_string(),
        "rules.toml:7:96: rule[0].schedule.windows[0].to: invalid type: integer `17`, expected a string"
    );
}
