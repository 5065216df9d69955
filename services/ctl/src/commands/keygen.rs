//! `secpolctl keygen FILE`: a CurveZMQ key pair for a fleet host or collector
//! (docs/fleet.md): the secret key to FILE (mode 0600), the public key to FILE.pub (0644).
//! An existing file is never overwritten.

use std::path::Path;
use std::process::ExitCode;

use secpol::fleet::{self, KeyPair};

/// Runs the command.
pub fn run(file: &Path) -> anyhow::Result<ExitCode> {
    let keys = KeyPair::generate()?;
    let public = keys.write(file)?;
    println!("secret key: {} (mode 0600)", file.display());
    println!("public key: {} ({})", public.display(), fleet::z85(&keys.public));
    Ok(ExitCode::SUCCESS)
}
