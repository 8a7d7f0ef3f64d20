//! Host tests of `mm/swapfile.rs`: the swap header as mkswap lays it out, and the slot
//! counts of `swap_map` with Linux's errors. Each test uses its own `SwapTable` and
//! RAM-backed devices, never the kernel's global table.
use super::*;
use crate::errno::Errno;
use alloc::vec;

/// A device of `pages` pages whose page 0 is a version-1 header made by our writer.
fn image(pages: u32, bad: &[u32]) -> Vec<u8> {
    let mut img = vec![0u8; pages as usize * PAGE_SIZE];
    mkswap_header(&mut img[..PAGE_SIZE], pages, bad, [7; 16], b"swaplabel");
    img
}

fn dev(img: Vec<u8>) -> Arc<dyn SwapBdev> {
    Arc::new(RamSwapDev::new(img))
}

fn swapon(t: &mut SwapTable, name: &str, img: Vec<u8>, flags: u32) -> KResult<usize> {
    let page = img[..PAGE_SIZE.min(img.len())].to_vec();
    let mut page = page;
    page.resize(PAGE_SIZE, 0);
    t.swapon(name, dev(img), &page, flags)
}

#[test]
fn header_written_by_our_mkswap_reads_back() {
    let img = image(16, &[]);
    let h = read_swap_header(&img[..PAGE_SIZE], 16).unwrap();
    assert_eq!(h.last_page, 15);
    assert_eq!(h.maxpages, 16);
    assert!(h.badpages.is_empty());
    assert_eq!(h.uuid, [7; 16]);
    assert_eq!(&h.label[..9], b"swaplabel");
    assert_eq!(&h.label[9..], &[0u8; 7]);
}

#[test]
fn header_hand_laid_from_the_documented_byte_layout() {
    // union swap_header: bootbits[1024], then info { version, last_page, nr_badpages,
    // uuid[16], volume[16], padding[117], badpages[] }, and the magic in the last 10
    // bytes of the page. Written byte by byte, not with our writer.
    let mut p = vec![0u8; PAGE_SIZE];
    p[1024] = 1; // version 1, little-endian
    p[1028..1032].copy_from_slice(&[0xff, 0x0f, 0, 0]); // last_page 4095
    p[1032] = 2; // two bad pages
    p[1036] = 0xaa; // uuid[0]
    p[1052..1056].copy_from_slice(b"swap"); // label
    p[1536..1540].copy_from_slice(&[5, 0, 0, 0]);
    p[1540..1544].copy_from_slice(&[9, 0, 0, 0]);
    p[4086..4096].copy_from_slice(b"SWAPSPACE2");
    let h = read_swap_header(&p, 4096).unwrap();
    assert_eq!(h.last_page, 4095);
    assert_eq!(h.maxpages, 4096);
    assert_eq!(h.badpages, vec![5, 9]);
    assert_eq!(h.uuid[0], 0xaa);
    assert_eq!(&h.label[..4], b"swap");
    assert_eq!(SWAP_BADPAGES_OFFSET, 1536);
    assert_eq!(SWAP_MAGIC_OFFSET, 4086);
    assert_eq!(MAX_SWAP_BADPAGES, 637);
    // Our writer makes the same bytes.
    let mut w = vec![0u8; PAGE_SIZE];
    let mut uuid = [0u8; 16];
    uuid[0] = 0xaa;
    mkswap_header(&mut w, 4096, &[5, 9], uuid, b"swap");
    assert_eq!(w, p);
}

#[test]
fn header_without_signature_is_einval() {
    let mut img = image(16, &[]);
    assert_eq!(
        read_swap_header(&vec![0u8; PAGE_SIZE], 16),
        Err(Errno::EINVAL)
    );
    img[PAGE_SIZE - 1] = b'1'; // "SWAPSPACE1": the old v0 format Linux refuses too
    assert_eq!(read_swap_header(&img[..PAGE_SIZE], 16), Err(Errno::EINVAL));
    let mut t = SwapTable::new();
    assert_eq!(swapon(&mut t, "/dev/x", img, 0), Err(Errno::EINVAL));
    assert_eq!(t.total_swap_pages, 0);
}

#[test]
fn header_version_2_is_einval() {
    let mut img = image(16, &[]);
    img[SWAP_VERSION_OFFSET] = 2;
    assert_eq!(read_swap_header(&img[..PAGE_SIZE], 16), Err(Errno::EINVAL));
}

#[test]
fn header_byte_swapped_is_read() {
    // A header written on a big-endian machine: Linux swabs it.
    let mut img = image(16, &[3]);
    for off in [
        SWAP_VERSION_OFFSET,
        SWAP_LAST_PAGE_OFFSET,
        SWAP_NR_BADPAGES_OFFSET,
        SWAP_BADPAGES_OFFSET,
    ] {
        img[off..off + 4].reverse();
    }
    let h = read_swap_header(&img[..PAGE_SIZE], 16).unwrap();
    assert_eq!((h.last_page, h.badpages), (15, vec![3]));
}

#[test]
fn header_last_page_zero_or_beyond_the_device_is_einval() {
    let mut img = image(16, &[]);
    assert_eq!(read_swap_header(&img[..PAGE_SIZE], 15), Err(Errno::EINVAL));
    assert!(read_swap_header(&img[..PAGE_SIZE], 17).is_ok()); // shorter area is fine
    img[SWAP_LAST_PAGE_OFFSET..SWAP_LAST_PAGE_OFFSET + 4].fill(0);
    assert_eq!(read_swap_header(&img[..PAGE_SIZE], 16), Err(Errno::EINVAL));
    // Through swapon: the device is 8 pages, the header says 16.
    let mut t = SwapTable::new();
    let mut short = image(16, &[]);
    short.truncate(8 * PAGE_SIZE);
    assert_eq!(swapon(&mut t, "/dev/x", short, 0), Err(Errno::EINVAL));
}

#[test]
fn bad_pages_are_never_handed_out_and_a_bad_list_is_einval() {
    let mut t = SwapTable::new();
    let ty = swapon(&mut t, "/dev/a", image(8, &[2, 5]), 0).unwrap();
    let si = t.swap_info[ty].as_ref().unwrap();
    assert_eq!(si.pages, 5); // 8 - header - 2 bad
    assert_eq!(si.swap_map[0], SWAP_MAP_BAD);
    assert_eq!(si.swap_map[2], SWAP_MAP_BAD);
    let mut got = Vec::new();
    while let Some(e) = t.get_swap_page() {
        got.push(swp_offset(e));
    }
    assert_eq!(got, vec![1, 3, 4, 6, 7]);
    // A bad page 0 or past last_page refuses the area; too many bad pages too.
    for bad in [&[0u32][..], &[8]] {
        assert_eq!(
            swapon(&mut SwapTable::new(), "/dev/b", image(8, bad), 0),
            Err(Errno::EINVAL)
        );
    }
    let mut img = image(8, &[]);
    img[SWAP_NR_BADPAGES_OFFSET..SWAP_NR_BADPAGES_OFFSET + 4]
        .copy_from_slice(&(MAX_SWAP_BADPAGES as u32 + 1).to_le_bytes());
    assert_eq!(read_swap_header(&img[..PAGE_SIZE], 8), Err(Errno::EINVAL));
    // Every slot bad: "Empty swap-file".
    assert_eq!(
        swapon(&mut SwapTable::new(), "/dev/c", image(3, &[1, 2]), 0),
        Err(Errno::EINVAL)
    );
}

#[test]
fn swapon_flags_priorities_and_ebusy() {
    let mut t = SwapTable::new();
    assert_eq!(
        swapon(&mut t, "/dev/a", image(8, &[]), 0x80000),
        Err(Errno::EINVAL)
    );
    let a = swapon(&mut t, "/dev/a", image(8, &[]), 0).unwrap();
    let b = swapon(&mut t, "/dev/b", image(8, &[]), SWAP_FLAG_DISCARD).unwrap();
    let c = swapon(&mut t, "/dev/c", image(8, &[]), SWAP_FLAG_PREFER | 5).unwrap();
    let prio = |t: &SwapTable, ty: usize| t.swap_info[ty].as_ref().unwrap().prio;
    assert_eq!((prio(&t, a), prio(&t, b), prio(&t, c)), (-2, -3, 5));
    assert_eq!(
        swapon(&mut t, "/dev/a", image(8, &[]), 0),
        Err(Errno::EBUSY)
    );
    // The same device under another name is busy too.
    let d = dev(image(8, &[]));
    let page = image(8, &[])[..PAGE_SIZE].to_vec();
    t.swapon("/dev/d", d.clone(), &page, 0).unwrap();
    assert_eq!(t.swapon("/dev/d2", d, &page, 0), Err(Errno::EBUSY));
    assert_eq!(t.total_swap_pages, 4 * 7);
    // swapoff of the -2 area: the -3 and -4 ones move up (Linux: sys_swapoff).
    t.swapoff_begin(a);
    assert!(t.swapoff_end(a).is_some());
    assert_eq!(prio(&t, b), -2);
    let b_dev = t.swap_info[b].as_ref().unwrap().bdev.clone();
    assert_eq!(t.find_by_bdev(&b_dev), Some(b));
    let e = swapon(&mut t, "/dev/a", image(8, &[]), 0).unwrap();
    assert_eq!(prio(&t, e), -4);
    assert_eq!(t.total_swap_pages, 4 * 7);
}

#[test]
fn get_duplicate_free_and_has_cache_follow_the_map_byte() {
    let mut t = SwapTable::new();
    let ty = swapon(&mut t, "/dev/a", image(8, &[]), 0).unwrap();
    assert_eq!(t.nr_swap_pages, 7);
    let e = t.get_swap_page().unwrap();
    assert_eq!((swp_type(e), swp_offset(e)), (ty, 1));
    let map = |t: &SwapTable| t.swap_info[ty].as_ref().unwrap().swap_map[1];
    assert_eq!(map(&t), SWAP_HAS_CACHE);
    assert!(t.has_cache(e));
    assert_eq!(t.swap_count_of(e), 0);
    assert_eq!(t.nr_swap_pages, 6);
    // add_to_swap then try_to_unmap: one PTE per mapping.
    t.swap_duplicate_usage(e, 1).unwrap();
    t.swap_duplicate_usage(e, 1).unwrap();
    assert_eq!(map(&t), SWAP_HAS_CACHE | 2);
    assert_eq!(
        t.swap_duplicate_usage(e, SWAP_HAS_CACHE),
        Err(Errno::EEXIST)
    );
    // The swap-cache page goes (reclaimed): the slot stays for the two PTEs.
    assert_eq!(t.swap_entry_free(e, SWAP_HAS_CACHE), Some(2));
    assert!(!t.has_cache(e));
    // A fault reads it back: swapcache_prepare marks the cache again.
    t.swap_duplicate_usage(e, SWAP_HAS_CACHE).unwrap();
    assert_eq!(t.swap_entry_free(e, 1), Some(SWAP_HAS_CACHE | 1));
    assert_eq!(t.swap_entry_free(e, 1), Some(SWAP_HAS_CACHE));
    assert_eq!(t.slots_in_use(), 1);
    assert_eq!(t.swap_entry_free(e, SWAP_HAS_CACHE), Some(0));
    assert_eq!(t.slots_in_use(), 0);
    assert_eq!(t.nr_swap_pages, 7);
    // Free slot: no references to add, no cache to mark.
    assert_eq!(t.swap_duplicate_usage(e, 1), Err(Errno::ENOENT));
    assert_eq!(
        t.swap_duplicate_usage(e, SWAP_HAS_CACHE),
        Err(Errno::ENOENT)
    );
    assert_eq!(t.swap_entry_free(e, 1), None);
    // Header slot, unknown type, offset past the end.
    assert_eq!(
        t.swap_duplicate_usage(swp_entry(ty, 0), 1),
        Err(Errno::ENOENT)
    );
    assert_eq!(
        t.swap_duplicate_usage(swp_entry(9, 1), 1),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        t.swap_duplicate_usage(swp_entry(ty, 8), 1),
        Err(Errno::EINVAL)
    );
    // The slot is handed out again after it was freed.
    let again = t.get_swap_page().unwrap();
    assert_eq!(swp_type(again), ty);
}

#[test]
fn count_stops_at_swap_map_max_with_enomem() {
    let mut t = SwapTable::new();
    swapon(&mut t, "/dev/a", image(4, &[]), 0).unwrap();
    let e = t.get_swap_page().unwrap();
    for _ in 0..SWAP_MAP_MAX {
        t.swap_duplicate_usage(e, 1).unwrap();
    }
    assert_eq!(t.swap_count_of(e), SWAP_MAP_MAX as usize);
    assert_eq!(t.swap_duplicate_usage(e, 1), Err(Errno::ENOMEM));
    assert_eq!(t.swap_count_of(e), SWAP_MAP_MAX as usize);
}

#[test]
fn a_full_device_gives_none_and_next_fit_wraps() {
    let mut t = SwapTable::new();
    swapon(&mut t, "/dev/a", image(5, &[]), 0).unwrap();
    let got: Vec<_> = (0..4).map(|_| t.get_swap_page().unwrap()).collect();
    assert_eq!(
        got.iter().map(|e| swp_offset(*e)).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(t.get_swap_page(), None);
    assert_eq!(t.nr_swap_pages, 0);
    // Free slot 2: the scan starts after 4, wraps and finds it.
    t.swap_entry_free(got[1], SWAP_HAS_CACHE);
    assert_eq!(t.get_swap_page().map(swp_offset), Some(2));
    assert_eq!(t.get_swap_page(), None);
}

#[test]
fn the_highest_priority_area_is_used_first() {
    let mut t = SwapTable::new();
    let low = swapon(&mut t, "/dev/low", image(3, &[]), 0).unwrap(); // -2
    let high = swapon(&mut t, "/dev/high", image(3, &[]), SWAP_FLAG_PREFER | 10).unwrap();
    let types: Vec<_> = (0..5).map(|_| t.get_swap_page().map(swp_type)).collect();
    assert_eq!(
        types,
        vec![Some(high), Some(high), Some(low), Some(low), None]
    );
}

#[test]
fn swapoff_takes_the_area_out_and_reinsert_puts_it_back() {
    let mut t = SwapTable::new();
    let ty = swapon(&mut t, "/dev/a", image(8, &[]), 0).unwrap();
    let e = t.get_swap_page().unwrap();
    t.swapoff_begin(ty);
    // No new slot from an area being turned off; its used slots still show.
    assert_eq!(t.get_swap_page(), None);
    assert_eq!(t.si_swapinfo(), (1, 0));
    assert_eq!(t.proc_swaps().lines().count(), 1);
    t.reinsert_swap_info(ty);
    assert_eq!(t.si_swapinfo(), (7, 6));
    // Turned off for good once its slot is gone.
    t.swapoff_begin(ty);
    t.swap_entry_free(e, SWAP_HAS_CACHE);
    assert_eq!(t.nr_swap_pages, 0);
    assert!(t.swapoff_end(ty).is_some());
    assert_eq!((t.total_swap_pages, t.nr_swap_pages), (0, 0));
}

#[test]
fn proc_swaps_has_linux_columns() {
    let mut t = SwapTable::new();
    swapon(&mut t, "/dev/vdb", image(4096, &[]), 0).unwrap();
    t.get_swap_page().unwrap();
    assert_eq!(
        t.proc_swaps(),
        "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n\
         /dev/vdb                                partition\t16380\t\t4\t\t-2\n"
    );
}
