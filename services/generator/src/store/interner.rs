//! Interned names: type names numbered by [`TypeIndex`] and kept together in one buffer, and
//! the one shared copy of each ability name that every type's ability maps use as keys.

use std::hash::BuildHasher as _;
use std::sync::Arc;

use hashbrown::HashTable;

/// A type's number in its store: given by `Store::intern`, valid for the life of that store
/// (clearing forgets records, never names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeIndex(u32);

impl TypeIndex {
    /// The number, from 0 (to index tables kept beside the store).
    pub fn get(self) -> usize {
        self.0 as usize
    }
}

/// Interned type names, numbered from 0 in the order first seen, kept together in one
/// buffer. The name interned last is remembered, so a burst of one type hashes nothing.
#[derive(Debug, Clone, Default)]
pub(super) struct TypeNames {
    /// Every name, one after the other.
    text: String,
    /// Where each name is in `text`: start, end.
    spans: Vec<(usize, usize)>,
    /// Numbers, hashed by name.
    table: HashTable<TypeIndex>,
    hasher: foldhash::fast::RandomState,
    /// The name interned last.
    last: Option<TypeIndex>,
}

impl TypeNames {
    /// The name of `t`.
    pub(super) fn get(&self, t: TypeIndex) -> &str {
        let (start, end) = self.spans[t.get()];
        &self.text[start..end]
    }

    fn find_hashed(&self, hash: u64, name: &str) -> Option<TypeIndex> {
        self.table.find(hash, |&t| self.get(t) == name).copied()
    }

    /// The index of `name`, if it was interned.
    pub(super) fn find(&self, name: &str) -> Option<TypeIndex> {
        self.find_hashed(self.hasher.hash_one(name), name)
    }

    /// The index of `name`, which is added the first time. Hashes the name once, or not at
    /// all when it is the name interned last; allocates only for a new name.
    pub(super) fn intern(&mut self, name: &str) -> TypeIndex {
        if let Some(last) = self.last {
            if self.get(last) == name {
                return last;
            }
        }
        let hash = self.hasher.hash_one(name);
        let t = match self.find_hashed(hash, name) {
            Some(t) => t,
            None => {
                let t = TypeIndex(u32::try_from(self.spans.len()).expect("fewer than 2^32 names"));
                let start = self.text.len();
                self.text.push_str(name);
                self.spans.push((start, self.text.len()));
                let (text, spans, hasher) = (&self.text, &self.spans, &self.hasher);
                self.table.insert_unique(hash, t, |&u| {
                    let (start, end) = spans[u.get()];
                    hasher.hash_one(&text[start..end])
                });
                t
            }
        };
        self.last = Some(t);
        t
    }

    /// Every name, with its index, in index order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (TypeIndex, &str)> {
        (0..self.spans.len() as u32).map(|i| (TypeIndex(i), self.get(TypeIndex(i))))
    }
}

/// The one copy of each ability name, shared by the ability maps of every type.
#[derive(Debug, Clone, Default)]
pub(super) struct AbilityNames(hashbrown::HashSet<Arc<str>, foldhash::fast::RandomState>);

impl AbilityNames {
    /// The shared key for the ability `name`.
    pub(super) fn key(&mut self, name: &str) -> Arc<str> {
        if let Some(k) = self.0.get(name) {
            return k.clone();
        }
        let k: Arc<str> = name.into();
        self.0.insert(k.clone());
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_numbered_in_the_order_first_seen() {
        let mut n = TypeNames::default();
        let a = n.intern("a_t");
        let b = n.intern("b_t");
        assert_eq!((a.get(), b.get()), (0, 1));
        // The last name, another one, and the last again.
        assert_eq!((n.intern("b_t"), n.intern("a_t"), n.intern("a_t")), (b, a, a));
        assert_eq!((n.find("b_t"), n.find("c_t"), n.get(b)), (Some(b), None, "b_t"));
        assert_eq!(n.iter().collect::<Vec<_>>(), [(a, "a_t"), (b, "b_t")]);
    }

    #[test]
    fn an_ability_name_is_allocated_once() {
        let mut names = AbilityNames::default();
        let k = names.key("chown");
        assert!(Arc::ptr_eq(&k, &names.key("chown")) && !Arc::ptr_eq(&k, &names.key("setuid")));
    }
}
