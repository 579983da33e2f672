//! Reading TOML data files with errors that name the file, line, column and field.
//!
//! This module is identical in `modbus-devices`, `mbus-meters`, `alarms`, `reports` and
//! `eiec`: the libraries do not depend on each other, so each keeps this copy of the glue
//! between the `toml` crate's error spans and `serde_path_to_error`'s field paths. Change
//! every copy together (the `toml_file_copies_are_identical` test in `examples` compares them).
//!
//! Behaviour, the same in every crate:
//! - line and column are 1-based; the column counts characters (Unicode scalar values), not
//!   bytes, so a multi-byte character before the fault counts once;
//! - the field is the path as the user wrote it (`product[2].service[4].type`), without the
//!   private names `toml::Spanned` adds; an error that belongs to no field is `(file)`;
//! - the message is toml's or serde's own, trimmed.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// A position in a data file and what is wrong there; each crate turns it into its
/// `InvalidFile` error variant (`From<Located>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Located {
    /// The file (built-in files are named `<builtin>/NAME`).
    pub(crate) file: PathBuf,
    /// 1-based line.
    pub(crate) line: usize,
    /// 1-based column, in characters.
    pub(crate) column: usize,
    /// The field path, or `(file)`.
    pub(crate) field: String,
    /// What was expected and what was found.
    pub(crate) message: String,
}

/// A data file's name and text, for positions in errors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source<'a> {
    /// The file name used in errors.
    pub(crate) file: &'a Path,
    /// The whole text.
    pub(crate) text: &'a str,
}

impl<'a> Source<'a> {
    /// A source named `file` with `text`.
    pub(crate) fn new(file: &'a Path, text: &'a str) -> Self {
        Source { file, text }
    }

    /// 1-based line and column (in characters) of a byte offset; an offset past the end or
    /// inside a character is moved back to the character's start.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let mut end = offset.min(self.text.len());
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let before = &self.text[..end];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = before.matches('\n').count() + 1;
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    /// The error at the start of `span`.
    pub(crate) fn at(
        &self,
        span: Range<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Located {
        let (line, column) = self.position(span.start);
        let field = field.into();
        Located {
            file: self.file.to_path_buf(),
            line,
            column,
            field: if field.is_empty() || field == "." {
                "(file)".to_string()
            } else {
                field
            },
            message: message.into(),
        }
    }

    /// Deserialize the whole text; a failure names the field by its path.
    pub(crate) fn parse<T: DeserializeOwned>(&self) -> Result<T, Located> {
        let de =
            toml::Deserializer::parse(self.text).map_err(|e| self.toml_error(&e, String::new()))?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            let field = user_path(&e.path().to_string());
            self.toml_error(e.inner(), field)
        })
    }

    fn toml_error(&self, e: &toml::de::Error, field: String) -> Located {
        self.at(e.span().unwrap_or(0..0), field, e.message().trim())
    }
}

/// The field path as the user wrote it: `toml::Spanned` wrappers show up in serde's path as
/// private fields nobody wrote (`list.$__serde_spanned_private_value[0].x`); drop their names
/// and keep what follows them (`list[0].x`).
fn user_path(path: &str) -> String {
    let mut field = String::new();
    for segment in path.split('.') {
        if let Some(rest) = segment.strip_prefix("$__serde_spanned") {
            if let Some(index) = rest.find('[') {
                field.push_str(&rest[index..]);
            }
            continue;
        }
        if !field.is_empty() {
            field.push('.');
        }
        field.push_str(segment);
    }
    field
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters_and_lines_start_at_one() {
        let text = "a = 1\nname = \"Zählerstand °C\" x\n";
        let src = Source::new(Path::new("f.toml"), text);
        let offset = text.find(" x").map_or(0, |i| i + 1);
        assert_eq!(src.position(offset), (2, 25));
        assert_eq!(src.position(0), (1, 1));
        // inside a multi-byte character: the character's own column
        let inside = text.find('ä').map_or(0, |i| i + 1);
        assert_eq!(src.position(inside), (2, 10));
        assert_eq!(src.position(usize::MAX), (3, 1));
    }

    #[test]
    fn spanned_wrappers_keep_list_indices_out_of_private_names() {
        assert_eq!(
            user_path("tariffs.$__serde_spanned_private_value[1].price"),
            "tariffs[1].price"
        );
        assert_eq!(
            user_path("rule[0].$__serde_spanned_private_value.hysteresis"),
            "rule[0].hysteresis"
        );
        assert_eq!(
            user_path("product[2].service[4].type"),
            "product[2].service[4].type"
        );
        // serde's path of the whole document: no field, reported as `(file)`
        assert_eq!(user_path("."), "");
    }

    #[test]
    fn a_bad_field_inside_a_spanned_list_names_its_index() {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct Item {
            price: f64,
        }
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct File {
            tariffs: toml::Spanned<Vec<Item>>,
        }
        let text = "tariffs = [{ price = 1.0 }, { price = \"x\" }]\n";
        let err = Source::new(Path::new("t.toml"), text)
            .parse::<File>()
            .err()
            .map(|e| (e.line, e.field));
        assert_eq!(err, Some((1, "tariffs[1].price".to_string())));
    }
}
