//! Time-zone names.
//!
//! This file is identical in `alarms` and `reports` (`src/tz.rs`): the libraries do not depend
//! on each other, so each keeps this copy. Change both copies together (a test in `examples`
//! compares them).

use chrono_tz::Tz;

/// What a time-zone name must be, as error messages say it.
pub(crate) const EXPECTED: &str = "an IANA time zone name such as \"Europe/Paris\"";

/// The time zone named `name`, spelled exactly as in the IANA database (`Europe/Paris`, `UTC`);
/// an unknown name is a message saying what was expected and what was found.
pub(crate) fn parse_tz(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>()
        .map_err(|_| format!("expected {EXPECTED}, found {name:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iana_names_parse_and_others_say_what_was_expected() {
        assert_eq!(parse_tz("Europe/Paris"), Ok(chrono_tz::Europe::Paris));
        assert_eq!(parse_tz("UTC"), Ok(chrono_tz::UTC));
        assert_eq!(
            parse_tz("Mars/Olympus"),
            Err(
                "expected an IANA time zone name such as \"Europe/Paris\", found \"Mars/Olympus\""
                    .to_string()
            )
        );
        assert!(parse_tz(" Europe/Paris").is_err());
    }
}
