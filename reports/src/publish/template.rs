//! Destination and file-name templates, expanded in the site's local time.
//!
//! The tokens are the Legrand connector's destination tokens and the Hager file-name template
//! (the same ones [`crate::export::render_file_name`] renders, which does the expansion here):
//!
//! | token | value |
//! |---|---|
//! | `%date` | `yyyyMMddHHmm` |
//! | `%day` | day of the month, `01`-`31` |
//! | `%dow` | day of the week, `mon`-`sun` |
//! | `%hour` | hour, `00`-`23` |
//! | `%name` | the publication's name |
//! | `%%` | a `%` |
//!
//! Unlike `render_file_name` (which keeps unknown text), a publication template is checked
//! first: any other `%` sequence is a [`PublishError::Template`] saying where, so a typo is
//! caught when the configuration is loaded, not after a month of oddly named uploads.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use reports::publish::template::Template;
//!
//! let t = Template::parse("drop/%dow/energy_%name_%date.csv").unwrap();
//! let at = Utc.with_ymd_and_hms(2026, 3, 29, 1, 5, 0).unwrap(); // 03:05 CEST
//! assert_eq!(t.expand(at, chrono_tz::Europe::Paris, "site1"),
//!            "drop/sun/energy_site1_202603290305.csv");
//! assert!(Template::parse("x_%dat.csv").is_err());
//! ```

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use std::path::PathBuf;

use super::{PublishError, UploadFile, check_remote_name};

/// The tokens a template may contain, longest first where one is a prefix of another.
const TOKENS: [&str; 6] = ["%%", "%date", "%day", "%dow", "%hour", "%name"];

/// A checked template (serialized as its text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Template(String);

impl Template {
    /// Check `text`: every `%` must start one of the tokens.
    ///
    /// # Errors
    /// [`PublishError::Template`] with the byte offset and the unknown sequence.
    pub fn parse(text: &str) -> Result<Self, PublishError> {
        let mut i = 0;
        while let Some(p) = text[i..].find('%') {
            let at = i + p;
            let rest = &text[at..];
            match TOKENS.iter().find(|k| rest.starts_with(*k)) {
                Some(k) => i = at + k.len(),
                None => {
                    let seq: String = rest.chars().take(6).collect();
                    return Err(PublishError::Template {
                        template: text.into(),
                        message: format!(
                            "unknown token {seq:?} at byte {at}; expected %date, %day, %dow, \
                             %hour, %name or %%"
                        ),
                    });
                }
            }
        }
        Ok(Self(text.into()))
    }

    /// The text as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Expand at instant `t` in the site's time zone `tz`; `%name` becomes `name`.
    #[must_use]
    pub fn expand(&self, t: DateTime<Utc>, tz: Tz, name: &str) -> String {
        crate::export::render_file_name(&self.0, t, tz, name)
    }

    /// The [`UploadFile`] sending `local` under this template expanded at `t` in `tz`.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use reports::publish::template::Template;
    /// let t = Template::parse("%dow/%name_%hour.csv").unwrap();
    /// let at = Utc.with_ymd_and_hms(2026, 5, 4, 6, 0, 0).unwrap();
    /// let f = t.upload_file("/var/lib/emkit/export.csv", at, chrono_tz::Europe::Paris, "hall").unwrap();
    /// assert_eq!(f.remote_name, "mon/hall_08.csv");
    /// ```
    ///
    /// # Errors
    /// [`PublishError::Config`] when the expanded name is not a relative name inside the
    /// destination (empty, absolute, or with `..`).
    pub fn upload_file(
        &self,
        local: impl Into<PathBuf>,
        t: DateTime<Utc>,
        tz: Tz,
        name: &str,
    ) -> Result<UploadFile, PublishError> {
        let remote_name = self.expand(t, tz, name);
        check_remote_name(&remote_name)?;
        Ok(UploadFile {
            local: local.into(),
            remote_name,
        })
    }
}

impl TryFrom<String> for Template {
    type Error = PublishError;
    fn try_from(s: String) -> Result<Self, PublishError> {
        Self::parse(&s)
    }
}

impl From<Template> for String {
    fn from(t: Template) -> Self {
        t.0
    }
}

impl std::str::FromStr for Template {
    type Err = PublishError;
    fn from_str(s: &str) -> Result<Self, PublishError> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn tokens_expand_in_local_time_across_the_autumn_change() {
        let t = Template::parse("%date-%day-%dow-%hour-%name-100%%").unwrap();
        let paris = chrono_tz::Europe::Paris;
        // 00:30 UTC is 02:30 CEST, 01:30 UTC is 02:30 CET: the same local text.
        let a = Utc.with_ymd_and_hms(2026, 10, 25, 0, 30, 0).unwrap();
        let b = Utc.with_ymd_and_hms(2026, 10, 25, 1, 30, 0).unwrap();
        assert_eq!(t.expand(a, paris, "n"), "202610250230-25-sun-02-n-100%");
        assert_eq!(t.expand(b, paris, "n"), "202610250230-25-sun-02-n-100%");
        assert_eq!(
            t.expand(a, chrono_tz::UTC, "n"),
            "202610250030-25-sun-00-n-100%"
        );
    }

    #[test]
    fn unknown_tokens_are_errors_saying_where() {
        for (bad, at) in [
            ("%x", 0),
            ("ab%d", 2),
            ("%date%", 5),
            ("%DATE", 0),
            ("%%%h", 2),
        ] {
            match Template::parse(bad) {
                Err(PublishError::Template { template, message }) => {
                    assert_eq!(template, bad);
                    assert!(
                        message.contains(&format!("at byte {at}")),
                        "{bad}: {message}"
                    );
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        let e = toml::from_str::<std::collections::BTreeMap<String, Template>>("t = \"a%q\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("%q"), "{e}");
        assert!(Template::parse("plain.csv").is_ok());
        let t = Utc.with_ymd_and_hms(2026, 5, 4, 6, 0, 0).unwrap();
        let up = Template::parse("../%name.csv")
            .unwrap()
            .upload_file("x", t, chrono_tz::UTC, "a");
        assert!(matches!(up, Err(PublishError::Config { .. })), "{up:?}");
    }
}
