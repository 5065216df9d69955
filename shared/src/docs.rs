//! Man pages and shell completions, generated from each binary's clap definition so they
//! never drift from `--help`.
//!
//! Every binary calls [`generate_if_asked`] first thing in `main`: run as
//! `PROG --generate-docs DIR` (exactly those two arguments, the way ripgrep's
//! `--generate` works), it writes
//!
//! - `DIR/man1/PROG.1`, and `DIR/man1/PROG-SUB.1` for each subcommand (clap_mangen);
//! - `DIR/completions/bash/PROG`, `DIR/completions/zsh/_PROG`,
//!   `DIR/completions/fish/PROG.fish` (clap_complete),
//!
//! and exits. The option is not part of the clap definition, so it shows in neither
//! `--help`, the pages nor the completions. `scripts/package.sh` uses it to fill the
//! Debian package (docs/packaging.md).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::CommandFactory;
use clap_complete::Shell;

/// The hidden option.
pub const GENERATE_DOCS: &str = "--generate-docs";

/// Writes the man pages and completions of `C` into `dir` (layout in the module doc) and
/// returns the files written.
pub fn generate<C: CommandFactory>(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let cmd = C::command();
    let name = cmd.get_name().to_string();
    let man = dir.join("man1");
    std::fs::create_dir_all(&man).with_context(|| format!("cannot create {}", man.display()))?;
    clap_mangen::generate_to(cmd.clone(), &man)
        .with_context(|| format!("cannot write the man pages of {name} in {}", man.display()))?;
    let mut written: Vec<PathBuf> = std::fs::read_dir(&man)
        .with_context(|| format!("cannot read {}", man.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&name)))
        .collect();
    for (shell, file) in
        [(Shell::Bash, name.clone()), (Shell::Zsh, format!("_{name}")), (Shell::Fish, format!("{name}.fish"))]
    {
        let sub = dir.join("completions").join(shell.to_string());
        std::fs::create_dir_all(&sub).with_context(|| format!("cannot create {}", sub.display()))?;
        let path = sub.join(file);
        let mut out =
            std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        clap_complete::generate(shell, &mut C::command(), &name, &mut out);
        written.push(path);
    }
    written.sort();
    Ok(written)
}

/// When the command line is `PROG --generate-docs DIR`, writes the docs of `C` into DIR
/// and returns the exit status; otherwise `None` and the binary goes on as usual.
pub fn generate_if_asked<C: CommandFactory>() -> Option<ExitCode> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let [_, flag, dir] = args.as_slice() else { return None };
    if flag != GENERATE_DOCS {
        return None;
    }
    let name = C::command().get_name().to_string();
    Some(match generate::<C>(Path::new(dir)) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => crate::cli::report(&name, &e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small command in the shape of the binaries' (subcommands, options).
    fn demo() -> clap::Command {
        clap::Command::new("demoprog")
            .version("1.2.3")
            .about("Does demo things.")
            .arg(clap::Arg::new("runtime-dir").long("runtime-dir").value_name("DIR").help("Where."))
            .subcommand(clap::Command::new("status").about("Says how it goes."))
    }

    struct Demo;
    impl CommandFactory for Demo {
        fn command() -> clap::Command {
            demo()
        }
        fn command_for_update() -> clap::Command {
            demo()
        }
    }

    #[test]
    fn pages_and_completions_follow_the_definition() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("docs");
        let files = generate::<Demo>(&dir).unwrap();
        let names: Vec<String> =
            files.iter().map(|p| p.strip_prefix(&dir).unwrap().display().to_string()).collect();
        assert_eq!(
            names,
            [
                "completions/bash/demoprog",
                "completions/fish/demoprog.fish",
                "completions/zsh/_demoprog",
                "man1/demoprog-status.1",
                "man1/demoprog.1"
            ]
        );
        let page = std::fs::read_to_string(dir.join("man1/demoprog.1")).unwrap();
        assert!(page.contains(".TH demoprog 1"), "{page}");
        assert!(page.contains("runtime\\-dir"), "{page}");
        assert!(page.contains("1.2.3"), "{page}");
        let bash = std::fs::read_to_string(dir.join("completions/bash/demoprog")).unwrap();
        assert!(bash.contains("complete -F _demoprog"), "{bash}");
        assert!(bash.contains("--runtime-dir"), "{bash}");
    }
}
