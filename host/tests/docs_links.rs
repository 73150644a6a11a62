//! Every relative link of the documentation resolves.
//!
//! For `README.md`, `ARCHITECTURE.md` and every `docs/*.md`, each markdown link
//! `[text](target)` (images included; `http:`, `https:` and `mailto:` links and anything
//! inside fenced code blocks or inline code skipped) must name a file or folder that exists,
//! relative to the file it is in, and its `#anchor`, in the same file or in another `.md`,
//! must be the GitHub slug of one of that file's headings (lowercased, punctuation but `-`
//! and `_` removed, spaces as `-`, a repeated heading as `-1`, `-2`, …) or an explicit
//! `<a id="…">` / `<a name="…">`. Each broken link is printed as `file:line: target (reason)`.
//! Standard library only.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Link targets with these prefixes are not checked.
const EXTERNAL: [&str; 3] = ["http://", "https://", "mailto:"];

/// The files checked, from the repository root (the parent of the host crate):
/// `README.md`, `ARCHITECTURE.md` and `docs/*.md`, sorted.
fn documents(root: &Path) -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = fs::read_dir(root.join("docs"))
        .expect("docs/ is readable")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    [root.join("README.md"), root.join("ARCHITECTURE.md")]
        .into_iter()
        .chain(docs)
        .collect()
}

/// The lines of a text with every line of a fenced code block (fences included) emptied,
/// so that line numbers stay those of the file.
fn without_code_blocks(text: &str) -> Vec<&str> {
    let mut fence: Option<&str> = None;
    let mut lines = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        let marker = ["```", "~~~"].into_iter().find(|m| trimmed.starts_with(m));
        let code = fence.is_some() || marker.is_some();
        match (fence, marker) {
            (None, Some(m)) => fence = Some(m),
            (Some(open), Some(m)) if open == m && trimmed == m => fence = None,
            _ => {}
        }
        lines.push(if code { "" } else { line });
    }
    lines
}

/// The text with its inline code spans (from a run of backticks to the next run as long,
/// within a paragraph) turned into spaces, newlines kept; an unclosed run stays as it is.
fn without_inline_code(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let run = |at: usize| chars[at..].iter().take_while(|&&c| c == '`').count();
    let (mut out, mut i) = (String::new(), 0);
    while i < chars.len() {
        let (n, mut j) = (run(i), i + run(i));
        let close = loop {
            match chars.get(j) {
                _ if n == 0 => break None,
                None => break None,
                Some('\n') if chars.get(j + 1) == Some(&'\n') => break None,
                Some('`') if run(j) == n => break Some(j + n),
                Some('`') => j += run(j),
                Some(_) => j += 1,
            }
        };
        let end = close.unwrap_or(i + n.max(1));
        let blank = |&c: &char| if close.is_none() || c == '\n' { c } else { ' ' };
        out.extend(chars[i..end].iter().map(blank));
        i = end;
    }
    out
}

/// GitHub's anchor for a heading's text: markdown links reduced to their text, lowercased,
/// every character but letters, digits, `-`, `_` and spaces dropped, spaces as `-`.
fn slug(heading: &str) -> String {
    let text = links(heading)
        .iter()
        .fold(heading.to_string(), |acc, (_, text, whole)| {
            acc.replacen(whole.as_str(), text, 1)
        });
    let lower = text.to_lowercase();
    let kept = lower
        .chars()
        .filter(|&c| c.is_alphanumeric() || "-_ ".contains(c));
    kept.map(|c| if c == ' ' { '-' } else { c }).collect()
}

/// The anchors of a markdown file: its headings' slugs (a repeated one suffixed `-1`,
/// `-2`, …) and its explicit `<a id="…">` / `<a name="…">`.
fn anchors(text: &str) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut found = Vec::new();
    for line in without_code_blocks(text) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if (1..=6).contains(&hashes) && line[hashes..].starts_with(' ') {
            let base = slug(line[hashes..].trim().trim_end_matches('#').trim());
            let n = seen.entry(base.clone()).or_insert(0);
            let suffix = if *n > 0 {
                format!("-{n}")
            } else {
                String::new()
            };
            found.push(base + &suffix);
            *n += 1;
        }
        for attr in ["<a id=\"", "<a name=\""] {
            for (i, _) in line.match_indices(attr) {
                let rest = &line[i + attr.len()..];
                found.push(rest[..rest.find('"').unwrap_or(rest.len())].to_string());
            }
        }
    }
    found
}

/// The links `[text](target)` of a text: (byte offset, text, the whole link), in order.
/// Link text may hold brackets and span lines; a target ends at its closing parenthesis.
fn links(text: &str) -> Vec<(usize, String, String)> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    for (open, _) in text.match_indices('[') {
        let mut depth = 0;
        let close = (open..bytes.len()).find(|&i| {
            depth += i32::from(bytes[i] == b'[') - i32::from(bytes[i] == b']');
            depth == 0
        });
        let Some(close) = close.filter(|&c| bytes.get(c + 1) == Some(&b'(')) else {
            continue;
        };
        let rest = &text[close + 2..];
        let end = rest.find([')', '\n']).unwrap_or(rest.len());
        if rest[end..].starts_with(')') {
            let whole = &text[open..close + 3 + end];
            found.push((open, text[open + 1..close].to_string(), whole.to_string()));
        }
    }
    found
}

/// What is wrong with one link target of `file`, if anything.
fn problem(root: &Path, file: &Path, target: &str) -> Option<String> {
    let target = target.split_whitespace().next().unwrap_or("");
    let target = target.trim_start_matches('<').trim_end_matches('>');
    if EXTERNAL.iter().any(|prefix| target.starts_with(prefix)) {
        return None;
    }
    let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
    let dest = match (path, path.strip_prefix('/')) {
        ("", _) => file.to_path_buf(),
        (_, Some(from_root)) => root.join(from_root),
        (relative, None) => file.parent().unwrap().join(relative),
    };
    if !dest.exists() {
        return Some("no such file".into());
    }
    if anchor.is_empty() || dest.extension().is_none_or(|ext| ext != "md") {
        return None;
    }
    let text = fs::read_to_string(&dest).ok()?;
    let shown = dest.strip_prefix(root).unwrap_or(&dest).display();
    let found = anchors(&text).iter().any(|a| a == anchor);
    (!found).then(|| format!("no heading or anchor #{anchor} in {shown}"))
}

#[test]
fn every_relative_link_resolves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let (mut broken, mut checked) = (Vec::new(), 0);
    for file in documents(root) {
        let text = fs::read_to_string(&file).expect("the file is readable");
        let prose = without_inline_code(&without_code_blocks(&text).join("\n"));
        for (offset, _, whole) in links(&prose) {
            let target = &whole[whole.rfind("](").unwrap() + 2..whole.len() - 1];
            let line = prose[..offset].matches('\n').count() + 1;
            checked += 1;
            if let Some(reason) = problem(root, &file, target) {
                let name = file.strip_prefix(root).unwrap().display();
                broken.push(format!("{name}:{line}: {target} ({reason})"));
            }
        }
    }
    broken.iter().for_each(|b| println!("{b}"));
    println!("{checked} links checked, {} broken", broken.len());
    assert!(broken.is_empty(), "{} broken links", broken.len());
}

#[test]
fn slugs_anchors_and_links_are_read_as_github_reads_them() {
    let slugs = [
        (
            "Where the 3 µs go, two floors",
            "where-the-3-µs-go-two-floors",
        ),
        ("`GET /api/rooms/{sid}`", "get-apiroomssid"),
        ("Docs (MongoDB & co.)", "docs-mongodb--co"),
        ("See [the spool](spool.md) now", "see-the-spool-now"),
    ];
    for (heading, expected) in slugs {
        assert_eq!(slug(heading), expected);
    }
    let text = "# A\n## A\n```\n# A\n```\n### A!\n<a id=\"x\"></a>\n";
    assert_eq!(anchors(text), ["a", "a-1", "a-2", "x"]);
    let found: Vec<String> = links("[a [b]](c.md#d) and\n![e\nf](g)")
        .into_iter()
        .map(|l| l.2)
        .collect();
    assert_eq!(found, ["[a [b]](c.md#d)", "[e\nf](g)"]);
    let prose = without_inline_code("a `[b](c)\nd` ``e`f`` `g [h](i)");
    assert_eq!(prose.matches('\n').count(), 1);
    assert!(prose.starts_with("a ") && prose.ends_with(" `g [h](i)"));
    assert_eq!(links(&prose).len(), 1);
}
