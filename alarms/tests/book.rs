//! Occurrences, acknowledgement, hierarchy, the event log, the JSON-lines sink and replay.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alarms::{
    AckState, Action, AlarmEvent, AlarmKind, AlarmSample, Book, Condition, Engine, Error,
    EventType, JsonLinesSink, LogQuery, MemorySink, Origin, PointInfo, Priority, Rule, RuleSet,
    SampleValue, Status, SystemTexts, TransitionKind,
};
use common::at;

fn rules() -> RuleSet {
    RuleSet::from_toml(
        "r.toml",
        r#"
[[rule]]
id = "building"
kind = "group"
priority = "critical"
children = ["heating", "pump-fault"]

[[rule]]
id = "heating"
kind = "group"
priority = "major"
children = ["supply-high", "supply-low"]

[[rule]]
id = "supply-high"
text = "Supply temperature high"
select = { service = "flow" }
kind = "high"
threshold = 90.0
pre_alarm = 85.0
priority = "major"

[[rule]]
id = "supply-low"
select = { service = "flow" }
kind = "low"
threshold = 40.0
priority = "minor"

[[rule]]
id = "pump-fault"
points = ["pump/fault"]
kind = "binary"
priority = "critical"

[[rule]]
id = "loose"
points = ["x/y"]
kind = "controller"
priority = "warning"
"#,
    )
    .unwrap()
}

fn ev(s: i64, alarm: &str, target: &str, kind: TransitionKind) -> AlarmEvent {
    AlarmEvent {
        time: at(s),
        alarm: alarm.into(),
        target: target.into(),
        kind,
        value: Some(1.0),
    }
}

#[test]
fn hierarchy_rules_and_their_messages() {
    let mut set = rules();
    let e = set.add_child("heating", "pump-fault").unwrap_err();
    assert_eq!(
        e.to_string(),
        "alarm \"pump-fault\" already has a hierarchical parent (\"building\"), only one is allowed"
    );
    let e = set.add_child("heating", "building").unwrap_err();
    assert_eq!(
        e.to_string(),
        "alarm \"building\" cannot be placed under \"heating\": that would make a cycle (building -> heating -> building)"
    );
    set.add(Rule::new("zone", Condition::Group, Priority::Minor, &[]))
        .unwrap();
    assert!(matches!(
        set.add_child("zone", "zone"),
        Err(Error::Cycle { .. })
    ));
    let e = set.add_child("loose", "zone").unwrap_err();
    assert_eq!(
        e.to_string(),
        "alarm \"loose\" is not a group alarm (kind = \"group\"), it cannot have children"
    );
    let e = set.remove("supply-high").unwrap_err();
    assert_eq!(
        e.to_string(),
        "alarm \"supply-high\" is part of a hierarchy (child of \"heating\"); remove it from the hierarchy first"
    );
    let e = set.remove("heating").unwrap_err();
    assert!(e.to_string().contains("child of \"building\""), "{e}");
    set.remove_child("heating").unwrap();
    let e = set.remove("heating").unwrap_err();
    assert_eq!(
        e.to_string(),
        "alarm \"heating\" is part of a hierarchy (parent of \"supply-high\", \"supply-low\"); remove it from the hierarchy first"
    );
    assert!(set.remove("loose").is_ok());
    assert!(matches!(set.remove_child("loose"), Err(Error::NoParent(_))));
    assert!(matches!(
        set.add_child("nope", "zone"),
        Err(Error::UnknownAlarm(_))
    ));
}

#[test]
fn a_group_is_active_while_any_child_is_active() {
    let set = rules();
    let mut book = Book::new(&set, 1000);
    let mut entries = Vec::new();
    entries.extend(
        book.apply(&ev(0, "supply-high", "s1/flow", TransitionKind::PreAlarm))
            .unwrap(),
    );
    assert!(
        book.current("heating", "").is_none(),
        "a pre-alarm does not activate the group"
    );
    entries.extend(
        book.apply(&ev(10, "supply-high", "s1/flow", TransitionKind::Raised))
            .unwrap(),
    );
    entries.extend(
        book.apply(&ev(20, "supply-low", "s2/flow", TransitionKind::Raised))
            .unwrap(),
    );
    entries.extend(
        book.apply(&ev(30, "supply-high", "s1/flow", TransitionKind::Cleared))
            .unwrap(),
    );
    let heating = book.current("heating", "").unwrap().clone();
    let building = book.current("building", "").unwrap().clone();
    assert_eq!(
        (heating.priority, heating.origin, heating.kind),
        (Priority::Major, Origin::Hierarchical, AlarmKind::Group)
    );
    assert_eq!(
        building.priority,
        Priority::Critical,
        "a group's priority is its own"
    );
    assert_eq!(heating.status(), Status::Active);
    // Drill-down: what keeps heating active now.
    let causes: Vec<(&str, &str)> = book
        .causing_children(heating.id)
        .iter()
        .map(|o| (o.alarm.as_str(), o.target.as_str()))
        .collect();
    assert_eq!(causes, [("supply-low", "s2/flow")]);
    let causes: Vec<&str> = book
        .causing_children(building.id)
        .iter()
        .map(|o| o.alarm.as_str())
        .collect();
    assert_eq!(causes, ["heating"]);
    entries.extend(
        book.apply(&ev(40, "supply-low", "s2/flow", TransitionKind::Cleared))
            .unwrap(),
    );
    assert!(book.current("heating", "").is_none());
    assert!(book.current("building", "").is_none());
    let groups: Vec<(i64, &str, Action)> = entries
        .iter()
        .filter(|e| e.kind == AlarmKind::Group)
        .map(|e| {
            (
                (e.time - at(0)).num_seconds(),
                e.alarm.as_deref().unwrap(),
                e.action,
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            (10, "heating", Action::Raised),
            (10, "building", Action::Raised),
            (40, "heating", Action::Cleared),
            (40, "building", Action::Cleared)
        ]
    );
}

#[test]
fn a_parent_cannot_be_acknowledged_before_its_active_children() {
    let set = rules();
    let mut book = Book::new(&set, 1000);
    book.apply(&ev(0, "supply-high", "s1/flow", TransitionKind::Raised))
        .unwrap();
    book.apply(&ev(5, "pump-fault", "pump/fault", TransitionKind::Raised))
        .unwrap();
    let heating = book.current("heating", "").unwrap().id;
    let building = book.current("building", "").unwrap().id;
    let child = book.current("supply-high", "s1/flow").unwrap().id;
    let pump = book.current("pump-fault", "pump/fault").unwrap().id;
    let e = book
        .acknowledge(building, "ann", "seen", at(10))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "occurrence {building} (\"building\") cannot be acknowledged before its active children: #{heating} \"heating\", #{pump} \"pump-fault\" on \"pump/fault\""
        )
    );
    assert!(matches!(
        book.acknowledge(heating, "ann", "seen", at(10)),
        Err(Error::ChildrenNotAcknowledged { .. })
    ));
    book.acknowledge(child, "ann", "valve stuck", at(11))
        .unwrap();
    book.acknowledge(heating, "ann", "valve stuck", at(12))
        .unwrap();
    book.acknowledge(pump, "bob", "pump replaced", at(13))
        .unwrap();
    book.acknowledge(building, "bob", "all handled", at(14))
        .unwrap();
    assert_eq!(
        book.occurrence(building).unwrap().state,
        AckState::Acknowledged
    );
}

#[test]
fn acknowledgement_rules() {
    let set = rules();
    let mut book = Book::new(&set, 1000);
    book.apply(&ev(0, "loose", "x/y", TransitionKind::Raised))
        .unwrap();
    let id = book.current("loose", "x/y").unwrap().id;
    assert_eq!(book.occurrence(id).unwrap().state, AckState::New);
    // User and comment are required.
    assert_eq!(
        book.acknowledge(id, "ann", " ", at(1))
            .unwrap_err()
            .to_string(),
        format!("occurrence {id}: comment is required, found an empty string")
    );
    assert_eq!(
        book.acknowledge(id, "", "ok", at(1))
            .unwrap_err()
            .to_string(),
        format!("occurrence {id}: user is required, found an empty string")
    );
    // new -> read -> acknowledged, recorded with user, comment and time.
    assert_eq!(book.read(id, "ann", at(2)).unwrap().len(), 1);
    assert!(
        book.read(id, "bob", at(3)).unwrap().is_empty(),
        "reading twice changes nothing"
    );
    assert_eq!(book.occurrence(id).unwrap().state, AckState::Read);
    let entries = book
        .acknowledge(id, "ann", "reset the controller", at(4))
        .unwrap();
    assert_eq!(entries.len(), 1, "still active: not closed");
    let ack = book
        .occurrence(id)
        .unwrap()
        .acknowledgement
        .clone()
        .unwrap();
    assert_eq!(
        (ack.user.as_str(), ack.comment.as_str(), ack.time),
        ("ann", "reset the controller", at(4))
    );
    assert!(matches!(
        book.acknowledge(id, "ann", "again", at(5)),
        Err(Error::AlreadyAcknowledged(_))
    ));
    // Clearing an acknowledged occurrence closes it.
    let entries = book
        .apply(&ev(6, "loose", "x/y", TransitionKind::Cleared))
        .unwrap();
    assert_eq!(
        entries.iter().map(|e| e.action).collect::<Vec<_>>(),
        [Action::Cleared, Action::Closed]
    );
    assert!(book.occurrence(id).is_none());
    // Acknowledging an already cleared occurrence closes it.
    book.apply(&ev(7, "loose", "x/y", TransitionKind::Raised))
        .unwrap();
    let id2 = book.current("loose", "x/y").unwrap().id;
    assert!(id2 > id);
    book.apply(&ev(8, "loose", "x/y", TransitionKind::Cleared))
        .unwrap();
    assert_eq!(
        book.occurrence(id2).unwrap().status(),
        Status::Cleared,
        "cleared stays open until acknowledged"
    );
    let entries = book.acknowledge(id2, "bob", "transient", at(9)).unwrap();
    assert_eq!(
        entries.iter().map(|e| e.action).collect::<Vec<_>>(),
        [Action::Acknowledged, Action::Closed]
    );
    assert_eq!(book.open().count(), 0);
    assert!(matches!(
        book.acknowledge(id2, "bob", "x", at(10)),
        Err(Error::UnknownOccurrence(_))
    ));
    // A pre-alarm that never reached the alarm is a warning; raising lifts it to the rule's priority.
    book.apply(&ev(20, "supply-high", "s9/flow", TransitionKind::PreAlarm))
        .unwrap();
    assert_eq!(
        book.current("supply-high", "s9/flow").unwrap().priority,
        Priority::Warning
    );
    assert_eq!(
        book.current("supply-high", "s9/flow").unwrap().status(),
        Status::PreAlarm
    );
    book.apply(&ev(21, "supply-high", "s9/flow", TransitionKind::Raised))
        .unwrap();
    assert_eq!(
        book.current("supply-high", "s9/flow").unwrap().priority,
        Priority::Major
    );
}

#[test]
fn messages_need_no_acknowledgement_and_the_log_filters() {
    let set = rules();
    let texts = SystemTexts::builtin().unwrap();
    let mut book = Book::new(&set, 1000);
    book.apply(&ev(0, "supply-high", "s1/flow", TransitionKind::PreAlarm))
        .unwrap();
    book.apply(&ev(60, "supply-high", "s1/flow", TransitionKind::Raised))
        .unwrap();
    let m = book
        .message(
            at(90),
            &texts.event("comm_timeout", &["ECR380D", "12"]).unwrap(),
        )
        .unwrap();
    assert_eq!(
        (m.action, m.event_type, m.kind, m.occurrence),
        (Action::Message, EventType::Error, AlarmKind::System, None)
    );
    book.message(at(95), &texts.event("user_login", &["ann"]).unwrap())
        .unwrap();
    let id = book.current("supply-high", "s1/flow").unwrap().id;
    book.read(id, "ann", at(100)).unwrap();
    book.apply(&ev(200, "supply-high", "s1/flow", TransitionKind::Cleared))
        .unwrap();
    book.apply(&ev(300, "pump-fault", "pump/fault", TransitionKind::Raised))
        .unwrap();

    let log = book.log();
    let count = |q: LogQuery| log.query(&q).count();
    assert_eq!(log.len(), 12, "{:#?}", log.entries().collect::<Vec<_>>());
    assert_eq!(
        count(LogQuery {
            from: Some(at(60)),
            to: Some(at(200)),
            ..Default::default()
        }),
        6
    );
    assert_eq!(
        count(LogQuery {
            event_type: Some(EventType::Information),
            ..Default::default()
        }),
        1
    );
    assert_eq!(
        count(LogQuery {
            event_type: Some(EventType::Warning),
            ..Default::default()
        }),
        1,
        "the pre-alarm"
    );
    assert_eq!(
        count(LogQuery {
            state: Some(AckState::Read),
            ..Default::default()
        }),
        2,
        "read, then cleared while read"
    );
    assert_eq!(
        count(LogQuery {
            origin: Some(Origin::Hierarchical),
            ..Default::default()
        }),
        5
    );
    assert_eq!(
        count(LogQuery {
            origin: Some(Origin::Internal),
            ..Default::default()
        }),
        2
    );
    assert_eq!(
        count(LogQuery {
            kind: Some(AlarmKind::Binary),
            ..Default::default()
        }),
        1
    );
    assert_eq!(
        count(LogQuery {
            status: Some(Status::PreAlarm),
            ..Default::default()
        }),
        2,
        "pre-alarm, then cleared to pre-alarm"
    );
    assert_eq!(
        count(LogQuery {
            status: Some(Status::Active),
            alarm: Some("supply-high".into()),
            ..Default::default()
        }),
        2
    );
    assert_eq!(
        book.open().filter(|o| o.kind != AlarmKind::Group).count(),
        2
    );
}

#[test]
fn the_log_is_bounded_in_memory_but_not_in_the_sink() {
    let set = rules();
    let mut book = Book::new(&set, 3).with_sink(Box::new(MemorySink::default()));
    for i in 0..5 {
        book.apply(&ev(i * 10, "loose", "x/y", TransitionKind::Raised))
            .unwrap();
        book.apply(&ev(i * 10 + 5, "loose", "x/y", TransitionKind::Cleared))
            .unwrap();
    }
    assert_eq!(book.log().len(), 3);
    assert_eq!(book.log().dropped(), 7);
    assert_eq!(book.log().entries().next().unwrap().seq, 8);
}

#[test]
fn json_lines_sink_and_replay_restore_the_open_occurrences() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let set = rules();
    let points = [PointInfo::named("s1/flow"), PointInfo::named("s2/flow")];
    let mut engine = Engine::new(&set, &points).unwrap();
    let mut book = Book::new(&set, 100).with_sink(Box::new(JsonLinesSink::open(&path).unwrap()));
    let s1 = engine.point_id("s1/flow").unwrap();
    let s2 = engine.point_id("s2/flow").unwrap();
    let mut out = Vec::new();
    engine.process(
        &[
            AlarmSample::new(s1, at(0), SampleValue::Number(95.0)),
            AlarmSample::new(s2, at(0), SampleValue::Number(30.0)),
        ],
        &mut out,
    );
    book.apply_transitions(&engine, &out).unwrap();
    let low = book.current("supply-low", "s2/flow").unwrap().id;
    let high = book.current("supply-high", "s1/flow").unwrap().id;
    book.read(high, "ann", at(5)).unwrap();
    out.clear();
    engine.process_one(
        AlarmSample::new(s2, at(10), SampleValue::Number(60.0)),
        &mut out,
    );
    book.apply_transitions(&engine, &out).unwrap();
    book.acknowledge(low, "ann", "ok now", at(20)).unwrap();
    book.message(
        at(30),
        &SystemTexts::builtin()
            .unwrap()
            .event("sd_card_low", &["4"])
            .unwrap(),
    )
    .unwrap();
    let before: Vec<_> = book.open().cloned().collect();
    let log_before: Vec<_> = book.log().entries().cloned().collect();
    drop(book);

    // Restart: replay the file.
    let mut book = Book::replay_file(&set, &path, 100).unwrap();
    let after: Vec<_> = book.open().cloned().collect();
    assert_eq!(before, after);
    assert!(
        book.occurrence(low).is_none(),
        "cleared and acknowledged: closed"
    );
    assert_eq!(book.occurrence(high).unwrap().state, AckState::Read);
    assert_eq!(
        log_before,
        book.log().entries().cloned().collect::<Vec<_>>()
    );
    // The engine restarts idle; restoring keeps the still-active condition from raising twice.
    let mut engine = Engine::new(&set, &points).unwrap();
    book.restore_engine(&mut engine);
    let mut out = Vec::new();
    engine.process_one(
        AlarmSample::new(s1, at(100), SampleValue::Number(96.0)),
        &mut out,
    );
    assert!(out.is_empty(), "{out:?}");
    engine.process_one(
        AlarmSample::new(s1, at(110), SampleValue::Number(70.0)),
        &mut out,
    );
    let entries = book.apply_transitions(&engine, &out).unwrap();
    let mine: Vec<Action> = entries
        .iter()
        .filter(|e| e.occurrence == Some(high))
        .map(|e| e.action)
        .collect();
    assert_eq!(mine, [Action::Cleared, Action::PreAlarmCleared]);
    assert!(
        entries
            .iter()
            .any(|e| e.alarm.as_deref() == Some("heating") && e.action == Action::Cleared),
        "{entries:#?}"
    );
    // New occurrences continue the numbering; sequence numbers keep increasing.
    let entries = book
        .apply(&ev(200, "loose", "x/y", TransitionKind::Raised))
        .unwrap();
    assert!(entries[0].occurrence.unwrap() > before.iter().map(|o| o.id).max().unwrap());
    assert!(entries[0].seq > log_before.last().unwrap().seq);
    // A damaged file names the line.
    std::fs::write(&path, "{\"seq\": 1}\n").unwrap();
    let e = Book::replay_file(&set, &path, 10).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}:1:", path.display())), "{e}");
}

#[test]
fn a_bad_event_log_line_is_located_in_characters() {
    let set = rules();
    // The second JSON line has multi-byte characters ("ä", "°") before its bad field.
    let log = "\n{\"text\": \"Zählerstand °C\", \"seq\": \"eins\"}\n";
    let line = log.lines().nth(1).unwrap();
    // serde_json reports the fault after the bad value; the column counts characters.
    let end_of_value = line.find("\"eins\"").unwrap() + "\"eins\"".len();
    assert_eq!(line[..end_of_value].chars().count(), 40);
    assert_eq!(line[..end_of_value].len(), 42);
    let e = Book::replay(
        &set,
        std::path::Path::new("events.jsonl"),
        log.as_bytes(),
        10,
    )
    .unwrap_err();
    let Error::InvalidFile {
        line,
        column,
        field,
        ..
    } = &e
    else {
        panic!("{e:?}");
    };
    assert_eq!((*line, *column, field.as_str()), (2, 40, "seq"));
    assert_eq!(
        e.to_string(),
        "events.jsonl:2:40: seq: invalid type: string \"eins\", expected u64"
    );
    // A line that is not JSON at all names no field.
    let e = Book::replay(
        &set,
        std::path::Path::new("events.jsonl"),
        "° x\n".as_bytes(),
        10,
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "events.jsonl:1:1: (line): expected value");
}
