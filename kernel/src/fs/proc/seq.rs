//! The number printers procfs files are written with. Linux: `fs/seq_file.c`
//! (`seq_put_decimal_ull_width`, `seq_put_decimal_ull`), `lib/vsprintf.c` (`num_to_str`),
//! `fs/proc/meminfo.c` (`show_val_kb`). Callers: every file of `fs/proc/`.
//!
//! Linux builds each line from a literal that already holds the name, its colon and the
//! padding (`"Rss:            "`), then a number right-aligned in a fixed width. The callers
//! here spell the same literals, so a line reads the same in both sources.
use alloc::string::String;
use core::fmt::Write;

/// Append `delimiter`, then `num` right-aligned in `width` columns; a number wider than
/// `width` is printed whole (Linux: `seq_put_decimal_ull_width` -> `num_to_str`).
pub fn seq_put_decimal_ull_width(m: &mut String, delimiter: &str, num: u64, width: usize) {
    m.push_str(delimiter);
    let _ = write!(m, "{:>width$}", num, width = width.max(1));
}

/// Append `delimiter`, then `num` with no padding (Linux: `seq_put_decimal_ull`).
pub fn seq_put_decimal_ull(m: &mut String, delimiter: &str, num: u64) {
    seq_put_decimal_ull_width(m, delimiter, num, 1);
}

/// One `/proc/meminfo` line: `name` (the 16-column literal, colon included), `pages` in
/// kB right-aligned in 8 columns, ` kB`. Linux: `show_val_kb`.
pub fn show_val_kb(m: &mut String, name: &str, pages: u64) {
    seq_put_decimal_ull_width(m, name, pages << (crate::arch::PAGE_SHIFT - 10), 8);
    m.push_str(" kB\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kb_line_pads_the_name_to_16_and_the_value_to_8() {
        let mut m = String::new();
        show_val_kb(&mut m, "MemTotal:       ", 2);
        assert_eq!(m, "MemTotal:              8 kB\n");
        assert_eq!(m.len(), 16 + 8 + 4);
    }

    #[test]
    fn a_number_wider_than_its_field_is_printed_whole() {
        let mut m = String::new();
        seq_put_decimal_ull_width(&mut m, "VmallocTotal:   ", 135_288_315_904, 8);
        assert_eq!(m, "VmallocTotal:   135288315904");
    }

    #[test]
    fn status_lines_use_a_tab_then_width_8() {
        let mut m = String::new();
        seq_put_decimal_ull_width(&mut m, "VmLck:\t", 0, 8);
        m.push_str(" kB");
        assert_eq!(m, "VmLck:\t       0 kB");
        let mut p = String::new();
        seq_put_decimal_ull(&mut p, "Pid:\t", 42);
        assert_eq!(p, "Pid:\t42");
    }
}
