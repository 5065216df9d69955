//! Which type attached each `AF_UNIX` path: the channel registry.
//!
//! A connect to a path socket is a connect to the channel of the type whose process
//! bound that path. The registry learns from every successful bind the tracer sees, and
//! is seeded at start from the sockets that already exist: `/proc/net/unix` gives
//! path-bound sockets by inode, `/proc/PID/fd` tells which process holds each inode,
//! and that process's cgroup its type (by the tracer's naming rules).

use std::collections::HashMap;

use secpol::cgroup_types::Naming;
use secpol::event::DEFAULT_TYPE;

/// Path -> type of the process that attached it.
#[derive(Debug, Default)]
pub struct Channels {
    by_path: HashMap<String, String>,
}

/// Bound paths by socket inode, from the text of `/proc/net/unix`
/// (`Num RefCount Protocol Flags Type St Inode Path`). Abstract names (`@...`) are
/// not paths and are skipped.
pub fn parse_proc_net_unix(text: &str) -> HashMap<u64, String> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let inode = f.get(6)?.parse().ok()?;
            let path = f.get(7..)?.join(" ");
            path.starts_with('/').then_some((inode, path))
        })
        .collect()
}

/// The socket inode of an fd link target (`socket:[12345]`).
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
}

impl Channels {
    /// The type of the channel at `path`, `default` when unknown.
    pub fn type_of(&self, path: &str) -> &str {
        self.by_path.get(path).map_or(DEFAULT_TYPE, String::as_str)
    }

    /// Records that a process of `type_name` attached `path`.
    pub fn attached(&mut self, path: &str, type_name: &str) {
        self.by_path.insert(path.to_string(), type_name.to_string());
    }

    /// How many paths are known.
    pub fn len(&self) -> usize {
        self.by_path.len()
    }

    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self.by_path.is_empty()
    }

    /// Learns the sockets that exist now. Unreadable processes are skipped (they may
    /// have exited meanwhile).
    pub fn seed(&mut self, naming: &Naming) {
        let Ok(text) = std::fs::read_to_string("/proc/net/unix") else { return };
        let mut paths = parse_proc_net_unix(&text);
        if paths.is_empty() {
            return;
        }
        let Ok(procs) = std::fs::read_dir("/proc") else { return };
        for entry in procs.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
            let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else { continue };
            let mut type_name: Option<String> = None;
            for fd in fds.flatten() {
                let Ok(link) = std::fs::read_link(fd.path()) else { continue };
                let Some(inode) = link.to_str().and_then(socket_inode) else { continue };
                let Some(path) = paths.remove(&inode) else { continue };
                let t = type_name.get_or_insert_with(|| {
                    naming.type_of_pid(pid).unwrap_or_else(|_| DEFAULT_TYPE.to_string())
                });
                self.by_path.insert(path, t.clone());
            }
            if paths.is_empty() {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_unix_gives_bound_paths() {
        let text = "\
Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 23456 /run/systemd/notify
0000000000000000: 00000002 00000000 00000000 0002 01 23457 @/tmp/.X11-unix/X0
0000000000000000: 00000003 00000000 00000000 0001 03 23458
0000000000000000: 00000002 00000000 00010000 0001 01 23459 /tmp/with space
garbage line
";
        let m = parse_proc_net_unix(text);
        assert_eq!(m.len(), 2);
        assert_eq!(m[&23456], "/run/systemd/notify");
        assert_eq!(m[&23459], "/tmp/with space");
    }

    #[test]
    fn unknown_channels_are_default() {
        let mut c = Channels::default();
        assert_eq!(c.type_of("/tmp/x"), "default");
        c.attached("/tmp/x", "web_t");
        assert_eq!(c.type_of("/tmp/x"), "web_t");
        assert_eq!(socket_inode("socket:[42]"), Some(42));
        assert_eq!(socket_inode("pipe:[42]"), None);
    }

    #[test]
    fn seeding_finds_a_listening_socket_of_this_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sock");
        let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let mut c = Channels::default();
        let naming = Naming::default();
        c.seed(&naming);
        let me = naming.type_of_pid(std::process::id()).unwrap();
        assert_eq!(c.type_of(path.to_str().unwrap()), me);
        assert!(c.by_path.contains_key(path.to_str().unwrap()), "{} not seeded", path.display());
    }
}
