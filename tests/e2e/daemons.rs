//! Real Debian daemons (installed by scripts/setup.sh) learned under a type by the kernel
//! tracer, then run under the policy learned from them, enforced: they must keep working, and
//! the policy must hold the ids they switch to rather than the power to become anyone.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use crate::kernel::{ability_rule, Stack, LONG};
use crate::util::{bin, is_root, skip_or_fail, wait_until, TempDir};

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

/// nginx under `secpolctl on OPTIONS -T ngx_t`, until it answers.
fn serve(run: &Path, options: &[&std::ffi::OsStr], conf: &Path, error_log: &Path) -> Child {
    let mut c = Command::new(bin("secpolctl"));
    c.arg("on").arg("--runtime-dir").arg(run).args(options).args(["-T", "ngx_t", "--", NGINX, "-c"]);
    c.arg(conf)
        .arg("-e")
        .arg(error_log)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .current_dir("/");
    let mut child = c.spawn().expect("secpolctl on nginx");
    wait_until(LONG, "nginx answering", || {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("nginx exited ({status}): {}", std::fs::read_to_string(error_log).unwrap_or_default());
        }
        http_status(PORT).is_some_and(|l| l.contains(" 200 "))
    });
    child
}

/// Stops nginx gracefully (SIGQUIT to the master) and reaps `secpolctl on`.
fn stop(mut child: Child) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGQUIT) };
    let deadline = std::time::Instant::now() + LONG;
    while child.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "nginx did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn nginx_learns_the_ids_it_switches_to_and_serves_under_its_learned_policy() {
    if !is_root() {
        skip_or_fail("daemon tests need root");
        return;
    }
    if !Path::new(NGINX).exists() {
        skip_or_fail("nginx is not installed (scripts/setup.sh installs it)");
        return;
    }
    let Some(stack) = Stack::start("daemon-nginx") else { return };
    let run = stack.tmp.join("run");
    let www = TempDir::new("daemon-nginx-www");
    std::fs::set_permissions(www.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let conf = nginx_conf(www.path());
    let error_log = www.join("error.log");

    // Learning: nginx as Debian runs it (root master, www-data workers).
    stop(serve(&run, &[], &conf, &error_log));
    stack.wait_policy("nginx's port and ids", |p| {
        ability_rule(p, "ngx_t")
            .is_some_and(|r| r.contains(&format!("net_bind_service:{PORT}")) && r.contains("setuid:33"))
    });
    let policy = stack.policy();
    let rule = ability_rule(&policy, "ngx_t").unwrap();
    let words: Vec<&str> =
        rule.split(|c: char| c.is_whitespace() || c == '{' || c == '}' || c == ';').collect();
    assert!(!words.contains(&"setuid"), "the power to become any user:\n{rule}");

    // Enforced: the learned policy keeps it serving, its workers switch users.
    let learned = stack.tmp.join("learned.policy");
    std::fs::write(&learned, &policy).unwrap();
    std::fs::write(&error_log, "").unwrap();
    let child = serve(&run, &["--policy".as_ref(), learned.as_os_str()], &conf, &error_log);
    let log = std::fs::read_to_string(&error_log).unwrap_or_default();
    stop(child);
    assert!(!log.contains("Operation not permitted"), "refused under its learned policy:\n{log}\n{policy}");
}
