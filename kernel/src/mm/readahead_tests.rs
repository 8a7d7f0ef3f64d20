//! Host tests of the readahead window arithmetic (`get_init_ra_size`, `get_next_ra_size`,
//! `ondemand_window`, mmap read-around) and of `do_page_cache_ra` on a simulated page
//! cache.
use super::*;
use crate::errno::KResult;
use crate::mm::filemap::{find_get_page, AddressSpace, AddressSpaceOperations};
use core::sync::atomic::{AtomicUsize, Ordering};

const MAX: usize = VM_READAHEAD_PAGES;

/// A page cache where nothing is cached: every index is a miss.
fn no_next(i: usize, _max: usize) -> usize {
    i
}
fn no_prev(i: usize, _max: usize) -> usize {
    i
}

#[test]
fn default_window_is_128k_of_4k_pages() {
    assert_eq!(VM_READAHEAD_PAGES, 32);
    let ra = FileRaState::new();
    assert_eq!((ra.ra_pages, ra.prev_pos, ra.mmap_miss), (32, -1, 0));
}

#[test]
fn get_init_ra_size_rounds_up_then_grows_small_reads_4x_medium_2x() {
    assert_eq!(get_init_ra_size(1, MAX), 4, "1 <= max/32: 4x");
    assert_eq!(get_init_ra_size(2, MAX), 4, "2 <= max/4: 2x");
    assert_eq!(get_init_ra_size(3, MAX), 8, "3 rounds up to 4, then 2x");
    assert_eq!(get_init_ra_size(8, MAX), 16);
    assert_eq!(
        get_init_ra_size(9, MAX),
        MAX,
        "16 > max/4: the whole window"
    );
    assert_eq!(get_init_ra_size(32, MAX), MAX);
    assert_eq!(get_init_ra_size(1, 320), 4);
    assert_eq!(get_init_ra_size(16, 320), 32);
}

#[test]
fn get_next_ra_size_ramps_4x_then_2x_then_caps_at_max() {
    let size = |s| FileRaState {
        size: s,
        ..FileRaState::new()
    };
    assert_eq!(get_next_ra_size(&size(1), MAX), 4, "1 < max/16: 4x");
    assert_eq!(get_next_ra_size(&size(2), MAX), 4, "2 <= max/2: 2x");
    assert_eq!(get_next_ra_size(&size(4), MAX), 8);
    assert_eq!(get_next_ra_size(&size(16), MAX), 32);
    assert_eq!(get_next_ra_size(&size(17), MAX), MAX);
    assert_eq!(get_next_ra_size(&size(32), MAX), MAX);
}

#[test]
fn mmap_read_around_centres_the_window_and_clamps_at_the_file_start() {
    let mut ra = FileRaState::new();
    mmap_read_around(&mut ra, 100);
    assert_eq!((ra.start, ra.size, ra.async_size), (84, 32, 8));
    mmap_read_around(&mut ra, 5);
    assert_eq!(
        (ra.start, ra.size, ra.async_size),
        (0, 32, 8),
        "clamped at page 0"
    );
    mmap_read_around(&mut ra, 16);
    assert_eq!(ra.start, 0);
    mmap_read_around(&mut ra, 17);
    assert_eq!(ra.start, 1);
}

#[test]
fn sequential_readahead_from_the_file_start_merges_its_own_marker() {
    // MADV_SEQUENTIAL's first fault at page 0 asks for ra_pages: initial window 32, all
    // of it async, so the marker would be hit at once; it becomes 32 with 16 async.
    let mut ra = FileRaState::new();
    let d = ondemand_window(&mut ra, false, 0, MAX, &no_next, &no_prev);
    assert_eq!(d, RaDecision::Window);
    assert_eq!((ra.start, ra.size, ra.async_size), (0, 32, 16));
    // The reader reaches the marker (page 16): the next window follows the current one.
    let d = ondemand_window(&mut ra, true, 16, MAX, &no_next, &no_prev);
    assert_eq!(d, RaDecision::Window);
    assert_eq!((ra.start, ra.size, ra.async_size), (32, 32, 32));
    // And the next marker is that window's first page.
    let d = ondemand_window(&mut ra, true, 32, MAX, &no_next, &no_prev);
    assert_eq!(d, RaDecision::Window);
    assert_eq!((ra.start, ra.size, ra.async_size), (64, 32, 32));
}

#[test]
fn read_around_marker_hit_starts_the_window_after_it() {
    let mut ra = FileRaState::new();
    mmap_read_around(&mut ra, 100); // [84, 116), marker at 108
    let d = ondemand_window(&mut ra, true, 108, MAX, &no_next, &no_prev);
    assert_eq!(d, RaDecision::Window);
    assert_eq!((ra.start, ra.size, ra.async_size), (116, 32, 32));
}

#[test]
fn small_sequential_reads_ramp_the_window_up() {
    // read(2) of one page at a time from the start: 4 pages (3 async), then 8, 16, 32.
    let mut ra = FileRaState::new();
    assert_eq!(
        ondemand_window(&mut ra, false, 0, 1, &no_next, &no_prev),
        RaDecision::Window
    );
    assert_eq!((ra.start, ra.size, ra.async_size), (0, 4, 3));
    assert_eq!(
        ondemand_window(&mut ra, true, 1, 1, &no_next, &no_prev),
        RaDecision::Window
    );
    assert_eq!((ra.start, ra.size, ra.async_size), (4, 8, 8));
    assert_eq!(
        ondemand_window(&mut ra, true, 4, 1, &no_next, &no_prev),
        RaDecision::Window
    );
    assert_eq!((ra.start, ra.size, ra.async_size), (12, 16, 16));
    assert_eq!(
        ondemand_window(&mut ra, true, 12, 1, &no_next, &no_prev),
        RaDecision::Window
    );
    assert_eq!((ra.start, ra.size, ra.async_size), (28, 32, 32));
}

#[test]
fn a_lone_miss_mid_file_reads_just_the_request_and_keeps_the_state() {
    let mut ra = FileRaState::new();
    let before = ra;
    let d = ondemand_window(&mut ra, false, 1000, MAX, &no_next, &no_prev);
    assert_eq!(d, RaDecision::Plain(MAX));
    assert_eq!(ra, before);
}

#[test]
fn a_miss_right_after_the_previous_read_starts_a_stream() {
    let mut ra = FileRaState {
        prev_pos: 10 * 4096,
        ..FileRaState::new()
    };
    let d = ondemand_window(&mut ra, false, 11, 1, &no_next, &no_prev);
    assert_eq!(d, RaDecision::Window);
    assert_eq!((ra.start, ra.size, ra.async_size), (11, 4, 3));
}

#[test]
fn cached_history_before_a_miss_is_taken_for_a_stream() {
    // Pages [0, 64) cached, miss at 64 asking for 1 page: context readahead.
    let prev = |i: usize, max: usize| i.wrapping_sub(max); // all of them cached
    let mut ra = FileRaState::new();
    let d = ondemand_window(&mut ra, false, 64, 1, &no_next, &prev);
    assert_eq!(d, RaDecision::Window);
    assert_eq!((ra.start, ra.size, ra.async_size), (64, 32, 1));
}

#[test]
fn a_marker_hit_without_state_sizes_from_the_cached_run() {
    // Someone else's window: pages after 200 cached up to 208 (the miss).
    let next = |_i: usize, _max: usize| 208;
    let mut ra = FileRaState::new();
    let d = ondemand_window(&mut ra, true, 200, 8, &next, &no_prev);
    assert_eq!(d, RaDecision::Window);
    // Old async part 8 + request 8 = 16, doubled (16 <= max/2).
    assert_eq!((ra.start, ra.size, ra.async_size), (208, 32, 32));
    // A cached run longer than the window: leave it.
    let far = |_i: usize, _max: usize| 300;
    let mut ra = FileRaState::new();
    assert_eq!(
        ondemand_window(&mut ra, true, 200, 8, &far, &no_prev),
        RaDecision::Nothing
    );
}

/// An `a_ops` whose page `i` holds byte `i` everywhere, counting reads; fails page 13.
struct CountingAops(AtomicUsize);

impl AddressSpaceOperations for CountingAops {
    fn readpage(&self, page: &Page, index: usize) -> KResult<()> {
        if index == 13 {
            return Err(crate::errno::Errno::EIO);
        }
        self.0.fetch_add(1, Ordering::Relaxed);
        // SAFETY: a page we allocated, locked and not yet up to date.
        unsafe { crate::mm::filemap::page_bytes_mut(page) }.fill(index as u8);
        Ok(())
    }
}

/// Simulated RAM and a zone for tests that allocate pages (serialised by SimRam's lock).
fn sim_ram() -> crate::arch::aarch64::mmu::tests::SimRam {
    let ram = crate::arch::aarch64::mmu::tests::SimRam::new(256);
    crate::mm::page::tests::host_mem_map(0x40000, 4096);
    let mut zone = crate::mm::page_alloc::ZONE_NORMAL.lock();
    if zone.managed_pages == 0 {
        zone.add_free_range(0x40000, 0x40000 + 256);
    }
    ram
}

#[test]
fn do_page_cache_ra_reads_missing_pages_marks_one_and_stops_at_eof() {
    let _ram = sim_ram();
    let mapping = AddressSpace::new();
    let aops = CountingAops(AtomicUsize::new(0));
    let mut ractl = ReadaheadControl {
        mapping: &mapping,
        a_ops: &aops,
        i_size: 20 * PAGE_SIZE as u64 - 100, // 20 pages, the last partial
        index: 0,
    };
    do_page_cache_ra(&mut ractl, 8, 2);
    assert_eq!(mapping.nrpages(), 8);
    assert_eq!(aops.0.load(Ordering::Relaxed), 8);
    for i in 0..8 {
        let p = find_get_page(&mapping, i).unwrap();
        assert!(p.test(PageFlags::PG_uptodate) && !p.test(PageFlags::PG_locked));
        assert_eq!(
            p.test(PageFlags::PG_readahead),
            i == 6,
            "marker at size - async"
        );
        // SAFETY: we hold a reference.
        assert_eq!(unsafe { crate::mm::filemap::page_bytes(p) }[7], i as u8);
        put_page(p);
    }
    // Overlapping range: cached pages are skipped (not read again), the run past EOF
    // clipped, and the page whose read fails (13) is not left in the cache. The run's
    // a_ops->readahead (the default: readpage after readpage) stops at 13 after reading
    // 8..13; read_pages then tries each page of the run on its own (8..20 but 13).
    ractl.index = 4;
    do_page_cache_ra(&mut ractl, 100, 0);
    assert_eq!(
        aops.0.load(Ordering::Relaxed),
        8 + 5 + 11,
        "8..13, then 8..20 but 13"
    );
    assert_eq!(mapping.nrpages(), 19);
    assert!(find_get_page(&mapping, 13).is_none());
    assert!(find_get_page(&mapping, 20).is_none(), "past end of file");
    // Past end of file: nothing.
    ractl.index = 25;
    do_page_cache_ra(&mut ractl, 4, 0);
    assert_eq!(mapping.nrpages(), 19);
}
