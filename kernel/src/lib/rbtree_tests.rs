//! Host tests of the red-black tree: random insertions and erasures checked against a
//! `BTreeMap` model, with every red-black rule, every parent link and every augmented
//! value verified after each step.
use super::*;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// A test user of the tree: ordered by `key`, augmented with the largest `val` below.
struct TNode {
    key: u64,
    val: u64,
    max: u64,
    rb: RbNode,
}

struct TMax;

impl RbAugmentMax for TMax {
    unsafe fn compute(node: *mut RbNode) -> usize {
        // SAFETY: every node of the test trees is the `rb` field of a live TNode.
        unsafe { (*rb_entry!(node, TNode, rb)).val as usize }
    }
    unsafe fn augmented(node: *mut RbNode) -> *mut usize {
        // SAFETY: as above; u64 and usize are the same size on the hosts we test on.
        unsafe { core::ptr::addr_of_mut!((*rb_entry!(node, TNode, rb)).max) as *mut usize }
    }
}

type TCallbacks = RbMaxCallbacks<TMax>;

/// A tree of boxed TNodes, augmented or not.
struct Tree {
    root: RbRoot,
    augmented: bool,
}

fn entry(n: *mut RbNode) -> &'static TNode {
    // SAFETY: test nodes are leaked boxes of TNode, freed only by `erase`/`Drop`.
    unsafe { &*rb_entry!(n, TNode, rb) }
}

impl Tree {
    fn new(augmented: bool) -> Tree {
        Tree {
            root: RbRoot::new(),
            augmented,
        }
    }

    fn find(&self, key: u64) -> *mut RbNode {
        let mut n = self.root.rb_node;
        while !n.is_null() {
            let e = entry(n);
            if key < e.key {
                n = e.rb.rb_left;
            } else if key > e.key {
                n = e.rb.rb_right;
            } else {
                return n;
            }
        }
        n
    }

    /// Insert a new key (must be absent).
    fn insert(&mut self, key: u64, val: u64) {
        let node = Box::into_raw(Box::new(TNode {
            key,
            val,
            // As Linux's __vma_link_rb: start from the smallest value, so propagate sees a
            // change whenever the node's own value must reach its ancestors.
            max: 0,
            rb: RbNode::new(),
        }));
        // SAFETY: a fresh node; the descent follows live nodes of this tree, which the
        // test owns exclusively.
        unsafe {
            let mut link: *mut *mut RbNode = &mut self.root.rb_node;
            let mut parent = null_mut();
            while !(*link).is_null() {
                parent = *link;
                let e = &mut *rb_entry!(parent, TNode, rb);
                assert_ne!(e.key, key);
                link = if key < e.key {
                    &mut e.rb.rb_left
                } else {
                    &mut e.rb.rb_right
                };
            }
            let rb = core::ptr::addr_of_mut!((*node).rb);
            rb_link_node(rb, parent, link);
            if self.augmented {
                TCallbacks::propagate(rb, null_mut());
                rb_insert_augmented::<TCallbacks>(rb, &mut self.root);
            } else {
                rb_insert_color(rb, &mut self.root);
            }
        }
    }

    /// Erase a present key.
    fn erase(&mut self, key: u64) {
        let n = self.find(key);
        assert!(!n.is_null());
        // SAFETY: `n` is a live node of this tree; once erased nothing points at it and
        // its box can go.
        unsafe {
            if self.augmented {
                rb_erase_augmented::<TCallbacks>(n, &mut self.root);
            } else {
                rb_erase(n, &mut self.root);
            }
            drop(Box::from_raw(rb_entry!(n, TNode, rb)));
        }
    }

    /// Change a node's own value in place and propagate (what vma_gap_update does).
    fn set_val(&mut self, key: u64, val: u64) {
        let n = self.find(key);
        // SAFETY: `n` is a live node of this tree.
        unsafe {
            (*rb_entry!(n, TNode, rb)).val = val;
            TCallbacks::propagate(n, null_mut());
        }
    }

    /// Check every rule; returns the keys in order.
    fn check(&self) -> Vec<u64> {
        let root = self.root.rb_node;
        if !root.is_null() {
            // SAFETY: a live node.
            unsafe {
                assert!(rb_parent(root).is_null(), "root has a parent");
                assert!(rb_is_black(root), "root is red");
            }
        }
        let mut keys = Vec::new();
        self.check_node(root, None, None, &mut keys);
        keys
    }

    /// Returns (black height, max val) of the subtree at `n`.
    fn check_node(
        &self,
        n: *mut RbNode,
        lo: Option<u64>,
        hi: Option<u64>,
        keys: &mut Vec<u64>,
    ) -> (usize, u64) {
        if n.is_null() {
            return (1, 0);
        }
        let e = entry(n);
        assert!(lo.is_none_or(|lo| e.key > lo), "order");
        assert!(hi.is_none_or(|hi| e.key < hi), "order");
        for c in [e.rb.rb_left, e.rb.rb_right] {
            if !c.is_null() {
                // SAFETY: a live child.
                unsafe {
                    assert_eq!(rb_parent(c), n, "child's parent link");
                    assert!(!(rb_is_red(n) && rb_is_red(c)), "red node with a red child");
                }
            }
        }
        let (lh, lmax) = self.check_node(e.rb.rb_left, lo, Some(e.key), keys);
        keys.push(e.key);
        let (rh, rmax) = self.check_node(e.rb.rb_right, Some(e.key), hi, keys);
        assert_eq!(lh, rh, "black heights differ");
        let max = e.val.max(lmax).max(rmax);
        if self.augmented {
            assert_eq!(e.max, max, "augmented value of key {}", e.key);
        }
        // SAFETY: a live node.
        (lh + usize::from(unsafe { rb_is_black(n) }), max)
    }

    /// Keys by rb_first/rb_next and, reversed, by rb_last/rb_prev.
    fn walk(&self) -> (Vec<u64>, Vec<u64>) {
        let (mut fwd, mut back) = (Vec::new(), Vec::new());
        // SAFETY: the tree is valid and owned by the test.
        unsafe {
            let mut n = rb_first(&self.root);
            while !n.is_null() {
                fwd.push(entry(n).key);
                n = rb_next(n);
            }
            let mut n = rb_last(&self.root);
            while !n.is_null() {
                back.push(entry(n).key);
                n = rb_prev(n);
            }
        }
        back.reverse();
        (fwd, back)
    }

    fn height(&self, n: *mut RbNode) -> usize {
        if n.is_null() {
            return 0;
        }
        let e = entry(n);
        1 + self.height(e.rb.rb_left).max(self.height(e.rb.rb_right))
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        while !self.root.is_empty() {
            let k = entry(self.root.rb_node).key;
            self.erase(k);
        }
    }
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn check_against(tree: &Tree, model: &BTreeMap<u64, u64>) {
    let keys = tree.check();
    let want: Vec<u64> = model.keys().copied().collect();
    assert_eq!(keys, want);
    let (fwd, back) = tree.walk();
    assert_eq!(fwd, want);
    assert_eq!(back, want);
    if tree.augmented && !tree.root.is_empty() {
        assert_eq!(
            entry(tree.root.rb_node).max,
            model.values().copied().max().unwrap()
        );
    }
}

fn random_ops(augmented: bool, seed: u64, steps: usize, key_space: u64) {
    let mut rng = Rng(seed);
    let mut tree = Tree::new(augmented);
    let mut model = BTreeMap::new();
    for _ in 0..steps {
        let key = rng.next() % key_space;
        let op = rng.next() % 10;
        if let alloc::collections::btree_map::Entry::Vacant(e) = model.entry(key) {
            if op < 6 {
                let val = rng.next() % 1000;
                e.insert(val);
                tree.insert(key, val);
            }
        } else if op < 4 {
            model.remove(&key);
            tree.erase(key);
        } else if augmented && op < 6 {
            let val = rng.next() % 1000;
            model.insert(key, val);
            tree.set_val(key, val);
        }
        check_against(&tree, &model);
    }
}

#[test]
fn random_insert_erase_keeps_red_black_rules_and_order() {
    for seed in 1..=4 {
        random_ops(false, seed, 4000, 300);
    }
}

#[test]
fn random_insert_erase_keeps_augmented_subtree_max() {
    for seed in 11..=16 {
        random_ops(true, seed, 4000, 300);
    }
    // A small key space makes erasures of the root and of nodes with two children common.
    random_ops(true, 99, 3000, 12);
}

#[test]
fn sorted_insertions_stay_balanced() {
    // Ascending and descending runs take the same-side rotations every time.
    for augmented in [false, true] {
        let mut tree = Tree::new(augmented);
        let mut model = BTreeMap::new();
        for k in 0..1024u64 {
            tree.insert(k, k % 37);
            model.insert(k, k % 37);
        }
        for k in (2000..3024u64).rev() {
            tree.insert(k, k % 41);
            model.insert(k, k % 41);
        }
        check_against(&tree, &model);
        // 2048 nodes: a red-black tree is at most 2 log2(n + 1) high.
        let h = tree.height(tree.root.rb_node);
        assert!(h <= 22, "height {h}");
        // Erase every other key, then the rest, checking all the way.
        for k in (0..1024u64).step_by(2).chain((2000..3024).step_by(2)) {
            tree.erase(k);
            model.remove(&k);
            check_against(&tree, &model);
        }
        let rest: Vec<u64> = model.keys().copied().collect();
        for k in rest {
            tree.erase(k);
            model.remove(&k);
            check_against(&tree, &model);
        }
        assert!(tree.root.is_empty());
    }
}

#[test]
fn empty_tree_has_no_first_or_last() {
    let root = RbRoot::new();
    assert!(root.is_empty());
    // SAFETY: an empty tree.
    unsafe {
        assert!(rb_first(&root).is_null());
        assert!(rb_last(&root).is_null());
    }
}

#[test]
fn single_node_is_black_root_without_neighbours() {
    let mut tree = Tree::new(true);
    tree.insert(5, 9);
    let n = tree.root.rb_node;
    // SAFETY: the only node of a live tree.
    unsafe {
        assert!(rb_is_black(n));
        assert!(rb_next(n).is_null() && rb_prev(n).is_null());
    }
    assert_eq!(entry(n).max, 9);
}
