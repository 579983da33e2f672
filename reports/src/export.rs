//! CSV export (publication): separator, header on or off, decimal format, layout, file-name
//! templates and an archive that keeps the last generated files.
//!
//! Layouts of a report [`Table`] (rows are devices or intervals, columns are points):
//! - [`Layout::AsTable`]: the table as it is (one line per interval or device).
//! - [`Layout::OneLinePerProduct`]: transposed: one line per product (column of the report),
//!   its values along the line, one per interval.
//! - [`Layout::OneProductPerLine`]: long form: each line holds one product's value for one
//!   interval (`time, product, unit, value`).
//!
//! "Average or last value" is the report's [`crate::aggregate::Aggregation`] (`Mean` / `Last`).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::report::Table;

/// Line layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// As the report is.
    #[default]
    AsTable,
    /// One line per product, values along the line.
    OneLinePerProduct,
    /// One product value per line.
    OneProductPerLine,
}

/// CSV options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvOptions {
    /// Field separator (`;` by default).
    pub separator: char,
    /// Write a header line.
    pub header: bool,
    /// Decimal separator, `.` or `,`.
    pub decimal: char,
    /// Digits after the decimal separator (`None`: shortest exact form).
    pub precision: Option<usize>,
    /// Layout.
    pub layout: Layout,
    /// Time format (chrono `strftime`) for the local time zone.
    pub time_format: String,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            separator: ';',
            header: true,
            decimal: '.',
            precision: None,
            layout: Layout::AsTable,
            time_format: "%Y-%m-%d %H:%M".into(),
        }
    }
}

fn number(v: Option<f64>, o: &CsvOptions) -> String {
    let Some(v) = v else { return String::new() };
    let s = match o.precision {
        Some(p) => format!("{v:.p$}"),
        None => format!("{v}"),
    };
    if o.decimal == '.' {
        s
    } else {
        s.replace('.', &o.decimal.to_string())
    }
}

/// Write a table as CSV.
///
/// # Errors
/// [`Error::Invalid`] for a separator that is not one ASCII character, or equal to the decimal
/// separator; [`Error::Io`].
///
/// ```
/// use reports::export::{write_csv, CsvOptions};
/// use reports::report::{Table, Column, Row};
/// use reports::aggregate::Aggregation;
/// let t = Table { title: "t".into(), from: Default::default(), to: Default::default(),
///     columns: vec![Column { name: "m1/energy".into(), unit: "kWh".into(), aggregation: Aggregation::Delta }],
///     rows: vec![Row { label: "m1".into(), time: None, values: vec![Some(1.5)] }] };
/// let mut out = Vec::new();
/// let o = CsvOptions { decimal: ',', ..Default::default() };
/// write_csv(&t, &mut out, &o, chrono_tz::UTC).unwrap();
/// assert_eq!(String::from_utf8(out).unwrap(), "label;m1/energy (kWh)\nm1;1,5\n");
/// ```
pub fn write_csv(
    table: &Table,
    w: impl std::io::Write,
    o: &CsvOptions,
    tz: Tz,
) -> Result<(), Error> {
    if !o.separator.is_ascii()
        || o.separator == o.decimal
        || !(o.decimal == '.' || o.decimal == ',')
    {
        return Err(Error::invalid(
            "CSV options",
            "an ASCII separator and a decimal '.' or ',' that differ",
            format!("{:?} / {:?}", o.separator, o.decimal),
        ));
    }
    let mut wr = csv::WriterBuilder::new()
        .delimiter(o.separator as u8)
        .from_writer(w);
    let io = |e: csv::Error| Error::Io {
        path: "(csv output)".into(),
        source: std::io::Error::other(e),
    };
    let label = |r: &crate::report::Row| match r.time {
        Some(t) => t.with_timezone(&tz).format(&o.time_format).to_string(),
        None => r.label.clone(),
    };
    let head = |c: &crate::report::Column| {
        if c.unit.is_empty() {
            c.name.clone()
        } else {
            format!("{} ({})", c.name, c.unit)
        }
    };
    match o.layout {
        Layout::AsTable => {
            if o.header {
                let first = if table.rows.iter().any(|r| r.time.is_some()) {
                    "time"
                } else {
                    "label"
                };
                wr.write_record(
                    std::iter::once(first.to_string()).chain(table.columns.iter().map(head)),
                )
                .map_err(io)?;
            }
            for r in &table.rows {
                wr.write_record(
                    std::iter::once(label(r)).chain(r.values.iter().map(|v| number(*v, o))),
                )
                .map_err(io)?;
            }
        }
        Layout::OneLinePerProduct => {
            if o.header {
                wr.write_record(
                    ["product".to_string(), "unit".to_string()]
                        .into_iter()
                        .chain(table.rows.iter().map(label)),
                )
                .map_err(io)?;
            }
            for (i, c) in table.columns.iter().enumerate() {
                let vals = table
                    .rows
                    .iter()
                    .map(|r| number(r.values.get(i).copied().flatten(), o));
                wr.write_record([c.name.clone(), c.unit.clone()].into_iter().chain(vals))
                    .map_err(io)?;
            }
        }
        Layout::OneProductPerLine => {
            if o.header {
                wr.write_record(["time", "product", "unit", "value"])
                    .map_err(io)?;
            }
            for r in &table.rows {
                for (i, c) in table.columns.iter().enumerate() {
                    wr.write_record([
                        label(r),
                        c.name.clone(),
                        c.unit.clone(),
                        number(r.values.get(i).copied().flatten(), o),
                    ])
                    .map_err(io)?;
                }
            }
        }
    }
    wr.flush().map_err(|e| Error::Io {
        path: "(csv output)".into(),
        source: e,
    })
}

/// Render a file-name template at time `t` in `tz`: `%date` (yyyyMMddHHmm), `%day` (01-31),
/// `%dow` (mon-sun), `%hour` (00-23), `%name` (the given name) and `%%`; other text is kept.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// let t = Utc.with_ymd_and_hms(2026, 5, 4, 6, 30, 0).unwrap();
/// let tz = reports::aggregate::parse_tz("Europe/Paris").unwrap();
/// assert_eq!(reports::export::render_file_name("export_%date_%dow_%day_%hour.csv", t, tz, "x"),
///            "export_202605040830_mon_04_08.csv");
/// ```
pub fn render_file_name(template: &str, t: DateTime<Utc>, tz: Tz, name: &str) -> String {
    let l = t.with_timezone(&tz);
    const DOW: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let table: [(&str, String); 6] = [
            ("%%", "%".into()),
            ("%date", l.format("%Y%m%d%H%M").to_string()),
            ("%day", format!("{:02}", l.day())),
            (
                "%dow",
                DOW[l.weekday().num_days_from_monday() as usize].into(),
            ),
            ("%hour", format!("{:02}", l.hour())),
            ("%name", name.into()),
        ];
        match table.iter().find(|(k, _)| rest.starts_with(k)) {
            Some((k, v)) => {
                out.push_str(v);
                rest = &rest[k.len()..];
            }
            None => {
                out.push('%');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A directory that keeps the last `keep` generated files (7 by default), oldest removed first.
/// The order survives restarts through a small manifest file (`.archive`).
#[derive(Debug, Clone)]
pub struct Archive {
    dir: PathBuf,
    keep: usize,
    files: VecDeque<String>,
}

impl Archive {
    /// Open (or create) an archive directory keeping `keep` files.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn open(dir: impl AsRef<Path>, keep: usize) -> Result<Self, Error> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let manifest = dir.join(".archive");
        let files = match std::fs::read_to_string(&manifest) {
            Ok(s) => s
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => VecDeque::new(),
            Err(e) => return Err(Error::io(&manifest, e)),
        };
        Ok(Archive {
            dir,
            keep: keep.max(1),
            files,
        })
    }

    /// Store a generated file, dropping the oldest beyond the limit; returns its path.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a name with a path separator; [`Error::Io`].
    pub fn store(&mut self, name: &str, bytes: &[u8]) -> Result<PathBuf, Error> {
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(Error::invalid(
                "archive file name",
                "a plain file name",
                format!("{name:?}"),
            ));
        }
        let path = self.dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
        self.files.retain(|f| f != name);
        self.files.push_back(name.to_string());
        while self.files.len() > self.keep {
            if let Some(old) = self.files.pop_front() {
                let p = self.dir.join(&old);
                match std::fs::remove_file(&p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io(&p, e)),
                }
            }
        }
        let manifest = self.dir.join(".archive");
        let text: String = self.files.iter().map(|f| format!("{f}\n")).collect();
        std::fs::write(&manifest, text).map_err(|e| Error::io(&manifest, e))?;
        Ok(path)
    }

    /// The kept files, oldest first.
    pub fn files(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(String::as_str)
    }
}
