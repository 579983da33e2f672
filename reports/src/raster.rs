//! Chart text and pixels: the embedded DejaVu Sans font registered with plotters, and a chart
//! drawn to SVG text or to an 8-bit RGB PNG.
//!
//! This file is identical in `reports` and `eiec` (`src/raster.rs`): the libraries do not depend
//! on each other, so each keeps this copy. Change both copies together (a test in `examples`
//! compares them).
//!
//! Text is laid out (and, in PNG, rasterised) with DejaVu Sans embedded in the binary, so no
//! system font is needed; the SVG names the family [`FAMILY`]. Errors are the calling crate's:
//! each function takes `fail`, which turns a message into that crate's error.

use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

/// The font family charts name; regular and bold are DejaVu Sans.
pub(crate) const FAMILY: &str = "sans-serif";

/// Register DejaVu Sans (regular and bold) as [`FAMILY`] with plotters, once per process.
fn fonts_ready<E>(fail: &impl Fn(String) -> E) -> Result<(), E> {
    static READY: OnceLock<bool> = OnceLock::new();
    let ok = *READY.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && plotters::style::register_font(FAMILY, FontStyle::Bold, dejavu::sans::bold()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(fail(
            "the embedded DejaVu Sans font could not be loaded".to_string(),
        ))
    }
}

/// A `width` x `height` chart drawn by `draw` as a standalone SVG document.
pub(crate) fn svg<E>(
    width: u32,
    height: u32,
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), E>,
    fail: impl Fn(String) -> E,
) -> Result<String, E> {
    fonts_ready(&fail)?;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        draw(&root)?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    Ok(out)
}

/// A `width` x `height` chart drawn by `draw` as PNG bytes (8-bit RGB).
pub(crate) fn png<E>(
    width: u32,
    height: u32,
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), E>,
    fail: impl Fn(String) -> E,
) -> Result<Vec<u8>, E> {
    fonts_ready(&fail)?;
    let mut pixels = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        draw(&root)?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(|e| fail(e.to_string()))?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| fail(e.to_string()))?;
        writer.finish().map_err(|e| fail(e.to_string()))?;
    }
    Ok(out)
}
