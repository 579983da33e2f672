//! The crate documentation (README.md) lists every key of the built-in catalogue.

#[test]
fn the_readme_has_a_row_for_every_key() {
    let readme = include_str!("../README.md");
    let catalogue = ecl_appkeys::Catalogue::builtin().unwrap_or_else(|e| panic!("{e}"));
    let rows: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with("| A") || l.starts_with("| B"))
        .collect();
    for key in catalogue.keys() {
        let name = key.name();
        let listed = rows.iter().any(|r| {
            r.split('|')
                .nth(1)
                .is_some_and(|cell| cell.split(',').any(|k| k.trim() == name))
        });
        assert!(listed, "{name} has no row in the README's key table");
    }
}
