//! Rust std on musl: the heap (malloc over brk and mmap), formatting, collections and
//! stdout through libc, then exit(0).
use std::collections::BTreeMap;

fn main() {
    let v: Vec<u64> = (1..=1000).collect();
    let sum: u64 = v.iter().sum();
    let mut map = BTreeMap::new();
    for i in 0..100 {
        map.insert(i, format!("value {i}"));
    }
    let big = vec![7u8; 1 << 20]; // large enough for musl's malloc to use mmap
    let total: u64 = big.iter().map(|&b| b as u64).sum();
    println!(
        "hello from Rust std on musl: sum={sum} map[42]={} big={total}",
        map[&42]
    );
}
