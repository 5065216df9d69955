//! Issue 14, the Linux conventions end to end: readiness sent to a real `NOTIFY_SOCKET`
//! (what systemd's `Type=notify` waits for), log lines with journald's `<N>` priorities
//! when stderr is the journal stream, man pages and completions from `--generate-docs`,
//! `secpolctl status --json` / `policy --json`, and `secpolctl load`'s pieces with a
//! progress bar on a terminal only.

use std::os::unix::fs::MetadataExt as _;
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};

use secpol::event::Subrange;
use secpol::record::to_json_line;

use crate::generator::{ability, event, process, Gen, WAIT};
use crate::util::{bin, secpolctl, Service, TempDir};

/// A stand-in for systemd's notify socket.
struct Notify {
    socket: UnixDatagram,
    path: std::path::PathBuf,
}

impl Notify {
    fn new(tmp: &TempDir) -> Notify {
        let path = tmp.join("notify");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket.set_read_timeout(Some(WAIT)).unwrap();
        Notify { socket, path }
    }

    /// The next message, as text; panics after WAIT.
    fn next(&self, who: &Service) -> String {
        let mut buf = [0u8; 4096];
        match self.socket.recv(&mut buf) {
            Ok(n) => String::from_utf8_lossy(&buf[..n]).into_owned(),
            Err(e) => panic!("no notification from {} ({e}); stderr:\n{}", who.name, who.err()),
        }
    }
}

/// The tracer says READY=1 once `events` is bound, the generator once its state is
/// restored and `control` answers, the monitor once it is subscribed; never before.
#[test]
fn services_tell_the_service_manager_when_they_are_ready() {
    let tmp = TempDir::new("conv-notify");
    let run = tmp.join("run");
    let notify = Notify::new(&tmp);

    let mut tracer = Command::new(bin("secpoltrace"));
    tracer.arg("--runtime-dir").arg(&run).arg("--no-kernel").env("NOTIFY_SOCKET", &notify.path);
    let tracer = Service::start("secpoltrace", tmp.path(), tracer);
    let msg = notify.next(&tracer);
    assert!(msg.lines().any(|l| l == "READY=1"), "{msg:?}");
    assert!(msg.contains("STATUS=events bound"), "{msg:?}");
    assert!(run.join("events").exists(), "READY=1 before the events socket was there");

    // A state file learned before: READY=1 comes after it is back.
    let state = tmp.join("state");
    let mut first = Gen::new("conv-notify-gen1");
    first.start(&["-u", "-N", "-f", "0.2", "-s", state.to_str().unwrap()]);
    let rec = first.file(
        "uses.rec",
        &(to_json_line(&event(1, process("notify_t", 7, "usr/bin/n", 0), ability("kill", None, true, true)))
            + "\n"),
    );
    first.load(&rec);
    assert!(first.svc().stop().success());

    let mut gen = Command::new(bin("secpolgenerate"));
    gen.arg("--runtime-dir")
        .arg(&run)
        .arg("--output-dir")
        .arg(tmp.join("out"))
        .args(["-u", "-N", "-s", state.to_str().unwrap()])
        .env("NOTIFY_SOCKET", &notify.path);
    let gen = Service::start("secpolgenerate", tmp.path(), gen);
    let msg = notify.next(&gen);
    assert!(msg.lines().any(|l| l == "READY=1"), "{msg:?}");
    assert!(msg.contains("STATUS=state restored, control socket bound"), "{msg:?}");
    let (out, _) = secpolctl(&run, &["policy"]);
    let policy = String::from_utf8_lossy(&out.stdout);
    assert!(
        policy.contains("allow notify_t self:ability kill;"),
        "ready, yet the state is not back:\n{policy}"
    );

    let mut mon = Command::new(bin("secpolmonitor"));
    mon.arg("--runtime-dir").arg(&run).env("NOTIFY_SOCKET", &notify.path);
    let mon = Service::start("secpolmonitor", tmp.path(), mon);
    let msg = notify.next(&mon);
    assert!(msg.lines().any(|l| l == "READY=1") && msg.contains("subscribed"), "{msg:?}");
}

/// With stderr a journal stream (`JOURNAL_STREAM` names it), lines carry `<N>` and no
/// program name; otherwise they keep today's `prog: message`.
#[test]
fn log_lines_carry_journal_priorities_only_on_the_journal() {
    let tmp = TempDir::new("conv-journal");
    let err_path = tmp.join("stderr");
    let run_journal = |args: &[&str], journal: bool| {
        let err = std::fs::File::create(&err_path).unwrap();
        let meta = err.metadata().unwrap();
        let mut c = Command::new(bin("secpolctl"));
        c.arg("--runtime-dir").arg(tmp.join("none")).args(args).stdin(Stdio::null()).stderr(err);
        if journal {
            c.env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()));
        } else {
            // A stream that is not stderr changes nothing.
            c.env("JOURNAL_STREAM", "1:2");
        }
        let st = c.status().unwrap();
        (st, std::fs::read_to_string(&err_path).unwrap())
    };
    let (st, err) = run_journal(&["status"], true);
    assert!(!st.success());
    assert!(err.starts_with("<3>secpolgenerate is not running"), "{err:?}");
    let (_, err) = run_journal(&["status"], false);
    assert!(err.starts_with("secpolctl: secpolgenerate is not running"), "{err:?}");

    // Warnings and info lines through the logger: the tracer's.
    let err = std::fs::File::create(&err_path).unwrap();
    let meta = err.metadata().unwrap();
    let mut t = Command::new(bin("secpoltrace"));
    t.arg("--runtime-dir")
        .arg(tmp.join("run"))
        .args(["--no-kernel", "-v", "--once", "--replay"])
        .arg(tmp.join("missing.log"))
        .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err);
    let _ = t.status().unwrap();
    let err = std::fs::read_to_string(&err_path).unwrap();
    assert!(err.lines().any(|l| l.starts_with("<6>instance ")), "{err}");
    assert!(err.lines().all(|l| l.starts_with('<') || l.starts_with("secpoltrace: ")), "{err}");
    assert!(!err.lines().any(|l| l.starts_with("<6>secpoltrace")), "the journal names the program: {err}");
}

/// `--generate-docs DIR`: a page per command and subcommand that man renders, and
/// completions that know every subcommand, from the same definition as `--help`.
#[test]
fn man_pages_and_completions_come_from_the_clap_definitions() {
    let tmp = TempDir::new("conv-docs");
    for b in ["secpolctl", "secpoltrace", "secpolgenerate", "secpolmonitor"] {
        let out = Command::new(bin(b)).arg("--generate-docs").arg(tmp.path()).output().unwrap();
        assert!(out.status.success(), "{b}: {}", String::from_utf8_lossy(&out.stderr));
        let page = tmp.join(&format!("man1/{b}.1"));
        let man = Command::new("man").arg("-l").arg(&page).env("MANWIDTH", "100").output().unwrap();
        let text = String::from_utf8_lossy(&man.stdout);
        assert!(man.status.success() && text.contains("SYNOPSIS"), "{b}: {text}");
    }
    let help = Command::new(bin("secpolctl")).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    let bash = std::fs::read_to_string(tmp.join("completions/bash/secpolctl")).unwrap();
    let zsh = std::fs::read_to_string(tmp.join("completions/zsh/_secpolctl")).unwrap();
    let fish = std::fs::read_to_string(tmp.join("completions/fish/secpolctl.fish")).unwrap();
    for sub in ["on", "check", "status", "load", "policy", "report"] {
        assert!(help.contains(&format!("  {sub} ")), "--help lacks {sub}");
        assert!(tmp.join(&format!("man1/secpolctl-{sub}.1")).exists(), "no page for {sub}");
        assert!(bash.contains(sub) && zsh.contains(sub) && fish.contains(sub), "completions lack {sub}");
    }
    let report = std::fs::read_to_string(tmp.join("man1/secpolctl-report.1")).unwrap();
    assert!(report.contains("\\-\\-html"), "{report}");
    // The option is nobody's business but the packager's.
    assert!(!help.contains("generate-docs") && !bash.contains("generate-docs"));
    let sourced = Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p secpolctl", tmp.join("completions/bash/secpolctl").display()))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&sourced.stdout).contains("-F _secpolctl secpolctl"));
}

/// `status --json` and `policy --json`: the same facts as the text, as data.
#[test]
fn status_and_policy_as_json() {
    let mut g = Gen::new("conv-json");
    g.start(&["-u", "-N", "-f", "0.2"]);
    let events = [
        event(
            1,
            process("json_web_t", 812, "usr/sbin/nginx", 0),
            ability("net_bind_service", Some(Subrange::value(80)), true, true),
        ),
        event(
            2,
            process("json_web_t", 813, "usr/sbin/nginx", 33),
            ability("setuid", Some(Subrange::value(33)), false, true),
        ),
        event(3, process("json_web_t", 814, "usr/sbin/nginx", 33), ability("kill", None, false, false)),
    ];
    let rec = g.file("uses.rec", &events.iter().map(|e| to_json_line(e) + "\n").collect::<String>());
    g.load(&rec);

    let (out, _) = secpolctl(&g.run_dir(), &["status", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let st: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status --json is JSON");
    assert_eq!(st["events_seen"], 3);
    assert_eq!(st["failures"], 1);
    assert_eq!(st["mode"], "unrestricted");

    let (out, _) = secpolctl(&g.run_dir(), &["policy", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let p: serde_json::Value = serde_json::from_slice(&out.stdout).expect("policy --json is JSON");
    let web = p["types"].as_array().unwrap().iter().find(|t| t["name"] == "json_web_t").expect("the type");
    let abilities = web["abilities"].as_array().unwrap();
    let bind = abilities.iter().find(|a| a["ability"] == "net_bind_service").unwrap();
    assert_eq!(bind["domain"], "root");
    assert_eq!(bind["values"], serde_json::json!({"ranges": [[80, 80]]}));
    assert_eq!(bind["provenance"][0]["process"], "usr/sbin/nginx");
    assert_eq!(bind["provenance"][0]["pid"], 812);
    let setuid = abilities.iter().find(|a| a["ability"] == "setuid").unwrap();
    assert_eq!(
        (setuid["domain"].as_str(), setuid["values"]["ranges"][0][0].as_u64()),
        (Some("nonroot"), Some(33))
    );
    assert!(!abilities.iter().any(|a| a["ability"] == "kill"), "a failure is no rule");
    assert!(p["source"].as_str().unwrap().starts_with("the running generator"));
}

/// A large log goes in pieces: the answer is that of one piece (applied lines add up,
/// an unreadable line keeps its number in the whole file); on a terminal a progress
/// bar is drawn on stderr, piped nothing extra is printed.
#[test]
fn load_in_pieces_with_a_progress_bar_on_a_terminal() {
    let mut g = Gen::new("conv-load");
    g.start(&["-u", "-N", "-f", "0.5"]);
    let lines = 40_000;
    let mut text = String::new();
    for i in 0..lines {
        text.push_str(&format!(
            "info: usr/sbin/big{} (pid:{}) type bigload{}_t uses ability NET_BIND_SERVICE as root\n",
            i % 50,
            1000 + i,
            i % 50
        ));
    }
    text.push_str("this line is not an event\n");
    assert!(text.len() > 3 * (1 << 20), "the log spans several pieces");
    let log = g.file("big.log", &text);

    let (out, _) = secpolctl(&g.run_dir(), &["load", log.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stdout, format!("loaded event log: {lines} applied, 1 unreadable\n"));
    let bad = format!("secpolctl: {}:{}: ", log.display(), lines + 1);
    assert!(stderr.starts_with(&bad) && stderr.lines().count() == 1, "piped, only the problem: {stderr:?}");
    assert!(!out.status.success(), "an unreadable line fails the command");

    // On a terminal (script(1) gives it one).
    let cmd = format!(
        "{} --runtime-dir {} load {}",
        bin("secpolctl").display(),
        g.run_dir().display(),
        log.display()
    );
    let tty = Command::new("script").args(["-qec", &cmd, "/dev/null"]).stdin(Stdio::null()).output().unwrap();
    let seen = String::from_utf8_lossy(&tty.stdout);
    assert!(seen.contains("loading ") && seen.contains("[="), "no progress bar on a terminal: {seen:?}");
    assert!(seen.contains(&format!("loaded event log: {lines} applied, 1 unreadable")), "{seen:?}");
    let st = g.status();
    assert_eq!(st.events_seen, 2 * lines as u64);
}
