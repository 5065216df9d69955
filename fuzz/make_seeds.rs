//! Writes the seed corpus of every fuzz target into `fuzz/corpus/<target>/` from the
//! project's own data: the policies and configuration in `etc/`, `shared/core/testdata` and
//! `tests/golden`, the devf-ram log of `tests/data`, the monitor lines of the QNX seed
//! documents, and, encoded by the real encoders, one wire message of every kind, one
//! preload record of every call, a state file of every record kind and every control
//! request. Run from the repository root as `cargo run --manifest-path fuzz/Cargo.toml
//! --bin make_seeds` (`scripts/fuzz.sh --seeds` does); the result is committed, so a plain
//! run of `scripts/fuzz.sh` needs nothing else.

use std::fs;
use std::path::{Path, PathBuf};

use secpol::control::{self, ClearTarget, LaunchPlan, LoadReport, Output, Request, Response, Status};
use secpol::event::{
    AttachResult, CapAction, CapRequest, Domain, Event, EventKind, Process, Subrange, Verdict,
};
use secpol::preload_proto::{self, Call, CapSets, Record};
use secpol::qnxlog::{self, FormatOptions};
use secpol::record;
use secpol::wire::{self, Heartbeat, Message, SocketFaults, SourceLoss};
use secpolgenerate::state;
use secpolgenerate::store::{Failure, Need, Origin, Store, Value};

/// Topics in the order of the `wire` target's table (its first input byte indexes it).
const WIRE_TOPICS: &[&str] = &[
    "ev.ability",
    "ev.attach",
    "ev.link",
    "ev.connect",
    "ev.cap_call",
    "ev.signal",
    "ev.remote",
    "ev.exec",
    "ev.exit",
    "ev.teleport",
    "sys.heartbeat",
    "sys.loss",
    "sys.faults",
];

struct Corpus {
    root: PathBuf,
    written: usize,
    bytes: usize,
}

impl Corpus {
    fn put(&mut self, target: &str, name: &str, data: &[u8]) {
        let dir = self.root.join(target);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let path = dir.join(name);
        fs::write(&path, data).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        self.written += 1;
        self.bytes += data.len();
    }

    /// Copies every file of `dir` (in the repository) whose name ends with `suffix`.
    fn copy_files(&mut self, target: &str, repo: &Path, dir: &str, suffix: &str) {
        let mut paths: Vec<PathBuf> = fs::read_dir(repo.join(dir))
            .unwrap_or_else(|e| panic!("cannot list {dir}: {e}"))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.to_string_lossy().ends_with(suffix))
            .collect();
        paths.sort();
        for p in paths {
            let data = fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
            let name = format!("{}-{}", dir.replace('/', "_"), p.file_name().unwrap().to_string_lossy());
            self.put(target, &name, &data);
        }
    }
}

fn process(type_name: &str) -> Process {
    Process {
        pid: 2_949_147,
        name: Some("usr/bin/touch".into()),
        type_name: type_name.into(),
        uid: Some(0),
        euid: Some(1000),
        start_ns: Some(5),
    }
}

/// One event of every kind, with the optional fields both set and unset.
fn events() -> Vec<Event> {
    let kinds = vec![
        EventKind::Ability {
            ability: "channel_connect".into(),
            range: Some(Subrange::value(1)),
            target_type: Some("fs_t".into()),
            root: true,
            verdict: Verdict::Allowed,
            probe: false,
        },
        EventKind::Ability {
            ability: "net_bind_service".into(),
            range: Some(Subrange { lo: 80, hi: 443 }),
            target_type: None,
            root: false,
            verdict: Verdict::Denied(13),
            probe: true,
        },
        EventKind::Attach { path: "/dev/fsF0".into(), result: AttachResult::Ok },
        EventKind::Attach { path: "/run/x.sock".into(), result: AttachResult::Errno(98) },
        EventKind::Link {
            path: "/tmp/libc.so.5".into(),
            target: Some("/lib/libc.so".into()),
            result: AttachResult::NoRule,
        },
        EventKind::Link { path: "/tmp/l".into(), target: None, result: AttachResult::Conflict },
        EventKind::Connect {
            path: "/dev/fsF0".into(),
            channel_type: "fs_t".into(),
            verdict: Verdict::Allowed,
        },
        EventKind::CapCall {
            call: "cap_set_proc".into(),
            requests: vec![
                CapRequest {
                    ability: "net_raw".into(),
                    domain: Domain::All,
                    actions: vec![CapAction::Deny, CapAction::Lock],
                },
                CapRequest {
                    ability: "sys_nice".into(),
                    domain: Domain::NonRoot,
                    actions: vec![CapAction::Allow, CapAction::NoInherit],
                },
            ],
            verdict: Verdict::Allowed,
        },
        EventKind::CapCall {
            call: "prctl(PR_SET_KEEPCAPS)".into(),
            requests: vec![],
            verdict: Verdict::Denied(1),
        },
        EventKind::Signal {
            target_pid: 1,
            target_type: "init_t".into(),
            signal: 9,
            verdict: Verdict::Denied(1),
        },
        EventKind::Remote { address: "192.0.2.1:22".into(), verdict: Verdict::Allowed },
        EventKind::Exec { path: "/usr/bin/touch".into() },
        EventKind::Exit { code: -1 },
    ];
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, what)| Event {
            instance: 7,
            seq: 42 + i as u64,
            time_ns: 1_700_000_000_000_000_000,
            process: if i % 2 == 0 {
                process("fs_user_t")
            } else {
                Process { name: None, uid: None, euid: None, start_ns: None, ..process("default") }
            },
            what,
        })
        .collect()
}

fn messages() -> Vec<Message> {
    let mut m: Vec<Message> = events().into_iter().map(Message::Event).collect();
    m.push(Message::Heartbeat(Heartbeat { instance: 7, last_seq: 9, time_ns: 5 }));
    m.push(Message::Loss(SourceLoss { instance: 7, count: 3, source: "kernel ring buffer".into() }));
    let counts = [("events: bad handshake".to_string(), 2), ("ingest: bad magic".to_string(), 5)];
    m.push(Message::Faults(SocketFaults { instance: 7, counts: counts.into_iter().collect() }));
    m
}

fn wire_seeds(c: &mut Corpus, repo: &Path) {
    for (i, msg) in messages().iter().enumerate() {
        let [topic, body] = wire::encode(msg).expect("encode a seed message");
        let topic = std::str::from_utf8(&topic).unwrap();
        let index = WIRE_TOPICS.iter().position(|t| *t == topic).expect("a topic of the table") as u8;
        let name = format!("{i:02}-{}", topic.replace('.', "_"));
        c.put("wire", &name, &[&[index][..], &body].concat());
        // The same with the topic spelled out in the input (first byte 0x80 | length).
        let mut spelled = vec![0x80 | topic.len() as u8];
        spelled.extend(topic.as_bytes());
        spelled.extend(&body);
        c.put("wire", &format!("{name}-spelled"), &spelled);
        if let Message::Event(_) = msg {
            c.put("wire_differential", &name, &body);
        }
    }
    // The golden bytes of the wire unit test.
    let hex = fs::read_to_string(repo.join("shared/core/testdata/wire-ability.hex")).expect("wire-ability.hex");
    let hex = hex.trim();
    let body: Vec<u8> =
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect();
    c.put("wire_differential", "golden-ability", &body);
    c.put("wire", "golden-ability", &[&[0u8][..], &body].concat());
}

fn preload_seeds(c: &mut Corpus) {
    let base = Record {
        call: Call::Capset,
        arg: 0,
        result: 0,
        errno: 0,
        euid: 0,
        securebits: 0,
        flags: preload_proto::FLAG_BEFORE | preload_proto::FLAG_REQUESTED | preload_proto::FLAG_AMBIENT,
        dropped: 0,
        before: CapSets { effective: u64::MAX >> 23, permitted: u64::MAX >> 23, inheritable: 0 },
        ambient_before: 0,
        requested: CapSets { effective: 1 << 10, permitted: 1 << 10 | 1 << 23, inheritable: 0 },
        protect_kept: 0,
    };
    let mut all = Vec::new();
    for call in Call::ALL {
        let arg = match call {
            Call::CapbsetDrop | Call::AmbientRaise | Call::AmbientLower => 21,
            Call::SetKeepcaps => 1,
            Call::SetSecurebits => u64::from(preload_proto::secbit::KEEP_CAPS),
            _ => 0,
        };
        let flags = if call == Call::Capset { base.flags | preload_proto::FLAG_LIBCAP } else { base.flags };
        let rec = Record { call, arg, flags, ..base };
        assert!(Record::decode(&rec.encode()).is_ok(), "seed record of {call:?} does not decode");
        c.put("preload", &format!("record-{}", call as u16), &rec.encode());
        all.extend(rec.encode());
    }
    // A call that failed with EPERM.
    let failed = Record { result: -1, errno: 1, ..base };
    c.put("preload", "record-failed", &failed.encode());
    c.put("preload", "batch", &all);
    c.put("preload", "cgroup", b"0::/secpol/web_t/sub\n");
    c.put("preload", "cgroup-hybrid", b"12:pids:/\n1:name=systemd:/init.scope\n0::/secpol/fs_t\n");
    let protect = format!(
        "# TYPE CAPABILITY-NUMBER...\n{}    # net_bind_service sys_nice\n{}\nfs_t\n",
        preload_proto::ProtectLine { type_name: "*", caps: 1 << 10 | 1 << 23 },
        preload_proto::ProtectLine { type_name: "web_t", caps: 1 << 10 },
    );
    assert!(preload_proto::validate_protect(protect.as_bytes()).is_ok());
    c.put("preload", "protect", protect.as_bytes());
}

fn origin(t: u64, p: &str) -> Origin {
    Origin { process: p.into(), pid: 7, time_ns: t, ..Default::default() }
}

fn state_seeds(c: &mut Corpus) {
    let mut s = Store::new();
    let r = |lo, hi| Value::Range(Subrange { lo, hi });
    s.use_ability("a_t", true, "setuid", &r(5, 9), || origin(1, "usr/bin/my prog"));
    s.use_ability("a_t", true, "setuid", &r(20, 20), || origin(2, "x"));
    s.use_ability("a_t", false, "io", &Value::None, || origin(3, "x"));
    s.use_ability("a_t", false, "settypeid", &Value::Type("b_t".into()), || origin(3, "x"));
    s.use_ability("a_t", true, "net_bind_service", &r(80, 80), || origin(3, "x"));
    s.use_attach("a_t", "/dev/has space%", || origin(4, "x"));
    s.use_link("b_t", "/tmp/libc.so.5", || origin(5, "proc/boot/ln"));
    s.use_connect("b_t", "a_t", || origin(6, "x"));
    s.note_cap_call("c_t", "net_raw", "deny all lock", true, true, || origin(7, "pps"));
    s.note_cap_call("c_t", "net_raw", "allow nonroot", true, false, || origin(7, "pps"));
    s.note_cap_call("c_t", "sys_nice", "", false, true, || origin(7, "pps"));
    s.note_bare_call("c_t", "prctl(PR_SET_KEEPCAPS)", || origin(6, "pps"));
    let f = |count, last_ns| Failure { count, first: origin(8, "y"), last_ns };
    s.add_failure(
        "b_t",
        Need::Ability { root: false, name: "net_bind_service".into(), value: r(80, 80) },
        f(3, 9),
    );
    s.add_failure("b_t", Need::Ability { root: true, name: "setgid".into(), value: Value::None }, f(1, 8));
    s.add_failure("b_t", Need::Attach("/".into()), f(1, 8));
    s.add_failure("b_t", Need::Link("/l".into()), f(1, 8));
    s.add_failure("b_t", Need::Connect("a_t".into()), f(2, 10));
    c.put("state", "numbers.state", state::write(&s, &["b_t"], false).as_bytes());
    c.put("state", "names.state", state::write(&s, &["b_t"], true).as_bytes());
}

fn qnxlog_seeds(c: &mut Corpus, repo: &Path) {
    c.copy_files("qnxlog", repo, "tests/data", ".log");
    c.copy_files("qnxlog", repo, "tests/golden/monitor", ".txt");
    let plain = FormatOptions::default();
    let verbose = FormatOptions { subranged: vec!["net_bind_service".into()], verbose: true };
    let (mut lines, mut json) = (String::new(), String::new());
    for e in events() {
        for opts in [&plain, &verbose] {
            if let Some(l) = qnxlog::format_event(&e, opts) {
                lines.push_str(&l);
                lines.push('\n');
            }
        }
        json.push_str(&record::to_json_line(&e));
        json.push('\n');
    }
    c.put("qnxlog", "every-kind.log", lines.as_bytes());
    c.put("qnxlog", "every-kind.jsonl", json.as_bytes());
    // The QNX seed documents that quote monitor lines (shared/seeds beside the checkout).
    let seeds = repo.join("../shared/seeds");
    if let Ok(dir) = fs::read_dir(&seeds) {
        let mut paths: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths.iter().filter(|p| p.extension().is_some_and(|x| x == "txt")) {
            let text = fs::read_to_string(p).unwrap_or_default();
            // Whole documents: the quoted lines wrap as on a terminal, and the prose
            // around them is unreadable lines the reader must name and skip.
            let quotes = text.lines().any(|l| l.starts_with("info: ") || l.starts_with("error: "));
            if quotes {
                c.put(
                    "qnxlog",
                    &format!("seed-{}", p.file_stem().unwrap().to_string_lossy()),
                    text.as_bytes(),
                );
            }
        }
    } else {
        eprintln!("make_seeds: {} not found; the seed documents' lines are left out", seeds.display());
    }
}

fn control_seeds(c: &mut Corpus) {
    let requests = [
        Request::Status,
        Request::Clear { target: ClearTarget::Used },
        Request::Clear { target: ClearTarget::Errors },
        Request::Load {
            name: "devf-ram.log".into(),
            text: "info: sbin/devf-ram (pid:2809882) type fs_t uses ability IO as root\n".into(),
        },
        Request::Show { output: Output::Policy },
        Request::Show { output: Output::Unused },
        Request::Show { output: Output::Errors },
        Request::Save,
        Request::Launch { type_name: "web_t".into() },
    ];
    for (i, r) in requests.iter().enumerate() {
        c.put(
            "control",
            &format!("request-{i}"),
            &control::encode(r, control::MAX_REQUEST).expect("encode a request"),
        );
    }
    let responses = [
        Response::Done { message: "saved".into() },
        Response::Status(Status {
            pid: 9,
            uptime_s: 3,
            events_seen: 10,
            mode: "unrestricted".into(),
            protect: vec!["net_bind_service".into()],
            state_file: Some("/var/lib/secpol/state".into()),
            last_save_s: Some(1),
            ..Status::default()
        }),
        Response::Text { text: "type fs_t;\n".into() },
        Response::Loaded(LoadReport {
            format: "state".into(),
            applied: 3,
            problems: vec!["f:2: bad".into()],
        }),
        Response::Launch(LaunchPlan {
            type_name: "web_t".into(),
            policy_id: 1,
            drop_root: vec!["setuid".into()],
            ..LaunchPlan::default()
        }),
        Response::Error { message: "no".into() },
    ];
    for (i, r) in responses.iter().enumerate() {
        c.put(
            "control",
            &format!("response-{i}"),
            &control::encode(r, control::MAX_RESPONSE).expect("encode a response"),
        );
    }
}

fn main() {
    let repo = std::env::args_os().nth(1).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    assert!(
        repo.join("fuzz/Cargo.toml").exists(),
        "run from the repository root (or give it as the argument)"
    );
    let root = repo.join("fuzz/corpus");
    let _ = fs::remove_dir_all(&root);
    let mut c = Corpus { root, written: 0, bytes: 0 };

    c.copy_files("policy", &repo, "etc/secpol", "policy");
    c.copy_files("policy", &repo, "shared/core/testdata/policy", ".policy");
    c.copy_files("policy", &repo, "shared/core/testdata/policy", ".golden");
    c.copy_files("policy", &repo, "tests/golden/generator", ".policy");
    c.copy_files("policy", &repo, "tests/golden/generator", ".errors");
    c.copy_files("policy", &repo, "tests/golden/generator", ".unused");
    c.copy_files("config", &repo, "etc/secpol", ".conf");
    c.put(
        "config",
        "every-option.conf",
        b"option restricted\ntype web_t unrestricted deny:setuid,setgid:nonroot keep:net_bind_service unlock:net_raw no_procmgr_ability\n\
          type fs_t restricted\nability net_bind_service range protect\nability settypeid type\n# comment\n\n",
    );
    state_seeds(&mut c);
    qnxlog_seeds(&mut c, &repo);
    wire_seeds(&mut c, &repo);
    preload_seeds(&mut c);
    control_seeds(&mut c);
    println!("make_seeds: wrote {} files, {} bytes, into {}", c.written, c.bytes, c.root.display());
}
