//! The English book (`docs/NN-*.md`, `docs/README.md`, `README.md`) and its Chinese
//! translation (`docs/zh/NN-*.md`, `docs/zh/README.md`, `README.zh.md`) must keep the same
//! shape: the same chapters, the same section numbers in the same order, the same number of
//! fenced code blocks and the same `(gdb)` command lines in them. Prose may differ; code,
//! GDB sessions and structure may not. Checked by the host tests below (`cargo test -p
//! xtask`, part of `cargo xtask test`); the module is compiled for tests only.

use std::path::Path;

/// What has to agree between a chapter and its translation.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Shape {
    /// One entry per heading outside code blocks: its `#` marks and its number ("3.5"), or,
    /// for a heading without one, its position among the headings ("#4").
    pub headings: Vec<String>,
    /// Fenced code blocks (```` ``` ```` or `~~~` openings).
    pub code_blocks: usize,
    /// Every line inside a code block that starts with `(gdb)`, trailing blanks trimmed.
    pub gdb_lines: Vec<String>,
}

/// The leading section number of a heading's text ("3.5" in "3.5 Anonymous pages", "2" in
/// "2. From init"), if it has one.
fn heading_number(text: &str) -> Option<String> {
    let first = text.split_whitespace().next()?;
    let num = first.trim_end_matches('.');
    let ok = !num.is_empty()
        && num.starts_with(|c: char| c.is_ascii_digit())
        && num.chars().all(|c| c.is_ascii_digit() || c == '.');
    ok.then(|| num.to_string())
}

/// The shape of one Markdown file.
pub fn shape(text: &str) -> Shape {
    let mut s = Shape::default();
    let mut fence: Option<&str> = None;
    for line in text.lines() {
        let t = line.trim_start();
        if let Some(f) = fence {
            if t.starts_with(f) && t.trim_start_matches(f).trim().is_empty() {
                fence = None;
            } else if t.starts_with("(gdb)") {
                s.gdb_lines.push(t.trim_end().to_string());
            }
            continue;
        }
        if t.starts_with("```") || t.starts_with("~~~") {
            fence = Some(&t[..3]);
            s.code_blocks += 1;
            continue;
        }
        // Headings start at the left margin (an indented `#` is a list item's text).
        let marks = line.chars().take_while(|&c| c == '#').count();
        if (1..=3).contains(&marks) && line[marks..].starts_with(' ') {
            let pos = s.headings.len() + 1;
            let id = heading_number(&line[marks..]).unwrap_or_else(|| format!("#{pos}"));
            s.headings.push(format!("{} {id}", "#".repeat(marks)));
        }
    }
    s
}

/// The differences between an English file's shape and its translation's, one line each.
pub fn compare(en_name: &str, en: &Shape, zh_name: &str, zh: &Shape) -> Vec<String> {
    let mut out = Vec::new();
    if en.headings != zh.headings {
        out.push(format!(
            "{zh_name}: headings differ from {en_name}:\n  en: {}\n  zh: {}",
            en.headings.join(" | "),
            zh.headings.join(" | ")
        ));
    }
    if en.code_blocks != zh.code_blocks {
        out.push(format!(
            "{zh_name}: {} code blocks, {en_name} has {}",
            zh.code_blocks, en.code_blocks
        ));
    }
    if en.gdb_lines != zh.gdb_lines {
        let missing: Vec<_> = en
            .gdb_lines
            .iter()
            .filter(|l| !zh.gdb_lines.contains(l))
            .collect();
        let extra: Vec<_> = zh
            .gdb_lines
            .iter()
            .filter(|l| !en.gdb_lines.contains(l))
            .collect();
        out.push(format!(
            "{zh_name}: (gdb) lines differ from {en_name} ({} vs {}; missing {missing:?}; extra {extra:?}; or out of order)",
            zh.gdb_lines.len(),
            en.gdb_lines.len()
        ));
    }
    out
}

/// Chapter file names (`NN-*.md`) in a directory, sorted.
fn chapters(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| {
                    n.ends_with(".md")
                        && n.len() > 3
                        && n.as_bytes()[..2].iter().all(u8::is_ascii_digit)
                        && n.as_bytes()[2] == b'-'
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Every parity problem between the English and Chinese books under `root`.
pub fn check(root: &Path) -> Vec<String> {
    let docs = root.join("docs");
    let zh = docs.join("zh");
    let en_ch = chapters(&docs);
    let zh_ch = chapters(&zh);
    let mut out = Vec::new();
    for n in &en_ch {
        if !zh_ch.contains(n) {
            out.push(format!("docs/{n} has no translation docs/zh/{n}"));
        }
    }
    for n in &zh_ch {
        if !en_ch.contains(n) {
            out.push(format!("docs/zh/{n} has no English original docs/{n}"));
        }
    }
    let mut pairs: Vec<(String, String)> = en_ch
        .iter()
        .filter(|n| zh_ch.contains(n))
        .map(|n| (format!("docs/{n}"), format!("docs/zh/{n}")))
        .collect();
    pairs.push(("docs/README.md".into(), "docs/zh/README.md".into()));
    pairs.push(("docs/linux-map.md".into(), "docs/zh/linux-map.md".into()));
    pairs.push(("README.md".into(), "README.zh.md".into()));
    for (en, zh) in pairs {
        let read = |p: &str| std::fs::read_to_string(root.join(p));
        match (read(&en), read(&zh)) {
            (Ok(a), Ok(b)) => out.extend(compare(&en, &shape(&a), &zh, &shape(&b))),
            (Err(e), _) => out.push(format!("{en}: {e}")),
            (_, Err(e)) => out.push(format!("{zh}: {e}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const EN: &str = "# 3. A page fault\n\nText.\n\n```\n(gdb) break do_page_fault\n## 9.9 not a heading\n(gdb) bt\n```\n\n## 3.1 First\n\n### Detail\n\n## 3.2 Second\n\n```sh\ncargo xtask gdb\n```\n";

    #[test]
    fn shape_of_a_chapter() {
        let s = shape(EN);
        assert_eq!(s.headings, vec!["# 3", "## 3.1", "### #3", "## 3.2"]);
        assert_eq!(s.code_blocks, 2);
        assert_eq!(s.gdb_lines, vec!["(gdb) break do_page_fault", "(gdb) bt"]);
    }

    #[test]
    fn a_faithful_translation_matches() {
        let zh = "# 3. 缺页异常\n\n正文。\n\n```\n(gdb) break do_page_fault\n## 9.9 not a heading\n(gdb) bt\n```\n\n## 3.1 第一\n\n### 细节\n\n## 3.2 第二\n\n```sh\ncargo xtask gdb\n```\n";
        assert!(compare("en", &shape(EN), "zh", &shape(zh)).is_empty());
    }

    #[test]
    fn a_missing_section_block_or_gdb_line_is_found() {
        let no_section = EN.replace("## 3.2 Second\n", "");
        assert_eq!(
            compare("en", &shape(EN), "zh", &shape(&no_section)).len(),
            1
        );
        let no_block = EN.replace("```sh\ncargo xtask gdb\n```\n", "");
        assert_eq!(compare("en", &shape(EN), "zh", &shape(&no_block)).len(), 1);
        let no_gdb = EN.replace("(gdb) bt\n", "");
        assert_eq!(compare("en", &shape(EN), "zh", &shape(&no_gdb)).len(), 1);
        let renumbered = EN.replace("## 3.2", "## 3.3");
        assert_eq!(
            compare("en", &shape(EN), "zh", &shape(&renumbered)).len(),
            1
        );
    }

    #[test]
    fn the_english_and_chinese_books_have_the_same_shape() {
        let problems = check(&crate::workspace_root());
        assert!(
            problems.is_empty(),
            "the book and its translation differ:\n{}",
            problems.join("\n")
        );
    }
}
