//! Tests of the policy language as a whole: seeds, round trips, matching, merge, diff.

use super::*;

#[test]
fn empty_text_is_an_empty_policy() {
    assert_eq!(parse("", "t").unwrap(), Policy::new());
}
