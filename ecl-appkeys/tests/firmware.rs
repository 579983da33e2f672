//! The firmware rules at every boundary.

use ecl_appkeys::firmware::{
    NoproRevision, Rule, Verdict, Version, Versions, check, controller_software, eca30_software,
    key_software, opr0020_firmware,
};

fn v(s: &str) -> Version {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn controller_software_boundaries() {
    for (version, verdict) in [
        ("1.00", Verdict::Unsupported),
        ("1.10", Verdict::Unsupported),
        ("1.11", Verdict::WillUpdate),
        ("1.29", Verdict::WillUpdate),
        ("1.30", Verdict::WillUpdate),
        ("1.31", Verdict::Ok),
        ("1.56", Verdict::Ok),
        ("2.45", Verdict::Ok),
    ] {
        let c = controller_software(v(version));
        assert_eq!(c.verdict, verdict, "{version}");
        assert_eq!(c.found, version);
        assert_eq!(c.rule, Rule::ControllerSoftware);
        assert_eq!(c.required, ">= 1.11");
    }
    assert!(
        controller_software(v("1.20"))
            .detail
            .contains("at least 1.30")
    );
    // Minor numbers compare as numbers: 1.4 (minor 4) is older than 1.11.
    assert_eq!(
        controller_software(Version::new(1, 4)).verdict,
        Verdict::Unsupported
    );
    assert_eq!(
        controller_software(Version::from_raw(0x010B)).verdict,
        Verdict::WillUpdate
    );
}

#[test]
fn key_eca30_and_opr0020_boundaries() {
    assert_eq!(key_software(v("1.03")).verdict, Verdict::Unsupported);
    assert_eq!(key_software(v("1.04")).verdict, Verdict::Ok);
    assert_eq!(key_software(Version::from_raw(0x0104)).verdict, Verdict::Ok);
    assert_eq!(key_software(v("0.99")).verdict, Verdict::Unsupported);
    assert_eq!(eca30_software(v("1.29")).verdict, Verdict::Unsupported);
    assert_eq!(eca30_software(v("1.30")).verdict, Verdict::Ok);
    let r = |s: &str| s.parse::<NoproRevision>().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(opr0020_firmware(r("R8")).verdict, Verdict::Unsupported);
    assert_eq!(opr0020_firmware(r("R9")).verdict, Verdict::Ok);
    assert_eq!(opr0020_firmware(r("R10")).verdict, Verdict::Ok);
    assert_eq!(opr0020_firmware(r("R9")).required, ">= R9");
}

#[test]
fn check_lists_the_rules_that_apply_with_their_versions() {
    let all = check(&Versions {
        controller: Some(v("1.10")),
        key: Some(v("1.03")),
        eca30: Some(v("1.30")),
        opr0020: Some(NoproRevision(9)),
    });
    let got: Vec<(Rule, Verdict, &str)> = all
        .iter()
        .map(|c| (c.rule, c.verdict, c.found.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (Rule::ControllerSoftware, Verdict::Unsupported, "1.10"),
            (Rule::KeySoftware, Verdict::Unsupported, "1.03"),
            (Rule::Eca30Software, Verdict::Ok, "1.30"),
            (Rule::Opr0020Firmware, Verdict::Ok, "R9"),
        ]
    );
    assert!(check(&Versions::default()).is_empty());
    let json = serde_json::to_value(&all[0]).unwrap_or_default();
    assert_eq!(json["verdict"], "unsupported");
    assert_eq!(json["rule"], "controller_software");
    let json = serde_json::to_value(controller_software(v("1.30"))).unwrap_or_default();
    assert_eq!(json["verdict"], "will_update");
}
