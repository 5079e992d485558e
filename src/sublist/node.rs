//! [`Node`]: one level of the subscription trie, and the trie algorithms
//! (insert, remove with pruning, match, walk) run from the root node.
//!
//! Each node is reached by one token from its parent: literal tokens via
//! `literal`, a `*` token via `pwc`, a `>` token via `fwc`. A node stores
//! the subscriptions whose subject ends at it: plain ones in `plain`, queue
//! ones in `queues` by group name.
//!
//! Invariants (for every node but the root):
//! * After any `remove`, a node has at least one subscription or at least
//!   one child (empty nodes are pruned).
//! * `queues` never holds an empty group.
//! * An `fwc` node has no children (`>` is always the last token).
//!
//! The caller ([`Sublist`](super::Sublist)) validates subjects and queue
//! names before calling in; nothing here panics or recurses (deep subjects
//! cannot overflow the stack).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use super::children::Children;
use super::members::Members;
use super::result::MatchResult;
use crate::subject;

pub(crate) struct Node<T> {
    literal: Children<T>,
    pwc: Option<Box<Node<T>>>,
    fwc: Option<Box<Node<T>>>,
    plain: Members<T>,
    queues: HashMap<Arc<str>, Members<T>>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Node {
            literal: Children::default(),
            pwc: None,
            fwc: None,
            plain: Members::default(),
            queues: HashMap::new(),
        }
    }
}

impl<T> Drop for Node<T> {
    /// Drops the subtree iteratively: a very deep subject must not
    /// overflow the stack when it is pruned or the trie is dropped.
    fn drop(&mut self) {
        if self.literal.is_empty() && self.pwc.is_none() && self.fwc.is_none() {
            return;
        }
        #[allow(clippy::vec_box)] // the children are stored boxed; keep them so
        fn take<T>(n: &mut Node<T>, stack: &mut Vec<Box<Node<T>>>) {
            stack.extend(n.literal.drain_nodes());
            stack.extend(n.pwc.take());
            stack.extend(n.fwc.take());
        }
        let mut stack: Vec<Box<Node<T>>> = Vec::new();
        take(self, &mut stack);
        while let Some(mut n) = stack.pop() {
            take(&mut n, &mut stack);
            // `n` now has no children, so its own drop is shallow.
        }
    }
}

/// Splits off the first token: `("foo", Some("bar.baz"))` for `foo.bar.baz`.
#[inline]
fn split_first(s: &str) -> (&str, Option<&str>) {
    match s.split_once('.') {
        Some((tok, rest)) => (tok, Some(rest)),
        None => (s, None),
    }
}

impl<T: Clone + Eq + Hash> Node<T> {
    #[cfg(test)]
    fn child(&self, tok: &str) -> Option<&Node<T>> {
        match tok {
            "*" => self.pwc.as_deref(),
            ">" => self.fwc.as_deref(),
            _ => self.literal.get(tok),
        }
    }

    fn child_mut(&mut self, tok: &str) -> Option<&mut Node<T>> {
        match tok {
            "*" => self.pwc.as_deref_mut(),
            ">" => self.fwc.as_deref_mut(),
            _ => self.literal.get_mut(tok),
        }
    }

    fn child_or_insert(&mut self, tok: &str) -> Option<&mut Node<T>> {
        match tok {
            "*" => Some(self.pwc.get_or_insert_with(Default::default)),
            ">" => Some(self.fwc.get_or_insert_with(Default::default)),
            _ => Some(self.literal.get_or_insert(tok)),
        }
    }

    fn remove_child(&mut self, tok: &str) {
        match tok {
            "*" => self.pwc = None,
            ">" => self.fwc = None,
            _ => {
                self.literal.remove(tok);
            }
        }
    }

    fn num_children(&self) -> usize {
        self.literal.len() + usize::from(self.pwc.is_some()) + usize::from(self.fwc.is_some())
    }

    fn has_subs(&self) -> bool {
        !self.plain.is_empty() || !self.queues.is_empty()
    }

    fn is_empty(&self) -> bool {
        !self.has_subs() && self.num_children() == 0
    }

    fn add_to(&self, out: &mut MatchResult<T>) {
        out.add_plain(self.plain.as_slice());
        for (name, members) in &self.queues {
            out.add_queue(name, members.as_slice());
        }
    }

    /// Inserts a subscription under `subject` (already validated).
    /// `false` if that exact subscription already existed.
    pub(crate) fn insert(&mut self, subject: &str, queue: Option<&str>, item: T) -> bool {
        let mut node = self;
        for tok in subject::tokens(subject) {
            node = match node.child_or_insert(tok) {
                Some(n) => n,
                None => return false,
            };
        }
        match queue {
            None => node.plain.insert(item),
            Some(q) => match node.queues.get_mut(q) {
                Some(group) => group.insert(item),
                None => {
                    let mut group = Members::default();
                    group.insert(item);
                    node.queues.insert(Arc::from(q), group);
                    true
                }
            },
        }
    }

    /// Removes a subscription, pruning nodes left empty.
    /// `false` if it did not exist.
    pub(crate) fn remove(&mut self, subject: &str, queue: Option<&str>, item: &T) -> bool {
        // Pass 1: walk down, remembering the deepest node on the path that
        // must survive even if everything below it goes (the root, or a
        // node with subscriptions or other children).
        let mut keep_depth = 0usize;
        let leaf_empty = {
            let mut node = &mut *self;
            for (depth, tok) in subject::tokens(subject).enumerate() {
                if depth > 0 && (node.has_subs() || node.num_children() > 1) {
                    keep_depth = depth;
                }
                node = match node.child_mut(tok) {
                    Some(n) => n,
                    None => return false,
                };
            }
            let removed = match queue {
                None => node.plain.remove(item),
                Some(q) => match node.queues.get_mut(q) {
                    Some(group) => {
                        let removed = group.remove(item);
                        if group.is_empty() {
                            node.queues.remove(q);
                        }
                        removed
                    }
                    None => false,
                },
            };
            if !removed {
                return false;
            }
            node.is_empty()
        };
        // Pass 2: cut the now useless chain below `keep_depth`.
        if leaf_empty {
            let mut node = &mut *self;
            let mut toks = subject::tokens(subject);
            for _ in 0..keep_depth {
                node = match toks.next().and_then(|t| node.child_mut(t)) {
                    Some(n) => n,
                    None => return true,
                };
            }
            if let Some(tok) = toks.next() {
                node.remove_child(tok);
            }
        }
        true
    }

    /// Visits every node holding subscriptions that match the subject
    /// `subject` (already validated), until `visit` returns `true`.
    /// Returns whether it was stopped that way.
    fn walk<'a>(&'a self, subject: &'a str, mut visit: impl FnMut(&'a Node<T>) -> bool) -> bool {
        // Follow literal children in a loop; only `*` branches are stacked,
        // so the common literal-only walk does not allocate.
        let mut stack: Vec<(&Node<T>, &str)> = Vec::new();
        let mut cur = Some((self, subject));
        loop {
            let (node, rest) = match cur.take().or_else(|| stack.pop()) {
                Some(x) => x,
                None => return false,
            };
            let (tok, after) = split_first(rest);
            if let Some(f) = node.fwc.as_deref() {
                if visit(f) {
                    return true;
                }
            }
            if let Some(p) = node.pwc.as_deref() {
                match after {
                    None => {
                        if visit(p) {
                            return true;
                        }
                    }
                    Some(a) => stack.push((p, a)),
                }
            }
            if let Some(c) = node.literal.get(tok) {
                match after {
                    None => {
                        if visit(c) {
                            return true;
                        }
                    }
                    Some(a) => cur = Some((c, a)),
                }
            }
        }
    }

    /// Adds every subscription matching `subject` to `out`.
    pub(crate) fn match_into(&self, subject: &str, out: &mut MatchResult<T>) {
        self.walk(subject, |n| {
            n.add_to(out);
            false
        });
    }

    /// Whether any subscription matches `subject`.
    pub(crate) fn has_interest(&self, subject: &str) -> bool {
        self.walk(subject, |n| n.has_subs())
    }

    /// Every subscription as `(subject, queue, item)`.
    pub(crate) fn collect_all(&self, out: &mut Vec<(String, Option<String>, T)>) {
        // Depth-first with one shared path buffer: each frame is a child
        // node, its token and the length of its parent's path, which is
        // still the prefix of `path` when the frame is popped.
        let mut path = String::new();
        let mut stack: Vec<(&Node<T>, &str, usize)> = Vec::new();
        self.push_children(&mut stack, 0);
        while let Some((node, tok, parent_len)) = stack.pop() {
            path.truncate(parent_len);
            if parent_len > 0 {
                path.push('.');
            }
            path.push_str(tok);
            for item in node.plain.as_slice() {
                out.push((path.clone(), None, item.clone()));
            }
            for (q, members) in &node.queues {
                for item in members.as_slice() {
                    out.push((path.clone(), Some(q.to_string()), item.clone()));
                }
            }
            node.push_children(&mut stack, path.len());
        }
    }

    fn push_children<'a>(&'a self, stack: &mut Vec<(&'a Node<T>, &'a str, usize)>, len: usize) {
        let literal = self.literal.iter().map(|(k, n)| (n, k, len));
        stack.extend(literal);
        if let Some(n) = self.pwc.as_deref() {
            stack.push((n, "*", len));
        }
        if let Some(n) = self.fwc.as_deref() {
            stack.push((n, ">", len));
        }
    }

    /// Number of nodes in the trie below (and excluding) this one.
    #[cfg(test)]
    pub(crate) fn num_nodes(&self) -> usize {
        let mut n = 0;
        let mut stack = vec![self];
        while let Some(node) = stack.pop() {
            let kids = node
                .literal
                .iter()
                .map(|(_, n)| n)
                .chain(node.pwc.as_deref())
                .chain(node.fwc.as_deref());
            for child in kids {
                n += 1;
                stack.push(child);
            }
        }
        n
    }

    /// Whether a node exists at `subject` (test helper for pruning checks).
    #[cfg(test)]
    pub(crate) fn has_path(&self, subject: &str) -> bool {
        let mut node = self;
        for tok in subject::tokens(subject) {
            match node.child(tok) {
                Some(n) => node = n,
                None => return false,
            }
        }
        true
    }
}
