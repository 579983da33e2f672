//! The synoptic table: criteria by levels, the achieved level marked, as text, CSV and SVG.

use std::fmt::Write as _;

use crate::Error;
use crate::assessment::{AssessmentResult, Rating};
use crate::criteria::{CriteriaSet, Criterion, LEVELS};

/// A scored assessment with its criteria set, ready to be shown.
///
/// Marks: `X` the achieved level (or `nc` column when not considered), `.` a level whose
/// requirement is known, `?` a level whose requirement is unknown.
///
/// ```
/// use eiec::{Assessment, BuildingType, ClassScale, Scheme};
/// let scheme = Scheme::builtin()?;
/// let a = Assessment::from_level_list(BuildingType::Commercial, "lighting=3")?;
/// let result = scheme.assess(&a, ClassScale::Six)?;
/// let table = scheme.synoptic(&result)?;
/// let line = table.text().lines().find(|l| l.starts_with("lighting ")).unwrap().to_string();
/// assert!(line.contains(" X "));
/// assert!(table.csv()?.starts_with("id,kind,title,"));
/// assert!(table.svg().starts_with("<svg"));
/// # Ok::<(), eiec::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Synoptic<'a> {
    set: &'a CriteriaSet,
    result: &'a AssessmentResult,
}

/// The text of a mark.
const ACHIEVED: &str = "X";
const KNOWN: &str = ".";
const UNKNOWN: &str = "?";

impl<'a> Synoptic<'a> {
    /// Pair a result with the set it was scored against (see also
    /// [`crate::Scheme::synoptic`]). Criteria are matched by id.
    pub fn new(set: &'a CriteriaSet, result: &'a AssessmentResult) -> Self {
        Synoptic { set, result }
    }

    fn rows(&self) -> impl Iterator<Item = (&'a Criterion, Rating, u32, Option<&'a str>)> + 'a {
        let result = self.result;
        self.set.criteria.iter().map(move |c| {
            let score = result.criteria.iter().find(|s| s.id == c.id);
            (
                c,
                score.map(|s| s.rating).unwrap_or_default(),
                score.map_or(0, |s| s.points),
                score.and_then(|s| s.evidence.as_deref()),
            )
        })
    }

    /// Marks for the `nc` column and levels 0..=4.
    fn marks(c: &Criterion, rating: Rating) -> [&'static str; LEVELS + 1] {
        let mut m = [""; LEVELS + 1];
        m[0] = if rating == Rating::NotConsidered {
            ACHIEVED
        } else {
            ""
        };
        for (n, req) in c.levels.iter().enumerate() {
            m[n + 1] = if rating == Rating::Level(n as u8) {
                ACHIEVED
            } else if req.is_known() {
                KNOWN
            } else {
                UNKNOWN
            };
        }
        m
    }

    /// Summary lines under the table (total, class, next class, expected class).
    fn summary_lines(&self) -> Vec<String> {
        let r = self.result;
        let mut lines = vec![format!(
            "total {} of {}{} -> {} (table {}: {}, {} classes)",
            r.total,
            r.max,
            if r.clamped() {
                format!(" (clamped from {})", r.raw_total)
            } else {
                String::new()
            },
            r.class,
            r.table,
            r.table_confidence,
            r.classes
        )];
        match &r.next {
            None => lines.push("top class reached".into()),
            Some(n) if !n.reachable => lines.push(format!(
                "next class {} from {} points: {} points missing, not reachable (maximum {})",
                n.class, n.lower_bound, n.points_missing, r.max
            )),
            Some(n) => {
                let plan: Vec<String> = n
                    .plan
                    .iter()
                    .map(|s| format!("{} {} -> {}", s.id, s.from, s.to))
                    .collect();
                lines.push(format!(
                    "next class {} from {} points: {} points missing; cheapest ({} level steps): {}",
                    n.class,
                    n.lower_bound,
                    n.points_missing,
                    n.points_missing,
                    plan.join(", ")
                ));
            }
        }
        lines.push(format!(
            "expected class for {} buildings: {}",
            r.building,
            r.expected.map_or_else(
                || "unknown (the class table states none)".to_string(),
                |c| c.to_string()
            )
        ));
        lines
    }

    /// The table as plain text, one criterion a line.
    pub fn text(&self) -> String {
        let r = self.result;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "EIEC synoptic table: {} building, edition {}, criteria set {} ({})",
            r.building, r.edition, self.set.id, self.set.confidence
        );
        let _ = writeln!(
            out,
            "marks: {ACHIEVED} achieved, {KNOWN} requirement known, {UNKNOWN} requirement unknown"
        );
        let _ = writeln!(out);
        let id_w = self
            .set
            .criteria
            .iter()
            .map(|c| c.id.chars().count())
            .max()
            .unwrap_or(0)
            .max("criterion".len());
        let title_w = self
            .set
            .criteria
            .iter()
            .map(|c| c.title.chars().count())
            .max()
            .unwrap_or(0)
            .max("title".len());
        let _ = writeln!(
            out,
            "{:<id_w$}  {:<4}  {:<title_w$}  nc  0  1  2  3  4  points",
            "criterion", "kind", "title"
        );
        for (c, rating, points, _) in self.rows() {
            let m = Self::marks(c, rating);
            let _ = writeln!(
                out,
                "{:<id_w$}  {:<4}  {:<title_w$}  {:>2}  {}  {}  {}  {}  {}  {:>6}",
                c.id,
                c.kind.to_string(),
                c.title,
                m[0],
                m[1],
                m[2],
                m[3],
                m[4],
                m[5],
                points
            );
        }
        let _ = writeln!(out);
        for line in self.summary_lines() {
            let _ = writeln!(out, "{line}");
        }
        let evidence: Vec<_> = self
            .rows()
            .filter_map(|(c, _, _, e)| e.map(|e| (c, e)))
            .collect();
        if !evidence.is_empty() {
            let _ = writeln!(out, "evidence:");
            for (c, e) in evidence {
                let _ = writeln!(out, "  {}: {}", c.id, e);
            }
        }
        out
    }

    /// The table as CSV (RFC 4180, header first): `id, kind, title, confidence,
    /// not_considered, level_0..level_4` (`X` marks the rating), `points`,
    /// `requirement_0..requirement_4` (`unknown` where not known), `evidence`.
    pub fn csv(&self) -> Result<String, Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let out = |e: csv::Error| Error::Output {
            what: "synoptic CSV",
            message: e.to_string(),
        };
        w.write_record([
            "id",
            "kind",
            "title",
            "confidence",
            "not_considered",
            "level_0",
            "level_1",
            "level_2",
            "level_3",
            "level_4",
            "points",
            "requirement_0",
            "requirement_1",
            "requirement_2",
            "requirement_3",
            "requirement_4",
            "evidence",
        ])
        .map_err(out)?;
        for (c, rating, points, evidence) in self.rows() {
            let mut row: Vec<String> = vec![
                c.id.clone(),
                c.kind.to_string(),
                c.title.clone(),
                c.confidence.to_string(),
                if rating == Rating::NotConsidered {
                    ACHIEVED.into()
                } else {
                    String::new()
                },
            ];
            row.extend((0..LEVELS).map(|n| {
                if rating == Rating::Level(n as u8) {
                    ACHIEVED.to_string()
                } else {
                    String::new()
                }
            }));
            row.push(points.to_string());
            row.extend(c.levels.iter().map(|l| l.to_string()));
            row.push(evidence.unwrap_or("").to_string());
            w.write_record(&row).map_err(out)?;
        }
        let bytes = w.into_inner().map_err(|e| Error::Output {
            what: "synoptic CSV",
            message: e.to_string(),
        })?;
        String::from_utf8(bytes).map_err(|e| Error::Output {
            what: "synoptic CSV",
            message: e.to_string(),
        })
    }

    /// The table as a standalone SVG document. Each cell carries its requirement as a
    /// tooltip (`<title>`).
    pub fn svg(&self) -> String {
        let id_w = CHAR
            * self
                .set
                .criteria
                .iter()
                .map(|c| c.title.chars().count().max(c.id.chars().count()) as u32)
                .max()
                .unwrap_or(10)
                .max(12)
            + 12;
        let kind_w = 52;
        let points_w = 56;
        let x_cells = PAD + id_w + kind_w;
        let width = x_cells + CELL * (LEVELS as u32 + 1) + points_w + PAD;
        let summary = self.summary_lines();
        let top = PAD + 3 * 18 + 8;
        let rows = self.set.criteria.len() as u32;
        let height = top + ROW * (rows + 1) + 16 + 18 * summary.len() as u32 + PAD;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(
            s,
            r##"<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>"##
        );
        self.svg_titles(&mut s);
        svg_header_row(&mut s, top, id_w, x_cells, width);
        for (row, (c, rating, points, evidence)) in self.rows().enumerate() {
            let y = top + ROW * (row as u32 + 1);
            if row % 2 == 0 {
                let _ = writeln!(
                    s,
                    r##"<rect x="{PAD}" y="{y}" width="{}" height="{ROW}" fill="#f4f6f8"/>"##,
                    width - 2 * PAD
                );
            }
            let tip = match evidence {
                Some(e) => format!("{}: {} (evidence: {e})", c.id, c.description),
                None => format!("{}: {}", c.id, c.description),
            };
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}"><title>{}</title>{}</text>"#,
                PAD + 4,
                y + 17,
                esc(&tip),
                esc(&c.title)
            );
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}">{}</text>"#,
                PAD + id_w,
                y + 17,
                c.kind
            );
            let marks = Self::marks(c, rating);
            for (i, mark) in marks.iter().enumerate() {
                let x = x_cells + CELL * i as u32;
                let (fill, text, color, tip) = cell_style(c, i, mark);
                let _ = writeln!(
                    s,
                    r##"<g><title>{}</title><rect x="{}" y="{}" width="{}" height="{}" fill="{fill}" stroke="#9e9e9e"/><text x="{}" y="{}" text-anchor="middle" fill="{color}">{text}</text></g>"##,
                    esc(&tip),
                    x + 2,
                    y + 2,
                    CELL - 4,
                    ROW - 4,
                    x + CELL / 2,
                    y + 17
                );
            }
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}" text-anchor="end">{points}</text>"#,
                width - PAD - 4,
                y + 17
            );
        }
        let base = top + ROW * (rows + 1) + 16;
        for (i, line) in summary.iter().enumerate() {
            let weight = if i == 0 { " font-weight=\"bold\"" } else { "" };
            let _ = writeln!(
                s,
                r#"<text x="{PAD}" y="{}"{weight}>{}</text>"#,
                base + 18 * i as u32 + 12,
                esc(line)
            );
        }
        s.push_str("</svg>\n");
        s
    }

    /// The three title lines of the SVG: building and edition, sets, legend.
    fn svg_titles(&self, s: &mut String) {
        let r = self.result;
        let _ = writeln!(
            s,
            r#"<text x="{PAD}" y="{}" font-size="15" font-weight="bold">{}</text>"#,
            PAD + 12,
            esc(&format!(
                "EIEC synoptic table: {} building, edition {}",
                r.building, r.edition
            ))
        );
        let _ = writeln!(
            s,
            r#"<text x="{PAD}" y="{}">{}</text>"#,
            PAD + 32,
            esc(&format!(
                "criteria set {} ({}); class table {} ({})",
                self.set.id, self.set.confidence, r.table, r.table_confidence
            ))
        );
        let _ = writeln!(
            s,
            r##"<text x="{PAD}" y="{}" fill="#555555">{}</text>"##,
            PAD + 50,
            esc("filled: achieved level; ? requirement unknown; hover a cell for its requirement")
        );
    }
}

/// SVG layout: row height, cell width, padding, and the approximate advance of a 12 px
/// sans-serif character.
const ROW: u32 = 26;
const CELL: u32 = 44;
const PAD: u32 = 16;
const CHAR: u32 = 7;

/// The header row of the SVG table: criterion, kind, the six cells, points.
fn svg_header_row(s: &mut String, top: u32, id_w: u32, x_cells: u32, width: u32) {
    let _ = writeln!(
        s,
        r#"<text x="{PAD}" y="{}" font-weight="bold">criterion</text><text x="{}" y="{}" font-weight="bold">kind</text>"#,
        top + 17,
        PAD + id_w,
        top + 17
    );
    let heads = ["nc", "0", "1", "2", "3", "4"];
    for (i, h) in heads.iter().enumerate() {
        let x = x_cells + CELL * i as u32 + CELL / 2;
        let _ = writeln!(
            s,
            r#"<text x="{x}" y="{}" text-anchor="middle" font-weight="bold">{h}</text>"#,
            top + 17
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="end" font-weight="bold">points</text>"#,
        width - PAD,
        top + 17
    );
}

/// Fill, text, text colour and tooltip of cell `i` of a criterion's row (0: not
/// considered, 1..: levels 0..4) with its mark.
fn cell_style(
    c: &Criterion,
    i: usize,
    mark: &str,
) -> (&'static str, &'static str, &'static str, String) {
    match (i, mark) {
        (0, ACHIEVED) => (
            "#78909c",
            "\u{25cf}",
            "#ffffff",
            "not considered: 0 points".to_string(),
        ),
        (_, ACHIEVED) => (
            "#2e7d32",
            "\u{25cf}",
            "#ffffff",
            format!("achieved: level {}: {}", i - 1, c.levels[i - 1]),
        ),
        (0, _) => ("#ffffff", "", "#000000", "not considered: 0 points".into()),
        (_, UNKNOWN) => (
            "#e0e0e0",
            "?",
            "#757575",
            format!("level {}: requirement unknown", i - 1),
        ),
        _ => (
            "#ffffff",
            "",
            "#000000",
            format!("level {}: {}", i - 1, c.levels[i - 1]),
        ),
    }
}

/// Escape text for XML content and attributes.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc(r#"a<b & "c" 'd'>"#),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;"
        );
        assert_eq!(esc("Zähler ≥ 90 %"), "Zähler ≥ 90 %");
    }
}
