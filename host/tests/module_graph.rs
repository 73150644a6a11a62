//! The house stays walkable: no import circle between the top-level modules of `host/src`,
//! and no source file over 400 lines.
//!
//! A module is the first path segment under `crate::` (`crate::sinks::file::index` belongs
//! to `sinks`). The graph is read from the source text: every `crate::X` path (in `use`
//! statements, grouped `crate::{X, Y}` ones, and inline paths) and every `super::` path
//! that climbs out of its own top-level module. Comments and string literals are ignored.
//! Test code is left out: files named `tests.rs` or `*_tests.rs`, and inline
//! `#[cfg(test)] mod … { … }` blocks (a test may parse a whole configuration; that does not
//! make its section depend on the root). `lib.rs` and `main.rs` are the roots, not modules.
//! Pure Rust, no network: reads the files and compares.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Longest source file allowed, tests apart.
const MAX_LINES: usize = 400;

/// Files allowed over [`MAX_LINES`] for a while, e.g. while another change edits one and
/// its split waits for that merge (an entry no longer over the limit is noted in the
/// output). Empty: every source file is under the limit.
const OVER_LIMIT_FOR_NOW: &[&str] = &[];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Whether a file holds only tests (by the crate's naming rule).
fn is_test_file(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name == "tests.rs" || name.ends_with("_tests.rs")
}

/// The module path of a file relative to `src/`: `sinks/file/mod.rs` → `[sinks, file]`.
fn module_path(rel: &str) -> Vec<String> {
    let stem = rel.strip_suffix(".rs").unwrap_or(rel);
    let mut parts: Vec<String> = stem.split('/').map(str::to_string).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The source with comments and the contents of string and character literals replaced by
/// spaces (newlines kept, so line numbers stay right).
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !chars[..i]
                .last()
                .is_some_and(|p| (p.is_alphanumeric() || *p == '_') && *p != 'b')
        {
            // A raw string r"…" or r#"…"#, if it is one.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            out.push('"');
            for _ in i + 1..=j {
                out.push(' ');
            }
            i = j + 1;
            while i < chars.len() {
                if chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
                    out.push('"');
                    for _ in 0..hashes {
                        out.push(' ');
                    }
                    i += 1 + hashes;
                    break;
                }
                out.push(blank(chars[i]));
                i += 1;
            }
        } else if c == '"' {
            out.push('"');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push('"');
            i += 1;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}'), or a lifetime ('a): left as is.
            let close = if next == Some('\\') {
                (i + 3..chars.len().min(i + 13)).find(|&k| chars[k] == '\'')
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match close {
                Some(end) => {
                    out.push('\'');
                    for _ in i + 1..end {
                        out.push(' ');
                    }
                    out.push('\'');
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// `code` with every inline `#[cfg(test)] mod name { … }` block blanked.
fn without_test_modules(code: &str) -> String {
    let mut out: Vec<char> = code.chars().collect();
    let text: String = out.iter().collect();
    let mut from = 0;
    while let Some(found) = text[from..].find("#[cfg(test)]") {
        let at = from + found;
        from = at + 1;
        let rest = &text[at + "#[cfg(test)]".len()..];
        let trimmed = rest.trim_start();
        let Some(after_mod) = trimmed.strip_prefix("mod ") else {
            continue;
        };
        let name_len = after_mod
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(after_mod.len());
        if !after_mod[name_len..].trim_start().starts_with('{') {
            continue; // `mod tests;`: a file, skipped by its name
        }
        // Byte offsets equal char offsets only for ASCII; work on chars from here.
        let start = text[..at].chars().count();
        let open = start
            + text[at..]
                .chars()
                .position(|c| c == '{')
                .expect("the block's brace");
        let mut depth = 0;
        let mut end = open;
        for (k, c) in out.iter().enumerate().skip(open) {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = k;
                        break;
                    }
                }
                _ => {}
            }
        }
        for c in &mut out[start..=end] {
            if *c != '\n' {
                *c = ' ';
            }
        }
    }
    out.into_iter().collect()
}

fn ident_at(s: &str) -> &str {
    let len = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..len]
}

/// The top-level modules `line` names, given the module path of its file.
fn targets(line: &str, path: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    let bytes = line.as_bytes();
    let boundary =
        |at: usize| at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
    for (at, _) in line.match_indices("crate::") {
        if !boundary(at) {
            continue;
        }
        let rest = &line[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // crate::{a::b, c}: the first segment of each item at the group's top level.
            let mut depth = 0;
            let mut item_start = true;
            for (k, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if c.is_whitespace() => {}
                    _ if item_start && depth == 0 => {
                        item_start = false;
                        found.push(ident_at(&group[k..]).to_string());
                    }
                    _ => {}
                }
            }
        } else {
            found.push(ident_at(rest).to_string());
        }
    }
    for (at, _) in line.match_indices("super::") {
        if !boundary(at) || line[..at].ends_with("super::") {
            continue;
        }
        let mut rest = &line[at..];
        let mut climbs = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            climbs += 1;
            rest = r;
        }
        if climbs >= path.len() {
            found.push(ident_at(rest).to_string());
        }
    }
    found
}

/// The source files under `src/`, relative paths with `/`, and their text.
fn sources() -> Vec<(String, String)> {
    let src = src_dir();
    rust_files(&src)
        .into_iter()
        .map(|file| {
            let rel = file
                .strip_prefix(&src)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|err| panic!("cannot read {}: {err}", file.display()));
            (rel, text)
        })
        .collect()
}

/// Edges between top-level modules, each with where it is made (`file:line`).
fn graph() -> BTreeMap<(String, String), Vec<String>> {
    let files = sources();
    let modules: BTreeSet<String> = files
        .iter()
        .map(|(rel, _)| module_path(rel)[0].clone())
        .filter(|m| m != "lib" && m != "main")
        .collect();
    let mut edges: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (rel, text) in &files {
        let path = module_path(rel);
        let from = &path[0];
        if !modules.contains(from) || is_test_file(rel) {
            continue;
        }
        let code = without_test_modules(&code_only(text));
        for (n, line) in code.lines().enumerate() {
            for to in targets(line, &path) {
                if &to != from && modules.contains(&to) {
                    edges
                        .entry((from.clone(), to))
                        .or_default()
                        .push(format!("{rel}:{}", n + 1));
                }
            }
        }
    }
    edges
}

/// Every elementary cycle of the graph, each starting at its smallest module.
fn cycles(edges: &BTreeMap<(String, String), Vec<String>>) -> Vec<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        next.entry(from).or_default().push(to);
    }
    fn walk<'a>(
        start: &'a str,
        at: &'a str,
        path: &mut Vec<&'a str>,
        next: &BTreeMap<&'a str, Vec<&'a str>>,
        found: &mut Vec<Vec<String>>,
    ) {
        for &to in next.get(at).map(Vec::as_slice).unwrap_or_default() {
            if to == start {
                found.push(path.iter().map(|s| s.to_string()).collect());
            } else if to > start && !path.contains(&to) && found.len() < 1000 {
                path.push(to);
                walk(start, to, path, next, found);
                path.pop();
            }
        }
    }
    let mut found = Vec::new();
    for &start in next.keys() {
        walk(start, start, &mut vec![start], &next, &mut found);
    }
    found
}

#[test]
fn no_import_cycle_between_top_level_modules() {
    let edges = graph();
    assert!(
        edges.contains_key(&("supervisor".to_string(), "config".to_string())),
        "the reader found no `supervisor → config` edge: it reads nothing ({} edges)",
        edges.len()
    );
    let cycles = cycles(&edges);
    let mut report = String::new();
    for cycle in &cycles {
        let mut ring = cycle.clone();
        ring.push(cycle[0].clone());
        report.push_str(&format!("\n  {}", ring.join(" → ")));
        for pair in ring.windows(2) {
            let at = &edges[&(pair[0].clone(), pair[1].clone())];
            report.push_str(&format!(
                "\n      {} → {}: {}",
                pair[0],
                pair[1],
                at.join(", ")
            ));
        }
    }
    assert!(
        cycles.is_empty(),
        "{} import cycle(s) between top-level modules of host/src (a lower layer defines \
         the type or trait, the upper one uses it; see ARCHITECTURE.md):{report}",
        cycles.len()
    );
    let mut listing = String::new();
    for ((from, to), at) in &edges {
        listing.push_str(&format!("{from} → {to} ({} uses)\n", at.len()));
    }
    println!("{} edges, 0 cycles:\n{listing}", edges.len());
}

#[test]
fn no_source_file_over_400_lines() {
    let mut over = Vec::new();
    let mut longest = (0, String::new());
    for (rel, text) in sources() {
        if is_test_file(&rel) {
            continue;
        }
        let lines = text.lines().count();
        if lines > longest.0 && !OVER_LIMIT_FOR_NOW.contains(&rel.as_str()) {
            longest = (lines, rel.clone());
        }
        if lines > MAX_LINES && !OVER_LIMIT_FOR_NOW.contains(&rel.as_str()) {
            over.push(format!("  host/src/{rel}: {lines} lines"));
        }
        if lines <= MAX_LINES && OVER_LIMIT_FOR_NOW.contains(&rel.as_str()) {
            println!(
                "note: host/src/{rel} ({lines} lines) is in OVER_LIMIT_FOR_NOW but no longer over"
            );
        }
    }
    for rel in OVER_LIMIT_FOR_NOW {
        assert!(
            src_dir().join(rel).is_file(),
            "OVER_LIMIT_FOR_NOW names host/src/{rel}, which does not exist: remove it"
        );
    }
    assert!(
        over.is_empty(),
        "source files over {MAX_LINES} lines (tests apart; split them by role):\n{}",
        over.join("\n")
    );
    println!(
        "longest source file: host/src/{} ({} lines)",
        longest.1, longest.0
    );
}

#[test]
fn the_reader_sees_through_comments_strings_and_test_blocks() {
    let text = "use crate::a::X; // crate::b\nlet s = \"crate::c\";\n/* crate::d */ \
                let r = r#\"crate::e\"#;\nuse crate::{f::Y, g};\n#[cfg(test)]\nmod tests {\n    \
                use crate::h;\n    fn x() { if true { crate::i(); } }\n}\nfn y() { super::j::z(); }\n";
    let code = without_test_modules(&code_only(text));
    let path = vec!["k".to_string()];
    let found: Vec<String> = code.lines().flat_map(|l| targets(l, &path)).collect();
    assert_eq!(found, ["a", "f", "g", "j"]);
    let nested = vec!["k".to_string(), "m".to_string()];
    assert_eq!(targets("use super::super::n::W;", &nested), ["n"]);
    assert!(targets("use super::o;", &nested).is_empty());
}
