//! Sets of numeric subranges, kept merged as `secpolcompile` does.
//!
//! QNX merges contiguous or overlapping subranges of one ability into a single subrange,
//! and a checked range is allowed only when it falls inside one subrange. Keeping the set
//! sorted and merged makes both the check and the canonical printing trivial.

use crate::event::Subrange;

/// A sorted set of disjoint, non-adjacent inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RangeSet {
    ranges: Vec<Subrange>,
}

impl RangeSet {
    /// The empty set.
    pub fn new() -> Self {
        RangeSet::default()
    }

    /// The set holding one range (`lo > hi` is swapped, never rejected here).
    pub fn of(r: Subrange) -> Self {
        let mut s = RangeSet::new();
        s.insert(r);
        s
    }

    /// The ranges, sorted and merged.
    pub fn ranges(&self) -> &[Subrange] {
        &self.ranges
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Adds a range, merging it with overlapping or adjacent ones.
    pub fn insert(&mut self, r: Subrange) {
        let (mut lo, mut hi) = if r.lo <= r.hi { (r.lo, r.hi) } else { (r.hi, r.lo) };
        // First range that could touch [lo, hi]: its end + 1 >= lo.
        let start = self.ranges.partition_point(|x| x.hi.saturating_add(1) < lo);
        let mut end = start;
        while end < self.ranges.len() && self.ranges[end].lo <= hi.saturating_add(1) {
            lo = lo.min(self.ranges[end].lo);
            hi = hi.max(self.ranges[end].hi);
            end += 1;
        }
        self.ranges.splice(start..end, std::iter::once(Subrange { lo, hi }));
    }

    /// Adds every range of `other` (linear in the sizes of both).
    pub fn union_with(&mut self, other: &RangeSet) {
        if other.ranges.len() <= 4 {
            for r in &other.ranges {
                self.insert(*r);
            }
            return;
        }
        let mut all = std::mem::take(&mut self.ranges);
        all.extend_from_slice(&other.ranges);
        self.ranges = merged(all);
    }

    /// Whether `r` lies entirely inside one range of the set.
    pub fn contains(&self, r: Subrange) -> bool {
        let (lo, hi) = if r.lo <= r.hi { (r.lo, r.hi) } else { (r.hi, r.lo) };
        let i = self.ranges.partition_point(|x| x.hi < lo);
        self.ranges.get(i).is_some_and(|x| x.lo <= lo && hi <= x.hi)
    }

    /// Whether every value of `other` is in this set.
    pub fn covers(&self, other: &RangeSet) -> bool {
        other.ranges.iter().all(|r| self.contains(*r))
    }

    /// The values of this set that are not in `other`.
    pub fn difference(&self, other: &RangeSet) -> RangeSet {
        let mut out = Vec::new();
        for r in &self.ranges {
            let mut lo = r.lo;
            let mut done = false;
            let i = other.ranges.partition_point(|x| x.hi < r.lo);
            for o in &other.ranges[i..] {
                if o.lo > r.hi {
                    break;
                }
                if o.lo > lo {
                    out.push(Subrange { lo, hi: o.lo - 1 });
                }
                if o.hi >= r.hi {
                    done = true;
                    break;
                }
                lo = o.hi + 1;
            }
            if !done {
                out.push(Subrange { lo, hi: r.hi });
            }
        }
        RangeSet { ranges: out }
    }
}

/// Sorts ranges (swapping reversed ones) and merges those that touch or overlap.
fn merged(mut v: Vec<Subrange>) -> Vec<Subrange> {
    for r in &mut v {
        if r.lo > r.hi {
            std::mem::swap(&mut r.lo, &mut r.hi);
        }
    }
    v.sort_unstable();
    let mut w = 0;
    for i in 0..v.len() {
        let r = v[i];
        if w > 0 && r.lo <= v[w - 1].hi.saturating_add(1) {
            v[w - 1].hi = v[w - 1].hi.max(r.hi);
        } else {
            v[w] = r;
            w += 1;
        }
    }
    v.truncate(w);
    v
}

impl FromIterator<Subrange> for RangeSet {
    /// Builds the set in one sort, so any number of ranges in any order is cheap.
    fn from_iter<I: IntoIterator<Item = Subrange>>(iter: I) -> Self {
        RangeSet { ranges: merged(iter.into_iter().collect()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(lo: u64, hi: u64) -> Subrange {
        Subrange { lo, hi }
    }

    #[test]
    fn contiguous_and_overlapping_ranges_merge() {
        let s: RangeSet = [r(100, 200), r(190, 300), r(301, 310), r(400, 400)].into_iter().collect();
        assert_eq!(s.ranges(), &[r(100, 310), r(400, 400)]);
    }

    #[test]
    fn a_checked_range_must_fall_inside_one_subrange() {
        let s: RangeSet = [r(100, 200), r(300, 400)].into_iter().collect();
        assert!(s.contains(r(150, 200)));
        assert!(s.contains(r(300, 300)));
        assert!(!s.contains(r(150, 350)));
        assert!(!s.contains(r(201, 201)));
        assert!(!s.contains(r(0, 99)));
    }

    #[test]
    fn open_ranges_reach_the_maximum() {
        let s = RangeSet::of(r(10, u64::MAX));
        assert!(s.contains(r(u64::MAX, u64::MAX)));
        let d = RangeSet::of(r(0, u64::MAX)).difference(&s);
        assert_eq!(d.ranges(), &[r(0, 9)]);
    }

    proptest! {
        #[test]
        fn set_operations_agree_with_value_membership(
            a in proptest::collection::vec((0u64..64, 0u64..8), 0..6),
            b in proptest::collection::vec((0u64..64, 0u64..8), 0..6),
        ) {
            let sa: RangeSet = a.iter().map(|&(lo, n)| r(lo, lo + n)).collect();
            let sb: RangeSet = b.iter().map(|&(lo, n)| r(lo, lo + n)).collect();
            let d = sa.difference(&sb);
            let mut u = sa.clone();
            u.union_with(&sb);
            for v in 0..80u64 {
                let ina = sa.contains(r(v, v));
                let inb = sb.contains(r(v, v));
                prop_assert_eq!(d.contains(r(v, v)), ina && !inb);
                prop_assert_eq!(u.contains(r(v, v)), ina || inb);
            }
            // Merged: no two ranges touch.
            for w in sa.ranges().windows(2) {
                prop_assert!(w[0].hi + 1 < w[1].lo);
            }
        }
    }
}
