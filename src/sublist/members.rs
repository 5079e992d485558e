//! [`Members`]: the set of subscribers stored at one trie node (either the
//! plain subscribers or one queue group).
//!
//! Invariants:
//! * `items` holds each member exactly once, in arbitrary order, so a match
//!   copies it with one `extend_from_slice`.
//! * When `index` is `Some`, it maps every member to its position in
//!   `items`. It is built once the set grows past [`INDEX_AT`] members and
//!   dropped again below [`UNINDEX_AT`], so tiny sets (the common case) cost
//!   no hash map, while huge sets (100k subscribers on one subject) still
//!   insert and remove in O(1) amortized.

use std::collections::HashMap;
use std::hash::Hash;

/// Build the position index when the set grows past this size.
const INDEX_AT: usize = 16;
/// Drop the position index when the set shrinks below this size.
const UNINDEX_AT: usize = 8;

pub(crate) struct Members<T> {
    items: Vec<T>,
    // Boxed so a node without an index (the common case) stays one word smaller.
    #[allow(clippy::box_collection)]
    index: Option<Box<HashMap<T, usize>>>,
}

impl<T> Default for Members<T> {
    fn default() -> Self {
        Members {
            items: Vec::new(),
            index: None,
        }
    }
}

impl<T: Clone + Eq + Hash> Members<T> {
    pub(crate) fn as_slice(&self) -> &[T] {
        &self.items
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Adds `item`; `false` if it was already a member.
    pub(crate) fn insert(&mut self, item: T) -> bool {
        match &mut self.index {
            Some(index) => {
                if index.contains_key(&item) {
                    return false;
                }
                index.insert(item.clone(), self.items.len());
                self.items.push(item);
            }
            None => {
                if self.items.contains(&item) {
                    return false;
                }
                self.items.push(item);
                if self.items.len() > INDEX_AT {
                    self.index = Some(Box::new(
                        self.items
                            .iter()
                            .enumerate()
                            .map(|(i, t)| (t.clone(), i))
                            .collect(),
                    ));
                }
            }
        }
        true
    }

    /// Removes `item`; `false` if it was not a member.
    pub(crate) fn remove(&mut self, item: &T) -> bool {
        let pos = match &mut self.index {
            Some(index) => index.remove(item),
            None => self.items.iter().position(|t| t == item),
        };
        let Some(pos) = pos else {
            return false;
        };
        self.items.swap_remove(pos);
        if let (Some(index), Some(moved)) = (&mut self.index, self.items.get(pos)) {
            if let Some(slot) = index.get_mut(moved) {
                *slot = pos;
            }
        }
        if self.items.len() < UNINDEX_AT {
            self.index = None;
        }
        let cap = self.items.capacity();
        if cap > 64 && self.items.len() < cap / 4 {
            self.items.shrink_to(self.items.len() * 2);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_remove_across_index_threshold() {
        let mut m = Members::default();
        for i in 0..100u32 {
            assert!(m.insert(i));
            assert!(!m.insert(i));
        }
        assert_eq!(m.as_slice().len(), 100);
        assert!(m.index.is_some());
        for i in (0..100u32).step_by(3) {
            assert!(m.remove(&i));
            assert!(!m.remove(&i));
        }
        for i in 0..100u32 {
            assert_eq!(m.as_slice().contains(&i), i % 3 != 0);
        }
        if let Some(index) = &m.index {
            assert_eq!(index.len(), m.items.len());
            for (t, &i) in index.iter() {
                assert_eq!(&m.items[i], t);
            }
        }
        for i in 0..100u32 {
            m.remove(&i);
        }
        assert!(m.is_empty());
        assert!(m.index.is_none());
    }
}
