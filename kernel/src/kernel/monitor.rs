//! A tiny console monitor for the time before user space exists: read a line from the
//! UART (filled by its receive interrupt) and run a built-in command. The shell `sh`
//! replaces it once processes exist.
use crate::arch::cpu;
use crate::drivers::arch_timer::{jiffies, HZ};
use crate::drivers::pl011::RxRing;
use crate::sync::SpinLockIrq;

static RX: SpinLockIrq<RxRing> = SpinLockIrq::new(RxRing::new());

/// UART receive interrupt: move the FIFO into the ring. Linux: `pl011_int` -> `pl011_rx_chars`.
#[no_mangle]
#[inline(never)]
pub fn pl011_int() {
    if let Some(uart) = crate::kernel::printk::console_uart() {
        let mut rx = RX.lock();
        uart.handle_irq(|c| rx.push(c));
    }
}

/// Take one received byte, if any: `/dev/console` reads through this (`fs/console.rs`).
pub fn console_rx_pop() -> Option<u8> {
    RX.lock().pop()
}

/// Block (in WFI) until a byte arrives.
fn getc() -> u8 {
    loop {
        if let Some(c) = RX.lock().pop() {
            return c;
        }
        cpu::wfi();
    }
}

fn read_line(buf: &mut [u8]) -> usize {
    let mut n = 0;
    loop {
        match getc() {
            b'\r' | b'\n' => {
                printk!("\n");
                return n;
            }
            0x7f | 0x08 if n > 0 => {
                n -= 1;
                printk!("\x08 \x08");
            }
            c if (0x20..0x7f).contains(&c) && n < buf.len() => {
                buf[n] = c;
                n += 1;
                printk!("{}", c as char);
            }
            _ => {}
        }
    }
}

/// Run one command line; false when the monitor should stop.
pub fn run_command(line: &str) -> bool {
    match line.trim() {
        "" => {}
        "help" => pr_info!("commands: help, mem, uptime, poweroff"),
        "mem" => {
            let free = crate::mm::page_alloc::nr_free_pages();
            let z = crate::mm::page_alloc::ZONE_NORMAL.lock();
            let (managed, wm) = (z.managed_pages, z.watermarks);
            drop(z);
            let (used, hfree) = crate::mm::slab::heap_usage();
            pr_info!(
                "MemTotal: {:>10} kB",
                crate::init::boot_info().ram_bytes() / 1024
            );
            pr_info!("MemFree:  {:>10} kB", free * 4);
            pr_info!("Managed:  {:>10} kB", managed * 4);
            pr_info!(
                "Watermarks (pages): min {} low {} high {}",
                wm.min,
                wm.low,
                wm.high
            );
            pr_info!("Heap: {used} bytes used, {hfree} free");
        }
        "uptime" => {
            let j = jiffies();
            pr_info!(
                "up {}.{:02} s, {} jiffies (HZ={})",
                j / HZ,
                (j % HZ) * 100 / HZ,
                j,
                HZ
            );
        }
        "poweroff" => return false,
        other => pr_info!("{other}: unknown command (try help)"),
    }
    true
}

/// The monitor loop; returns on `poweroff`.
pub fn monitor_loop() {
    let mut buf = [0u8; 128];
    loop {
        printk!("mmkern> ");
        let n = read_line(&mut buf);
        let line = core::str::from_utf8(&buf[..n]).unwrap_or("");
        if !run_command(line) {
            return;
        }
    }
}
