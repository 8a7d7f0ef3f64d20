//! Networking, as far as this kernel has it: unix-domain stream socket pairs.
//!
//! Linux: `net/socket.c` (the socket system calls, sockfs) and `net/unix/af_unix.c`
//! (AF_UNIX). A floor above mm/, beside fs/: a socket is an open [`crate::fs::File`]
//! whose device ([`crate::fs::char_dev::CharDevice`]) is the socket, as Linux's socket
//! file has `socket_file_ops`. fs/ does not know net/ exists.
pub mod socket;
pub mod unix;
