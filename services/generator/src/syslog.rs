//! `-l`: failures to the system log (QNX writes them to slog2; here the journal or syslog).
//!
//! Where journald runs (its socket `/run/systemd/journal/socket` is there), each failure
//! is one native journal entry at priority warning with structured fields, so
//! `journalctl SECPOL_TYPE=web_t` or `journalctl SECPOL_ABILITY=setuid` finds them:
//!
//! | field | value |
//! |---|---|
//! | `MESSAGE` | the secpolmonitor line (`usr/bin/x (pid:11) type a_t lacks ability SETUID(0) as non-root`) |
//! | `PRIORITY` | `4` (warning) |
//! | `SYSLOG_IDENTIFIER` | `secpolgenerate` |
//! | `SECPOL_TYPE` | the process's type |
//! | `SECPOL_PROCESS`, `SECPOL_PID` | its name (when known) and pid |
//! | `SECPOL_ABILITY` | the ability, lower case (absent for attach and link failures) |
//! | `SECPOL_RANGE` | the value checked, when known (`0`, `80-81`) |
//! | `SECPOL_AS` | `root` or `non-root` |
//! | `SECPOL_PATH` | the path of a failed attach or link |
//!
//! Without journald, or when a send fails, the line goes to syslog (`LOG_DAEMON`,
//! `LOG_WARNING`, `secpolgenerate[PID]`) as before.

use std::ffi::CString;
use std::sync::{Once, OnceLock};

use secpol::event::{Event, EventKind};
use secpol::systemd::Journal;

static OPEN: Once = Once::new();
static JOURNAL: OnceLock<Option<Journal>> = OnceLock::new();

/// The structured fields of a failure event, with `message` as `MESSAGE`.
pub fn fields(e: &Event, message: &str) -> Vec<(&'static str, String)> {
    let mut f = vec![
        ("MESSAGE", message.to_string()),
        ("PRIORITY", "4".to_string()),
        ("SYSLOG_IDENTIFIER", "secpolgenerate".to_string()),
        ("SECPOL_TYPE", e.process.type_name.clone()),
        ("SECPOL_PID", e.process.pid.to_string()),
    ];
    if let Some(name) = &e.process.name {
        f.push(("SECPOL_PROCESS", name.clone()));
    }
    match &e.what {
        EventKind::Ability { ability, range, root, .. } => {
            f.push(("SECPOL_ABILITY", ability.clone()));
            if let Some(r) = range {
                let text = if r.lo == r.hi { r.lo.to_string() } else { format!("{}-{}", r.lo, r.hi) };
                f.push(("SECPOL_RANGE", text));
            }
            f.push(("SECPOL_AS", if *root { "root" } else { "non-root" }.to_string()));
        }
        EventKind::Attach { path, .. } | EventKind::Link { path, .. } => {
            f.push(("SECPOL_PATH", path.clone()));
        }
        _ => {}
    }
    f
}

/// Logs one failure: a structured journal entry where journald runs, else a syslog line.
pub fn failure(e: &Event, message: &str) {
    if let Some(journal) = JOURNAL.get_or_init(Journal::system) {
        let fields = fields(e, message);
        let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        match journal.send(&borrowed) {
            Ok(()) => return,
            Err(err) => log::debug!("journal entry not sent ({err}); using syslog"),
        }
    }
    warn(message);
}

/// Sends one message to syslog at priority `LOG_WARNING`, facility `LOG_DAEMON`, as
/// `secpolgenerate[PID]`. NUL bytes in the message are replaced.
pub fn warn(message: &str) {
    OPEN.call_once(|| {
        // SAFETY: the identifier is a static NUL-terminated string that outlives every call.
        unsafe { libc::openlog(c"secpolgenerate".as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
    });
    let Ok(text) = CString::new(message.replace('\0', "?")) else { return };
    // SAFETY: a constant "%s" format with one NUL-terminated string argument.
    unsafe { libc::syslog(libc::LOG_WARNING, c"%s".as_ptr(), text.as_ptr()) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use secpol::event::{Process, Subrange, Verdict};

    #[test]
    fn a_failure_has_its_type_ability_and_process() {
        let e = Event {
            instance: 1,
            seq: 1,
            time_ns: 0,
            process: Process {
                pid: 11,
                name: Some("usr/bin/x".into()),
                type_name: "a_t".into(),
                uid: None,
                euid: None,
                start_ns: None,
            },
            what: EventKind::Ability {
                ability: "setuid".into(),
                range: Some(Subrange::value(0)),
                target_type: None,
                root: false,
                verdict: Verdict::Denied(1),
                probe: false,
            },
        };
        let f = fields(&e, "m");
        let get = |k: &str| f.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("SECPOL_TYPE"), Some("a_t"));
        assert_eq!(get("SECPOL_ABILITY"), Some("setuid"));
        assert_eq!(get("SECPOL_PROCESS"), Some("usr/bin/x"));
        assert_eq!(get("SECPOL_PID"), Some("11"));
        assert_eq!(get("SECPOL_RANGE"), Some("0"));
        assert_eq!(get("SECPOL_AS"), Some("non-root"));
        assert_eq!(get("PRIORITY"), Some("4"));
    }
}
