//! Meter profiles on the corpus frames.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mbus_meters::profile::{Channel, ProfileSet};
use mbus_meters::{Error, OwnedFrame};

fn frame(name: &str) -> OwnedFrame {
    let path = format!(
        "{}/tests/corpus/libmbus/test-frames/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    mbus_meters::decode(&mbus_meters::hex::parse_hex(&text).unwrap()).unwrap()
}

fn value(m: &mbus_meters::profile::Mapped, c: Channel) -> (f64, &'static str) {
    let v = m.get(c).unwrap_or_else(|| panic!("{c:?} missing in {m:?}"));
    (v.value, v.unit)
}

#[test]
fn every_builtin_profile_is_backed_by_its_frame() {
    let set = ProfileSet::builtin().unwrap();
    assert!(set.profiles.len() >= 12);
    for p in &set.profiles {
        let file = p
            .source
            .strip_prefix("libmbus test-frames/")
            .expect("source names a corpus frame");
        let f = frame(file);
        let h = f.header.as_ref().unwrap();
        assert_eq!(
            h.manufacturer.as_deref(),
            Some(p.manufacturer.as_str()),
            "{}",
            p.name
        );
        assert_eq!(
            (h.version, h.medium),
            (Some(p.version), Some(p.medium)),
            "{}",
            p.name
        );
        let mapped = set.map(&f);
        assert_eq!(mapped.profile.as_deref(), Some(p.name.as_str()));
        // every claimed channel is in the frame, once, from a distinct record
        let claimed: Vec<Channel> = p.channels.keys().copied().collect();
        let got: Vec<Channel> = mapped.channels.iter().map(|c| c.channel).collect();
        assert_eq!(got, claimed, "{}", p.name);
        let mut records: Vec<usize> = mapped.channels.iter().map(|c| c.record).collect();
        records.sort_unstable();
        records.dedup();
        assert_eq!(records.len(), mapped.channels.len(), "{}", p.name);
        for (c, s) in &p.channels {
            let n = f.records.iter().filter(|r| s.matches(r)).count();
            assert_eq!(n, 1, "{}: {c:?} selects {n} records", p.name);
        }
    }
}

#[test]
fn engelmann_sensostar_channels() {
    let m = ProfileSet::builtin()
        .unwrap()
        .map(&frame("engelmann_sensostar2c.hex"));
    assert_eq!(value(&m, Channel::HeatEnergy), (800_000.0, "Wh"));
    assert_eq!(value(&m, Channel::Volume), (12.9, "m3"));
    assert_eq!(value(&m, Channel::FlowTemperature), (95.0, "degC"));
    assert_eq!(value(&m, Channel::ReturnTemperature), (43.0, "degC"));
    assert_eq!(value(&m, Channel::TemperatureDifference), (52.58, "K"));
    assert_eq!(value(&m, Channel::ErrorFlags), (0.0, ""));
    assert_eq!(value(&m, Channel::FabricationNumber), (10380010.0, ""));
    // 02 27 FA 01: 506 days
    assert_eq!(value(&m, Channel::OperatingHours), (506.0 * 24.0, "h"));
}

#[test]
fn heat_cooling_meters_take_the_positive_accumulation() {
    let set = ProfileSet::builtin().unwrap();
    let m = set.map(&frame("SEN_Pollustat.hex"));
    assert_eq!(value(&m, Channel::HeatEnergy), (39_831_000.0, "Wh"));
    assert_eq!(value(&m, Channel::ErrorFlags).0, 67_108_864.0);
    let m = set.map(&frame("EDC.hex"));
    assert_eq!(value(&m, Channel::HeatEnergy), (35_000.0, "Wh"));
    // subunit 0 is the meter; subunit 1 shows 92 degC on both sensors
    assert!((value(&m, Channel::FlowTemperature).0 - 21.5367).abs() < 1e-3);
}

#[test]
fn error_state_values_are_not_measurements() {
    let set = ProfileSet::builtin().unwrap();
    // CF 55 sends temperatures only as "value during error state" (999.9)
    let m = set.map(&frame("itron_cf_55.hex"));
    assert!(m.get(Channel::FlowTemperature).is_none());
    assert_eq!(value(&m, Channel::FabricationNumber).0, 11_127_667.0);
    assert_eq!(value(&m, Channel::OperatingHours).0, 252.0 * 24.0);
    // the Ultraheat's flow temperature is the instantaneous one, not the maximum (30.7)
    let m = set.map(&frame("landis+gyr_ultraheat_t230.hex"));
    assert_eq!(value(&m, Channel::FlowTemperature), (19.5, "degC"));
    assert_eq!(value(&m, Channel::TemperatureDifference), (-0.2, "K"));
    assert_eq!(value(&m, Channel::FabricationNumber).0, 66_660_205.0);
}

#[test]
fn generic_fallback() {
    let set = ProfileSet::builtin().unwrap();
    // a water meter: no heat energy, volume from the generic mapping
    let m = set.map(&frame("els_falcon.hex"));
    assert_eq!(m.profile, None);
    assert!(m.get(Channel::HeatEnergy).is_none());
    // an electricity meter: energy is not heat
    let m = set.map(&frame("kamstrup_382_005.hex"));
    assert_eq!(m.profile, None);
    assert!(m.get(Channel::HeatEnergy).is_none());
    // a heat meter with a fixed data structure (no manufacturer): generic heat channels
    let f = frame("sen_pollusonic_2.hex");
    let m = set.map(&f);
    assert_eq!(m.profile, None);
    assert_eq!(value(&m, Channel::HeatEnergy), (6_531_000.0, "Wh"));
    assert_eq!(value(&m, Channel::Volume), (0.069, "m3"));
    // the same frame as the Minocal profile maps without it to the first energy record too
    let f = frame("minol_minocal_c2.hex");
    let generic = ProfileSet::default().map(&f);
    let profiled = set.map(&f);
    assert_eq!(generic.profile, None);
    assert_eq!(
        generic.get(Channel::HeatEnergy).unwrap().value,
        profiled.get(Channel::HeatEnergy).unwrap().value
    );
}

#[test]
fn user_files_load_through_the_same_path() {
    let user = r#"
[[profile]]
name = "my Ultraheat"
manufacturer = "LUG"
version = 7
medium = 4
source = "site survey"
channels.operating_hours = { quantity = "on_time", dif_vif = "0C 22" }
"#;
    let mut set = ProfileSet::builtin().unwrap();
    set.extend(ProfileSet::from_toml("site.toml", user).unwrap());
    let m = set.map(&frame("landis+gyr_ultraheat_t230.hex"));
    assert_eq!(m.profile.as_deref(), Some("my Ultraheat"));
    assert_eq!(m.channels.len(), 1);
    assert_eq!(
        value(&m, Channel::OperatingHours),
        (13_568_400.0 / 3600.0, "h")
    );

    let err = ProfileSet::from_toml("bad.toml", &user.replace("source", "sauce")).unwrap_err();
    assert!(matches!(err, Error::InvalidFile { line: 7, .. }), "{err}");
    let msg = err.to_string();
    // the location is `file:line:column:`
    assert!(
        msg.starts_with("bad.toml:7:") && msg.contains("sauce"),
        "{msg}"
    );
    let err = ProfileSet::from_toml("bad.toml", &user.replace("on_time", "ontime")).unwrap_err();
    assert!(err.to_string().contains("\"ontime\""), "{err}");
    let err = ProfileSet::from_toml("bad.toml", &user.replace("LUG", "L1G")).unwrap_err();
    assert!(err.to_string().contains("manufacturer"), "{err}");
    let twice = format!("{user}\n{user}");
    assert!(ProfileSet::from_toml("twice.toml", &twice).is_err());
}

/// The full message of a bad field on a line with multi-byte characters: the column counts
/// characters, the field is the path as written.
#[test]
fn bad_field_message_counts_columns_in_characters() {
    let text = "[[profile]]\nname = \"Zählerstand °C\"\nmanufacturer = \"LUG\"\nversion = 7\nmedium = 4\n\
                source = \"Wärmezähler Süd\"\n\
                channels.volume = { quantity = \"Zählerstand °C\", storage = \"eins\" }\n";
    let err = ProfileSet::from_toml("site/zähler.toml", text).unwrap_err();
    let Error::InvalidFile {
        line,
        column,
        ref field,
        ..
    } = err
    else {
        panic!("{err}");
    };
    // `channels.volume = { quantity = "Zählerstand °C", storage = ` is 59 characters
    // (62 bytes): "eins" starts at character 60
    assert_eq!((line, column), (7, 60), "{err}");
    assert_eq!(field, "profile[0].channels.volume.storage");
    assert_eq!(
        err.to_string(),
        "site/zähler.toml:7:60: profile[0].channels.volume.storage: invalid type: string \"eins\", expected u64"
    );

    // a value the loader checks after parsing: located the same way
    let text = text.replace("\"eins\"", "1");
    let err = ProfileSet::from_toml("site/zähler.toml", &text).unwrap_err();
    assert_eq!(
        err.to_string(),
        "site/zähler.toml:7:32: profile[0].channels.volume.quantity: expected a quantity name, found \"Zählerstand °C\""
    );
    let text = text.replace("channels.volume", "channels.volumes");
    let err = ProfileSet::from_toml("site/zähler.toml", &text).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "site/zähler.toml:7:20: profile[0].channels.volumes: expected a channel name (heat_energy, volume,"
        ),
        "{err}"
    );
}
