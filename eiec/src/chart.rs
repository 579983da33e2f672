//! Bar chart of the expected, previous and current class, as SVG and PNG (feature `charts`).
//!
//! Drawn with plotters. Text is laid out (and, in PNG, rasterised) with the DejaVu Sans font
//! embedded in the binary, so no system font is needed; the SVG names `sans-serif`.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::Error;
use crate::classes::Class;
use crate::history::LevelView;
use crate::raster::{self, FAMILY};

/// Colour of class `k` of `n`: red (lowest) through yellow to green (highest).
fn class_color(k: u8, n: u8) -> RGBColor {
    let t = if n > 1 {
        f64::from(k) / f64::from(n - 1)
    } else {
        1.0
    };
    // Piecewise: red (211, 47, 47) -> amber (251, 192, 45) -> green (56, 142, 60).
    let lerp = |a: f64, b: f64, u: f64| (a + (b - a) * u).round() as u8;
    if t < 0.5 {
        let u = t * 2.0;
        RGBColor(
            lerp(211.0, 251.0, u),
            lerp(47.0, 192.0, u),
            lerp(47.0, 45.0, u),
        )
    } else {
        let u = (t - 0.5) * 2.0;
        RGBColor(
            lerp(251.0, 56.0, u),
            lerp(192.0, 142.0, u),
            lerp(45.0, 60.0, u),
        )
    }
}

/// A bar chart of a [`LevelView`]: one bar each for the expected, previous and current class,
/// the bar reaching the top of its class band. An unknown value is shown as "unknown" with
/// no bar.
///
/// ```
/// use eiec::{BarChart, Class, LevelView};
/// let view = LevelView { expected: Some(Class::new(3)), previous: Some(Class::new(1)),
///                        current: Some(Class::new(2)), classes: 6 };
/// let chart = BarChart::new(view);
/// let svg = chart.svg()?;
/// assert!(svg.contains("EIEC5") && svg.contains("current"));
/// let png = chart.png()?;
/// assert_eq!(&png[1..4], b"PNG");
/// # Ok::<(), eiec::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    view: LevelView,
    width: u32,
    height: u32,
    title: String,
    note: Option<String>,
}

impl BarChart {
    /// A 640 x 400 chart titled "Electrical installation efficiency class".
    pub fn new(view: LevelView) -> Self {
        BarChart {
            view,
            width: 640,
            height: 400,
            title: "Electrical installation efficiency class".into(),
            note: None,
        }
    }

    /// Set the size in pixels (at least 240 x 200).
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.width = width.max(240);
        self.height = height.max(200);
        self
    }

    /// Set the title.
    pub fn title(mut self, title: &str) -> Self {
        self.title = title.to_string();
        self
    }

    /// Set a note printed under the chart, e.g. the class table's confidence.
    pub fn note(mut self, note: &str) -> Self {
        self.note = Some(note.to_string());
        self
    }

    /// The chart as a standalone SVG document.
    pub fn svg(&self) -> Result<String, Error> {
        raster::svg(self.width, self.height, |root| self.draw(root), fail)
    }

    /// The chart as PNG bytes (8-bit RGB).
    pub fn png(&self) -> Result<Vec<u8>, Error> {
        raster::png(self.width, self.height, |root| self.draw(root), fail)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), Error> {
        let (w, h) = (self.width as i32, self.height as i32);
        let n = self.view.classes.max(1);
        root.fill(&WHITE).map_err(fail)?;
        let black = BLACK;
        let grey = RGBColor(117, 117, 117);
        let title = (FAMILY, 20, FontStyle::Bold)
            .into_font()
            .color(&black)
            .pos(Pos::new(HPos::Center, VPos::Top));
        root.draw(&Text::new(self.title.clone(), (w / 2, 12), title))
            .map_err(fail)?;

        let footer = if self.note.is_some() { 22 } else { 0 };
        let (left, right, top, bottom) = (90, w - 24, 56, h - 48 - footer);
        if let Some(note) = &self.note {
            root.draw(&Text::new(
                note.clone(),
                (w / 2, h - 8),
                (FAMILY, 12)
                    .into_font()
                    .color(&RGBColor(97, 97, 97))
                    .pos(Pos::new(HPos::Center, VPos::Bottom)),
            ))
            .map_err(fail)?;
        }
        let band = f64::from(bottom - top) / f64::from(n);
        let y_of = |v: f64| bottom - (v * band).round() as i32;
        let label = (FAMILY, 14).into_font().color(&black);
        // Class bands: a tinted strip at the axis and a label per class, with grid lines.
        for k in 0..n {
            let (y0, y1) = (y_of(f64::from(k) + 1.0), y_of(f64::from(k)));
            root.draw(&Rectangle::new(
                [(left - 8, y0), (left - 2, y1)],
                class_color(k, n).filled(),
            ))
            .map_err(fail)?;
            root.draw(&PathElement::new(
                vec![(left, y0), (right, y0)],
                RGBColor(224, 224, 224),
            ))
            .map_err(fail)?;
            root.draw(&Text::new(
                Class::new(k).to_string(),
                (left - 14, (y0 + y1) / 2),
                label.pos(Pos::new(HPos::Right, VPos::Center)),
            ))
            .map_err(fail)?;
        }
        // Axes.
        root.draw(&PathElement::new(
            vec![(left, top), (left, bottom), (right, bottom)],
            black,
        ))
        .map_err(fail)?;

        let bars = [
            ("expected", self.view.expected),
            ("previous", self.view.previous),
            ("current", self.view.current),
        ];
        let slot = f64::from(right - left) / bars.len() as f64;
        for (i, (name, class)) in bars.iter().enumerate() {
            let cx = left + (slot * (i as f64 + 0.5)).round() as i32;
            let half = (slot * 0.22).round() as i32;
            root.draw(&Text::new(
                name.to_string(),
                (cx, bottom + 10),
                label.pos(Pos::new(HPos::Center, VPos::Top)),
            ))
            .map_err(fail)?;
            match class {
                Some(c) => {
                    let k = c.index().min(n - 1);
                    let y = y_of(f64::from(k) + 1.0);
                    root.draw(&Rectangle::new(
                        [(cx - half, y), (cx + half, bottom)],
                        class_color(k, n).filled(),
                    ))
                    .map_err(fail)?;
                    root.draw(&Text::new(
                        c.to_string(),
                        (cx, y - 6),
                        (FAMILY, 16, FontStyle::Bold)
                            .into_font()
                            .color(&black)
                            .pos(Pos::new(HPos::Center, VPos::Bottom)),
                    ))
                    .map_err(fail)?;
                }
                None => {
                    root.draw(&Text::new(
                        "unknown".to_string(),
                        (cx, bottom - 14),
                        (FAMILY, 14)
                            .into_font()
                            .color(&grey)
                            .pos(Pos::new(HPos::Center, VPos::Bottom)),
                    ))
                    .map_err(fail)?;
                }
            }
        }
        Ok(())
    }
}

fn fail(e: impl std::fmt::Display) -> Error {
    Error::Output {
        what: "bar chart",
        message: e.to_string(),
    }
}
