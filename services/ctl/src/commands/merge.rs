//! `secpolctl merge [HOST=]FILE... > merged`: one state from the state files and
//! secpolmonitor logs (QNX target logs too) of hosts that cannot reach a collector
//! (docs/fleet.md), for `secpolctl load` or `secpolgenerate -s`.
//!
//! Each input is one host's, named `HOST=FILE` or after the file (`web1.state` is host
//! `web1`); what it teaches is recorded with that host, as a collector records it, so every
//! rule says which host, process and time first needed it and how many hosts did. A state file
//! whose records already name hosts (a collector's) keeps them. Logs are learned as an
//! unrestricted generator without a base policy learns them; state files are read by the
//! generator's own reader. Any unreadable input or line is reported as `FILE:LINE` and nothing
//! is written: a merge is whole or not at all.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use secpol::config::Config;
use secpol::{fleet, record};
use secpolgenerate::base::BasePolicy;
use secpolgenerate::learn::{LearnOptions, Learner};
use secpolgenerate::state;

/// `HOST=FILE`, or `FILE` named after its stem (up to the first `.`).
fn host_and_file(input: &str) -> anyhow::Result<(String, &Path)> {
    let (host, file) = match input.split_once('=') {
        Some((h, f)) if fleet::check_host_name(h).is_ok() => (h.to_string(), Path::new(f)),
        _ => {
            let file = Path::new(input);
            let stem = file.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            (stem.split('.').next().unwrap_or_default().to_string(), file)
        }
    };
    fleet::check_host_name(&host).with_context(|| format!("{input}: name the host as HOST=FILE"))?;
    Ok((host, file))
}

/// Runs the command.
pub fn run(inputs: &[String], names: bool) -> anyhow::Result<ExitCode> {
    let options = LearnOptions { unrestricted: true, ..Default::default() };
    let mut learner = Learner::new(BasePolicy::empty(), options, Config::default());
    let mut admitted: Vec<String> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    for input in inputs {
        let (host, file) = host_and_file(input)?;
        let name = file.display().to_string();
        let bytes = std::fs::read(file).with_context(|| format!("cannot read {name}"))?;
        let text = std::str::from_utf8(&bytes).with_context(|| format!("{name}: not UTF-8 text"))?;
        learner.store.set_host(Some(Arc::from(host.as_str())));
        if state::is_state(text) {
            let report = state::read(&name, text, &mut learner.store);
            problems.extend(report.problems);
            admitted.extend(report.admitted);
        } else {
            for (line, result) in record::read_events(text) {
                match result {
                    Ok(e) => {
                        learner.apply(&e, if e.time_ns == 0 { now } else { 0 });
                    }
                    Err(why) => problems.push(format!("{name}:{line}: {why}")),
                }
            }
        }
        learner.store.set_host(None);
    }
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("secpolctl: {p}");
        }
        anyhow::bail!("{} unreadable lines or files; nothing merged", problems.len());
    }
    // Only what the inputs' states admitted: the generator that loads the merge decides about
    // the types the logs taught, under its own -t and base policy.
    admitted.sort();
    admitted.dedup();
    let admitted: Vec<&str> = admitted.iter().map(String::as_str).collect();
    let text = state::write(&learner.store, &admitted, names);
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        r => r.context("cannot write the merged state")?,
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_input_names_its_host_or_is_named_after_its_file() {
        let (host, file) = host_and_file("web1=/mnt/usb/monitor.log").unwrap();
        assert_eq!((host.as_str(), file), ("web1", Path::new("/mnt/usb/monitor.log")));
        let (host, file) = host_and_file("/var/lib/secpol/web2.state").unwrap();
        assert_eq!((host.as_str(), file), ("web2", Path::new("/var/lib/secpol/web2.state")));
        let (host, _) = host_and_file("qnx7.log.1").unwrap();
        assert_eq!(host, "qnx7");
    }

    #[test]
    fn a_file_whose_name_is_no_host_name_must_be_named() {
        let e = host_and_file(".hidden").unwrap_err();
        assert!(format!("{e:#}").contains(".hidden: name the host as HOST=FILE"), "{e:#}");
        // `=` in a path that is not HOST=FILE: the whole is the file.
        let e = host_and_file("a/b=c/.x").unwrap_err();
        assert!(format!("{e:#}").contains("name the host as HOST=FILE"), "{e:#}");
    }
}
