//! System events with parameterised texts, kept as data.
//!
//! The built-in texts are `data/system_events.toml`, embedded and loaded by the same code as
//! a user file:
//!
//! ```toml
//! [[event]]
//! code = "comm_timeout"
//! type = "error"                  # alarm | error | warning | information
//! origin = "internal"             # hierarchical | process | internal | product
//! params = ["product", "address"]
//! text = "Communication timeout with product {0}, Modbus address {1}"   # or {product}
//! ```

use std::path::Path;

use serde::Deserialize;

use crate::Error;
use crate::log::{EventType, Origin};
use crate::toml_file::Source;

const BUILTIN: &str = include_str!("../data/system_events.toml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextsFile {
    #[serde(default)]
    event: Vec<toml::Spanned<TextSpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextSpec {
    code: String,
    #[serde(rename = "type")]
    event_type: EventType,
    origin: Origin,
    #[serde(default)]
    params: Vec<String>,
    text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Param(usize),
}

/// One system event text.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemText {
    /// Its code, e.g. `comm_timeout`.
    pub code: String,
    /// Its type.
    pub event_type: EventType,
    /// Its origin.
    pub origin: Origin,
    /// Parameter names, in the order [`SystemTexts::event`] takes them.
    pub params: Vec<String>,
    /// The template as written.
    pub template: String,
    pieces: Vec<Piece>,
}

/// A system event filled in, ready for [`crate::Book::message`].
#[derive(Debug, Clone, PartialEq)]
pub struct SystemEvent {
    /// The code.
    pub code: String,
    /// Its type.
    pub event_type: EventType,
    /// Its origin.
    pub origin: Origin,
    /// The filled-in text.
    pub text: String,
}

/// A set of system event texts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SystemTexts {
    texts: Vec<SystemText>,
}

impl SystemTexts {
    /// The built-in texts.
    ///
    /// ```
    /// let texts = alarms::SystemTexts::builtin()?;
    /// let ev = texts.event("comm_timeout", &["ECR380D #3", "12"])?;
    /// assert_eq!(ev.text, "Communication timeout with product ECR380D #3, Modbus address 12");
    /// # Ok::<(), alarms::Error>(())
    /// ```
    pub fn builtin() -> Result<SystemTexts, Error> {
        SystemTexts::from_toml("<builtin>/system_events.toml", BUILTIN)
    }

    /// Load texts from a file's text; `file` names it in errors.
    pub fn from_toml(file: impl AsRef<Path>, text: &str) -> Result<SystemTexts, Error> {
        let src = Source::new(file.as_ref(), text);
        let parsed: TextsFile = src.parse()?;
        let mut texts: Vec<SystemText> = Vec::new();
        for (i, spanned) in parsed.event.iter().enumerate() {
            let spec = spanned.get_ref();
            let at = |field: &str, message: String| {
                Error::from(src.at(spanned.span(), format!("event[{i}].{field}"), message))
            };
            if spec.code.trim().is_empty() {
                return Err(at(
                    "code",
                    "expected a non-empty code, found an empty string".into(),
                ));
            }
            if texts.iter().any(|t| t.code == spec.code) {
                return Err(at(
                    "code",
                    format!("expected a unique code, found {:?} twice", spec.code),
                ));
            }
            let pieces = compile(&spec.text, &spec.params).map_err(|m| at("text", m))?;
            texts.push(SystemText {
                code: spec.code.clone(),
                event_type: spec.event_type,
                origin: spec.origin,
                params: spec.params.clone(),
                template: spec.text.clone(),
                pieces,
            });
        }
        Ok(SystemTexts { texts })
    }

    /// Add texts from another set (user texts override built-in ones with the same code).
    pub fn extend(&mut self, other: SystemTexts) {
        for t in other.texts {
            match self.texts.iter_mut().find(|x| x.code == t.code) {
                Some(x) => *x = t,
                None => self.texts.push(t),
            }
        }
    }

    /// All texts.
    pub fn texts(&self) -> &[SystemText] {
        &self.texts
    }

    /// Fill in the text `code` with `args` (one per parameter, in order).
    pub fn event(&self, code: &str, args: &[&str]) -> Result<SystemEvent, Error> {
        let t = self
            .texts
            .iter()
            .find(|t| t.code == code)
            .ok_or_else(|| Error::UnknownSystemEvent(code.to_string()))?;
        if args.len() != t.params.len() {
            return Err(Error::Parameters {
                code: code.to_string(),
                expected: t.params.len(),
                names: t.params.join(", "),
                found: args.len(),
            });
        }
        let mut text = String::new();
        for p in &t.pieces {
            match p {
                Piece::Literal(s) => text.push_str(s),
                Piece::Param(i) => text.push_str(args[*i]),
            }
        }
        Ok(SystemEvent {
            code: t.code.clone(),
            event_type: t.event_type,
            origin: t.origin,
            text,
        })
    }
}

/// Split a template into literals and parameters; `{{` and `}}` are literal braces.
fn compile(template: &str, params: &[String]) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut used = vec![false; params.len()];
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                lit.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                lit.push('}');
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => name.push(c),
                        None => {
                            return Err(format!(
                                "expected '}}' closing {{{name} in {template:?}, found the end"
                            ));
                        }
                    }
                }
                let index = match name.parse::<usize>() {
                    Ok(i) if i < params.len() => i,
                    Ok(i) => {
                        return Err(format!(
                            "expected a parameter index below {}, found {{{i}}}",
                            params.len()
                        ));
                    }
                    Err(_) => params.iter().position(|p| *p == name).ok_or_else(|| {
                        format!(
                            "expected a parameter of [{}], found {{{name}}}",
                            params.join(", ")
                        )
                    })?,
                };
                used[index] = true;
                if !lit.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut lit)));
                }
                pieces.push(Piece::Param(index));
            }
            '}' => return Err(format!("expected '{{' before '}}' in {template:?}")),
            c => lit.push(c),
        }
    }
    if let Some(i) = used.iter().position(|u| !u) {
        return Err(format!(
            "expected every parameter in the text, found {:?} unused",
            params[i]
        ));
    }
    if !lit.is_empty() {
        pieces.push(Piece::Literal(lit));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_texts_load_and_fill() {
        let t = SystemTexts::builtin().unwrap();
        assert_eq!(
            t.event("sd_card_low", &["4"]).unwrap().text,
            "free space on the SD card is too low (4 %)"
        );
        assert_eq!(
            t.event("user_login", &["ann"]).unwrap().text,
            "user ann logged in"
        );
        assert_eq!(
            t.event("ntp_unavailable", &["pool.ntp.org"])
                .unwrap()
                .event_type,
            EventType::Warning
        );
        let e = t.event("comm_timeout", &["x"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "system event \"comm_timeout\": expected 2 parameter(s) (product, address), found 1"
        );
        assert!(matches!(
            t.event("nope", &[]),
            Err(Error::UnknownSystemEvent(_))
        ));
    }

    #[test]
    fn bad_templates_are_refused_with_position() {
        let bad = "[[event]]\ncode = \"x\"\ntype = \"error\"\norigin = \"internal\"\nparams = [\"a\"]\ntext = \"oops {b}\"\n";
        let e = SystemTexts::from_toml("t.toml", bad)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.toml:1:"), "{e}");
        assert!(
            e.contains("event[0].text") && e.contains("found {b}"),
            "{e}"
        );
        let unused = bad.replace("oops {b}", "oops");
        let e = SystemTexts::from_toml("t.toml", &unused)
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"a\" unused"), "{e}");
        let wrong_type = bad.replace("\"error\"", "\"fatal\"");
        let e = SystemTexts::from_toml("t.toml", &wrong_type)
            .unwrap_err()
            .to_string();
        assert!(e.contains("event[0].type") || e.contains("type"), "{e}");
    }

    #[test]
    fn braces_escape() {
        let p = compile("{{x}} {0}", &["a".into()]).unwrap();
        assert_eq!(p, vec![Piece::Literal("{x} ".into()), Piece::Param(0)]);
    }
}
