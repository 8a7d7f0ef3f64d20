//! ARM PL011 UART: the console. Linux: `drivers/tty/serial/amba-pl011.c`.
//!
//! Output is polled (wait for space in the TX FIFO); input is interrupt driven: the RX
//! and RX-timeout interrupts move bytes into a ring that readers drain, and wake the
//! readers sleeping on [`RX_WAIT`].
use tock_registers::{
    interfaces::{ReadWriteable, Readable, Writeable},
    register_bitfields, register_structs,
    registers::{ReadOnly, ReadWrite, WriteOnly},
};

register_bitfields! {u32,
    /// Flag register, PL011 TRM 3.3.3.
    UARTFR [
        TXFF OFFSET(5) NUMBITS(1) [],
        RXFE OFFSET(4) NUMBITS(1) [],
        BUSY OFFSET(3) NUMBITS(1) []
    ],
    /// Line control, TRM 3.3.7.
    UARTLCR_H [
        WLEN OFFSET(5) NUMBITS(2) [EightBit = 0b11],
        FEN OFFSET(4) NUMBITS(1) []
    ],
    /// Control, TRM 3.3.8.
    UARTCR [
        RXE OFFSET(9) NUMBITS(1) [],
        TXE OFFSET(8) NUMBITS(1) [],
        UARTEN OFFSET(0) NUMBITS(1) []
    ],
    /// Interrupt mask set/clear and clear registers, TRM 3.3.10-3.3.13.
    UARTINT [
        RTIM OFFSET(6) NUMBITS(1) [],
        RXIM OFFSET(4) NUMBITS(1) []
    ]
}

register_structs! {
    /// PL011 register block, TRM 3.2.
    pub Pl011Regs {
        (0x00 => dr: ReadWrite<u32>),
        (0x04 => _reserved0),
        (0x18 => fr: ReadOnly<u32, UARTFR::Register>),
        (0x1c => _reserved1),
        (0x2c => lcr_h: ReadWrite<u32, UARTLCR_H::Register>),
        (0x30 => cr: ReadWrite<u32, UARTCR::Register>),
        (0x34 => ifls: ReadWrite<u32>),
        (0x38 => imsc: ReadWrite<u32, UARTINT::Register>),
        (0x3c => ris: ReadOnly<u32, UARTINT::Register>),
        (0x40 => mis: ReadOnly<u32, UARTINT::Register>),
        (0x44 => icr: WriteOnly<u32, UARTINT::Register>),
        (0x48 => @END),
    }
}

/// A PL011 at a mapped virtual address.
pub struct Pl011 {
    base: usize,
}

impl Pl011 {
    /// # Safety
    /// `base` must map a PL011's registers as device memory for the kernel's lifetime.
    pub const unsafe fn new(base: usize) -> Self {
        Pl011 { base }
    }

    fn regs(&self) -> &Pl011Regs {
        // SAFETY: `base` is the PL011's register window, mapped by ioremap before the Pl011 was made, and Pl011Regs matches its layout.
        unsafe { &*(self.base as *const Pl011Regs) }
    }

    /// Virtual address of the registers.
    pub fn base(&self) -> usize {
        self.base
    }

    /// 8N1 with FIFOs, TX and RX on. QEMU ignores the baud rate, so it is left alone.
    /// A byte that arrived before (input piped in at boot) is kept: turning the FIFOs on
    /// empties them, so it is taken out first (`take` gets it).
    pub fn init(&self, mut take: impl FnMut(u8)) {
        let r = self.regs();
        while let Some(c) = self.getc() {
            take(c);
        }
        r.cr.set(0);
        r.lcr_h
            .write(UARTLCR_H::WLEN::EightBit + UARTLCR_H::FEN::SET);
        r.icr.set(0x7ff);
        r.cr.write(UARTCR::UARTEN::SET + UARTCR::TXE::SET + UARTCR::RXE::SET);
    }

    /// Raise an interrupt when bytes arrive (RX) or sit in the FIFO (RX timeout). Then
    /// read the data register once: QEMU's serial back end holds input that arrived while
    /// the FIFO was full (or being reset) until the guest reads, so piped type-ahead would
    /// otherwise wait forever (`take` gets whatever the read finds).
    pub fn enable_rx_interrupt(&self, mut take: impl FnMut(u8)) {
        let r = self.regs();
        r.imsc.modify(UARTINT::RXIM::SET + UARTINT::RTIM::SET);
        if r.fr.is_set(UARTFR::RXFE) {
            // Empty: a read only to let the back end deliver what it holds.
            let _ = r.dr.get();
        }
        while let Some(c) = self.getc() {
            take(c);
        }
    }

    /// Send one byte, waiting for FIFO space.
    pub fn putc(&self, c: u8) {
        let r = self.regs();
        while r.fr.is_set(UARTFR::TXFF) {
            core::hint::spin_loop();
        }
        r.dr.set(c as u32);
    }

    /// A received byte, if any.
    pub fn getc(&self) -> Option<u8> {
        let r = self.regs();
        if r.fr.is_set(UARTFR::RXFE) {
            None
        } else {
            Some(r.dr.get() as u8)
        }
    }

    /// Interrupt handler: acknowledge, then drain the RX FIFO into `push`. In this
    /// order a byte that lands after the drain raises a fresh interrupt. Acknowledging
    /// after the drain, as this did, could clear the interrupt of a byte that had just
    /// arrived: it and every byte after it then sat in the FIFO with no interrupt (the
    /// RX interrupt is raised as the FIFO leaves empty). A CI run lost the end of a
    /// three-line burst typed into the shell that way. Linux's `pl011_int` does not
    /// clear RX at all; draining the FIFO clears it.
    pub fn handle_irq(&self, mut push: impl FnMut(u8)) {
        self.regs()
            .icr
            .write(UARTINT::RXIM::SET + UARTINT::RTIM::SET);
        while let Some(c) = self.getc() {
            push(c);
        }
    }
}

/// Bytes received and not yet read (filled by the RX interrupt).
pub struct RxRing {
    buf: [u8; 256],
    head: usize,
    tail: usize,
}

impl RxRing {
    /// An empty ring.
    pub const fn new() -> Self {
        RxRing {
            buf: [0; 256],
            head: 0,
            tail: 0,
        }
    }
    /// Add a byte; drops it when full (as a tty does on overrun).
    pub fn push(&mut self, c: u8) {
        let next = (self.head + 1) % self.buf.len();
        if next != self.tail {
            self.buf[self.head] = c;
            self.head = next;
        }
    }
    /// Take the oldest byte.
    pub fn pop(&mut self) -> Option<u8> {
        if self.head == self.tail {
            return None;
        }
        let c = self.buf[self.tail];
        self.tail = (self.tail + 1) % self.buf.len();
        Some(c)
    }
}

/// Bytes received from the console UART, waiting for `/dev/console` readers. Input that
/// arrives before anybody reads stays here (type-ahead, as a tty keeps it).
static RX: crate::sync::SpinLockIrq<RxRing> = crate::sync::SpinLockIrq::new(RxRing::new());

/// Readers of `/dev/console` sleep here until the RX interrupt brings bytes (Linux: the
/// tty's `read_wait`, woken by `n_tty_receive_buf_common` -> `wake_up_interruptible_poll`).
pub static RX_WAIT: crate::sync::WaitQueueHead = crate::sync::WaitQueueHead::new();

/// UART receive interrupt: move the FIFO into the ring and wake the readers. Linux:
/// `pl011_int` -> `pl011_rx_chars` (which feeds the tty flip buffer, whose push wakes
/// `read_wait`).
#[no_mangle]
#[inline(never)]
pub fn pl011_int() {
    if let Some(uart) = crate::kernel::printk::console_uart() {
        let mut rx = RX.lock();
        uart.handle_irq(|c| rx.push(c));
    }
    if console_rx_pending() {
        RX_WAIT.wake_up();
    }
}

/// Queue `bytes` as if the UART had received them, and wake the readers: what the RX
/// interrupt does, for in-kernel tests. Linux: `tty_insert_flip_string` +
/// `tty_flip_buffer_push`.
pub fn console_rx_inject(bytes: &[u8]) {
    {
        let mut rx = RX.lock();
        for &c in bytes {
            rx.push(c);
        }
    }
    RX_WAIT.wake_up();
}

/// Take one received byte, if any: `/dev/console` reads through this (`fs/console.rs`).
pub fn console_rx_pop() -> Option<u8> {
    RX.lock().pop()
}

/// Keep a byte received outside the interrupt handler (UART start-up).
pub fn console_rx_push(c: u8) {
    RX.lock().push(c);
}

/// Are received bytes waiting (the condition console readers sleep on)?
pub fn console_rx_pending() -> bool {
    let rx = RX.lock();
    rx.head != rx.tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_order_and_drops_on_overrun() {
        let mut r = RxRing::new();
        for c in 0..300u32 {
            r.push(c as u8);
        }
        for c in 0..255u32 {
            assert_eq!(r.pop(), Some(c as u8));
        }
        assert_eq!(r.pop(), None);
    }
}
