//! The seed map, `docs/linux-map.md` and its Chinese twin `docs/zh/linux-map.md`: one table
//! row per Linux 5.10 function the book discusses (`` | `NAME` | linux file | `our file` |
//! `break NAME` | chapters | ``). Checked two ways: against the sources and the other
//! language by the host tests below, and against the built kernel's symbol table by
//! `cargo xtask test linux-map` (a name GDB cannot break on is a wrong row).

use std::collections::HashSet;
use std::path::Path;

/// One row of the map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The function (our symbol, Linux's name).
    pub func: String,
    /// Our file, relative to the workspace root.
    pub ours: String,
    /// The GDB column.
    pub gdb: String,
}

/// The text inside the first pair of backquotes of a table cell.
fn code(cell: &str) -> Option<&str> {
    let rest = &cell[cell.find('`')? + 1..];
    Some(&rest[..rest.find('`')?])
}

/// The map's rows: table lines whose first cell is code (header and rule lines are not).
pub fn rows(text: &str) -> Vec<Row> {
    text.lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim().strip_prefix('|')?.split('|').collect();
            if cells.len() < 5 || !cells[0].trim().starts_with('`') {
                return None;
            }
            Some(Row {
                func: code(cells[0])?.to_string(),
                ours: code(cells[2])?.to_string(),
                gdb: code(cells[3])?.to_string(),
            })
        })
        .collect()
}

/// Does `src` define `#[no_mangle] ... fn name`?
fn defines_no_mangle(src: &str, name: &str) -> bool {
    let lines: Vec<&str> = src.lines().map(str::trim).collect();
    lines.iter().enumerate().any(|(i, l)| {
        let is_fn = l
            .split("fn ")
            .nth(1)
            .is_some_and(|r| r.split(['(', '<']).next() == Some(name))
            && (l.starts_with("pub") || l.starts_with("fn") || l.starts_with("unsafe"));
        // The attribute sits among the lines above it (doc comments and other attributes).
        is_fn
            && lines[..i]
                .iter()
                .rev()
                .take_while(|p| p.starts_with("#[") || p.starts_with("///"))
                .any(|p| *p == "#[no_mangle]")
    })
}

/// Problems of the two maps under `root` against each other and the sources.
pub fn check_docs(root: &Path) -> Vec<String> {
    let mut why = Vec::new();
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap_or_default();
    let en = rows(&read("docs/linux-map.md"));
    let zh = rows(&read("docs/zh/linux-map.md"));
    if en.is_empty() {
        why.push("docs/linux-map.md has no rows".to_string());
    }
    let names = |r: &[Row]| -> Vec<String> { r.iter().map(|r| r.func.clone()).collect() };
    let (en_names, zh_names) = (names(&en), names(&zh));
    for n in &en_names {
        if !zh_names.contains(n) {
            why.push(format!(
                "`{n}` is in docs/linux-map.md, not in docs/zh/linux-map.md"
            ));
        }
    }
    for n in &zh_names {
        if !en_names.contains(n) {
            why.push(format!(
                "`{n}` is in docs/zh/linux-map.md, not in docs/linux-map.md"
            ));
        }
    }
    let mut seen = HashSet::new();
    for r in en.iter().chain(&zh) {
        if r.gdb != format!("break {}", r.func) {
            why.push(format!("`{}`: GDB column `{}`", r.func, r.gdb));
        }
    }
    for r in &en {
        if !seen.insert(&r.func) {
            why.push(format!("`{}` is listed twice", r.func));
        }
        let src = read(&r.ours);
        if !defines_no_mangle(&src, &r.func) {
            why.push(format!(
                "`{}` is not a #[no_mangle] function of {}",
                r.func, r.ours
            ));
        }
    }
    why
}

/// Functions of the map that the kernel ELF's symbol table lacks.
pub fn check_elf(root: &Path, kernel: &Path) -> Vec<String> {
    let data = match std::fs::read(kernel) {
        Ok(d) => d,
        Err(e) => return vec![format!("reading {}: {e}", kernel.display())],
    };
    let syms: HashSet<String> = match crate::ksyms::symbols(&data) {
        Ok(s) => s.into_iter().map(|s| s.name).collect(),
        Err(e) => return vec![format!("symbols of {}: {}", kernel.display(), e.0)],
    };
    let text = std::fs::read_to_string(root.join("docs/linux-map.md")).unwrap_or_default();
    let rows = rows(&text);
    if rows.is_empty() {
        return vec!["docs/linux-map.md has no rows".to_string()];
    }
    rows.iter()
        .filter(|r| !syms.contains(&r.func))
        .map(|r| format!("`{}` is not in {}'s symbol table", r.func, kernel.display()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_map_agrees_with_the_sources_and_its_translation() {
        let why = check_docs(&crate::workspace_root());
        assert!(why.is_empty(), "{}", why.join("\n"));
    }

    #[test]
    fn linux_map_rows_and_no_mangle_detection() {
        let t = "| Function | Linux | Ours | GDB | Ch |\n|---|---|---|---|---|\n\
                 | `do_mlock` | `mm/mlock.c` | `kernel/src/mm/mlock.rs` | `break do_mlock` | [5](05-mlock.md) |\n";
        let r = rows(t);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].func, "do_mlock");
        assert_eq!(r[0].ours, "kernel/src/mm/mlock.rs");
        let src = "/// Doc.\n#[no_mangle]\n#[inline(never)]\npub fn do_mlock(a: usize) {}\n\
                   pub fn plain() {}\n#[no_mangle]\n/// x\npub fn do_mlock_on_fault() {}\n";
        assert!(defines_no_mangle(src, "do_mlock"));
        assert!(!defines_no_mangle(src, "plain"));
        assert!(!defines_no_mangle(src, "do_mloc"));
        assert!(defines_no_mangle(src, "do_mlock_on_fault"));
    }
}
