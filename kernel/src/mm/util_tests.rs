//! Host tests of `util.rs`: the overcommit arithmetic of `__vm_enough_memory` and
//! `vm_commit_limit`, and the `/proc/sys/vm/overcommit_*` handlers.
use super::*;
use crate::mm::PAGE_SIZE;

/// 1000 pages of RAM, no swap, no hugetlb, Linux's defaults otherwise.
fn state(mode: usize) -> OvercommitState {
    OvercommitState {
        mode,
        ratio: 50,
        kbytes: 0,
        totalram: 1000,
        swap: 0,
        hugetlb: 0,
    }
}

#[test]
fn guess_refuses_only_a_single_request_bigger_than_ram_plus_swap() {
    let s = state(OVERCOMMIT_GUESS);
    // Whatever is already committed does not matter in mode 0.
    assert!(s.allows(1000, 1_000_000));
    assert!(!s.allows(1001, 1001));
    let s = OvercommitState { swap: 500, ..s };
    assert!(s.allows(1500, 1500));
    assert!(!s.allows(1501, 1501));
}

#[test]
fn always_allows_anything() {
    let s = state(OVERCOMMIT_ALWAYS);
    assert!(s.allows(usize::MAX / 2, isize::MAX));
}

#[test]
fn never_keeps_the_committed_total_strictly_below_commit_limit() {
    let s = state(OVERCOMMIT_NEVER);
    assert_eq!(s.commit_limit(), 500);
    // `committed` already includes the request (vm_acct_memory comes first).
    assert!(s.allows(100, 499));
    assert!(!s.allows(100, 500));
    assert!(!s.allows(1, 10_000));
}

#[test]
fn commit_limit_is_ratio_of_ram_less_hugetlb_plus_swap() {
    let s = OvercommitState {
        ratio: 10,
        swap: 7,
        hugetlb: 200,
        ..state(OVERCOMMIT_NEVER)
    };
    assert_eq!(s.commit_limit(), (1000 - 200) * 10 / 100 + 7);
    // A ratio over 100 lets mode 2 promise more than RAM.
    let s = OvercommitState {
        ratio: 300,
        ..state(OVERCOMMIT_NEVER)
    };
    assert_eq!(s.commit_limit(), 3000);
}

#[test]
fn commit_limit_uses_overcommit_kbytes_when_set() {
    let s = OvercommitState {
        kbytes: 4096, // 1024 pages of 4 KiB
        swap: 3,
        ..state(OVERCOMMIT_NEVER)
    };
    assert_eq!(s.commit_limit(), 4096 / (PAGE_SIZE / 1024) + 3);
}

#[test]
fn vm_enough_memory_takes_a_refused_charge_back() {
    // The system is in mode 0 in host tests; no RAM is that big.
    let huge = usize::MAX / 4;
    assert_eq!(__vm_enough_memory(huge), Err(Errno::ENOMEM));
    assert!(vm_memory_committed() < huge);
}

fn write(t: &OvercommitTunables, c: OvercommitSysctl, s: &str) -> KResult<usize> {
    c.write_to(t, 0, s.as_bytes())
}

#[test]
fn overcommit_memory_accepts_0_1_2_and_refuses_the_rest_with_einval() {
    let t = OvercommitTunables::new();
    let m = OvercommitSysctl::Memory;
    assert_eq!(m.read_from(&t), "0\n");
    assert_eq!(write(&t, m, "2\n"), Ok(2));
    assert_eq!(m.read_from(&t), "2\n");
    for bad in ["3", "-1", "abc", "1x", "\n", "99999999999"] {
        assert_eq!(write(&t, m, bad), Err(Errno::EINVAL), "{bad:?}");
        assert_eq!(m.read_from(&t), "2\n", "{bad:?} changed the value");
    }
    assert_eq!(write(&t, m, "  1  \n"), Ok(6));
    assert_eq!(m.read_from(&t), "1\n");
    // Only the first value is taken: the write is short, as Linux's.
    assert_eq!(write(&t, m, "0 2"), Ok(2));
    assert_eq!(m.read_from(&t), "0\n");
    assert_eq!(write(&t, m, "1"), Ok(1));
    // A write past the start changes nothing (sysctl_writes_strict).
    assert_eq!(m.write_to(&t, 1, b"0"), Ok(1));
    assert_eq!(m.read_from(&t), "1\n");
}

#[test]
fn overcommit_ratio_takes_any_int_and_zeroes_kbytes() {
    let t = OvercommitTunables::new();
    assert_eq!(write(&t, OvercommitSysctl::Kbytes, "8192"), Ok(4));
    assert_eq!(OvercommitSysctl::Ratio.read_from(&t), "0\n");
    assert_eq!(write(&t, OvercommitSysctl::Ratio, "5\n"), Ok(2));
    assert_eq!(OvercommitSysctl::Ratio.read_from(&t), "5\n");
    assert_eq!(OvercommitSysctl::Kbytes.read_from(&t), "0\n");
    // proc_dointvec: negative ints are ints; beyond int is EINVAL.
    assert_eq!(write(&t, OvercommitSysctl::Ratio, "-7"), Ok(2));
    assert_eq!(OvercommitSysctl::Ratio.read_from(&t), "-7\n");
    assert_eq!(
        write(&t, OvercommitSysctl::Ratio, "2147483648"),
        Err(Errno::EINVAL)
    );
    assert_eq!(write(&t, OvercommitSysctl::Ratio, "x"), Err(Errno::EINVAL));
    assert_eq!(OvercommitSysctl::Ratio.read_from(&t), "-7\n");
}

#[test]
fn overcommit_kbytes_zeroes_ratio_and_skips_negative_numbers() {
    let t = OvercommitTunables::new();
    assert_eq!(write(&t, OvercommitSysctl::Kbytes, "0x100"), Ok(5));
    assert_eq!(OvercommitSysctl::Kbytes.read_from(&t), "256\n");
    assert_eq!(OvercommitSysctl::Ratio.read_from(&t), "0\n");
    assert_eq!(write(&t, OvercommitSysctl::Ratio, "50"), Ok(2));
    // proc_doulongvec_minmax skips a negative number, yet the write succeeded.
    assert_eq!(write(&t, OvercommitSysctl::Kbytes, "-5"), Ok(2));
    assert_eq!(OvercommitSysctl::Kbytes.read_from(&t), "0\n");
    assert_eq!(OvercommitSysctl::Ratio.read_from(&t), "0\n");
    assert_eq!(
        write(&t, OvercommitSysctl::Kbytes, "12k"),
        Err(Errno::EINVAL)
    );
}
