//! Pipes: pipe2(2). Linux: `fs/pipe.c` (`do_pipe2`, `create_pipe_files`, `pipe_read`,
//! `pipe_write`, `pipe_release`).
//!
//! A pipe is a ring of [`PIPE_DEF_BUFFERS`] buffers (64 KiB, Linux's default capacity),
//! each a page from the page allocator holding a run of unread bytes, freed as soon as
//! it is read empty, so an idle pipe costs no memory. As in Linux, a write first puts
//! its tail (the part that is not whole pages) into the last buffer if it fits there,
//! then takes a new page per free slot: a write of at most [`PIPE_BUF`] bytes is never
//! split. A read waits for data or for the last writer to go (then 0, end of file); a
//! write waits for a free slot and, with no reader left, fails with EPIPE after raising
//! SIGPIPE. O_NONBLOCK turns each wait into EAGAIN; a signal ends it with ERESTARTSYS (so
//! the call is restarted under SA_RESTART, else EINTR: `do_signal`), or with the count
//! moved so far.
use crate::errno::{Errno, KResult};
use crate::fs::char_dev::{
    CharDevice, POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, POLL_WAIT,
};
use crate::fs::inode::{Inode, InodeAttr, SuperBlock, S_IFIFO};
use crate::fs::O_NONBLOCK;
use crate::mm::page::{page_address, Page};
use crate::mm::page_alloc::{__free_pages, alloc_pages, GfpFlags};
use crate::mm::PAGE_SIZE;
use crate::sync::wait::WaitQueueHead;
use crate::sync::SpinLockIrq;
use alloc::sync::Arc;

/// Pages a pipe may hold (Linux: `PIPE_DEF_BUFFERS`).
pub const PIPE_DEF_BUFFERS: usize = 16;
/// Bytes a pipe may hold.
pub const PIPE_SIZE: usize = PIPE_DEF_BUFFERS * PAGE_SIZE;
/// Writes up to this size are atomic (Linux: `PIPE_BUF`, POSIX's minimum 512 raised to a
/// page).
pub const PIPE_BUF: usize = PAGE_SIZE;

/// One page of a pipe's ring: `len` unread bytes from `offset` (Linux: `struct
/// pipe_buffer`).
#[derive(Clone, Copy)]
struct PipeBuffer {
    page: &'static Page,
    offset: usize,
    len: usize,
}

/// The ring of buffers and the two ends' counts (Linux: `struct pipe_inode_info`).
struct PipeInodeInfo {
    bufs: [Option<PipeBuffer>; PIPE_DEF_BUFFERS],
    /// The oldest buffer's slot.
    head: usize,
    /// Buffers in use.
    nrbufs: usize,
    readers: usize,
    writers: usize,
    /// Each write is one packet, each read takes one (what is left of it is dropped):
    /// Linux's packet mode (`PIPE_BUF_FLAG_PACKET`, O_DIRECT pipes), used here for
    /// SOCK_SEQPACKET and SOCK_DGRAM socket pairs.
    packet: bool,
}

impl PipeInodeInfo {
    fn slot(&mut self, i: usize) -> &mut Option<PipeBuffer> {
        &mut self.bufs[(self.head + i) % PIPE_DEF_BUFFERS]
    }

    fn full(&self) -> bool {
        self.nrbufs == PIPE_DEF_BUFFERS
    }

    /// Copy unread bytes out, across buffers, until `buf` is full or the pipe empty; an
    /// emptied buffer's page goes back at once (Linux: `pipe_read`'s loop).
    fn take(&mut self, buf: &mut [u8]) -> usize {
        let mut done = 0;
        let packet = self.packet;
        while done < buf.len() && self.nrbufs > 0 {
            let b = self.slot(0).as_mut().expect("a used slot has a buffer");
            let k = b.len.min(buf.len() - done);
            // SAFETY: the buffer's page, PAGE_SIZE bytes of the linear map, with
            // offset + len <= PAGE_SIZE.
            let src = unsafe {
                core::slice::from_raw_parts((page_address(b.page) + b.offset) as *const u8, k)
            };
            buf[done..done + k].copy_from_slice(src);
            done += k;
            b.offset += k;
            b.len -= k;
            // Linux: pipe_read's `if (buf->flags & PIPE_BUF_FLAG_PACKET) { total_len =
            // chars; buf->len = 0; }`: one packet per read, the rest discarded.
            if packet {
                b.len = 0;
            }
            if b.len == 0 {
                let page = b.page;
                *self.slot(0) = None;
                __free_pages(page, 0);
                self.head = (self.head + 1) % PIPE_DEF_BUFFERS;
                self.nrbufs -= 1;
            }
            if packet {
                break;
            }
        }
        done
    }

    /// The tail of a write that is not a whole number of pages goes into the last
    /// buffer if it fits there (Linux: `pipe_write`'s merge, for `total_len &
    /// (PAGE_SIZE - 1)` bytes). Returns the bytes merged.
    fn merge(&mut self, buf: &[u8]) -> usize {
        let chars = buf.len() & (PAGE_SIZE - 1);
        if chars == 0 || self.nrbufs == 0 || self.packet {
            return 0;
        }
        let last = self.nrbufs - 1;
        let b = self.slot(last).as_mut().expect("a used slot has a buffer");
        if b.offset + b.len + chars > PAGE_SIZE {
            return 0;
        }
        // SAFETY: as in `take`; the bytes after the buffer's data are within its page.
        let dst = unsafe {
            core::slice::from_raw_parts_mut(
                (page_address(b.page) + b.offset + b.len) as *mut u8,
                chars,
            )
        };
        dst.copy_from_slice(&buf[..chars]);
        b.len += chars;
        chars
    }

    /// Up to a page of `buf` into a new buffer in a free slot; ENOMEM without a page.
    fn push(&mut self, buf: &[u8]) -> KResult<usize> {
        let page = alloc_pages(GfpFlags::GFP_KERNEL, 0).ok_or(Errno::ENOMEM)?;
        let k = buf.len().min(PAGE_SIZE);
        // SAFETY: a page we just allocated.
        let dst = unsafe { core::slice::from_raw_parts_mut(page_address(page) as *mut u8, k) };
        dst.copy_from_slice(&buf[..k]);
        let n = self.nrbufs;
        *self.slot(n) = Some(PipeBuffer {
            page,
            offset: 0,
            len: k,
        });
        self.nrbufs += 1;
        Ok(k)
    }

    fn release_pages(&mut self) {
        for slot in self.bufs.iter_mut() {
            if let Some(b) = slot.take() {
                __free_pages(b.page, 0);
            }
        }
        self.nrbufs = 0;
    }
}

/// One pipe: the ring under its lock, and a wait queue for each side (Linux: `rd_wait`,
/// `wr_wait`).
pub struct Pipe {
    info: SpinLockIrq<PipeInodeInfo>,
    rd_wait: WaitQueueHead,
    wr_wait: WaitQueueHead,
}

impl Drop for Pipe {
    fn drop(&mut self) {
        self.info.lock().release_pages();
    }
}

/// One end of a pipe, the device behind its open file. Dropped with the last fd of that
/// file, which is when Linux's `pipe_release` runs.
struct PipeEnd {
    pipe: Arc<Pipe>,
    write: bool,
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        let mut info = self.pipe.info.lock();
        if self.write {
            info.writers -= 1;
        } else {
            info.readers -= 1;
        }
        drop(info);
        // Readers see end of file, writers see EPIPE.
        self.pipe.wake_readers();
        self.pipe.wake_writers();
    }
}

impl Pipe {
    /// Wake readers waiting for data, and pollers (Linux: `wake_up_interruptible_sync_poll
    /// (&pipe->rd_wait, EPOLLIN)`; our pollers share one queue, [`POLL_WAIT`]).
    fn wake_readers(&self) {
        self.rd_wait.wake_up();
        POLL_WAIT.wake_up();
    }

    /// Wake writers waiting for room, and pollers.
    fn wake_writers(&self) {
        self.wr_wait.wake_up();
        POLL_WAIT.wake_up();
    }

    /// An empty pipe with `readers` and `writers` ends open.
    pub(crate) fn new(readers: usize, writers: usize) -> Arc<Pipe> {
        Self::new_mode(readers, writers, false)
    }

    /// [`Pipe::new`] in packet mode: a write of up to a page is one packet, a read takes
    /// one packet (Linux: a pipe opened with O_DIRECT).
    pub(crate) fn new_packet(readers: usize, writers: usize) -> Arc<Pipe> {
        Self::new_mode(readers, writers, true)
    }

    fn new_mode(readers: usize, writers: usize, packet: bool) -> Arc<Pipe> {
        Arc::new(Pipe {
            info: SpinLockIrq::new(PipeInodeInfo {
                bufs: [None; PIPE_DEF_BUFFERS],
                head: 0,
                nrbufs: 0,
                readers,
                writers,
                packet,
            }),
            rd_wait: WaitQueueHead::new(),
            wr_wait: WaitQueueHead::new(),
        })
    }

    /// Read what is there, or wait for data or for the last writer to go (then 0, end
    /// of file); EAGAIN instead of waiting with O_NONBLOCK in `f_flags`, EINTR for a
    /// signal. Linux: `pipe_read`; a unix stream socket reads its half the same way.
    pub(crate) fn pipe_read(&self, f_flags: u32, buf: &mut [u8]) -> KResult<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let pipe = self;
        loop {
            let mut info = pipe.info.lock();
            if info.nrbufs > 0 {
                let n = info.take(buf);
                drop(info);
                pipe.wake_writers();
                return Ok(n);
            }
            if info.writers == 0 {
                return Ok(0);
            }
            drop(info);
            if f_flags & O_NONBLOCK != 0 {
                return Err(Errno::EAGAIN);
            }
            pipe.rd_wait.wait_event_interruptible(|| {
                let info = pipe.info.lock();
                info.nrbufs > 0 || info.writers == 0
            })?;
        }
    }

    /// Write all of `buf`, waiting for free slots: the merge into the last buffer first,
    /// then a new page per free slot. With no reader left: SIGPIPE and EPIPE (or the
    /// count written so far). Linux: `pipe_write`; a unix stream socket writes its half
    /// the same way.
    pub(crate) fn pipe_write(&self, f_flags: u32, buf: &[u8]) -> KResult<usize> {
        let pipe = self;
        let sigpipe = || {
            if let Some(me) = crate::task::current() {
                crate::task::signal::send_sig(&me, crate::task::signal::SIGPIPE);
            }
        };
        let mut info = pipe.info.lock();
        if info.readers == 0 {
            drop(info);
            sigpipe();
            return Err(Errno::EPIPE);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let mut done = info.merge(buf);
        drop(info);
        if done > 0 {
            pipe.wake_readers();
        }
        while done < buf.len() {
            let mut info = pipe.info.lock();
            if info.readers == 0 {
                drop(info);
                sigpipe();
                return if done > 0 {
                    Ok(done)
                } else {
                    Err(Errno::EPIPE)
                };
            }
            if !info.full() {
                let r = info.push(&buf[done..]);
                drop(info);
                match r {
                    Ok(n) => done += n,
                    Err(e) if done == 0 => return Err(e),
                    Err(_) => break,
                }
                pipe.wake_readers();
                continue;
            }
            drop(info);
            if f_flags & O_NONBLOCK != 0 {
                return if done > 0 {
                    Ok(done)
                } else {
                    Err(Errno::EAGAIN)
                };
            }
            if let Err(e) = pipe.wr_wait.wait_event_interruptible(|| {
                let info = pipe.info.lock();
                info.readers == 0 || !info.full()
            }) {
                return if done > 0 { Ok(done) } else { Err(e) };
            }
        }
        Ok(done)
    }

    /// Close this pipe for good in both directions: readers see end of file once the data
    /// is read, writers see EPIPE. What a unix socket's `shutdown` and last close do to
    /// one direction of the pair (Linux sets RCV_SHUTDOWN / SEND_SHUTDOWN; here the
    /// pipe simply has no reader and no writer left). Idempotent.
    pub(crate) fn shutdown(&self) {
        let mut info = self.info.lock();
        info.readers = 0;
        info.writers = 0;
        drop(info);
        self.wake_readers();
        self.wake_writers();
    }

    /// For poll: (data to read, room to write, no writer left, no reader left).
    pub(crate) fn poll_state(&self) -> (bool, bool, bool, bool) {
        let info = self.info.lock();
        (
            info.nrbufs > 0,
            !info.full(),
            info.writers == 0,
            info.readers == 0,
        )
    }
}

impl CharDevice for PipeEnd {
    /// Linux: `pipe_read`.
    fn read(&self, f_flags: u32, _pos: u64, buf: &mut [u8]) -> KResult<usize> {
        self.pipe.pipe_read(f_flags, buf)
    }

    /// Linux: `pipe_write`.
    fn write(&self, f_flags: u32, _pos: u64, buf: &[u8]) -> KResult<usize> {
        self.pipe.pipe_write(f_flags, buf)
    }

    fn is_stream(&self) -> bool {
        true
    }

    /// Linux: `pipe_poll`: the read end is readable with data or no writer left
    /// (POLLHUP then), the write end writable with a free slot, POLLERR with no reader.
    fn poll(&self) -> u16 {
        let (readable, writable, rhup, whup) = self.pipe.poll_state();
        if self.write {
            (if writable { POLLOUT | POLLWRNORM } else { 0 }) | if whup { POLLERR } else { 0 }
        } else {
            (if readable { POLLIN | POLLRDNORM } else { 0 }) | if rhup { POLLHUP } else { 0 }
        }
    }
}

/// The inode of a pipe (Linux: an inode of the internal `pipefs`): a FIFO, mode 0600.
struct PipeInode {
    attr: InodeAttr,
}

impl Inode for PipeInode {
    fn attr(&self) -> &InodeAttr {
        &self.attr
    }
}

/// The internal pipefs instance (Linux: `pipe_mnt`).
static PIPEFS: spin::Once<Arc<SuperBlock>> = spin::Once::new();

/// The read and write ends of a new pipe, as open files with `flags` (O_NONBLOCK) added
/// to O_RDONLY and O_WRONLY (Linux: `create_pipe_files`).
pub fn create_pipe_files(flags: u32) -> (Arc<super::file::File>, Arc<super::file::File>) {
    let sb =
        PIPEFS.call_once(|| SuperBlock::new("pipefs", super::inode::get_anon_bdev(), false, 1));
    let ino = sb.get_next_ino();
    let inode: Arc<dyn Inode> = Arc::new(PipeInode {
        attr: InodeAttr::new(sb, ino, S_IFIFO | 0o600, 1, 0),
    });
    // get_pipe_inode: owned by the caller's fsuid and fsgid.
    super::attr::inode_init_owner(&*inode, None, S_IFIFO | 0o600);
    let pipe = Pipe::new(1, 1);
    let name = alloc::format!("pipe:[{ino}]");
    let end = |write: bool| {
        let dev: Arc<dyn CharDevice> = Arc::new(PipeEnd {
            pipe: pipe.clone(),
            write,
        });
        let acc = if write {
            super::O_WRONLY
        } else {
            super::O_RDONLY
        };
        Arc::new(super::file::File::new(
            name.clone(),
            inode.clone(),
            Some(dev),
            acc | (flags & O_NONBLOCK),
        ))
    };
    (end(false), end(true))
}
