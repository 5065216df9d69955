//! Gives the preload library its SONAME, `libsecpol-preload.so` (QNX's name): a shared
//! object in a library directory without one is an error to Debian's lintian, and the
//! package installs it in /usr/lib/MULTIARCH (docs/packaging.md).

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsecpol-preload.so");
}
