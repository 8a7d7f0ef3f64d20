//! Device drivers: the console UART, the interrupt controller, the architected timer,
//! and the device-tree parser that finds them. Linux: `drivers/`.
pub mod arch_timer;
pub mod irqchip;
pub mod of;
pub mod pl011;
pub mod virtio_blk;
