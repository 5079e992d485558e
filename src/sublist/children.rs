//! [`Children`]: the literal-token children of a trie node, stored compactly.
//!
//! Most nodes have zero or one literal child (a subject's next token), so a node
//! keeps a small vector and switches to a hash map only past [`MAP_AT`] children.
//! Children are boxed so a parent's storage does not grow with the node size.
//! This keeps a trie of 100k distinct subjects to a few hundred bytes per
//! subscription.

use std::collections::HashMap;

use super::node::Node;

/// Switch from the vector to a map when a node has more children than this.
const MAP_AT: usize = 8;

// Boxing is deliberate here: it keeps `Node` (and so every parent's vector) small,
// which is what makes a trie of 100k distinct subjects cheap in memory.
#[allow(clippy::box_collection, clippy::vec_box)]
pub(crate) enum Children<T> {
    Small(Vec<(Box<str>, Box<Node<T>>)>),
    Map(Box<HashMap<Box<str>, Box<Node<T>>>>),
}

impl<T> Default for Children<T> {
    fn default() -> Self {
        Children::Small(Vec::new())
    }
}

impl<T> Children<T> {
    pub(crate) fn get(&self, tok: &str) -> Option<&Node<T>> {
        match self {
            Children::Small(v) => v.iter().find(|(k, _)| &**k == tok).map(|(_, n)| &**n),
            Children::Map(m) => m.get(tok).map(|n| &**n),
        }
    }

    pub(crate) fn get_mut(&mut self, tok: &str) -> Option<&mut Node<T>> {
        match self {
            Children::Small(v) => v
                .iter_mut()
                .find(|(k, _)| &**k == tok)
                .map(|(_, n)| &mut **n),
            Children::Map(m) => m.get_mut(tok).map(|n| &mut **n),
        }
    }

    /// The child for `tok`, created empty if missing.
    pub(crate) fn get_or_insert(&mut self, tok: &str) -> &mut Node<T> {
        if let Children::Small(v) = self {
            if v.len() >= MAP_AT && !v.iter().any(|(k, _)| &**k == tok) {
                let mut m = HashMap::with_capacity(v.len() + 1);
                m.extend(v.drain(..));
                *self = Children::Map(Box::new(m));
            }
        }
        match self {
            Children::Small(v) => {
                let pos = match v.iter().position(|(k, _)| &**k == tok) {
                    Some(p) => p,
                    None => {
                        v.reserve_exact(1);
                        v.push((tok.into(), Box::default()));
                        v.len() - 1
                    }
                };
                &mut v[pos].1
            }
            Children::Map(m) => m.entry(tok.into()).or_default(),
        }
    }

    pub(crate) fn remove(&mut self, tok: &str) {
        match self {
            Children::Small(v) => {
                if let Some(p) = v.iter().position(|(k, _)| &**k == tok) {
                    v.swap_remove(p);
                    if v.is_empty() {
                        *v = Vec::new();
                    }
                }
            }
            Children::Map(m) => {
                m.remove(tok);
                if m.len() <= MAP_AT / 2 {
                    let v: Vec<_> = m.drain().collect();
                    *self = Children::Small(v);
                }
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Children::Small(v) => v.len(),
            Children::Map(m) => m.len(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn iter(&self) -> Box<dyn Iterator<Item = (&str, &Node<T>)> + '_> {
        match self {
            Children::Small(v) => Box::new(v.iter().map(|(k, n)| (&**k, &**n))),
            Children::Map(m) => Box::new(m.iter().map(|(k, n)| (&**k, &**n))),
        }
    }

    /// Takes every child out (used to drop deep tries without recursion).
    #[allow(clippy::vec_box)] // the nodes are already boxed; unboxing would move them
    pub(crate) fn drain_nodes(&mut self) -> Vec<Box<Node<T>>> {
        match std::mem::take(self) {
            Children::Small(v) => v.into_iter().map(|(_, n)| n).collect(),
            Children::Map(m) => m.into_values().collect(),
        }
    }
}
