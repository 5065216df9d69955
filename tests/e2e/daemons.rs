//! Real Debian daemons (installed by scripts/setup.sh) learned under a type by the kernel
//! tracer, then run under the policy learned from them, enforced: they must keep working, and
//! the policy must hold the ids they switch to rather than the power to become anyone.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use crate::kernel::{ability_rule, Stack, LONG};
use crate::util::{bin, root_or_skip, skip_or_fail, wait_until, TempDir};

const NGINX: &str = "/usr/sbin/nginx";
/// A privileged port no other test uses.
const PORT: u16 = 581;

/// The answer's status line to `GET /`, if anything answers.
fn http_status(port: u16) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    answer.lines().next().map(str::to_string)
}

/// A configuration that keeps every file nginx writes in `dir`, as its Debian user.
fn nginx_conf(dir: &Path) -> std::path::PathBuf {
    let d = dir.display();
    std::fs::create_dir_all(dir.join("html")).unwrap();
    std::fs::write(dir.join("html/index.html"), "hello\n").unwrap();
    let conf = format!(
        "daemon off;\nmaster_process on;\nworker_processes 1;\nuser www-data;\npid {d}/nginx.pid;\n\
         error_log {d}/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n\
         client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
         uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         server {{ listen 127.0.0.1:{PORT}; root {d}/html; }}\n}}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    path
}

/// `cmd` under `secpolctl on OPTIONS -T TYPE`, until `ready`; `log` is shown if it exits.
fn start_under(
    run: &Path,
    options: &[&OsStr],
    t: &str,
    cmd: &[&OsStr],
    log: &Path,
    ready: impl Fn() -> bool,
) -> Child {
    let mut c = Command::new(bin("secpolctl"));
    c.arg("on").arg("--runtime-dir").arg(run).args(options).args(["-T", t, "--"]).args(cmd);
    c.env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").current_dir("/");
    let mut child = c.spawn().expect("secpolctl on");
    wait_until(LONG, &format!("{t} ready"), || {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{t} exited ({status}): {}", std::fs::read_to_string(log).unwrap_or_default());
        }
        ready()
    });
    child
}

/// Stops the daemon with `signal` (it is the child: `secpolctl on` execs it) and reaps it.
fn stop(mut child: Child, signal: i32) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, signal) };
    let deadline = std::time::Instant::now() + LONG;
    while child.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "the daemon did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The words of a rule (`setuid:33`, `setgid`, ...).
fn words(rule: &str) -> Vec<&str> {
    rule.split(|c: char| c.is_whitespace() || c == '{' || c == '}' || c == ';')
        .filter(|w| !w.is_empty())
        .collect()
}

/// Whether `which` is installed; skips (or fails, in CI) when not.
fn installed(which: &str) -> bool {
    if !root_or_skip("daemon tests need root") {
        return false;
    }
    if !Path::new(which).exists() {
        skip_or_fail(&format!("{which} is not installed (scripts/setup.sh installs it)"));
        return false;
    }
    true
}

#[test]
fn nginx_learns_the_ids_it_switches_to_and_serves_under_its_learned_policy() {
    if !installed(NGINX) {
        return;
    }
    let Some(stack) = Stack::start("daemon-nginx") else { return };
    let run = stack.tmp.join("run");
    let www = TempDir::new("daemon-nginx-www");
    std::fs::set_permissions(www.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let conf = nginx_conf(www.path());
    let error_log = www.join("error.log");
    let cmd: Vec<&OsStr> =
        vec![NGINX.as_ref(), "-c".as_ref(), conf.as_os_str(), "-e".as_ref(), error_log.as_os_str()];
    let serving = || http_status(PORT).is_some_and(|l| l.contains(" 200 "));

    // Learning: nginx as Debian runs it (root master, www-data workers).
    stop(start_under(&run, &[], "ngx_t", &cmd, &error_log, serving), libc::SIGQUIT);
    stack.wait_policy("nginx's port and ids", |p| {
        ability_rule(p, "ngx_t")
            .is_some_and(|r| r.contains(&format!("net_bind_service:{PORT}")) && r.contains("setuid:33"))
    });
    let policy = stack.policy();
    let rule = ability_rule(&policy, "ngx_t").unwrap();
    assert!(!words(rule).contains(&"setuid"), "the power to become any user:\n{rule}");

    // Enforced: the learned policy keeps it serving, its workers switch users.
    let learned = stack.tmp.join("learned.policy");
    std::fs::write(&learned, &policy).unwrap();
    std::fs::write(&error_log, "").unwrap();
    let options: [&OsStr; 2] = ["--policy".as_ref(), learned.as_os_str()];
    let child = start_under(&run, &options, "ngx_t", &cmd, &error_log, serving);
    let log = std::fs::read_to_string(&error_log).unwrap_or_default();
    stop(child, libc::SIGQUIT);
    assert!(!log.contains("Operation not permitted"), "refused under its learned policy:\n{log}\n{policy}");
}

const DNSMASQ: &str = "/usr/sbin/dnsmasq";

/// The address `name` resolves to at the DNS server on 127.0.0.1:53, if it answers.
fn resolve(name: &str) -> Option<[u8; 4]> {
    let mut q = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    let s = std::net::UdpSocket::bind("127.0.0.1:0").ok()?;
    s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
    s.send_to(&q, "127.0.0.1:53").ok()?;
    let mut buf = [0u8; 512];
    let n = s.recv(&mut buf).ok()?;
    (n >= 4).then(|| [buf[n - 4], buf[n - 3], buf[n - 2], buf[n - 1]])
}

#[test]
fn dnsmasq_learns_its_user_and_group_and_answers_under_its_learned_policy() {
    if !installed(DNSMASQ) {
        return;
    }
    let Some(stack) = Stack::start("daemon-dnsmasq") else { return };
    let run = stack.tmp.join("run");
    let pid = stack.tmp.join("dnsmasq.pid");
    let log = stack.tmp.join("dnsmasq.log");
    let pid_arg = format!("--pid-file={}", pid.display());
    let log_arg = format!("--log-facility={}", log.display());
    // As Debian's package runs it: root, then user dnsmasq (and its default group).
    let args = [
        DNSMASQ,
        "-k",
        "--conf-file=/dev/null",
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        "-p",
        "53",
        "-u",
        "dnsmasq",
        "--address=/secpol.test/127.0.0.9",
        &pid_arg,
        &log_arg,
    ];
    let cmd: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    let answers = || resolve("secpol.test") == Some([127, 0, 0, 9]);

    stop(start_under(&run, &[], "dns_t", &cmd, &log, answers), libc::SIGTERM);
    stack.wait_policy("dnsmasq's port and ids", |p| {
        ability_rule(p, "dns_t").is_some_and(|r| {
            let w = words(r);
            w.contains(&"net_bind_service:53") && w.iter().any(|w| w.starts_with("setuid:"))
        })
    });
    let policy = stack.policy();
    let rule = ability_rule(&policy, "dns_t").unwrap();
    let w = words(rule);
    // Only the ids it switched to: never the power to become anyone.
    assert!(!w.contains(&"setuid") && !w.contains(&"setgid"), "{rule}");
    let uid = std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("dnsmasq:x:").and_then(|r| r.split(':').next().map(str::to_string)))
        .expect("user dnsmasq");
    assert!(w.contains(&format!("setuid:{uid}").as_str()), "{rule}");

    let learned = stack.tmp.join("learned.policy");
    std::fs::write(&learned, &policy).unwrap();
    let options: [&OsStr; 2] = ["--policy".as_ref(), learned.as_os_str()];
    stop(start_under(&run, &options, "dns_t", &cmd, &log, answers), libc::SIGTERM);
}

/// The uid and gid of `user` in /etc/passwd.
fn ids_of(user: &str) -> (String, String) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let line =
        passwd.lines().find(|l| l.split(':').next() == Some(user)).unwrap_or_else(|| panic!("user {user}"));
    let f: Vec<&str> = line.split(':').collect();
    (f[2].to_string(), f[3].to_string())
}

const CHRONYD: &str = "/usr/sbin/chronyd";

/// Whether an NTP server on 127.0.0.1:123 answers a client's request (mode 3) with a
/// server's reply (mode 4).
fn ntp_answers() -> bool {
    let Ok(s) = std::net::UdpSocket::bind("127.0.0.1:0") else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut request = [0u8; 48];
    request[0] = 0x23; // leap 0, version 4, mode 3 (client)
    if s.send_to(&request, "127.0.0.1:123").is_err() {
        return false;
    }
    let mut reply = [0u8; 512];
    matches!(s.recv(&mut reply), Ok(n) if n >= 48 && reply[0] & 7 == 4)
}

#[test]
fn chronyd_learns_its_user_and_port_and_serves_time_under_its_learned_policy() {
    if !installed(CHRONYD) {
        return;
    }
    let Some(stack) = Stack::start("daemon-chronyd") else { return };
    let run = stack.tmp.join("run");
    let dir = stack.tmp.join("chrony");
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("chrony.conf");
    let log = dir.join("chronyd.log");
    // An NTP server for 127.0.0.1 that never touches the clock (-x) nor /run/chrony.
    let d = dir.display();
    std::fs::write(
        &conf,
        format!(
            "port 123\nbindaddress 127.0.0.1\nallow 127.0.0.1\nlocal stratum 10\ncmdport 0\n\
             bindcmdaddress /\npidfile {d}/chronyd.pid\nlogdir {d}\n"
        ),
    )
    .unwrap();
    // As Debian's package runs it: root, then user _chrony.
    let args = [CHRONYD, "-d", "-x", "-u", "_chrony", "-f"];
    let mut cmd: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    cmd.push(conf.as_os_str());
    let (uid, gid) = ids_of("_chrony");

    stop(start_under(&run, &[], "ntp_t", &cmd, &log, ntp_answers), libc::SIGTERM);
    stack.wait_policy("chronyd's port and ids", |p| {
        ability_rule(p, "ntp_t").is_some_and(|r| {
            let w = words(r);
            w.contains(&"net_bind_service:123") && w.contains(&format!("setuid:{uid}").as_str())
        })
    });
    let policy = stack.policy();
    let rule = ability_rule(&policy, "ntp_t").unwrap();
    let w = words(rule);
    eprintln!("chronyd's learned rule: {rule}");
    assert!(!w.contains(&"setuid") && !w.contains(&"setgid"), "the power to become anyone:\n{rule}");
    assert!(w.contains(&format!("setgid:{gid}").as_str()), "{rule}");

    let learned = stack.tmp.join("learned.policy");
    std::fs::write(&learned, &policy).unwrap();
    let options: [&OsStr; 2] = ["--policy".as_ref(), learned.as_os_str()];
    stop(start_under(&run, &options, "ntp_t", &cmd, &log, ntp_answers), libc::SIGTERM);
}

const SSHD: &str = "/usr/sbin/sshd";
/// A privileged port no other test uses.
const SSH_PORT: u16 = 582;

/// What `ssh` says when it tries to log in to 127.0.0.1:SSH_PORT as nobody, without a key
/// the server knows: "Permission denied" once the key exchange and the pre-authentication
/// child (chrooted, as user sshd) worked.
fn ssh_attempt() -> String {
    let out = Command::new("ssh")
        .args(["-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"])
        .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", "-p"])
        .arg(SSH_PORT.to_string())
        .args(["nobody@127.0.0.1", "true"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("ssh");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Whether the server on SSH_PORT sends its identification string.
fn ssh_banner() -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", SSH_PORT)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = [0u8; 8];
    s.read_exact(&mut buf).is_ok() && &buf == b"SSH-2.0-"
}

#[test]
fn sshd_learns_its_privilege_separation_user_and_lets_clients_in_under_its_learned_policy() {
    if !installed(SSHD) || !Path::new("/usr/bin/ssh").exists() {
        return;
    }
    let Some(stack) = Stack::start("daemon-sshd") else { return };
    let run = stack.tmp.join("run");
    let dir = stack.tmp.join("sshd");
    std::fs::create_dir_all(&dir).unwrap();
    // Debian's privilege separation directory (the package's tmpfiles.d makes it at boot).
    std::fs::create_dir_all("/run/sshd").unwrap();
    let key = dir.join("host_ed25519");
    let keygen = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .output()
        .expect("ssh-keygen");
    assert!(keygen.status.success(), "ssh-keygen: {}", String::from_utf8_lossy(&keygen.stderr));
    let conf = dir.join("sshd_config");
    let log = dir.join("sshd.log");
    std::fs::write(
        &conf,
        format!(
            "Port {SSH_PORT}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nUsePAM no\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\n",
            key.display(),
            dir.join("sshd.pid").display()
        ),
    )
    .unwrap();
    let log_arg = format!("-E{}", log.display());
    let cmd: Vec<&OsStr> =
        vec![SSHD.as_ref(), "-D".as_ref(), "-f".as_ref(), conf.as_os_str(), log_arg.as_ref()];
    let (uid, _) = ids_of("sshd");
    let let_in = |what: &str| {
        let said = ssh_attempt();
        assert!(
            said.contains("Permission denied"),
            "{what}: ssh said:\n{said}\nsshd's log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    };

    // Learning: a client's attempt makes sshd fork its pre-authentication child, which
    // chroots to /run/sshd and becomes user sshd.
    let child = start_under(&run, &[], "sshd_t", &cmd, &log, ssh_banner);
    let_in("learning");
    stop(child, libc::SIGTERM);
    stack.wait_policy("sshd's port and privilege separation user", |p| {
        ability_rule(p, "sshd_t").is_some_and(|r| {
            let w = words(r);
            w.contains(&format!("net_bind_service:{SSH_PORT}").as_str())
                && w.contains(&format!("setuid:{uid}").as_str())
                && w.contains(&"sys_chroot")
        })
    });
    let policy = stack.policy();
    let rule = ability_rule(&policy, "sshd_t").unwrap();
    eprintln!("sshd's learned rule: {rule}");
    assert!(!words(rule).contains(&"setuid"), "the power to become any user:\n{rule}");

    let learned = stack.tmp.join("learned.policy");
    std::fs::write(&learned, &policy).unwrap();
    std::fs::write(&log, "").unwrap();
    let options: [&OsStr; 2] = ["--policy".as_ref(), learned.as_os_str()];
    let child = start_under(&run, &options, "sshd_t", &cmd, &log, ssh_banner);
    let_in("enforced");
    stop(child, libc::SIGTERM);
}
