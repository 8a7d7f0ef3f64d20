//! Intrusive red-black trees, plain and augmented.
//!
//! Linux: `lib/rbtree.c`, `include/linux/rbtree.h`, `include/linux/rbtree_augmented.h`.
//! Callers: the VMA tree of every mm (`mm/vma.rs`: `vm_rb`, kept augmented with
//! `rb_subtree_gap` so `unmapped_area` is O(log n)); later the anon_vma and i_mmap
//! interval trees.
//!
//! As in Linux the tree knows nothing of what it orders: a user embeds an [`RbNode`] in its
//! own structure, finds the place of a new node by descending from [`RbRoot::rb_node`]
//! with its own comparison, links it there with [`rb_link_node`] and lets
//! [`rb_insert_color`] (or [`rb_insert_augmented`]) recolour and rotate. [`rb_entry!`] goes
//! from a node back to the structure around it (Linux: `rb_entry` = `container_of`).
//!
//! An augmented tree keeps in every node a value computed from the node and its two
//! subtrees (the VMA tree: the largest free gap below the node). Insertion and erasure
//! call back into the user's [`RbAugmentCallbacks`] whenever the shape changes under a
//! node: `rotate` after a rotation, `copy` when a node takes another's place, `propagate`
//! to walk a change up to the root. [`RbMaxCallbacks`] builds the three for the common
//! "maximum over the subtree" case (Linux: `RB_DECLARE_CALLBACKS_MAX`).
//!
//! Everything works on raw pointers, as Linux does: the nodes belong to their users (the
//! VMA tree owns each VMA through a `Box` it leaked on insertion), and the caller's lock
//! (for VMAs, `mmap_lock`) is what makes the pointer chasing sound. The colour lives in
//! bit 0 of the parent pointer (`__rb_parent_color`), so nodes must be at least 2-byte
//! aligned, which a struct of pointers always is.
//!
//! The rebalancing follows the classic red-black rules (Guibas-Sedgewick, as in CLRS):
//! the root is black, a red node has no red child, and every path from a node to a leaf
//! has the same number of black nodes; so the height is at most 2 log2(n + 1).
use core::marker::PhantomData;
use core::ptr::null_mut;

/// Colour bit value of a red node (Linux: `RB_RED`).
pub const RB_RED: usize = 0;
/// Colour bit value of a black node (Linux: `RB_BLACK`).
pub const RB_BLACK: usize = 1;

/// A node of a red-black tree, embedded in the structure it orders (Linux:
/// `struct rb_node`). A copy (`Clone`) carries the same, now stale, links: link the copy
/// with [`rb_link_node`] before using it in a tree, as Linux re-links a `memcpy`d VMA.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct RbNode {
    /// Parent pointer with the colour in bit 0 (Linux: `__rb_parent_color`).
    __rb_parent_color: usize,
    /// Right child, or null (Linux: `rb_right`).
    pub rb_right: *mut RbNode,
    /// Left child, or null (Linux: `rb_left`).
    pub rb_left: *mut RbNode,
}

impl RbNode {
    /// An unlinked node: no parent, no children.
    pub const fn new() -> Self {
        RbNode {
            __rb_parent_color: 0,
            rb_right: null_mut(),
            rb_left: null_mut(),
        }
    }
}

impl Default for RbNode {
    fn default() -> Self {
        Self::new()
    }
}

/// The root of a tree (Linux: `struct rb_root`); null when the tree is empty.
#[derive(Debug)]
pub struct RbRoot {
    /// The root node, or null (Linux: `rb_node`).
    pub rb_node: *mut RbNode,
}

impl RbRoot {
    /// An empty tree (Linux: `RB_ROOT`).
    pub const fn new() -> Self {
        RbRoot {
            rb_node: null_mut(),
        }
    }

    /// Is the tree empty (Linux: `RB_EMPTY_ROOT`)?
    pub fn is_empty(&self) -> bool {
        self.rb_node.is_null()
    }
}

impl Default for RbRoot {
    fn default() -> Self {
        Self::new()
    }
}

/// Go from a pointer to the `RbNode` field `$field` of a `$type` back to the `$type`
/// (Linux: `rb_entry`, i.e. `container_of`). Evaluates to `*mut $type`; dereferencing it
/// is the caller's business (and unsafe).
#[macro_export]
macro_rules! rb_entry {
    ($ptr:expr, $type:ty, $field:ident) => {
        ($ptr as *mut u8).wrapping_sub(core::mem::offset_of!($type, $field)) as *mut $type
    };
}

/// What an augmented tree calls when the shape under a node changes (Linux:
/// `struct rb_augment_callbacks`). The functions get raw node pointers of one tree whose
/// lock the caller of the tree operation holds.
pub trait RbAugmentCallbacks {
    /// Recompute the augmented value of `node` and its ancestors, stopping at `stop`
    /// (exclusive; null for the root) or as soon as a value does not change.
    ///
    /// # Safety
    /// `node` and every node up to `stop` are live nodes of one tree, linked correctly.
    unsafe fn propagate(node: *mut RbNode, stop: *mut RbNode);
    /// `new` takes `old`'s place in the tree: give it `old`'s value.
    ///
    /// # Safety
    /// Both are live nodes of users of this callback type.
    unsafe fn copy(old: *mut RbNode, new: *mut RbNode);
    /// A rotation made `new` the parent of `old` where `old` was: `new` gets `old`'s
    /// value (same subtree) and `old`'s value is recomputed from its new children.
    ///
    /// # Safety
    /// Both are live nodes of one tree; `old`'s child links are already updated.
    unsafe fn rotate(old: *mut RbNode, new: *mut RbNode);
}

/// Callbacks of a tree without augmented values (Linux: `dummy_callbacks`).
pub struct RbNoAugment;

impl RbAugmentCallbacks for RbNoAugment {
    unsafe fn propagate(_node: *mut RbNode, _stop: *mut RbNode) {}
    unsafe fn copy(_old: *mut RbNode, _new: *mut RbNode) {}
    unsafe fn rotate(_old: *mut RbNode, _new: *mut RbNode) {}
}

/// A node type whose augmented value is the maximum, over its subtree, of a value each
/// node computes for itself: the input of [`RbMaxCallbacks`] (Linux: the arguments of
/// `RB_DECLARE_CALLBACKS_MAX`).
pub trait RbAugmentMax {
    /// The node's own value (Linux: `RBCOMPUTE`, e.g. `vma_compute_gap`).
    ///
    /// # Safety
    /// `node` is the `RbNode` of a live `Self` user, whose lock the caller holds.
    unsafe fn compute(node: *mut RbNode) -> usize;
    /// Where the node keeps the subtree maximum (Linux: `RBAUGMENTED`, e.g.
    /// `rb_subtree_gap`).
    ///
    /// # Safety
    /// As for `compute`.
    unsafe fn augmented(node: *mut RbNode) -> *mut usize;
}

/// The three callbacks for a "maximum over the subtree" augmentation (Linux:
/// `RB_DECLARE_CALLBACKS_MAX`, which generates `RBNAME_propagate`, `_copy`, `_rotate`
/// and `RBNAME_compute_max`).
pub struct RbMaxCallbacks<T>(PhantomData<T>);

impl<T: RbAugmentMax> RbMaxCallbacks<T> {
    /// Recompute `node`'s subtree maximum from its own value and its children's stored
    /// maxima. With `exit`, report `true` (and change nothing) when the stored value is
    /// already right, which is where propagation can stop (Linux: `RBNAME_compute_max`).
    ///
    /// # Safety
    /// `node` and its children are live nodes of one tree of `T`s.
    pub unsafe fn compute_max(node: *mut RbNode, exit: bool) -> bool {
        // SAFETY: the caller's contract: `node` and its children are live `T` nodes.
        unsafe {
            let mut max = T::compute(node);
            for child in [(*node).rb_left, (*node).rb_right] {
                if !child.is_null() && *T::augmented(child) > max {
                    max = *T::augmented(child);
                }
            }
            let aug = T::augmented(node);
            if exit && *aug == max {
                return true;
            }
            *aug = max;
            false
        }
    }
}

impl<T: RbAugmentMax> RbAugmentCallbacks for RbMaxCallbacks<T> {
    unsafe fn propagate(mut node: *mut RbNode, stop: *mut RbNode) {
        // SAFETY: the trait's contract: every node from `node` up to `stop` is live.
        unsafe {
            while node != stop {
                if Self::compute_max(node, true) {
                    break;
                }
                node = rb_parent(node);
            }
        }
    }

    unsafe fn copy(old: *mut RbNode, new: *mut RbNode) {
        // SAFETY: the trait's contract: both are live `T` nodes.
        unsafe { *T::augmented(new) = *T::augmented(old) };
    }

    unsafe fn rotate(old: *mut RbNode, new: *mut RbNode) {
        // SAFETY: the trait's contract: both are live `T` nodes, `old` already has its
        // new children.
        unsafe {
            *T::augmented(new) = *T::augmented(old);
            Self::compute_max(old, false);
        }
    }
}

/// The parent of `node`, or null for the root (Linux: `rb_parent`).
///
/// # Safety
/// `node` is a live node.
#[inline]
pub unsafe fn rb_parent(node: *const RbNode) -> *mut RbNode {
    // SAFETY: the caller's contract: `node` is live.
    __rb_parent(unsafe { (*node).__rb_parent_color })
}

#[inline]
fn __rb_parent(pc: usize) -> *mut RbNode {
    (pc & !3) as *mut RbNode
}

#[inline]
fn __rb_is_black(pc: usize) -> bool {
    pc & 1 == RB_BLACK
}

/// Is `node` red? (Linux: `rb_is_red`.)
///
/// # Safety
/// `node` is a live node.
#[inline]
unsafe fn rb_is_red(node: *const RbNode) -> bool {
    // SAFETY: the caller's contract.
    !__rb_is_black(unsafe { (*node).__rb_parent_color })
}

/// Is `node` black? (Linux: `rb_is_black`.)
///
/// # Safety
/// `node` is a live node.
#[inline]
unsafe fn rb_is_black(node: *const RbNode) -> bool {
    // SAFETY: the caller's contract.
    __rb_is_black(unsafe { (*node).__rb_parent_color })
}

/// # Safety
/// `node` is a live node.
#[inline]
unsafe fn rb_set_black(node: *mut RbNode) {
    // SAFETY: the caller's contract.
    unsafe { (*node).__rb_parent_color |= RB_BLACK };
}

/// # Safety
/// `node` is a live node.
#[inline]
unsafe fn rb_set_parent(node: *mut RbNode, parent: *mut RbNode) {
    // SAFETY: the caller's contract.
    unsafe { (*node).__rb_parent_color = ((*node).__rb_parent_color & 1) | parent as usize };
}

/// # Safety
/// `node` is a live node.
#[inline]
unsafe fn rb_set_parent_color(node: *mut RbNode, parent: *mut RbNode, color: usize) {
    // SAFETY: the caller's contract.
    unsafe { (*node).__rb_parent_color = parent as usize | color };
}

/// Make `new` the child of `parent` (or the root) where `old` was.
///
/// # Safety
/// `parent`, when not null, is a live node whose child is `old`; `root` is live.
#[inline]
unsafe fn __rb_change_child(
    old: *mut RbNode,
    new: *mut RbNode,
    parent: *mut RbNode,
    root: *mut RbRoot,
) {
    // SAFETY: the caller's contract.
    unsafe {
        if parent.is_null() {
            (*root).rb_node = new;
        } else if (*parent).rb_left == old {
            (*parent).rb_left = new;
        } else {
            (*parent).rb_right = new;
        }
    }
}

/// Finish a rotation: `new` takes `old`'s parent and colour, `old` hangs below `new`
/// with `color`.
///
/// # Safety
/// `old` and `new` are live nodes of the tree at `root`.
#[inline]
unsafe fn __rb_rotate_set_parents(
    old: *mut RbNode,
    new: *mut RbNode,
    root: *mut RbRoot,
    color: usize,
) {
    // SAFETY: the caller's contract.
    unsafe {
        let parent = rb_parent(old);
        (*new).__rb_parent_color = (*old).__rb_parent_color;
        rb_set_parent_color(old, new, color);
        __rb_change_child(old, new, parent, root);
    }
}

/// Hang `node` at `*rb_link`, a null child slot of `parent` (or the root slot, with a
/// null `parent`), as a red leaf (Linux: `rb_link_node`). Follow with
/// [`rb_insert_color`] or [`rb_insert_augmented`] to rebalance.
///
/// # Safety
/// `node` is not in any tree; `rb_link` is `&mut (*parent).rb_left`/`rb_right` (or
/// `&mut root.rb_node`) and holds null.
#[inline]
pub unsafe fn rb_link_node(node: *mut RbNode, parent: *mut RbNode, rb_link: *mut *mut RbNode) {
    // SAFETY: the caller's contract.
    unsafe {
        (*node).__rb_parent_color = parent as usize; // red
        (*node).rb_left = null_mut();
        (*node).rb_right = null_mut();
        *rb_link = node;
    }
}

/// Restore the red-black rules after `node` was linked as a red leaf.
///
/// # Safety
/// `node` was just linked with `rb_link_node` into the tree at `root`.
unsafe fn __rb_insert<A: RbAugmentCallbacks>(mut node: *mut RbNode, root: *mut RbRoot) {
    // SAFETY: the caller's contract: every pointer followed is a live node of the tree
    // at `root`, and the tree was a valid red-black tree before `node` was linked.
    unsafe {
        let mut parent = rb_parent(node);
        loop {
            if parent.is_null() {
                // The root is black. (Also where a colour flip reached the top.)
                rb_set_parent_color(node, null_mut(), RB_BLACK);
                break;
            }
            if rb_is_black(parent) {
                break;
            }
            // `parent` is red, so it is not the root: `gparent` exists (and is black).
            let gparent = rb_parent(parent);
            let left_side = (*gparent).rb_left == parent;
            let uncle = if left_side {
                (*gparent).rb_right
            } else {
                (*gparent).rb_left
            };
            if !uncle.is_null() && rb_is_red(uncle) {
                // Case 1: red uncle. Flip colours and go on two levels up.
                //
                //       G            g
                //      / \          / \
                //     p   u  -->   P   U
                //    /            /
                //   n            n
                rb_set_parent_color(uncle, gparent, RB_BLACK);
                rb_set_parent_color(parent, gparent, RB_BLACK);
                node = gparent;
                parent = rb_parent(node);
                rb_set_parent_color(node, parent, RB_RED);
                continue;
            }
            if left_side {
                let mut tmp = (*parent).rb_right;
                if node == tmp {
                    // Case 2: `node` is the inner grandchild. Rotate it up over `parent`
                    // (left rotation), which makes it case 3.
                    tmp = (*node).rb_left;
                    (*parent).rb_right = tmp;
                    (*node).rb_left = parent;
                    if !tmp.is_null() {
                        rb_set_parent_color(tmp, parent, RB_BLACK);
                    }
                    rb_set_parent_color(parent, node, RB_RED);
                    A::rotate(parent, node);
                    parent = node;
                    tmp = (*node).rb_right;
                }
                // Case 3: outer grandchild. Rotate `parent` up over `gparent` (right
                // rotation); `parent` becomes black, `gparent` red.
                (*gparent).rb_left = tmp;
                (*parent).rb_right = gparent;
                if !tmp.is_null() {
                    rb_set_parent_color(tmp, gparent, RB_BLACK);
                }
                __rb_rotate_set_parents(gparent, parent, root, RB_RED);
                A::rotate(gparent, parent);
            } else {
                // The mirror image of the two cases above.
                let mut tmp = (*parent).rb_left;
                if node == tmp {
                    tmp = (*node).rb_right;
                    (*parent).rb_left = tmp;
                    (*node).rb_right = parent;
                    if !tmp.is_null() {
                        rb_set_parent_color(tmp, parent, RB_BLACK);
                    }
                    rb_set_parent_color(parent, node, RB_RED);
                    A::rotate(parent, node);
                    parent = node;
                    tmp = (*node).rb_left;
                }
                (*gparent).rb_right = tmp;
                (*parent).rb_left = gparent;
                if !tmp.is_null() {
                    rb_set_parent_color(tmp, gparent, RB_BLACK);
                }
                __rb_rotate_set_parents(gparent, parent, root, RB_RED);
                A::rotate(gparent, parent);
            }
            break;
        }
    }
}

/// Rebalance after `node` was linked with [`rb_link_node`] (Linux: `rb_insert_color`).
///
/// # Safety
/// `node` was just linked into the valid tree at `root`, which the caller holds
/// exclusively.
pub unsafe fn rb_insert_color(node: *mut RbNode, root: *mut RbRoot) {
    // SAFETY: the caller's contract.
    unsafe { __rb_insert::<RbNoAugment>(node, root) };
}

/// Rebalance an augmented tree after `node` was linked with [`rb_link_node`] (Linux:
/// `rb_insert_augmented`). As in Linux, the caller first makes the augmented values on
/// the path to `node` right: it sets `node`'s value to the smallest possible (0) and calls
/// `A::propagate(node, null)`, which stops early only where nothing changes; rotations
/// then keep the values right.
///
/// # Safety
/// As for [`rb_insert_color`]; `A` are the tree's callbacks.
pub unsafe fn rb_insert_augmented<A: RbAugmentCallbacks>(node: *mut RbNode, root: *mut RbRoot) {
    // SAFETY: the caller's contract.
    unsafe { __rb_insert::<A>(node, root) };
}

/// Unlink `node`, keeping the tree a search tree and the augmented values right; returns
/// the node below which a black node went missing (then the caller rebalances from it),
/// or null.
///
/// # Safety
/// `node` is a live node of the valid tree at `root`.
unsafe fn __rb_erase_augmented<A: RbAugmentCallbacks>(
    node: *mut RbNode,
    root: *mut RbRoot,
) -> *mut RbNode {
    // SAFETY: the caller's contract: every pointer followed is a live node of the tree.
    unsafe {
        let child = (*node).rb_right;
        let left = (*node).rb_left;
        let rebalance;
        let propagate_from;
        if left.is_null() || child.is_null() {
            // Case 1: at most one child. It (if any) takes `node`'s place; a lone child
            // of a black node is red by the rules, and turns black by taking `node`'s
            // colour. Without a child, removing a black leaf leaves a black hole.
            let only = if left.is_null() { child } else { left };
            let pc = (*node).__rb_parent_color;
            let parent = __rb_parent(pc);
            __rb_change_child(node, only, parent, root);
            if !only.is_null() {
                (*only).__rb_parent_color = pc;
                rebalance = null_mut();
            } else {
                rebalance = if __rb_is_black(pc) {
                    parent
                } else {
                    null_mut()
                };
            }
            propagate_from = parent;
        } else {
            // Two children: the successor (leftmost of the right subtree) takes `node`'s
            // place and colour; the hole moves to where the successor was.
            let mut successor = child;
            let mut parent; // parent of the successor's old place, after the move
            let child2; // the successor's right child, which moves up into that place
            let mut tmp = (*child).rb_left;
            if tmp.is_null() {
                // Case 2: the successor is `node`'s right child.
                //
                //    (n)          (s)
                //    / \          / \
                //  (x) (s)  ->  (x) (c)
                //        \
                //        (c)
                parent = successor;
                child2 = (*successor).rb_right;
                A::copy(node, successor);
            } else {
                // Case 3: the successor is deeper, the leftmost node below `child`.
                //
                //    (n)          (s)
                //    / \          / \
                //  (x) (y)  ->  (x) (y)
                //      /            /
                //    (p)          (p)
                //    /            /
                //  (s)          (c)
                //    \
                //    (c)
                loop {
                    parent = successor;
                    successor = tmp;
                    tmp = (*tmp).rb_left;
                    if tmp.is_null() {
                        break;
                    }
                }
                child2 = (*successor).rb_right;
                (*parent).rb_left = child2;
                (*successor).rb_right = child;
                rb_set_parent(child, successor);
                A::copy(node, successor);
                A::propagate(parent, successor);
            }
            (*successor).rb_left = left;
            rb_set_parent(left, successor);
            let pc = (*node).__rb_parent_color;
            __rb_change_child(node, successor, __rb_parent(pc), root);
            if !child2.is_null() {
                // A red child of a black successor: it turns black, heights are kept.
                rb_set_parent_color(child2, parent, RB_BLACK);
                rebalance = null_mut();
            } else {
                rebalance = if rb_is_black(successor) {
                    parent
                } else {
                    null_mut()
                };
            }
            (*successor).__rb_parent_color = pc;
            propagate_from = successor;
        }
        A::propagate(propagate_from, null_mut());
        rebalance
    }
}

/// Restore the black heights after erasure left the subtree at one child of `parent`
/// (the null or just-shortened one) a black node short.
///
/// # Safety
/// `parent` is a live node of the tree at `root`, as returned by `__rb_erase_augmented`.
unsafe fn __rb_erase_color<A: RbAugmentCallbacks>(mut parent: *mut RbNode, root: *mut RbRoot) {
    // SAFETY: the caller's contract; the red-black rules guarantee the siblings and
    // nephews followed below exist where they are dereferenced (a short side's sibling
    // subtree has black height >= 1).
    unsafe {
        let mut node: *mut RbNode = null_mut(); // the short subtree's root (black or null)
        loop {
            let mut sibling = (*parent).rb_right;
            if node != sibling {
                // `node` is the left child.
                if rb_is_red(sibling) {
                    // Case 1: red sibling. Left-rotate at `parent` so the sibling is
                    // black, then go on with one of the cases below.
                    let tmp1 = (*sibling).rb_left;
                    (*parent).rb_right = tmp1;
                    (*sibling).rb_left = parent;
                    rb_set_parent_color(tmp1, parent, RB_BLACK);
                    __rb_rotate_set_parents(parent, sibling, root, RB_RED);
                    A::rotate(parent, sibling);
                    sibling = tmp1;
                }
                let mut tmp1 = (*sibling).rb_right;
                if tmp1.is_null() || rb_is_black(tmp1) {
                    let tmp2 = (*sibling).rb_left;
                    if tmp2.is_null() || rb_is_black(tmp2) {
                        // Case 2: black sibling with black children. Make the sibling
                        // red: both sides are now short, which a red parent absorbs by
                        // turning black; otherwise the parent is short one level up.
                        rb_set_parent_color(sibling, parent, RB_RED);
                        if rb_is_red(parent) {
                            rb_set_black(parent);
                        } else {
                            node = parent;
                            parent = rb_parent(node);
                            if !parent.is_null() {
                                continue;
                            }
                        }
                        break;
                    }
                    // Case 3: the sibling's inner child is red. Right-rotate at the
                    // sibling so that child becomes an outer red nephew (case 4).
                    tmp1 = (*tmp2).rb_right;
                    (*sibling).rb_left = tmp1;
                    (*tmp2).rb_right = sibling;
                    (*parent).rb_right = tmp2;
                    if !tmp1.is_null() {
                        rb_set_parent_color(tmp1, sibling, RB_BLACK);
                    }
                    A::rotate(sibling, tmp2);
                    tmp1 = sibling;
                    sibling = tmp2;
                }
                // Case 4: the sibling's outer child `tmp1` is red. Left-rotate at
                // `parent`; the sibling takes its colour, `parent` and `tmp1` go black.
                let tmp2 = (*sibling).rb_left;
                (*parent).rb_right = tmp2;
                (*sibling).rb_left = parent;
                rb_set_parent_color(tmp1, sibling, RB_BLACK);
                if !tmp2.is_null() {
                    rb_set_parent(tmp2, parent);
                }
                __rb_rotate_set_parents(parent, sibling, root, RB_BLACK);
                A::rotate(parent, sibling);
                break;
            } else {
                // The mirror image: `node` is the right child.
                sibling = (*parent).rb_left;
                if rb_is_red(sibling) {
                    let tmp1 = (*sibling).rb_right;
                    (*parent).rb_left = tmp1;
                    (*sibling).rb_right = parent;
                    rb_set_parent_color(tmp1, parent, RB_BLACK);
                    __rb_rotate_set_parents(parent, sibling, root, RB_RED);
                    A::rotate(parent, sibling);
                    sibling = tmp1;
                }
                let mut tmp1 = (*sibling).rb_left;
                if tmp1.is_null() || rb_is_black(tmp1) {
                    let tmp2 = (*sibling).rb_right;
                    if tmp2.is_null() || rb_is_black(tmp2) {
                        rb_set_parent_color(sibling, parent, RB_RED);
                        if rb_is_red(parent) {
                            rb_set_black(parent);
                        } else {
                            node = parent;
                            parent = rb_parent(node);
                            if !parent.is_null() {
                                continue;
                            }
                        }
                        break;
                    }
                    tmp1 = (*tmp2).rb_left;
                    (*sibling).rb_right = tmp1;
                    (*tmp2).rb_left = sibling;
                    (*parent).rb_left = tmp2;
                    if !tmp1.is_null() {
                        rb_set_parent_color(tmp1, sibling, RB_BLACK);
                    }
                    A::rotate(sibling, tmp2);
                    tmp1 = sibling;
                    sibling = tmp2;
                }
                let tmp2 = (*sibling).rb_right;
                (*parent).rb_left = tmp2;
                (*sibling).rb_right = parent;
                rb_set_parent_color(tmp1, sibling, RB_BLACK);
                if !tmp2.is_null() {
                    rb_set_parent(tmp2, parent);
                }
                __rb_rotate_set_parents(parent, sibling, root, RB_BLACK);
                A::rotate(parent, sibling);
                break;
            }
        }
    }
}

/// Remove `node` from the tree at `root` (Linux: `rb_erase`). The node's own fields are
/// left stale.
///
/// # Safety
/// `node` is a live node of the valid tree at `root`, which the caller holds exclusively.
pub unsafe fn rb_erase(node: *mut RbNode, root: *mut RbRoot) {
    // SAFETY: the caller's contract.
    unsafe { rb_erase_augmented::<RbNoAugment>(node, root) };
}

/// Remove `node` from an augmented tree, keeping every augmented value right (Linux:
/// `rb_erase_augmented`).
///
/// # Safety
/// As for [`rb_erase`]; `A` are the tree's callbacks, and every node's augmented value
/// was right before the call.
pub unsafe fn rb_erase_augmented<A: RbAugmentCallbacks>(node: *mut RbNode, root: *mut RbRoot) {
    // SAFETY: the caller's contract.
    unsafe {
        let rebalance = __rb_erase_augmented::<A>(node, root);
        if !rebalance.is_null() {
            __rb_erase_color::<A>(rebalance, root);
        }
    }
}

/// The first (leftmost) node, or null for an empty tree (Linux: `rb_first`).
///
/// # Safety
/// `root` is a valid tree the caller holds (for reading at least).
pub unsafe fn rb_first(root: *const RbRoot) -> *mut RbNode {
    // SAFETY: the caller's contract.
    unsafe {
        let mut n = (*root).rb_node;
        if n.is_null() {
            return n;
        }
        while !(*n).rb_left.is_null() {
            n = (*n).rb_left;
        }
        n
    }
}

/// The last (rightmost) node, or null for an empty tree (Linux: `rb_last`).
///
/// # Safety
/// As for [`rb_first`].
pub unsafe fn rb_last(root: *const RbRoot) -> *mut RbNode {
    // SAFETY: the caller's contract.
    unsafe {
        let mut n = (*root).rb_node;
        if n.is_null() {
            return n;
        }
        while !(*n).rb_right.is_null() {
            n = (*n).rb_right;
        }
        n
    }
}

/// The node after `node` in order, or null (Linux: `rb_next`). Amortised O(1) over a
/// walk, O(log n) at worst.
///
/// # Safety
/// `node` is a live node of a valid tree the caller holds.
pub unsafe fn rb_next(node: *const RbNode) -> *mut RbNode {
    // SAFETY: the caller's contract.
    unsafe {
        let mut node = node as *mut RbNode;
        // A right child: the leftmost node below it.
        if !(*node).rb_right.is_null() {
            node = (*node).rb_right;
            while !(*node).rb_left.is_null() {
                node = (*node).rb_left;
            }
            return node;
        }
        // Otherwise up until we come from a left child; that parent is next.
        loop {
            let parent = rb_parent(node);
            if parent.is_null() || (*parent).rb_left == node {
                return parent;
            }
            node = parent;
        }
    }
}

/// The node before `node` in order, or null (Linux: `rb_prev`).
///
/// # Safety
/// As for [`rb_next`].
pub unsafe fn rb_prev(node: *const RbNode) -> *mut RbNode {
    // SAFETY: the caller's contract.
    unsafe {
        let mut node = node as *mut RbNode;
        if !(*node).rb_left.is_null() {
            node = (*node).rb_left;
            while !(*node).rb_right.is_null() {
                node = (*node).rb_right;
            }
            return node;
        }
        loop {
            let parent = rb_parent(node);
            if parent.is_null() || (*parent).rb_right == node {
                return parent;
            }
            node = parent;
        }
    }
}

#[cfg(test)]
#[path = "rbtree_tests.rs"]
mod tests;
