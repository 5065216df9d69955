//! The secpolgenerate configuration file (seed 000: `ability`, `type`, `option` lines).
