//! The floors check (DESIGN.md section 2): nothing under `kernel/src/mm` (tests aside)
//! names a higher floor, `crate::task`, `crate::fs`, `crate::init`, `crate::ipc` or
//! `crate::syscall`. mm/ reaches what lies above it only through the tables it is handed
//! (`vm_ops`, the scheduler's `SchedOps`, the shmem file hook).

use std::path::{Path, PathBuf};

/// The higher floors mm/ must not import.
pub const FORBIDDEN: &[&str] = &[
    "crate::task",
    "crate::fs",
    "crate::init",
    "crate::ipc",
    "crate::syscall",
];

/// Every upward reference in the `.rs` files under `dir`, as `path:line: text`.
pub fn check_dir(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    files.sort();
    let mut found = Vec::new();
    for f in files {
        // Host tests kept beside a big file (`#[path = "mmap_tests.rs"]`) are tests.
        if f.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with("_tests.rs"))
        {
            continue;
        }
        let text = std::fs::read_to_string(&f)?;
        for (line, what) in upward_refs(&text) {
            found.push(format!("{}:{line}: {what}", f.display()));
        }
    }
    Ok(found)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// The (1-based line, text) of every forbidden path in `src`, skipping comments and the
/// item after each `#[cfg(test)]` (a `mod tests { ... }` or a single line).
pub fn upward_refs(src: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = src.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim_start();
        if t.starts_with("#[cfg(test)]") {
            i = skip_item(&lines, i + 1);
            continue;
        }
        let code = match t.find("//") {
            Some(0) => "",
            Some(n) => &t[..n],
            None => t,
        };
        for f in FORBIDDEN {
            let mut rest = code;
            while let Some(at) = rest.find(f) {
                let after = rest[at + f.len()..].chars().next();
                // `crate::fsck` is not `crate::fs`.
                if !after.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    found.push((i + 1, lines[i].trim().to_string()));
                }
                rest = &rest[at + f.len()..];
            }
        }
        i += 1;
    }
    found
}

/// The index of the first line after the item starting at `start` (its attributes
/// included): up to the line where its braces balance, or a line ending in `;`.
fn skip_item(lines: &[&str], start: usize) -> usize {
    let mut depth = 0i32;
    let mut opened = false;
    let mut i = start;
    while i < lines.len() {
        let t = lines[i].trim();
        for c in t.chars() {
            match c {
                '{' => {
                    depth += 1;
                    opened = true;
                }
                '}' => depth -= 1,
                _ => {}
            }
        }
        i += 1;
        if t.starts_with("#[") && !opened {
            continue;
        }
        if (opened && depth <= 0) || (!opened && t.ends_with(';')) {
            break;
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upward_import_is_found() {
        let src = "use crate::arch::cpu;\nuse crate::task::current;\nfn f() { crate::fs::sys::fget(3); }\n";
        let refs = upward_refs(src);
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[0].0, 2);
        assert_eq!(refs[1].0, 3);
    }

    #[test]
    fn comments_tests_and_longer_names_are_not() {
        let src = "//! Called by crate::task::exec.\nuse crate::fsck;\nfn f() {} // crate::init\n#[cfg(test)]\nmod tests {\n    use crate::task::RLimit;\n    fn g() {\n        crate::fs::x();\n    }\n}\nuse crate::syscall::X;\n";
        let refs = upward_refs(src);
        assert_eq!(refs, vec![(11, "use crate::syscall::X;".to_string())]);
    }

    #[test]
    fn the_kernel_mm_directory_has_no_upward_import() {
        let dir = crate::workspace_root().join("kernel/src/mm");
        let found = check_dir(&dir).expect("read kernel/src/mm");
        assert!(
            found.is_empty(),
            "mm/ imports a higher floor:\n{}",
            found.join("\n")
        );
    }
}
