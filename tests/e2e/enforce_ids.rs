//! Issue 12: user and group subranges enforced. A restricted type with `setuid:33` may
//! switch to 33 and to nothing else, through the launcher's seccomp filter on the id
//! arguments of the set*id calls; the refusals reach the monitor and `errors` as the
//! ability the type lacked.

use crate::enforce::{enforcement_possible, on_policy};
use crate::kernel::{ok, on_with, Stack, LONG, PYTHON};
use crate::util::{wait_until, TempDir};

/// Tries each call in turn and prints `NAME ok` or `NAME EPERM`, then the ids it ended with.
const TRY_IDS: &str = "import os, errno\n\
def t(name, f, *a):\n\
\x20   try:\n        f(*a); print(name, 'ok')\n\
\x20   except OSError as e: print(name, errno.errorcode[e.errno])\n";

fn script(calls: &[&str]) -> String {
    let mut s = TRY_IDS.to_string();
    for c in calls {
        s.push_str(c);
        s.push('\n');
    }
    s.push_str("print('ids', os.getresuid(), os.getresgid(), os.getgroups())\n");
    s
}

fn policy_file(tmp: &TempDir, text: &str) -> std::path::PathBuf {
    let p = tmp.join("ids.policy");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn setuid_subrange_allows_only_its_ids() {
    if !enforcement_possible() {
        return;
    }
    let tmp = TempDir::new("ids-enforce");
    let policy = policy_file(&tmp, "type eids_t;\nallow eids_t self:ability { setuid:33 setgid:33 };\n");
    let calls = script(&[
        "t('setgroups [33]', os.setgroups, [33])",
        "t('setgroups []', os.setgroups, [])",
        "t('setgid 1000', os.setgid, 1000)",
        "t('setgid 0', os.setgid, 0)",
        "t('setresgid -1 33 -1', os.setresgid, -1, 33, -1)",
        "t('setgid 33', os.setgid, 33)",
        "t('setuid 1000', os.setuid, 1000)",
        "t('setuid 0', os.setuid, 0)",
        "t('setreuid -1 1000', os.setreuid, -1, 1000)",
        "t('setresuid -1 -1 -1', os.setresuid, -1, -1, -1)",
        "t('setuid 33', os.setuid, 33)",
    ]);
    let out = on_policy(&policy, &["-v"], &[], "eids_t", None, &[PYTHON, "-c", &calls]);
    ok(&out, "eids_t");
    crate::util::assert_same_text(
        "setgroups [33] EPERM\nsetgroups [] ok\nsetgid 1000 EPERM\nsetgid 0 EPERM\nsetresgid -1 33 -1 ok\n\
         setgid 33 ok\nsetuid 1000 EPERM\nsetuid 0 EPERM\nsetreuid -1 1000 EPERM\nsetresuid -1 -1 -1 ok\n\
         setuid 33 ok\nids (33, 33, 33) (33, 33, 33) []\n",
        &String::from_utf8_lossy(&out.stdout),
        "what eids_t could do",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    for step in [
        "secpolctl: eids_t: seccomp: setuid only to 33 (else EPERM)\n",
        "secpolctl: eids_t: seccomp: setgid only to 33 (else EPERM)\n",
        "secpolctl: eids_t: seccomp: setgroups only to clear the supplementary groups: Linux cannot check \
         the list setgroups passes by pointer, so a list is refused, even of allowed groups\n",
    ] {
        assert!(err.contains(step), "missing {step:?} in:\n{err}");
    }

    // Unranged setuid: no filter on user ids (the type may become anyone, as the policy says).
    let policy = policy_file(&tmp, "type eany_t;\nallow eany_t self:ability { setuid };\n");
    let out = on_policy(
        &policy,
        &[],
        &[],
        "eany_t",
        None,
        &[PYTHON, "-c", &script(&["t('setuid 1000', os.setuid, 1000)"])],
    );
    ok(&out, "eany_t");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("setuid 1000 ok\n"), "{out:?}");
}

#[test]
fn a_non_root_command_is_held_to_its_nonroot_ids() {
    if !enforcement_possible() {
        return;
    }
    let tmp = TempDir::new("ids-nonroot");
    // As nobody with CAP_SETUID (ambient): 1000 only.
    let policy = policy_file(&tmp, "type enr_t;\nallow enr_t self:ability { nonroot setuid:1000 };\n");
    let calls = script(&[
        "t('setuid 0', os.setuid, 0)",
        "t('setuid 2000', os.setuid, 2000)",
        "t('setresuid 1000 1000 1000', os.setresuid, 1000, 1000, 1000)",
    ]);
    let out = on_policy(&policy, &[], &[], "enr_t", Some("nobody"), &[PYTHON, "-c", &calls]);
    ok(&out, "enr_t as nobody");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(
            "setuid 0 EPERM\nsetuid 2000 EPERM\nsetresuid 1000 1000 1000 ok\nids (1000, 1000, 1000) (65534, 65534, 65534)"
        ),
        "{out:?}"
    );
}

#[test]
fn seccomp_refused_setuid_shows_as_lacking_ability() {
    let Some(stack) = Stack::start("ids-refused") else { return };
    let policy = stack.tmp.join("ids.policy");
    std::fs::write(&policy, "type erefused_t;\nallow erefused_t self:ability { setuid:33 };\n").unwrap();
    let opts = ["--policy".as_ref(), policy.as_os_str()];
    let calls = script(&["t('setuid 1000', os.setuid, 1000)", "t('setuid 33', os.setuid, 33)"]);
    let out = on_with(&opts, "erefused_t", None, &[PYTHON, "-c", &calls]);
    ok(&out, "erefused_t");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("setuid 1000 EPERM\nsetuid 33 ok\n"), "{out:?}");
    stack.wait_line("the refusal in the monitor", |l| {
        l.contains("error: ") && l.contains("type erefused_t lacks ability SETUID(1000) as root")
    });
    stack.wait_line("the allowed switch in the monitor", |l| {
        l.contains("type erefused_t uses ability SETUID(33) as root")
    });
    wait_until(LONG, "the refusal in errors", || {
        let e = stack.errors();
        e.contains("erefused_t") && e.contains("SETUID(1000)")
    });
}
