//! The server's top-level modules must form no import cycle: a module may use another only if
//! that one does not (directly or through others) use it back. The graph is read from the
//! sources: every `crate::m` path (also inside `crate::{…}` groups) and every `super::` path that
//! climbs to the crate root, in code (comments and string literals do not count). A folder
//! module (`api/`, `db/`, `jobs/`) is one node with all its files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module name → the modules it refers to.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// The top-level modules `lib.rs` declares (`mod m;` or `pub mod m;`).
fn declared_modules(lib: &str) -> Vec<String> {
    code_only(lib)
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = l.strip_prefix("pub ").unwrap_or(l);
            let l = l.strip_prefix("pub(crate) ").unwrap_or(l);
            l.strip_prefix("mod ")?
                .strip_suffix(';')
                .map(|m| m.trim().to_owned())
        })
        .collect()
}

/// `text` with comments and the contents of string and character literals blanked out (line
/// structure kept).
fn code_only(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < c.len() {
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if c[i] == '\n' {
                        out.push('\n');
                    }
                    i += 1;
                }
            }
        } else if c[i] == 'r'
            && (c.get(i + 1) == Some(&'"') || c.get(i + 1) == Some(&'#'))
            && (i == 0 || !(c[i - 1].is_alphanumeric() || c[i - 1] == '_'))
        {
            // A raw string r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if c.get(j) != Some(&'"') {
                out.push(c[i]);
                i += 1;
                continue;
            }
            j += 1;
            while j < c.len() {
                if c[j] == '"' && (0..hashes).all(|h| c.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                if c[j] == '\n' {
                    out.push('\n');
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c[i] == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                }
                if c.get(i) == Some(&'\n') {
                    out.push('\n');
                }
                i += 1;
            }
            out.push_str("\"\"");
            i += 1;
        } else if c[i] == '\'' && c.get(i + 1) == Some(&'\\') {
            // An escaped character literal ('\n', '\'', '\u{…}').
            i += 2;
            while i < c.len() && c[i] != '\'' {
                i += 1;
            }
            out.push_str("' '");
            i += 1;
        } else if c[i] == '\'' && c.get(i + 2) == Some(&'\'') {
            out.push_str("' '");
            i += 3;
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

fn ident_at(c: &[char], mut i: usize) -> (String, usize) {
    while i < c.len() && c[i].is_whitespace() {
        i += 1;
    }
    let start = i;
    while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
        i += 1;
    }
    (c[start..i].iter().collect(), i)
}

fn starts_with(c: &[char], i: usize, word: &str) -> bool {
    let w: Vec<char> = word.chars().collect();
    c.len() >= i + w.len()
        && c[i..i + w.len()] == w[..]
        && (i == 0 || !(c[i - 1].is_alphanumeric() || c[i - 1] == '_'))
}

/// The first segments of the items of a `{…}` group starting at `c[open]`.
fn group_heads(c: &[char], open: usize) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut expect_head = true;
    let mut i = open;
    while i < c.len() {
        match c[i] {
            '{' => {
                depth += 1;
                expect_head = depth == 1;
                i += 1;
            }
            '}' => {
                depth -= 1;
                i += 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => {
                expect_head = true;
                i += 1;
            }
            ch if depth == 1 && expect_head && (ch.is_alphanumeric() || ch == '_') => {
                let (id, next) = ident_at(c, i);
                heads.push(id);
                expect_head = false;
                i = next;
            }
            _ => i += 1,
        }
    }
    heads
}

/// The crate-root modules one file refers to; `depth` is how deep the file's module is (1 for
/// `m.rs` and `m/mod.rs`, 2 for `m/sub.rs`, …).
fn references(source: &str, depth: usize) -> BTreeSet<String> {
    let code = code_only(source);
    let c: Vec<char> = code.chars().collect();
    let mut found = BTreeSet::new();
    // Braces that opened an inline `mod name { … }`: `super::` inside climbs from there.
    let mut inline_mods: Vec<usize> = Vec::new();
    let mut braces = 0usize;
    let mut i = 0;
    while i < c.len() {
        if starts_with(&c, i, "mod ") {
            let (_, after) = ident_at(&c, i + 4);
            let mut j = after;
            while j < c.len() && c[j].is_whitespace() {
                j += 1;
            }
            if c.get(j) == Some(&'{') {
                inline_mods.push(braces);
            }
            i = after;
            continue;
        }
        match c[i] {
            '{' => braces += 1,
            '}' => {
                braces = braces.saturating_sub(1);
                if inline_mods.last() == Some(&braces) {
                    inline_mods.pop();
                }
            }
            _ => {}
        }
        let root_path = if starts_with(&c, i, "crate::") {
            Some(i + "crate::".len())
        } else if starts_with(&c, i, "super::") {
            let mut j = i;
            let mut ups = 0;
            while starts_with(&c, j, "super::") {
                ups += 1;
                j += "super::".len();
            }
            let at = depth + inline_mods.len();
            (ups >= at).then_some(j)
        } else {
            None
        };
        if let Some(j) = root_path {
            let mut k = j;
            while k < c.len() && c[k].is_whitespace() {
                k += 1;
            }
            if c.get(k) == Some(&'{') {
                found.extend(group_heads(&c, k));
            } else {
                let (id, _) = ident_at(&c, k);
                if !id.is_empty() {
                    found.insert(id);
                }
            }
            i = j;
            continue;
        }
        i += 1;
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The module graph of the crate whose root file is `src/lib.rs`.
fn module_graph(src: &Path) -> Graph {
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let modules = declared_modules(&lib);
    let known: BTreeSet<&str> = modules.iter().map(String::as_str).collect();
    let mut graph = Graph::new();
    for m in &modules {
        let mut files: Vec<(PathBuf, usize)> = Vec::new();
        let single = src.join(format!("{m}.rs"));
        if single.is_file() {
            files.push((single, 1));
        }
        let dir = src.join(m);
        if dir.is_dir() {
            let mut inner = Vec::new();
            rust_files(&dir, &mut inner);
            for f in inner {
                let rel = f.strip_prefix(&dir).expect("under the module folder");
                let mut depth = 1 + rel.components().count() - 1;
                if f.file_name().is_some_and(|n| n != "mod.rs") {
                    depth += 1;
                }
                files.push((f, depth));
            }
        }
        assert!(!files.is_empty(), "module `{m}` has no source file");
        let edges = graph.entry(m.clone()).or_default();
        for (f, depth) in files {
            let text = std::fs::read_to_string(&f).expect("source file");
            for r in references(&text, depth) {
                if r != *m && known.contains(r.as_str()) {
                    edges.insert(r);
                }
            }
        }
    }
    graph
}

/// One cycle of `graph` (its nodes in order, the first repeated at the end), if any.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        n: &str,
        graph: &Graph,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(n) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let from = path
                    .iter()
                    .position(|p| p == n)
                    .expect("open node on the path");
                let mut cycle = path[from..].to_vec();
                cycle.push(n.to_owned());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(n.to_owned(), Mark::Open);
        path.push(n.to_owned());
        for next in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, graph, marks, path) {
                return Some(c);
            }
        }
        path.pop();
        marks.insert(n.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for n in graph.keys() {
        if let Some(c) = visit(n, graph, &mut marks, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

#[test]
fn server_modules_form_no_import_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = module_graph(&src);
    // The reader must see the server's known layering, or it is reading nothing.
    for (from, to) in [
        ("serve", "routes"),
        ("routes", "api"),
        ("api", "state"),
        ("state", "jobs"),
        ("jobs", "db"),
    ] {
        assert!(
            graph.get(from).is_some_and(|e| e.contains(to)),
            "expected `{from}` to use `{to}`; graph: {graph:#?}"
        );
    }
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle among server modules: {}", cycle.join(" -> "));
    }
}

#[test]
fn a_cycle_is_found() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path();
    std::fs::create_dir_all(src.join("jobs")).expect("jobs folder");
    let files = [
        ("lib.rs", "pub mod state;\npub mod jobs;\nmod error;\n"),
        ("state.rs", "use crate::{error::E, jobs::Service};\n"),
        (
            "jobs/mod.rs",
            "mod tasks;\n// crate::state in a comment does not count\n",
        ),
        // Climbs to the root with `super::super::` from the folder's submodule.
        (
            "jobs/tasks.rs",
            "fn f() { let s = \"crate::error\"; super::super::state::x(); }\n",
        ),
        (
            "error.rs",
            "#[cfg(test)]\nmod tests {\n    use super::*;\n}\n",
        ),
    ];
    for (name, text) in files {
        std::fs::write(src.join(name), text).expect("write a source file");
    }
    let graph = module_graph(src);
    assert_eq!(
        graph["state"],
        BTreeSet::from(["error".into(), "jobs".into()])
    );
    assert_eq!(graph["jobs"], BTreeSet::from(["state".into()]));
    assert!(graph["error"].is_empty(), "{graph:?}");
    let cycle = find_cycle(&graph).expect("state and jobs use each other");
    assert_eq!(cycle.first(), cycle.last());
    assert!(cycle.contains(&"state".to_owned()) && cycle.contains(&"jobs".to_owned()));

    // Without the way back there is no cycle.
    std::fs::write(src.join("jobs/tasks.rs"), "fn f() {}\n").expect("rewrite");
    assert_eq!(find_cycle(&module_graph(src)), None);
}
