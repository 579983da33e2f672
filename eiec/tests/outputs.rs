//! Outputs: synoptic table as text, CSV and SVG; bar chart as SVG and PNG.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use eiec::{
    Assessment, AssessmentResult, BUILTIN_CRITERIA, BuildingType, ClassScale, ClassTables,
    CriteriaCatalogue, Rating, Scheme,
};

const LEVELS: &str = "lighting=4,hvac=3,motors=0,wiring=2,power-factor=1,renewable=nc";

fn assessed(scheme: &Scheme) -> AssessmentResult {
    let mut a = Assessment::from_level_list(BuildingType::Commercial, LEVELS).unwrap();
    a.set_evidence("hvac", "BMS schedules, audit 2024");
    scheme.assess(&a, ClassScale::Six).unwrap()
}

/// Column of the mark for a rating: 0 = nc, 1 + n = level n.
fn column(r: Rating) -> usize {
    match r {
        Rating::NotConsidered => 0,
        Rating::Level(n) => 1 + usize::from(n),
    }
}

#[test]
fn text_marks_each_criterion_at_its_rating() {
    let scheme = Scheme::builtin().unwrap();
    let r = assessed(&scheme);
    let text = scheme.synoptic(&r).unwrap().text();
    let header = text.lines().find(|l| l.starts_with("criterion")).unwrap();
    let nc_at = header.find(" nc ").unwrap() + 1;
    // Mark columns: "nc" ends at nc_at + 1; each level column 3 characters further.
    let mark_cols: Vec<usize> = (0..6).map(|i| nc_at + 1 + 3 * i).collect();
    for score in &r.criteria {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(score.id.as_str()))
            .unwrap_or_else(|| panic!("no line for {}", score.id));
        let marks: Vec<char> = mark_cols
            .iter()
            .map(|&c| line.chars().nth(c).unwrap())
            .collect();
        for (i, m) in marks.iter().enumerate() {
            if i == column(score.rating) {
                assert_eq!(*m, 'X', "{line}");
            } else if i == 0 {
                assert_eq!(*m, ' ', "{line}");
            } else if i == 1 {
                assert_eq!(*m, '.', "level 0 is known: {line}");
            } else {
                assert_eq!(*m, '?', "levels 1..4 are unknown: {line}");
            }
        }
        assert!(
            line.trim_end().ends_with(&score.points.to_string()),
            "{line}"
        );
    }
    assert!(text.contains(&format!("total {} of 64", r.total)));
    assert!(text.contains(&format!("-> {}", r.class)));
    assert!(text.contains("vendor-derived, unverified"));
    assert!(text.contains("hvac: BMS schedules, audit 2024"));
}

#[test]
fn csv_round_trips_through_a_csv_reader() {
    let scheme = Scheme::builtin().unwrap();
    let r = assessed(&scheme);
    let csv_text = scheme.synoptic(&r).unwrap().csv().unwrap();
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), r.criteria.len());
    let marks = [
        "not_considered",
        "level_0",
        "level_1",
        "level_2",
        "level_3",
        "level_4",
    ];
    for (row, score) in rows.iter().zip(&r.criteria) {
        assert_eq!(&row[col("id")], score.id);
        let marked: Vec<usize> = marks
            .iter()
            .enumerate()
            .filter(|(_, m)| &row[col(m)] == "X")
            .map(|(i, _)| i)
            .collect();
        assert_eq!(marked, [column(score.rating)], "{}", score.id);
        assert_eq!(row[col("points")].parse::<u32>().unwrap(), score.points);
        for n in 1..=4 {
            assert_eq!(&row[col(&format!("requirement_{n}"))], "unknown");
        }
        assert!(!row[col("requirement_0")].is_empty());
    }
    let hvac = rows.iter().find(|r| &r[0] == "hvac").unwrap();
    assert_eq!(&hvac[col("evidence")], "BMS schedules, audit 2024");
}

#[test]
fn svg_escapes_text_and_marks_ratings() {
    // A caller's title with markup characters must come out escaped.
    let text = BUILTIN_CRITERIA.replacen(
        "title = \"Lighting\"",
        "title = \"Lighting <indoor & outdoor>\"",
        1,
    );
    let scheme = Scheme::new(
        CriteriaCatalogue::from_toml_str("c.toml".as_ref(), &text).unwrap(),
        ClassTables::builtin().unwrap(),
    );
    let r = assessed(&scheme);
    let svg = scheme.synoptic(&r).unwrap().svg();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("Lighting &lt;indoor &amp; outdoor&gt;"));
    assert!(!svg.contains("<indoor"));
    // One achieved cell per criterion (non-considered ones use their own colour).
    let considered = r
        .criteria
        .iter()
        .filter(|c| c.rating != Rating::NotConsidered)
        .count();
    assert_eq!(svg.matches("fill=\"#2e7d32\"").count(), considered);
    assert_eq!(
        svg.matches("fill=\"#78909c\"").count(),
        r.criteria.len() - considered
    );
    assert_eq!(
        svg.matches("requirement unknown</title>").count(),
        16 * 4 - considered_above_0(&r)
    );
    // Balanced elements.
    assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    assert_eq!(svg.matches("<g>").count(), svg.matches("</g>").count());
}

/// Cells of levels 1..4 that are achieved (and so not drawn as unknown).
fn considered_above_0(r: &AssessmentResult) -> usize {
    r.criteria
        .iter()
        .filter(|c| matches!(c.rating, Rating::Level(n) if n > 0))
        .count()
}

#[cfg(feature = "charts")]
mod chart {
    use eiec::{BarChart, Class, LevelView};

    fn view(expected: Option<u8>, previous: Option<u8>, current: Option<u8>) -> LevelView {
        LevelView {
            expected: expected.map(Class::new),
            previous: previous.map(Class::new),
            current: current.map(Class::new),
            classes: 6,
        }
    }

    #[test]
    fn chart_svg_labels_classes_and_unknowns() {
        let svg = BarChart::new(view(None, Some(1), Some(5))).svg().unwrap();
        for k in 0..6 {
            assert!(svg.contains(&format!("\nEIEC{k}\n")), "EIEC{k}");
        }
        for label in ["expected", "previous", "current", "unknown"] {
            assert!(svg.contains(label), "{label}");
        }
        let five = LevelView {
            classes: 5,
            ..view(Some(2), Some(1), Some(3))
        };
        let svg = BarChart::new(five)
            .note("table: vendor-derived")
            .svg()
            .unwrap();
        assert!(!svg.contains("\nEIEC5\n"));
        assert!(!svg.contains("unknown"));
        assert!(svg.contains("table: vendor-derived"));
    }

    fn decode(png_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    fn pixel(img: &(u32, u32, Vec<u8>), x: u32, y: u32) -> [u8; 3] {
        let i = ((y * img.0 + x) * 3) as usize;
        [img.2[i], img.2[i + 1], img.2[i + 2]]
    }

    #[test]
    fn chart_png_draws_bars_to_their_class() {
        // Default layout, 640 x 400: plot from x 90 to 616, y 56 (top) to 352 (bottom); six bands
        // of (352 - 56) / 6 pixels; slot centres at 90 + 526 * (i + 0.5) / 3.
        let img = decode(&BarChart::new(view(None, Some(0), Some(5))).png().unwrap());
        assert_eq!((img.0, img.1), (640, 400));
        let band = (352.0 - 56.0) / 6.0;
        let y_mid = |k: f64| (352.0 - (k + 0.5) * band) as u32;
        let x = |i: f64| (90.0 + 526.0 * (i + 0.5) / 3.0) as u32;
        let green = [56, 142, 60];
        let red = [211, 47, 47];
        let white = [255, 255, 255];
        // current = EIEC5 (top class): green up to the top band.
        assert_eq!(pixel(&img, x(2.0), y_mid(5.0)), green);
        assert_eq!(pixel(&img, x(2.0), y_mid(0.0)), green);
        // previous = EIEC0: red in the lowest band only.
        assert_eq!(pixel(&img, x(1.0), y_mid(0.0)), red);
        assert_eq!(pixel(&img, x(1.0), y_mid(2.0)), white);
        // expected unknown: no bar.
        assert_eq!(pixel(&img, x(0.0), y_mid(2.0)), white);
        // Text is rendered (the title row holds dark anti-aliased pixels).
        let dark = (0..640)
            .flat_map(|x| (10..36).map(move |y| (x, y)))
            .filter(|&(x, y)| pixel(&img, x, y).iter().all(|&c| c < 100))
            .count();
        assert!(dark > 200, "title pixels: {dark}");
        // Other sizes follow the request.
        let small = decode(
            &BarChart::new(view(Some(1), None, None))
                .size(320, 240)
                .png()
                .unwrap(),
        );
        assert_eq!((small.0, small.1), (320, 240));
    }
}
