//! System V IPC. Linux: `ipc/` (`ipc/util.c` for the identifier sets and permission
//! checks every kind shares, `ipc/shm.c` for shared memory; no message queues or
//! semaphores yet).
//!
//! ipc sits above mm, beside fs and task: it calls down into mm (`do_mmap`,
//! `do_munmap`) and into tmpfs for the file behind a segment; mm only ever sees a
//! segment as a file (`MappedFile`) with the shmem `vm_ops`, as in Linux.
pub mod shm;
pub mod util;
