//! What `/proc` says about a running process: its name as QNX prints it and its effective
//! uid. The tracer asks when a process it has not seen yet makes its first check (kernel
//! events) or sends its first datagram (the preload's).

/// The process name as QNX prints it: the path without its leading slash.
pub fn qnx_name(path: &str) -> String {
    path.trim_start_matches('/').to_string()
}

/// The name of process `pid` from `/proc/PID/exe` (a binary replaced or removed since it
/// started keeps its name, without the kernel's ` (deleted)`); `None` when the process is
/// gone, a kernel thread, or not readable.
pub fn name_of(pid: u32) -> Option<String> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let s = exe.to_string_lossy();
    Some(qnx_name(s.strip_suffix(" (deleted)").unwrap_or(&s)))
}

/// The effective uid of process `pid` from `/proc/PID/status`.
pub fn effective_uid_of(pid: u32) -> Option<u32> {
    effective_uid(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// The effective uid in the text of `/proc/PID/status` (`Uid: real effective saved fs`).
pub fn effective_uid(status: &str) -> Option<u32> {
    status.lines().find_map(|l| l.strip_prefix("Uid:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// Now, in nanoseconds since the Unix epoch: the clock of every event's `time_ns`.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_uids_come_from_proc() {
        assert_eq!(qnx_name("/usr/bin/touch"), "usr/bin/touch");
        let me = std::fs::read_link("/proc/self/exe").unwrap();
        assert_eq!(name_of(std::process::id()), Some(qnx_name(me.to_str().unwrap())));
        assert_eq!(name_of(u32::MAX), None);
        // SAFETY: geteuid has no preconditions.
        assert_eq!(effective_uid_of(std::process::id()), Some(unsafe { libc::geteuid() }));
        assert_eq!(effective_uid("Name:\tx\nUid:\t1000\t33\t33\t33\n"), Some(33));
        assert_eq!(effective_uid("Uid:\t1000\n"), None);
        assert!(now_ns() > 1_700_000_000_000_000_000);
    }
}
