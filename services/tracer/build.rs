//! Compiles the kernel side of the tracer (`bpf/secpol.bpf.c`) with clang.
//!
//! `vmlinux.h` is generated here from the build machine's kernel BTF
//! (`bpftool btf dump file /sys/kernel/btf/vmlinux format c`) rather than committed: it
//! is 5 MB of generated text, and the program is CO-RE (every kernel struct access is
//! relocated at load time), so any recent kernel's header works. `SECPOL_VMLINUX_H`
//! points at a ready header instead (a build machine without BTF); `CLANG`, `BPFTOOL`
//! and `LLVM_STRIP` name the tools.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let src = Path::new("bpf/secpol.bpf.c");
    println!("cargo:rerun-if-changed=bpf/secpol.bpf.c");
    println!("cargo:rerun-if-changed=bpf/events.h");
    println!("cargo:rerun-if-env-changed=SECPOL_VMLINUX_H");
    println!("cargo:rerun-if-env-changed=CLANG");

    let vmlinux = out.join("vmlinux.h");
    match env::var_os("SECPOL_VMLINUX_H") {
        Some(given) => {
            std::fs::copy(&given, &vmlinux).unwrap_or_else(|e| {
                fail(&format!("cannot copy SECPOL_VMLINUX_H {}: {e}", Path::new(&given).display()))
            });
        }
        None => {
            let bpftool = env::var("BPFTOOL").unwrap_or_else(|_| "bpftool".into());
            let btf = "/sys/kernel/btf/vmlinux";
            let output = Command::new(&bpftool)
                .args(["btf", "dump", "file", btf, "format", "c"])
                .output()
                .unwrap_or_else(|e| {
                    fail(&format!("cannot run {bpftool}: {e} (scripts/setup.sh installs bpftool)"))
                });
            if !output.status.success() {
                fail(&format!(
                    "{bpftool} btf dump {btf} failed: {} (no kernel BTF? set SECPOL_VMLINUX_H)",
                    String::from_utf8_lossy(&output.stderr).trim()
                ));
            }
            std::fs::write(&vmlinux, &output.stdout)
                .unwrap_or_else(|e| fail(&format!("cannot write vmlinux.h: {e}")));
        }
    }

    let arch = match env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("x86_64") => "x86",
        Ok("aarch64") => "arm64",
        Ok("riscv64") => "riscv",
        Ok(other) => fail(&format!("no BPF target arch for {other}")),
        Err(_) => "x86",
    };
    let clang = env::var("CLANG").unwrap_or_else(|_| "clang".into());
    let obj = out.join("secpol.bpf.o");
    let status = Command::new(&clang)
        .args(["-O2", "-g", "-target", "bpf", "-Wall", "-Werror"])
        .arg(format!("-D__TARGET_ARCH_{arch}"))
        .arg("-I")
        .arg(&out)
        .arg("-I")
        .arg("bpf")
        .arg("-c")
        .arg(src)
        .arg("-o")
        .arg(&obj)
        .status()
        .unwrap_or_else(|e| {
            fail(&format!("cannot run {clang}: {e} (scripts/setup.sh installs clang and libbpf-dev)"))
        });
    if !status.success() {
        fail(&format!("{clang} failed to compile {}", src.display()));
    }
    // Drop DWARF, keep BTF (needed for CO-RE): 700 KB -> about 60 KB in the binary.
    let strip = env::var("LLVM_STRIP").unwrap_or_else(|_| "llvm-strip".into());
    if let Ok(st) = Command::new(&strip).arg("-g").arg(&obj).status() {
        if !st.success() {
            println!("cargo:warning={strip} -g failed; embedding the unstripped BPF object");
        }
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("secpoltrace build: {msg}");
    std::process::exit(1);
}
