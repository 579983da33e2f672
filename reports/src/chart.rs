//! Charts as PNG and SVG (plotters, DejaVu Sans embedded): a time-series line chart with the
//! unit on the axis, bar charts and pie charts for distributions and trends.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::Error;
use crate::raster::{self, FAMILY};
use crate::report::Table;

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn fail(e: impl std::fmt::Display) -> Error {
    Error::Chart(e.to_string())
}

/// A named series of `(time, value)` points; `None` values break the line (gaps stay gaps).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend name.
    pub name: String,
    /// Points.
    pub points: Vec<(DateTime<Utc>, Option<f64>)>,
}

/// What to draw.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// Time-series lines sharing one unit.
    Line {
        /// Unit shown on the value axis.
        unit: String,
        /// Series.
        series: Vec<Series>,
        /// Time zone of the time axis labels.
        tz: Tz,
    },
    /// Bars (distribution or trend; negative values allowed).
    Bar {
        /// Unit on the value axis.
        unit: String,
        /// `(label, value)`.
        bars: Vec<(String, f64)>,
    },
    /// Pie slices (non-negative values).
    Pie {
        /// `(label, value)`.
        slices: Vec<(String, f64)>,
    },
}

/// A chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Title.
    pub title: String,
    /// Content.
    pub kind: Kind,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Chart {
    /// A 900 x 500 chart.
    pub fn new(title: &str, kind: Kind) -> Self {
        Chart {
            title: title.to_string(),
            kind,
            width: 900,
            height: 500,
        }
    }

    /// A line chart of every column of a detailed report (columns of the first column's unit).
    pub fn from_table(table: &Table, tz: Tz) -> Self {
        let unit = table
            .columns
            .first()
            .map(|c| c.unit.clone())
            .unwrap_or_default();
        let series = table
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.unit == unit)
            .map(|(i, c)| Series {
                name: c.name.clone(),
                points: table
                    .rows
                    .iter()
                    .filter_map(|r| r.time.map(|t| (t, r.values.get(i).copied().flatten())))
                    .collect(),
            })
            .collect();
        Chart::new(&table.title, Kind::Line { unit, series, tz })
    }

    /// The chart as an SVG document.
    ///
    /// # Errors
    /// [`Error::Chart`].
    ///
    /// ```
    /// use reports::chart::{Chart, Kind};
    /// let c = Chart::new("by usage", Kind::Pie { slices: vec![("heating".into(), 3.0), ("lighting".into(), 1.0)] });
    /// assert!(c.svg().unwrap().contains("heating"));
    /// ```
    pub fn svg(&self) -> Result<String, Error> {
        raster::svg(self.width, self.height, |root| self.draw(root), fail)
    }

    /// The chart as PNG bytes.
    ///
    /// # Errors
    /// [`Error::Chart`].
    pub fn png(&self) -> Result<Vec<u8>, Error> {
        let (w, h) = (self.width.max(100), self.height.max(100));
        raster::png(w, h, |root| self.draw(root), fail)
    }

    /// Write PNG or SVG by the path's extension (`.png` / `.svg`).
    ///
    /// # Errors
    /// [`Error::Invalid`] for another extension, [`Error::Chart`], [`Error::Io`].
    pub fn save(&self, path: &std::path::Path) -> Result<(), Error> {
        let bytes = match path.extension().and_then(|e| e.to_str()) {
            Some("png") => self.png()?,
            Some("svg") => self.svg()?.into_bytes(),
            other => {
                return Err(Error::invalid(
                    "chart file extension",
                    ".png or .svg",
                    format!("{other:?}"),
                ));
            }
        };
        std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), Error> {
        root.fill(&WHITE).map_err(fail)?;
        match &self.kind {
            Kind::Line { unit, series, tz } => draw_line(root, &self.title, unit, series, *tz),
            Kind::Bar { unit, bars } => draw_bars(root, &self.title, unit, bars),
            Kind::Pie { slices } => draw_pie(root, &self.title, slices),
        }
    }
}

fn draw_line<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    unit: &str,
    series: &[Series],
    tz: Tz,
) -> Result<(), Error> {
    let all = || series.iter().flat_map(|s| s.points.iter());
    let (t0, t1) = all().fold((i64::MAX, i64::MIN), |(a, b), (t, _)| {
        (a.min(t.timestamp()), b.max(t.timestamp()))
    });
    let (v0, v1) = all()
        .filter_map(|p| p.1)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if t0 > t1 || v0 > v1 {
        return Err(Error::invalid(
            "line chart",
            "at least one value",
            "no data",
        ));
    }
    let pad = ((v1 - v0) * 0.05).max(if v1 == v0 { 1.0 } else { 0.0 });
    let t1 = t1.max(t0 + 1);
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FAMILY, 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(t0..t1, (v0 - pad)..(v1 + pad))
        .map_err(fail)?;
    let span = t1 - t0;
    let fmt = if span > 40 * 86_400 {
        "%Y-%m-%d"
    } else if span > 2 * 86_400 {
        "%m-%d %H:%M"
    } else {
        "%H:%M"
    };
    chart
        .configure_mesh()
        .y_desc(unit)
        .x_desc(format!("time ({})", tz.name()))
        .x_labels(8)
        .x_label_formatter(&|t| {
            DateTime::from_timestamp(*t, 0)
                .map(|d| d.with_timezone(&tz).format(fmt).to_string())
                .unwrap_or_default()
        })
        .label_style((FAMILY, 13))
        .draw()
        .map_err(fail)?;
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        // Split at gaps so a missing value is never drawn as a line through it.
        let mut runs: Vec<Vec<(i64, f64)>> = vec![Vec::new()];
        for (t, v) in &s.points {
            match v {
                Some(v) => runs
                    .last_mut()
                    .map(|r| r.push((t.timestamp(), *v)))
                    .unwrap_or(()),
                None => runs.push(Vec::new()),
            }
        }
        let mut first = true;
        for run in runs.into_iter().filter(|r| !r.is_empty()) {
            let a = chart
                .draw_series(std::iter::once(PathElement::new(
                    run,
                    color.stroke_width(2),
                )))
                .map_err(fail)?;
            if first {
                a.label(s.name.clone()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
                first = false;
            }
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FAMILY, 13))
        .draw()
        .map_err(fail)?;
    Ok(())
}

fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    unit: &str,
    bars: &[(String, f64)],
) -> Result<(), Error> {
    if bars.is_empty() {
        return Err(Error::invalid("bar chart", "at least one bar", "none"));
    }
    let lo = bars.iter().map(|b| b.1).fold(0.0f64, f64::min);
    let hi = bars.iter().map(|b| b.1).fold(0.0f64, f64::max);
    let pad = ((hi - lo) * 0.08).max(1e-9);
    let n = bars.len();
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FAMILY, 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (0..n.saturating_sub(1)).into_segmented(),
            (lo - if lo < 0.0 { pad } else { 0.0 })..(hi + pad),
        )
        .map_err(fail)?;
    let labels: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_desc(unit)
        .x_labels(n)
        .x_label_formatter(&|x| match x {
            SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .label_style((FAMILY, 13))
        .draw()
        .map_err(fail)?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
            let color = if *v < 0.0 { PALETTE[2] } else { PALETTE[0] };
            let mut r = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), *v),
                ],
                color.filled(),
            );
            r.set_margin(0, 0, 8, 8);
            r
        }))
        .map_err(fail)?;
    Ok(())
}

fn draw_pie<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    slices: &[(String, f64)],
) -> Result<(), Error> {
    if slices.iter().any(|s| s.1.is_nan() || s.1 < 0.0)
        || slices.iter().map(|s| s.1).sum::<f64>() <= 0.0
    {
        return Err(Error::invalid(
            "pie chart",
            "non-negative slices with a positive sum",
            format!("{slices:?}"),
        ));
    }
    let (w, h) = root.dim_in_pixel();
    let area = root.titled(title, (FAMILY, 22)).map_err(fail)?;
    let center = (w as i32 / 2, (h as i32 - 30) / 2);
    let radius = f64::from(w.min(h)) * 0.33;
    let sizes: Vec<f64> = slices.iter().map(|s| s.1).collect();
    let colors: Vec<RGBColor> = (0..slices.len())
        .map(|i| PALETTE[i % PALETTE.len()])
        .collect();
    let labels: Vec<String> = slices.iter().map(|s| s.0.clone()).collect();
    let mut pie = Pie::new(&center, &radius, &sizes, &colors, &labels);
    pie.label_style((FAMILY, 15).into_font().color(&BLACK));
    pie.percentages((FAMILY, 13).into_font().color(&WHITE));
    area.draw(&pie).map_err(fail)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn charts_render_png_and_svg() {
        let t0 = Utc.with_ymd_and_hms(2026, 3, 29, 0, 0, 0).unwrap();
        let pts = |f: f64| {
            (0..96)
                .map(|i| {
                    (
                        t0 + chrono::Duration::minutes(15 * i),
                        if (40..44).contains(&i) {
                            None
                        } else {
                            Some(f + (i as f64 / 8.0).sin())
                        },
                    )
                })
                .collect()
        };
        let line = Chart::new(
            "Room temperature",
            Kind::Line {
                unit: "degC".into(),
                series: vec![
                    Series {
                        name: "m1".into(),
                        points: pts(20.0),
                    },
                    Series {
                        name: "m2".into(),
                        points: pts(18.0),
                    },
                ],
                tz: chrono_tz::Europe::Paris,
            },
        );
        let png = line.png().unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let svg = line.svg().unwrap();
        assert!(svg.contains("degC") && svg.contains("<svg"));
        let bars = Chart::new(
            "7-day trend (%)",
            Kind::Bar {
                unit: "%".into(),
                bars: vec![("heating".into(), -12.0), ("lighting".into(), 5.0)],
            },
        );
        assert_eq!(&bars.png().unwrap()[1..4], b"PNG");
        let pie = Chart::new(
            "By source",
            Kind::Pie {
                slices: vec![("grid".into(), 70.0), ("solar".into(), 30.0)],
            },
        );
        assert!(pie.svg().unwrap().contains("solar"));
        assert!(
            Chart::new(
                "x",
                Kind::Pie {
                    slices: vec![("a".into(), -1.0)]
                }
            )
            .png()
            .is_err()
        );
        if let Ok(dir) = std::env::var("EMKIT_CHART_DIR") {
            let dir = std::path::Path::new(&dir);
            line.save(&dir.join("line.png")).unwrap();
            bars.save(&dir.join("bars.png")).unwrap();
            pie.save(&dir.join("pie.png")).unwrap();
            line.save(&dir.join("line.svg")).unwrap();
        }
    }
}
