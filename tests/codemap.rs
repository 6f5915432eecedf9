//! Keeps ARCHITECTURE.md honest: every path it names in backticks must exist.

#[test]
fn every_path_in_the_codemap_exists() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let mut checked = 0;
    for (index, piece) in text.split('`').enumerate() {
        let looks_like_path = index % 2 == 1
            && (piece.ends_with(".rs")
                || piece.ends_with('/')
                || piece.ends_with(".toml")
                || piece.ends_with(".md"))
            && piece.contains('/')
            && !piece.contains(' ');
        if looks_like_path {
            assert!(
                root.join(piece).exists(),
                "ARCHITECTURE.md names `{piece}`, which does not exist"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 20,
        "only {checked} paths found: did the format change?"
    );
}
