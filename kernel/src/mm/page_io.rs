//! STUB (lead's branch only): replaced by the swapdev branch's mm/page_io.rs at merge.
#![allow(missing_docs, unused_variables)]
use crate::errno::{Errno, KResult};
use crate::mm::page::Page;
pub fn swap_writepage(page: &Page) -> KResult<()> {
    Err(Errno::EIO)
}
pub fn swap_readpage(page: &Page, synchronous: bool) -> KResult<()> {
    Err(Errno::EIO)
}
