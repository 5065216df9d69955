//! `secpolctl load FILE`: the running generator applies a state file or a secpolmonitor log
//! (QNX target logs too); the answer comes once the contents are applied, and unreadable
//! lines are reported as `FILE:LINE`.
//!
//! An event log goes in pieces of about [`CHUNK`] bytes, cut between logical lines (a
//! line that starts with white space continues the one before), so a large one shows a
//! progress bar on a terminal (stderr); piped, nothing extra is printed. The answer is the
//! same as for one piece: applied lines add up, and each unreadable line keeps its line
//! number in the whole file. A state file goes whole: it is one unit.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use secpol::control::{self, LoadReport, Request, Response, MAX_REQUEST};
use secpol::endpoint::RuntimeDir;

/// Bytes of an event log sent in one request.
pub const CHUNK: usize = 1 << 20;

/// Splits `text` into pieces of at least `size` bytes (the last may be shorter), each
/// ending at the end of a logical line; returns `(first line number - 1, piece)`.
pub fn chunks(text: &str, size: usize) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let (mut start, mut start_line, mut line) = (0usize, 0usize, 0usize);
    let mut pos = 0usize;
    for l in text.split_inclusive('\n') {
        // A piece may end before this line when the line starts a new logical line.
        let continues = l.starts_with([' ', '\t']) && !l.trim().is_empty();
        if pos - start >= size && !continues {
            out.push((start_line, &text[start..pos]));
            start = pos;
            start_line = line;
        }
        pos += l.len();
        line += 1;
    }
    if start < text.len() || out.is_empty() {
        out.push((start_line, &text[start..]));
    }
    out
}

/// `NAME:LINE: why` with LINE moved on by `offset`.
fn shift_line(problem: &str, name: &str, offset: usize) -> String {
    let prefix = format!("{name}:");
    let Some(rest) = problem.strip_prefix(&prefix) else { return problem.to_string() };
    match rest.split_once(':').and_then(|(n, why)| Some((n.parse::<usize>().ok()?, why))) {
        Some((n, why)) => format!("{prefix}{}:{why}", n + offset),
        None => problem.to_string(),
    }
}

fn progress(total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("[{bar:30}] {bytes}/{total_bytes} ({eta}) {wide_msg}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Runs the command.
pub fn run(dir: &RuntimeDir, file: &Path, timeout: Duration) -> anyhow::Result<ExitCode> {
    let name = file.display().to_string();
    let size = std::fs::metadata(file).with_context(|| format!("cannot read {name}"))?.len();
    if size > MAX_REQUEST as u64 - 4096 {
        anyhow::bail!("{name} is {size} bytes; load takes at most {} bytes", MAX_REQUEST - 4096);
    }
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {name}"))?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if secpol::record::is_state_text(&text) {
        return super::generator::send(dir, &Request::Load { name, text }, timeout);
    }
    let pieces = chunks(&text, CHUNK);
    let bar = progress(text.len() as u64);
    bar.set_message(format!("loading {name}"));
    let mut total = LoadReport::default();
    for (offset, piece) in pieces {
        let req = Request::Load { name: name.clone(), text: piece.to_string() };
        match control::request(dir, &req, timeout) {
            Ok(Response::Loaded(r)) => {
                if total.format.is_empty() {
                    total.format = r.format;
                }
                total.applied += r.applied;
                total.problems.extend(r.problems.iter().map(|p| shift_line(p, &name, offset)));
            }
            Ok(other) => {
                bar.finish_and_clear();
                return print(&other);
            }
            Err(e) => {
                bar.finish_and_clear();
                return Err(e.into());
            }
        }
        bar.inc(piece.len() as u64);
    }
    bar.finish_and_clear();
    print(&Response::Loaded(total))
}

fn print(resp: &Response) -> anyhow::Result<ExitCode> {
    use std::io::Write as _;
    let d = resp.describe();
    std::io::stdout().write_all(d.out.as_bytes())?;
    for p in &d.problems {
        eprintln!("secpolctl: {p}");
    }
    Ok(if d.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_end_between_logical_lines() {
        let text = "a1\n  cont\nb2\nc3\n\td\ne4";
        let p = chunks(text, 3);
        assert_eq!(p, [(0, "a1\n  cont\n"), (2, "b2\n"), (3, "c3\n\td\n"), (5, "e4")]);
        assert_eq!(p.iter().map(|(_, s)| *s).collect::<String>(), text);
        assert_eq!(chunks("", 3), [(0, "")]);
        assert_eq!(chunks("x\ny\n", 100), [(0, "x\ny\n")]);
    }

    #[test]
    fn line_numbers_are_those_of_the_whole_file() {
        assert_eq!(shift_line("f.log:3: bad", "f.log", 10), "f.log:13: bad");
        assert_eq!(shift_line("other:3: bad", "f.log", 10), "other:3: bad");
        assert_eq!(shift_line("f.log:x: bad", "f.log", 10), "f.log:x: bad");
    }
}
