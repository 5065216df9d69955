//! `secpolctl check`: policy files validated like `secpolcompile` does, every mistake
//! reported with its position, exit status 1 on errors.

use std::process::Command;

use crate::util::{bin, repo_root, TempDir};

fn check(args: &[&std::path::Path]) -> (i32, String, String) {
    let out = Command::new(bin("secpolctl")).arg("check").args(args).output().expect("run secpolctl check");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_reports_three_mistakes_on_three_lines_and_fails() {
    let dir = TempDir::new("check3");
    let file = dir.join("three.policy");
    std::fs::write(
        &file,
        "type web_t;\n\
         allow web_t self:ability { setuid:1000-10 };\n\
         alow web_t self:channel connect;\n\
         allow db_t self:ability net_bind_service:5432;\n",
    )
    .unwrap();
    let (code, stdout, stderr) = check(&[&file]);
    let f = file.display();
    assert_eq!(code, 1, "stderr:\n{stderr}");
    assert_eq!(stdout, "");
    let expected = format!(
        "{f}:2:35: error: range start 1000 is above its end 10\n\
         {f}:3:1: error: unknown statement `alow`: expected `type`, `attribute`, `ability`, `allow`, `allow_attach`, `allow_link` or `derive_type`\n\
         {f}:4:7: error: undeclared type `db_t` (declare it with `type db_t;`)\n"
    );
    assert_eq!(stderr, expected);
}

#[test]
fn check_accepts_the_seed_policies_and_warns_about_the_stray_brace() {
    let data = repo_root().join("shared/core/testdata/policy");
    let (code, stdout, stderr) = check(&[&data.join("devf-ram.policy")]);
    assert_eq!((code, stdout.as_str(), stderr.as_str()), (0, "", ""));
    // Accepted, with a warning for each derive_type rule: Linux does not apply them.
    let language = data.join("language.policy");
    let (code, stdout, stderr) = check(&[&language]);
    assert_eq!((code, stdout.as_str()), (0, ""));
    let not_applied = |line: u32, parent: &str, program: &str, derived: &str| {
        format!(
            "{}:{line}:13: warning: derive_type {parent} {program} {derived} is not applied on Linux: a \
             process of type {parent} that runs {program} keeps type {parent} (`secpolctl on` refuses a \
             restricted {parent} unless --best-effort; see docs/enforce.md)\n",
            language.display()
        )
    };
    assert_eq!(
        stderr,
        not_applied(46, "sshd_t", "/usr/libexec/sftp-server", "fs_t")
            + &not_applied(47, "web_t", "cgi_runner", "server")
    );
    let io_pkt = data.join("io_pkt.policy");
    let (code, _, stderr) = check(&[&io_pkt]);
    assert_eq!(code, 0);
    assert_eq!(
        stderr,
        format!(
            "{}:19:3: warning: stray `}};` ignored (QNX's own io_pkt example ends in `}};}};`)\n",
            io_pkt.display()
        )
    );
}

#[test]
fn check_goes_on_after_a_bad_file_and_fails() {
    let dir = TempDir::new("checkmany");
    let good = dir.join("good.policy");
    std::fs::write(&good, "type a_t;\nallow a_t self:ability chown;\n").unwrap();
    let binary = dir.join("binary.policy");
    std::fs::write(&binary, b"type a_t;\n\x00\xff\xfe").unwrap();
    let missing = dir.join("missing.policy");
    let (code, _, stderr) = check(&[&missing, &binary, &good]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with(&format!("secpolctl: cannot read policy {}: ", missing.display())),
        "{stderr}"
    );
    assert_eq!(
        lines[1],
        format!("{}:2:2: error: invalid UTF-8 (byte 0xff); a policy is UTF-8 text", binary.display())
    );
}
