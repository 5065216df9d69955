//! The `capget(2)`/`capset(2)` ABI: the header and data structs of `<linux/capability.h>`,
//! and the conversion between version 3's two 32-bit words per set and [`CapSets`]' masks.
//! The preload interposes `capset` with these; `secpolctl on` sets a restricted type's sets
//! with them.

use core::ffi::c_int;

use crate::CapSets;

/// `_LINUX_CAPABILITY_VERSION_1`: one data struct (32 capabilities).
pub const VERSION_1: u32 = 0x1998_0330;
/// `_LINUX_CAPABILITY_VERSION_2` (deprecated, same layout as version 3).
pub const VERSION_2: u32 = 0x2007_1026;
/// `_LINUX_CAPABILITY_VERSION_3`: two data structs (64 capabilities).
pub const VERSION_3: u32 = 0x2008_0522;

/// `struct __user_cap_header_struct`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Header {
    /// One of the `VERSION_*` constants.
    pub version: u32,
    /// 0: the calling thread.
    pub pid: c_int,
}

impl Header {
    /// A version 3 header for the calling thread.
    pub const fn v3_self() -> Header {
        Header { version: VERSION_3, pid: 0 }
    }
}

/// `struct __user_cap_data_struct`: one 32-bit word of each set.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Data {
    pub effective: u32,
    pub permitted: u32,
    pub inheritable: u32,
}

const _: () = assert!(core::mem::size_of::<Data>() == 12);
const _: () = assert!(core::mem::size_of::<Header>() == 8);

impl CapSets {
    /// The sets of two version 3 data structs as masks.
    pub fn from_data(d: &[Data; 2]) -> CapSets {
        let join = |lo: u32, hi: u32| u64::from(lo) | u64::from(hi) << 32;
        CapSets {
            effective: join(d[0].effective, d[1].effective),
            permitted: join(d[0].permitted, d[1].permitted),
            inheritable: join(d[0].inheritable, d[1].inheritable),
        }
    }

    /// The masks as two version 3 data structs.
    pub fn to_data(&self) -> [Data; 2] {
        let word = |mask: u64, i: usize| (mask >> (32 * i)) as u32;
        core::array::from_fn(|i| Data {
            effective: word(self.effective, i),
            permitted: word(self.permitted, i),
            inheritable: word(self.inheritable, i),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_words_round_trip() {
        let sets = CapSets { effective: 1 << 10 | 1 << 40, permitted: u64::MAX >> 23, inheritable: 1 << 63 };
        let d = sets.to_data();
        assert_eq!(d[0].effective, 1 << 10);
        assert_eq!(d[1].effective, 1 << 8);
        assert_eq!(d[1].inheritable, 1 << 31);
        assert_eq!(CapSets::from_data(&d), sets);
    }
}
