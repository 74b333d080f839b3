//! WGSL composition: the one mechanism by which kernels share code.
//!
//! A kernel source may contain lines of the form `#import NAME`; each is replaced by the snippet
//! `shaders/NAME.wgsl` from the fixed table below (included at compile time, so the browser and the
//! server build the same text). Snippets may not import others, which keeps the rule simple and
//! the line numbers in compiler errors easy to map back.

/// Snippets a kernel may `#import`.
const SNIPPETS: &[(&str, &str)] = &[
    ("grid", include_str!("../../shaders/grid.wgsl")),
    ("sift_frame", include_str!("../../shaders/sift_frame.wgsl")),
    ("sift_math", include_str!("../../shaders/sift_math.wgsl")),
    (
        "splat_types",
        include_str!("../../shaders/splat_types.wgsl"),
    ),
];

/// Expands `#import NAME` lines in `source`.
///
/// # Panics
/// On an unknown snippet name: sources are compile-time constants, so this is a programming error
/// caught by every kernel's tests.
pub fn compose_wgsl(source: &str) -> String {
    let mut out = String::with_capacity(source.len() + 1024);
    for line in source.lines() {
        match line.trim().strip_prefix("#import ") {
            Some(name) => {
                let name = name.trim();
                let snippet = SNIPPETS
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, s)| *s)
                    .unwrap_or_else(|| panic!("unknown WGSL snippet `{name}`"));
                out.push_str(snippet);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_lines_are_replaced_and_others_kept() {
        let out = compose_wgsl("a\n  #import grid\nb");
        assert!(out.starts_with("a\n"));
        assert!(out.contains("fn linear_workgroup"));
        assert!(out.trim_end().ends_with('b'));
        assert!(!out.contains("#import"));
    }

    #[test]
    #[should_panic(expected = "unknown WGSL snippet")]
    fn unknown_snippet_is_rejected() {
        compose_wgsl("#import nope");
    }
}
