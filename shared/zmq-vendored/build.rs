//! Builds libzmq with CURVE, linked against Debian's static libsodium (libsodium-dev).
use std::path::PathBuf;

fn main() {
    let lib = std::env::var_os("SODIUM_LIB_DIR").map(PathBuf::from).unwrap_or_else(|| {
        let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap();
        PathBuf::from(format!("/usr/lib/{arch}-linux-gnu"))
    });
    println!("cargo:rerun-if-env-changed=SODIUM_LIB_DIR");
    if !lib.join("libsodium.a").exists() {
        panic!("{}: no libsodium.a (install libsodium-dev: scripts/setup.sh)", lib.display());
    }
    // zeromq-src prints this search path quoted, which rustc cannot use.
    println!("cargo:rustc-link-search=native={}", lib.display());
    // libzmq's own warnings (unused parameters, fall-throughs) are not ours to fix.
    std::env::set_var("CXXFLAGS", "-w");
    zeromq_src::Build::new().with_libsodium(Some(zeromq_src::LibLocation::new("/usr/include", lib))).build();
}
