//! Tests of the policy language as a whole: the seeds' snippets, golden printed files,
//! error reports, matching, merge and difference, and property tests (round trip of
//! printed policies; random and mutated input never panics).

use std::path::PathBuf;

use proptest::prelude::*;

use super::*;
use crate::event::{CapAction, CapRequest, Domain as CapDomain, EventKind, Subrange, Verdict};

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/policy").join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(testdata(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Compares with `testdata/policy/<name>`; `SECPOL_BLESS=1` rewrites it.
fn assert_golden(name: &str, actual: &str) {
    let path = testdata(name);
    if std::env::var("SECPOL_BLESS").as_deref() == Ok("1") {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (SECPOL_BLESS=1 creates it)", path.display()));
    if expected != actual {
        panic!(
            "golden file {} differs\n--- expected ---\n{expected}--- actual ---\n{actual}--- end ---",
            path.display()
        );
    }
}

/// The diagnostics of a text, as `LINE:COL: error: message` lines.
fn problems(text: &str) -> Vec<String> {
    analyze(text.as_bytes()).diagnostics.iter().map(|d| d.display("").to_string()[1..].to_string()).collect()
}

fn errors_of(text: &str) -> Vec<String> {
    problems(text).into_iter().filter(|l| l.contains(": error: ")).collect()
}

fn ability(name: &str, range: Option<Subrange>, target: Option<&str>, root: bool) -> EventKind {
    EventKind::Ability {
        ability: name.into(),
        range,
        target_type: target.map(String::from),
        root,
        verdict: Verdict::Allowed,
        probe: false,
    }
}

fn r(lo: u64, hi: u64) -> Subrange {
    Subrange { lo, hi }
}

// ---------------------------------------------------------------- the seeds

#[test]
fn seed_002_devf_ram_policy_parses_clean() {
    let a = analyze(read("devf-ram.policy").as_bytes());
    assert!(a.diagnostics.is_empty(), "{:?}", a.diagnostics);
    let p = a.policy.unwrap();
    assert_eq!(p.types().len(), 4);
    let fs = p.rules("fs_t").unwrap();
    assert!(fs.abilities(Domain::Root).contains_key("rsrcdbmgr"));
    assert!(fs.abilities(Domain::Root).contains_key("io"));
    assert_eq!(fs.attaches().len(), 3);
    // `allow fs_t fs_t:channel connect` is the same rule as `self`.
    assert!(fs.connects().contains_key(&ConnectTarget::SelfType));
}

#[test]
fn seed_003_snippets_parse_and_only_lack_their_type_declaration() {
    for (file, ty) in [("pps.policy", "pps_t"), ("io_pkt.policy", "io_pkt_t")] {
        let full = read(file);
        let snippet = full.split_once('\n').unwrap().1;
        assert!(syntax::parse(snippet).diags.iter().all(|d| d.severity == Severity::Warning));
        let errs = errors_of(snippet);
        assert_eq!(errs, vec![format!("1:7: error: undeclared type `{ty}` (declare it with `type {ty};`)")]);
    }
}

#[test]
fn seed_003_pps_keywords_apply_to_the_block() {
    let p = parse(&read("pps.policy"), "pps").unwrap();
    let rules = p.rules("pps_t").unwrap();
    assert!(rules.abilities(Domain::Root).is_empty());
    let nonroot = rules.abilities(Domain::NonRoot);
    assert_eq!(nonroot.keys().collect::<Vec<_>>(), ["fork", "map_fixed", "pgrp", "prot_exec", "spawn"]);
    for g in nonroot.values() {
        assert!(g.unlock && g.noinherit);
        assert_eq!(g.comments.lines(), ["deny all lock"]);
    }
}

#[test]
fn seed_003_io_pkt_stray_closing_brace_is_a_warning() {
    let a = analyze(read("io_pkt.policy").as_bytes());
    let lines: Vec<String> = a.diagnostics.iter().map(|d| d.display("io_pkt").to_string()).collect();
    assert_eq!(lines, ["io_pkt:19:3: warning: stray `};` ignored (QNX's own io_pkt example ends in `};};`)"]);
    let p = a.policy.unwrap();
    let root = p.rules("io_pkt_t").unwrap().abilities(Domain::Root);
    assert_eq!(root.len(), 7);
    assert!(root["iofunc/read"].unlock && root["iofunc/read"].noinherit);
    assert_eq!(root["mem_phys"].comments.lines(), ["allow nonroot"]);
}

#[test]
fn golden_printed_policies() {
    for name in ["devf-ram", "pps", "io_pkt", "language"] {
        let p = parse(&read(&format!("{name}.policy")), name).unwrap();
        let text = p.to_text();
        assert_golden(&format!("{name}.golden"), &text);
        let again = parse(&text, name).unwrap();
        assert_eq!(again, p, "{name}: the printed policy reads back differently");
        assert_eq!(again.to_text(), text, "{name}: printing is not stable");
    }
}

#[test]
fn language_forms_mean_what_they_say() {
    let p = parse(&read("language.policy"), "language").unwrap();
    assert_eq!(
        p.header.lines(),
        [
            "Every form of the language the toolchain reads and writes.",
            "(QNX's own examples plus the forms secpolgenerate produces.)"
        ]
    );
    assert_eq!(p.trailing.lines(), ["end of policy"]);
    assert_eq!(p.types()["random_t"].comments.lines(), ["Type that represents the random process"]);
    let web = &p.types()["web_t"];
    assert_eq!(web.attributes.iter().collect::<Vec<_>>(), ["fs_clients", "net_services"]);
    let server = p.rules("server").unwrap();
    let root = server.abilities(Domain::Root);
    assert_eq!(root["mem_phys"].values, Values::Numbers(RangeSet::of(r(0x1200000, 0x24000000))));
    assert_eq!(root["setuid"].values, Values::Numbers([r(4, 4), r(6, 6), r(23, 23)].into_iter().collect()));
    assert_eq!(root["able_create"].values, Values::Any);
    let nonroot = server.abilities(Domain::NonRoot);
    assert_eq!(nonroot["setgid"].values, Values::Numbers(RangeSet::of(r(100, u64::MAX))));
    assert_eq!(
        nonroot["settypeid"].values,
        Values::Types(["fs_t".to_string(), "random_t".to_string()].into())
    );
    // Upper case and CAP_ prefixes are the canonical names; the inline comment stays with its rule.
    let web_rules = p.rules("web_t").unwrap().abilities(Domain::Root);
    assert_eq!(web_rules["net_bind_service"].comments.lines(), ["single form, upper case"]);
    assert!(web_rules.contains_key("sys_nice"));
    // Sets on both sides expand to every pair.
    for s in ["web_t", "sshd_t"] {
        let c = p.rules(s).unwrap().connects();
        assert!(
            c.contains_key(&ConnectTarget::SelfType) && c.contains_key(&ConnectTarget::Type("fs_t".into()))
        );
    }
    assert_eq!(p.derived_type("sshd_t", "/usr/libexec/sftp-server"), Some("fs_t"));
    assert_eq!(p.derived_type("web_t", "cgi_runner"), Some("server"));
    let fs = p.rules("fs_t").unwrap().attaches();
    assert_eq!(fs[&Pattern::parse("/fs/...").unwrap()].lines(), ["the mount point"]);
}

// ---------------------------------------------------------------- errors

#[test]
fn three_mistakes_on_three_lines_are_all_reported() {
    let text = "type a_t;\n\
                allow a_t self:ability { setuid:10-5 };\n\
                alow a_t self:channel connect;\n\
                allow b_t self:ability fork;\n";
    assert_eq!(
        errors_of(text),
        [
            "2:33: error: range start 10 is above its end 5",
            "3:1: error: unknown statement `alow`: expected `type`, `attribute`, `ability`, `allow`, `allow_attach`, `allow_link` or `derive_type`",
            "4:7: error: undeclared type `b_t` (declare it with `type b_t;`)",
        ]
    );
}

#[test]
fn syntax_errors_name_the_token_and_what_was_expected() {
    let cases: &[(&str, &str)] = &[
        ("type a_t\ntype b_t;", "2:1: error: expected `,` or `;` after the type name, found `type`"),
        ("type a_t;\nallow a_t self ability io;", "2:16: error: expected `:` between the object and its class (`self:ability`), found `ability`"),
        ("type a_t;\nallow a_t self:ability { io }", "2:30: error: expected `;` after `}` (blocks end in `};`), found end of file"),
        ("type a_t;\nallow a_t self:ability {\n io\n", "4:1: error: expected `}` to close the block opened at 2:24, found end of file"),
        ("type a_t;\nallow a_t self:ability {\n io\ntype b_t;", "4:1: error: expected `};` to close the block opened at 2:24, found `type`"),
        ("type a_t;\nallow a_t self:ability setuid:;", "2:31: error: expected a number or type name after `setuid:`, found `;`"),
        ("type a_t;\nallow a_t self:ability setuid:-1;", "2:31: error: expected a number or type name, found `-` (negative values are not supported)"),
        ("type a_t;\nallow a_t self:ability setuid:0x;", "2:31: error: `0x` is not a hexadecimal number"),
        ("type a_t;\nallow a_t self:ability setuid:99999999999999999999;", "2:31: error: `99999999999999999999` is too large (the largest value is 0xffffffffffffffff)"),
        ("type a_t;\nallow a_t self:file read;", "2:16: error: expected `ability` or `channel` after `:`, found `file`"),
        ("type a_t;\nallow a_t self:channel bind;", "2:24: error: expected `connect` after `channel`, found `bind`"),
        ("type a_t;\nallow a_t b_t:ability io;", "2:11: error: expected `self` before `:ability` (abilities are granted to the subject itself), found `b_t`"),
        ("type a_t;\nallow a_t self:ability unlock;", "2:24: error: `unlock` may only appear inside a `{ }` block of abilities"),
        ("type a_t;\nallow a_t self:ability { setuid:- };", "2:33: error: expected a number or type name, found `-` (negative values are not supported)"),
        ("type a_t;\nallow a_t self:ability { };", "2:24: error: empty ability block: expected at least one ability"),
        ("type a_t;\nallow_attach a_t dev/x;", "2:18: error: expected a path starting with `/`, or `{`, found `dev/x`"),
        ("type a_t;\nallow_attach a_t { };", "2:18: error: empty path block: expected at least one path"),
        ("type a_t; }", "1:11: error: unexpected `}` outside a block"),
        ("type a_t; @", "1:11: error: unexpected character `@`"),
        ("type a_t;\n\u{1}", "2:1: error: unexpected character U+0001"),
        ("range gpu_mem;", "1:1: error: unknown statement `range`: expected `type`, `attribute`, `ability`, `allow`, `allow_attach`, `allow_link` or `derive_type`"),
        ("42;", "1:1: error: expected a statement, found `42`"),
        ("derive_type a_t;", "1:16: error: expected a program name or path, found `;`"),
    ];
    for (text, expected) in cases {
        let errs = errors_of(text);
        assert_eq!(errs.first().map(String::as_str), Some(*expected), "for {text:?}: {errs:?}");
    }
}

#[test]
fn semantic_errors_are_reported_with_positions() {
    let cases: &[(&str, &str)] = &[
        ("allow x_t self:ability io;", "1:7: error: undeclared type `x_t` (declare it with `type x_t;`)"),
        ("type a_t;\nallow a_t self:ability chown:1;", "2:30: error: ability `chown` takes no value: found a number"),
        ("type a_t;\nallow a_t self:ability setuid:a_t;", "2:31: error: ability `setuid` takes numbers, not type names: found `a_t`"),
        ("type a_t;\nallow a_t self:ability settypeid:4;", "2:34: error: ability `settypeid` takes type names, not numbers: found a number"),
        ("type a_t;\nallow a_t self:ability settypeid:b_t;", "2:34: error: undeclared type `b_t` in the values of `settypeid`"),
        ("type a_t;\nallow a_t self:ability teleport;", "2:24: error: unknown ability `teleport` (not a Linux capability or QNX ability; declare a custom one with `ability teleport;`)"),
        ("type a_t;\nallow a_t self:ability x/y:1,a_t;", "2:24: error: ability `x/y` mixes numbers and type names"),
        ("type my-app;", "1:6: error: invalid type name `my-app`: it contains a hyphen (only letters, digits and `_` are allowed)"),
        ("type 9a;", "1:6: error: expected a type name, found `9a`"),
        ("type self;", "1:6: error: invalid type name `self`: `self` is reserved"),
        ("type a_t;\ntype a_t;", "2:6: error: type `a_t` is already declared as a type at 1:6"),
        ("attribute a_t;\ntype a_t;", "2:6: error: type `a_t` is already declared as an attribute at 1:11"),
        ("type a_t, nosuch;", "1:11: error: undeclared attribute `nosuch` (declare it with `attribute nosuch;`)"),
        ("type a_t;\ntype b_t, a_t;", "2:11: error: `a_t` is a type, not an attribute"),
        ("ability setuid;", "1:9: error: `setuid` is a predefined ability and cannot be declared"),
        ("ability x/y;\nability x/y;", "2:9: error: ability `x/y` is already declared"),
        ("type a_t;\nallow_attach a_t /a//b;", "2:18: error: path `/a//b` is not canonical (no empty, `.` or `..` components, no trailing `/`)"),
        ("type a_t;\nallow_link a_t /.../x;", "2:16: error: path `/.../x`: `...` may only be the last component"),
        ("type a_t;\nallow a_t b_t:channel connect;", "2:11: error: undeclared type `b_t` (declare it with `type b_t;`)"),
        ("type a_t;\ntype b_t;\nderive_type a_t p b_t;\nderive_type a_t p a_t;", "4:19: error: `derive_type a_t p` already derives `b_t`, not `a_t`"),
        ("attribute at;\ntype a_t;\nderive_type at p a_t;", "3:13: error: `at` is an attribute; derive_type needs types"),
    ];
    for (text, expected) in cases {
        let errs = errors_of(text);
        assert!(
            errs.iter().any(|e| e.starts_with(expected)),
            "for {text:?}\n expected {expected:?}\n got {errs:?}"
        );
    }
}

#[test]
fn invalid_utf8_is_reported_at_its_byte() {
    let a = analyze(b"type a_t;\ntype b\xff_t;\n");
    assert!(a.policy.is_none());
    assert_eq!(
        a.diagnostics[0].display("f").to_string(),
        "f:2:7: error: invalid UTF-8 (byte 0xff); a policy is UTF-8 text"
    );
}

#[test]
fn a_huge_input_is_refused_without_parsing() {
    let big = vec![b' '; MAX_POLICY_BYTES + 1];
    let a = analyze(&big);
    assert!(a.has_errors() && a.diagnostics[0].message.contains("too large"));
}

#[test]
fn error_count_is_bounded() {
    let text = "x;\n".repeat(1000);
    let a = analyze(text.as_bytes());
    assert!(a.diagnostics.len() <= syntax::MAX_ERRORS + 1, "{}", a.diagnostics.len());
    assert!(a.diagnostics.last().unwrap().message.starts_with("too many errors"));
}

#[test]
fn parse_error_displays_every_problem_like_a_compiler() {
    let e = parse("type a_t;\nallow b_t self:ability io;\ntype ;", "my.policy").unwrap_err();
    assert_eq!(
        e.to_string(),
        "my.policy has 2 errors\n\
         my.policy:2:7: error: undeclared type `b_t` (declare it with `type b_t;`)\n\
         my.policy:3:6: error: expected a type name, found `;`"
    );
}

#[test]
fn load_names_the_file() {
    let e = load(&testdata("no-such.policy")).unwrap_err();
    assert!(
        e.to_string().starts_with("cannot read policy ") && e.to_string().contains("no-such.policy"),
        "{e}"
    );
    assert_eq!(load(&testdata("devf-ram.policy")).unwrap(), parse(&read("devf-ram.policy"), "x").unwrap());
}

// ---------------------------------------------------------------- matching

fn matcher_policy() -> Policy {
    parse(
        "attribute clients;\n\
         type default;\n\
         type fs_t;\n\
         type user_t, clients;\n\
         type srv_t;\n\
         allow fs_t self:ability { pathspace setuid:100-200,300-400 mem_phys:0x1000- };\n\
         allow fs_t self:ability { nonroot setgid:5 settypeid:user_t };\n\
         allow fs_t self:channel connect;\n\
         allow clients fs_t:channel connect;\n\
         allow_attach fs_t { /dev/fsF* /fs/... };\n\
         allow_link user_t /tmp/libc*;\n\
         allow srv_t self:ability { unlock net_bind_service:80 };\n\
         allow srv_t self:ability { noinherit unlock sys_nice };\n\
         allow srv_t self:ability chown;\n",
        "m",
    )
    .unwrap()
}

#[test]
fn abilities_match_by_domain_and_one_subrange() {
    let p = matcher_policy();
    let d = |ev: EventKind| p.check("fs_t", &ev);
    assert_eq!(d(ability("pathspace", None, None, true)), Decision::Allowed);
    assert_eq!(d(ability("PATHSPACE", None, None, true)), Decision::Allowed);
    assert_eq!(d(ability("pathspace", None, None, false)), Decision::Denied(Denial::RootOnly));
    assert_eq!(d(ability("io", None, None, true)), Decision::Denied(Denial::NoRule));
    assert_eq!(d(ability("setuid", Some(r(150, 200)), None, true)), Decision::Allowed);
    assert_eq!(d(ability("setuid", Some(r(150, 350)), None, true)), Decision::Denied(Denial::OutsideRange));
    assert_eq!(d(ability("setuid", Some(r(0, 0)), None, true)), Decision::Denied(Denial::OutsideRange));
    assert_eq!(d(ability("setuid", None, None, true)), Decision::Allowed);
    assert_eq!(d(ability("mem_phys", Some(r(u64::MAX, u64::MAX)), None, true)), Decision::Allowed);
    // A nonroot grant serves root too.
    assert_eq!(d(ability("setgid", Some(r(5, 5)), None, false)), Decision::Allowed);
    assert_eq!(d(ability("setgid", Some(r(5, 5)), None, true)), Decision::Allowed);
    assert_eq!(d(ability("setgid", Some(r(6, 6)), None, false)), Decision::Denied(Denial::OutsideRange));
    // Type-valued subranges, through attributes too.
    assert_eq!(d(ability("settypeid", None, Some("user_t"), false)), Decision::Allowed);
    assert_eq!(d(ability("settypeid", None, Some("srv_t"), false)), Decision::Denied(Denial::OutsideRange));
    // channel_connect is allowed by a connect rule.
    assert_eq!(d(ability("channel_connect", None, Some("fs_t"), true)), Decision::Allowed);
    assert_eq!(p.check("user_t", &ability("channel_connect", None, Some("fs_t"), true)), Decision::Allowed);
    assert_eq!(
        p.check("srv_t", &ability("channel_connect", None, Some("fs_t"), true)),
        Decision::Denied(Denial::NoRule)
    );
    assert_eq!(p.check("nosuch_t", &ability("fork", None, None, true)), Decision::Denied(Denial::NoRule));
}

#[test]
fn paths_match_their_patterns() {
    let p = matcher_policy();
    let attach = |t: &str, path: &str| {
        p.check(t, &EventKind::Attach { path: path.into(), result: crate::event::AttachResult::Ok })
    };
    let link = |t: &str, path: &str| {
        p.check(
            t,
            &EventKind::Link { path: path.into(), target: None, result: crate::event::AttachResult::Ok },
        )
    };
    assert_eq!(attach("fs_t", "/dev/fsFp0"), Decision::Allowed);
    assert_eq!(attach("fs_t", "/fs"), Decision::Allowed);
    assert_eq!(attach("fs_t", "/fs/a/b"), Decision::Allowed);
    assert_eq!(attach("fs_t", "/"), Decision::Denied(Denial::NoRule));
    assert_eq!(link("fs_t", "/dev/fsFp0"), Decision::Denied(Denial::NoRule));
    assert_eq!(link("user_t", "/tmp/libc.so.5"), Decision::Allowed);
    assert_eq!(link("user_t", "/tmp/notlibc.so.5"), Decision::Denied(Denial::NoRule));
}

#[test]
fn connections_need_a_rule_unless_the_channel_is_default() {
    let p = matcher_policy();
    let connect = |t: &str, ch: &str| {
        p.check(
            t,
            &EventKind::Connect { path: "/x".into(), channel_type: ch.into(), verdict: Verdict::Allowed },
        )
    };
    assert_eq!(connect("fs_t", "fs_t"), Decision::Allowed);
    assert_eq!(connect("user_t", "fs_t"), Decision::Allowed);
    assert_eq!(connect("user_t", "user_t"), Decision::Denied(Denial::NoRule));
    assert_eq!(connect("srv_t", "fs_t"), Decision::Denied(Denial::NoRule));
    assert_eq!(connect("srv_t", "default"), Decision::Allowed);
}

#[test]
fn self_managed_capabilities_need_unlock() {
    let p = matcher_policy();
    let call = |name: &str, actions: Vec<CapAction>| {
        p.check(
            "srv_t",
            &EventKind::CapCall {
                call: "capset".into(),
                requests: vec![CapRequest { ability: name.into(), domain: CapDomain::Root, actions }],
                verdict: Verdict::Allowed,
            },
        )
    };
    assert_eq!(call("net_bind_service", vec![CapAction::Allow, CapAction::Inherit]), Decision::Allowed);
    assert_eq!(
        call("sys_nice", vec![CapAction::Inherit]),
        Decision::Denied(Denial::NotInheritable("sys_nice".into()))
    );
    assert_eq!(call("chown", vec![CapAction::Deny]), Decision::Denied(Denial::Locked("chown".into())));
    assert_eq!(call("sys_admin", vec![CapAction::Drop, CapAction::Lock]), Decision::Allowed);
    assert_eq!(call("sys_admin", vec![CapAction::Allow]), Decision::Denied(Denial::NoRule));
}

#[test]
fn other_kinds_are_not_governed() {
    let p = matcher_policy();
    for ev in [
        EventKind::Exec { path: "/bin/x".into() },
        EventKind::Exit { code: 0 },
        EventKind::Remote { address: "1.2.3.4:80".into(), verdict: Verdict::Allowed },
        EventKind::Signal { target_pid: 1, target_type: "fs_t".into(), signal: 9, verdict: Verdict::Allowed },
        EventKind::Unknown,
    ] {
        assert_eq!(p.check("fs_t", &ev), Decision::NotGoverned);
        assert!(p.check("fs_t", &ev).permits());
    }
}

// ---------------------------------------------------------------- building, merge, difference

#[test]
fn grant_mut_changes_keywords_and_comments_but_never_values() {
    let mut p = Policy::new();
    p.add_ability("a_t", "setuid", Domain::Root, Some(Value::Range(Subrange::value(33)))).unwrap();
    let g = p.grant_mut("a_t", "CAP_SETUID", Domain::Root).unwrap();
    g.unlock = true;
    g.comments.push("deny nonroot");
    assert_eq!(
        p.to_text(),
        "type a_t;\n\nallow a_t self:ability {\n    unlock\n    # deny nonroot\n    setuid:33\n};\n"
    );
    assert!(p.grant_mut("a_t", "setuid", Domain::NonRoot).is_none());
    assert!(p.grant_mut("b_t", "setuid", Domain::Root).is_none());
}

#[test]
fn learned_rules_build_a_policy_that_reads_back() {
    let mut p = Policy::new();
    p.header.push("generated by secpolgenerate");
    p.add_type("app_t").unwrap().comments.push("first seen: usr/bin/app (pid 12)");
    let g = p
        .add_ability("app_t", "CAP_SETUID", Domain::NonRoot, Some(Value::Range(Subrange::value(1000))))
        .unwrap();
    g.comments.push("first needed by usr/bin/app (pid 12) at 2026-01-02T03:04:05Z");
    p.add_ability("app_t", "setuid", Domain::NonRoot, Some(Value::Range(Subrange::value(1001)))).unwrap();
    let g = p.add_ability("app_t", "sys_nice", Domain::Root, None).unwrap();
    g.unlock = true;
    g.noinherit = true;
    g.comments.push("deny all lock");
    p.add_ability("app_t", "settypeid", Domain::Root, Some(Value::Type("other_t".into()))).unwrap();
    p.add_ability("app_t", "iofunc/read", Domain::Root, None).unwrap();
    p.add_ability("app_t", "my_ability", Domain::Root, None).unwrap();
    p.add_connect("app_t", ConnectTarget::Type("app_t".into())).unwrap();
    p.add_connect("app_t", ConnectTarget::Type("db_t".into())).unwrap();
    p.add_attach("app_t", "/run/app.sock").unwrap();
    p.add_link("app_t", "/tmp/app/...").unwrap();
    p.add_derivation("app_t", "/usr/bin/helper", "helper_t").unwrap();
    assert!(p.has_type("other_t") && p.has_type("db_t") && p.has_type("helper_t"));
    assert!(p.declared_abilities().contains_key("my_ability"));
    let rules = p.rules("app_t").unwrap();
    assert_eq!(
        rules.abilities(Domain::NonRoot)["setuid"].values,
        Values::Numbers(RangeSet::of(r(1000, 1001)))
    );
    assert!(rules.connects().contains_key(&ConnectTarget::SelfType));
    let text = p.to_text();
    assert_golden("learned.golden", &text);
    assert_eq!(parse(&text, "learned").unwrap(), p);
}

#[test]
fn the_api_refuses_what_the_language_cannot_say() {
    let mut p = Policy::new();
    assert!(matches!(p.add_type("my-app"), Err(ModelError::InvalidName { .. })));
    assert!(matches!(
        p.add_ability("a_t", "chown", Domain::Root, Some(Value::Range(r(1, 1)))),
        Err(ModelError::BadValue { .. })
    ));
    assert!(matches!(
        p.add_ability("a_t", "settypeid", Domain::Root, Some(Value::Range(r(1, 1)))),
        Err(ModelError::BadValue { .. })
    ));
    assert!(matches!(p.add_ability("a_t", "9lives", Domain::Root, None), Err(ModelError::InvalidAbility(_))));
    assert!(matches!(
        p.add_attach("a_t", "relative/path"),
        Err(ModelError::Pattern(PatternError::NotAbsolute(_)))
    ));
    assert!(matches!(
        p.add_attach("a_t", "/with space"),
        Err(ModelError::Pattern(PatternError::BadChar { .. }))
    ));
    assert!(matches!(p.add_derivation("a_t", "two words", "b_t"), Err(ModelError::InvalidProgram(_))));
    p.add_ability("a_t", "x/y", Domain::Root, Some(Value::Range(r(1, 1)))).unwrap();
    assert!(matches!(
        p.add_ability("a_t", "x/y", Domain::Root, Some(Value::Type("b_t".into()))),
        Err(ModelError::MixedValues { .. })
    ));
    p.add_attribute("attr").unwrap();
    assert!(matches!(p.add_type("attr"), Err(ModelError::NameClash { .. })));
    assert!(matches!(p.add_type_attribute("a_t", "nope"), Err(ModelError::UnknownAttribute(_))));
    // Comments cannot break the layout.
    let c = p.add_attach("a_t", "/x").unwrap();
    c.push("two\nlines  ");
    assert_eq!(c.lines(), ["two lines"]);
}

#[test]
fn merge_adds_rules_ranges_flags_and_comments() {
    let mut base =
        parse("type a_t;\nallow a_t self:ability { setuid:1-5 fork };\nallow_attach a_t /x;\n", "base")
            .unwrap();
    let learned = parse(
        "type a_t;\ntype b_t;\n\
         allow a_t self:ability {\n unlock\n # first needed by x\n setuid:6-9\n};\n\
         allow a_t self:ability fork:1;\n\
         allow b_t a_t:channel connect;\nallow_attach a_t /y;\n",
        "learned",
    )
    .unwrap();
    base.merge(&learned).unwrap();
    let rules = base.rules("a_t").unwrap().abilities(Domain::Root);
    assert_eq!(rules["setuid"].values, Values::Numbers(RangeSet::of(r(1, 9))));
    assert!(rules["setuid"].unlock);
    assert_eq!(rules["setuid"].comments.lines(), ["first needed by x"]);
    assert_eq!(rules["fork"].values, Values::Any, "an unranged grant stays unranged");
    assert_eq!(base.rules("a_t").unwrap().attaches().len(), 2);
    assert!(base.rules("b_t").unwrap().connects().contains_key(&ConnectTarget::Type("a_t".into())));
    // Merging is idempotent and commutative in meaning.
    let once = base.clone();
    base.merge(&learned).unwrap();
    assert_eq!(base, once);
}

#[test]
fn merge_conflicts_leave_the_policy_unchanged() {
    let mut a = parse("attribute x;\ntype a_t;\nallow a_t self:ability io;", "a").unwrap();
    let before = a.clone();
    let b = parse("type x;\ntype a_t;\nallow a_t self:ability fork;", "b").unwrap();
    assert!(matches!(a.merge(&b), Err(ModelError::NameClash { .. })));
    assert_eq!(a, before);
}

#[test]
fn difference_keeps_what_the_other_lacks() {
    let base = parse(
        "# base\n\ntype a_t;\ntype old_t;\n\
         allow a_t self:ability { setuid:0-100 fork chown io };\n\
         allow a_t self:ability { unlock sys_nice };\n\
         allow a_t self:ability settypeid:a_t,old_t;\n\
         allow a_t old_t:channel connect;\n\
         allow a_t self:channel connect;\n\
         allow_attach a_t { /dev/... /run/a.sock };\n\
         allow old_t self:ability fork;\n",
        "base",
    )
    .unwrap();
    let learned = parse(
        "type a_t;\n\
         allow a_t self:ability { setuid:4 fork };\n\
         allow a_t self:ability { nonroot chown };\n\
         allow a_t self:ability { sys_nice settypeid:a_t };\n\
         allow a_t self:channel connect;\n\
         allow_attach a_t /dev/null;\n\
         allow_attach a_t /run/...;\n",
        "learned",
    )
    .unwrap();
    let unused = base.difference(&learned);
    let expected = "type a_t;\n\
                    type old_t;\n\
                    \n\
                    allow a_t self:ability {\n    io\n    settypeid:old_t\n    setuid:0-3,5-100\n};\n\
                    allow a_t self:ability {\n    unlock\n    sys_nice\n};\n\
                    allow a_t old_t:channel connect;\n\
                    allow_attach a_t /dev/...;\n\
                    \n\
                    allow old_t self:ability fork;\n";
    assert_eq!(unused.to_text(), expected);
    // The difference is a valid policy on its own.
    assert_eq!(parse(&unused.to_text(), "unused").unwrap(), unused);
    assert!(learned.difference(&learned).is_empty());
    // An unranged base grant minus some values leaves the others.
    let any = parse("type a_t;\nallow a_t self:ability setuid;", "x").unwrap();
    let some = parse("type a_t;\nallow a_t self:ability setuid:0-9;", "y").unwrap();
    assert_eq!(any.difference(&some).to_text(), "type a_t;\n\nallow a_t self:ability setuid:10-;\n");
}

#[test]
fn a_header_alone_reads_back_as_a_header() {
    let mut p = Policy::new();
    p.header.push("only a header");
    assert_eq!(p.to_text(), "# only a header\n\n");
    assert_eq!(parse(&p.to_text(), "h").unwrap(), p);
    let mut q = Policy::new();
    q.trailing.push("only trailing");
    assert_eq!(parse(&q.to_text(), "t").unwrap(), q);
}

// ---------------------------------------------------------------- properties

const TYPES: [&str; 5] = ["a_t", "b_t", "fs_t", "Upper_T", "default"];
const ATTRS: [&str; 2] = ["clients", "servers"];
const NUMERIC: [&str; 6] = ["setuid", "setgid", "net_bind_service", "mem_phys", "priority", "io"];
const PLAIN: [&str; 6] = ["fork", "sys_admin", "chown", "pathspace", "checkpoint_restore", "iofunc/read"];

#[derive(Debug, Clone)]
enum Op {
    Type(usize, Option<usize>, String),
    Numeric(usize, usize, bool, u64, u64, bool, bool, String),
    Plain(usize, usize, bool, bool, String),
    Typed(usize, usize, bool),
    Custom(usize, bool),
    Connect(usize, Option<usize>, String),
    Attach(usize, bool, String, String),
    Derive(usize, String, usize),
    Header(String),
    Trailing(String),
}

fn comment() -> impl Strategy<Value = String> {
    "[ -~]{0,24}"
}

fn op() -> impl Strategy<Value = Op> {
    let t = 0..TYPES.len();
    prop_oneof![
        (t.clone(), proptest::option::of(0..ATTRS.len()), comment()).prop_map(|(a, b, c)| Op::Type(a, b, c)),
        (
            t.clone(),
            0..NUMERIC.len(),
            any::<bool>(),
            any::<u64>(),
            0u64..1000,
            any::<bool>(),
            any::<bool>(),
            comment()
        )
            .prop_map(|(a, b, c, d, e, f, g, h)| Op::Numeric(a, b, c, d, e, f, g, h)),
        (t.clone(), 0..PLAIN.len(), any::<bool>(), any::<bool>(), comment())
            .prop_map(|(a, b, c, d, e)| Op::Plain(a, b, c, d, e)),
        (t.clone(), t.clone(), any::<bool>()).prop_map(|(a, b, c)| Op::Typed(a, b, c)),
        (t.clone(), any::<bool>()).prop_map(|(a, b)| Op::Custom(a, b)),
        (t.clone(), proptest::option::of(t.clone()), comment()).prop_map(|(a, b, c)| Op::Connect(a, b, c)),
        (t.clone(), any::<bool>(), "(/[a-z0-9._*-]{1,6}){0,3}(/\\.\\.\\.)?", comment())
            .prop_map(|(a, b, c, d)| Op::Attach(a, b, c, d)),
        (t.clone(), "[a-z][a-z0-9_.-]{0,8}|/usr/bin/[a-z]{1,5}", t).prop_map(|(a, b, c)| Op::Derive(a, b, c)),
        comment().prop_map(Op::Header),
        comment().prop_map(Op::Trailing),
    ]
}

fn apply(p: &mut Policy, op: &Op) {
    let dom = |nonroot: bool| if nonroot { Domain::NonRoot } else { Domain::Root };
    match op {
        Op::Type(t, attr, c) => {
            let d = p.add_type(TYPES[*t]).unwrap();
            d.comments.push(c);
            if let Some(a) = attr {
                p.add_attribute(ATTRS[*a]).unwrap();
                p.add_type_attribute(TYPES[*t], ATTRS[*a]).unwrap();
            }
        }
        Op::Numeric(t, a, nonroot, lo, len, unlock, noinherit, c) => {
            let hi = if *len == 999 { u64::MAX } else { lo.saturating_add(*len) };
            let g = p
                .add_ability(
                    TYPES[*t],
                    NUMERIC[*a],
                    dom(*nonroot),
                    Some(Value::Range(Subrange { lo: *lo, hi })),
                )
                .unwrap();
            g.unlock |= unlock;
            g.noinherit |= noinherit;
            g.comments.push(c);
        }
        Op::Plain(t, a, nonroot, unlock, c) => {
            let g = p.add_ability(TYPES[*t], PLAIN[*a], dom(*nonroot), None).unwrap();
            g.unlock |= unlock;
            g.comments.push(c);
        }
        Op::Typed(t, target, nonroot) => {
            let name = if *nonroot { "channel_connect" } else { "settypeid" };
            p.add_ability(TYPES[*t], name, dom(*nonroot), Some(Value::Type(TYPES[*target].into()))).unwrap();
        }
        Op::Custom(t, nonroot) => {
            p.add_ability(TYPES[*t], "my_custom", dom(*nonroot), None).unwrap();
        }
        Op::Connect(t, target, c) => {
            let target = match target {
                None => ConnectTarget::SelfType,
                Some(o) => ConnectTarget::Type(TYPES[*o].into()),
            };
            p.add_connect(TYPES[*t], target).unwrap().push(c);
        }
        Op::Attach(t, link, path, c) => {
            let path = if path.is_empty() { "/".to_string() } else { path.clone() };
            let r = if *link { p.add_link(TYPES[*t], &path) } else { p.add_attach(TYPES[*t], &path) };
            // Generated components may be `.` or `..`: those are refused, as they must be.
            if let Ok(comments) = r {
                comments.push(c);
            }
        }
        Op::Derive(t, program, d) => {
            let _ = p.add_derivation(TYPES[*t], program, TYPES[*d]);
        }
        Op::Header(c) => p.header.push(c),
        Op::Trailing(c) => p.trailing.push(c),
    }
}

/// Mutations of a valid policy text: delete, duplicate or replace a span.
fn mutate(text: &str, edits: &[(usize, usize, u8, u8)]) -> Vec<u8> {
    const PIECES: [&[u8]; 12] =
        [b";", b"{", b"}", b"};", b":", b"-", b",", b"\n", b"#", b"0x", b"allow ", b"\xff"];
    let mut bytes = text.as_bytes().to_vec();
    for &(at, len, kind, piece) in edits {
        if bytes.is_empty() {
            break;
        }
        let at = at % bytes.len();
        let end = (at + len % 8).min(bytes.len());
        match kind % 3 {
            0 => {
                bytes.drain(at..end);
            }
            1 => {
                let dup: Vec<u8> = bytes[at..end].to_vec();
                bytes.splice(at..at, dup);
            }
            _ => {
                bytes.splice(at..end, PIECES[piece as usize % PIECES.len()].iter().copied());
            }
        }
    }
    bytes
}

/// Checks what every analysis must satisfy, whatever the input.
fn check_analysis(bytes: &[u8]) -> Result<(), TestCaseError> {
    let a = analyze(bytes);
    let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
    for d in &a.diagnostics {
        prop_assert!(d.pos.line >= 1 && d.pos.line <= lines && d.pos.col >= 1, "{d:?}");
        prop_assert!(!d.message.is_empty());
    }
    prop_assert_eq!(a.policy.is_some(), !a.has_errors());
    if let Some(p) = a.policy {
        let text = p.to_text();
        let again = parse(&text, "again");
        prop_assert!(again.is_ok(), "printed policy does not parse: {:?}\n{}", again.err(), text);
        prop_assert_eq!(again.unwrap(), p);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn printed_policies_parse_back_to_the_same_model(ops in proptest::collection::vec(op(), 0..40)) {
        let mut p = Policy::new();
        for op in &ops {
            apply(&mut p, op);
        }
        let text = p.to_text();
        let back = parse(&text, "printed");
        prop_assert!(back.is_ok(), "{}\n{}", back.as_ref().err().map(|e| e.to_string()).unwrap_or_default(), text);
        let back = back.unwrap();
        prop_assert_eq!(&back, &p, "{}", text);
        prop_assert_eq!(back.to_text(), text);
    }

    #[test]
    fn merge_and_difference_agree(a in proptest::collection::vec(op(), 0..20), b in proptest::collection::vec(op(), 0..20)) {
        let (mut pa, mut pb) = (Policy::new(), Policy::new());
        for op in &a { apply(&mut pa, op); }
        for op in &b { apply(&mut pb, op); }
        let mut merged = pa.clone();
        if merged.merge(&pb).is_ok() {
            // Nothing of either is missing from the merge.
            prop_assert!(pa.difference(&merged).is_empty(), "{}", pa.difference(&merged));
            prop_assert!(pb.difference(&merged).is_empty(), "{}", pb.difference(&merged));
            let text = merged.to_text();
            prop_assert_eq!(parse(&text, "merged").unwrap(), merged);
        }
        let d = pa.difference(&pb);
        prop_assert_eq!(parse(&d.to_text(), "diff").unwrap(), d);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        check_analysis(&bytes)?;
    }

    #[test]
    fn random_token_soup_never_panics(words in proptest::collection::vec(
        prop_oneof![
            Just("type"), Just("allow"), Just("allow_attach"), Just("allow_link"), Just("derive_type"),
            Just("attribute"), Just("ability"), Just("self"), Just(":"), Just(";"), Just("{"), Just("}"),
            Just(","), Just("-"), Just("a_t"), Just("b_t"), Just("setuid"), Just("io"), Just("nonroot"),
            Just("unlock"), Just("channel"), Just("connect"), Just("/x/..."), Just("*"), Just("0x10"),
            Just("5"), Just("#c\n"), Just("\n"), Just("settypeid"),
        ], 0..80)) {
        let text = words.join(" ");
        check_analysis(text.as_bytes())?;
    }

    #[test]
    fn mutated_policies_never_panic(edits in proptest::collection::vec((any::<usize>(), any::<usize>(), any::<u8>(), any::<u8>()), 1..6)) {
        for seed in ["language.policy", "devf-ram.policy", "io_pkt.policy"] {
            check_analysis(&mutate(&read(seed), &edits))?;
        }
    }
}

#[test]
fn an_error_inside_a_block_does_not_hide_the_next_ones() {
    let text = "type a_t;\n\
                allow a_t self:ability {\n  setuid:-\n  teleport\n  fork\n};\n\
                allow_attach a_t {\n  /ok\n  relative\n  /a//b\n};\n\
                type b-t;\n";
    assert_eq!(
        errors_of(text),
        [
            "3:10: error: expected a number or type name, found `-` (negative values are not supported)",
            "4:3: error: unknown ability `teleport` (not a Linux capability or QNX ability; declare a custom one with `ability teleport;`)",
            "9:3: error: expected a path starting with `/` or `}`, found `relative`",
            "10:3: error: path `/a//b` is not canonical (no empty, `.` or `..` components, no trailing `/`)",
            "12:6: error: invalid type name `b-t`: it contains a hyphen (only letters, digits and `_` are allowed)",
        ]
    );
}

#[test]
fn keywords_and_self_in_any_case() {
    let p =
        parse("TYPE a_t;\nALLOW a_t SELF:ABILITY { NONROOT Fork };\nAllow a_t Self:Channel Connect;\n", "u")
            .unwrap();
    let rules = p.rules("a_t").unwrap();
    assert!(rules.abilities(Domain::NonRoot).contains_key("fork"));
    assert!(rules.connects().contains_key(&ConnectTarget::SelfType));
    assert!(errors_of("type SELF;")[0].contains("`self` is reserved"));
}

#[test]
fn large_inputs_cost_linear_time() {
    // 100,000 values in descending order, 100,000 distinct comment lines on one item and in
    // the header: quadratic handling of any of them would take minutes.
    let values: Vec<String> = (0..100_000u64).rev().map(|v| (v * 2).to_string()).collect();
    let comments: String = (0..100_000).map(|i| format!("# note {i}\n")).collect();
    let text =
        format!("{comments}\n{comments}type a_t;\nallow a_t self:ability setuid:{};\n", values.join(","));
    let start = std::time::Instant::now();
    let p = parse(&text, "big").unwrap();
    let mut merged = p.clone();
    merged.merge(&p).unwrap();
    let elapsed = start.elapsed();
    assert_eq!(p.header.lines().len(), 100_000);
    assert_eq!(p.types()["a_t"].comments.lines().len(), 100_000);
    let Values::Numbers(set) = &p.rules("a_t").unwrap().abilities(Domain::Root)["setuid"].values else {
        panic!("numbers expected");
    };
    assert_eq!(set.ranges().len(), 100_000);
    assert_eq!(merged, p);
    assert!(elapsed < std::time::Duration::from_secs(30), "took {elapsed:?}");
}
