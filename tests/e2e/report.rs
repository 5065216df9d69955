//! Issue 14, `secpolctl report --html`: the page of a running generator's policy and
//! failures, and of `--policy FILE --errors FILE`, opened in headless Chromium (Debian's
//! package) with the network off: the DOM it builds has the ranking (the most dangerous
//! type first), the matrix whose cells link to rules with provenance, the failures
//! timeline; and a screenshot is taken (`SECPOL_KEEP_TMP=1` keeps it to look at).

use std::path::Path;
use std::process::{Command, Stdio};

use secpol::event::Subrange;
use secpol::record::to_json_line;

use crate::generator::{ability, event, process, Gen};
use crate::util::{secpolctl, skip_or_fail};

/// Headless Chromium on `page`: `--dump-dom` output, and a screenshot at `png`.
fn chromium(page: &Path, png: &Path, profile: &Path) -> Option<String> {
    let Ok(exe) = which("chromium") else {
        skip_or_fail("chromium is not installed (scripts/setup.sh installs it)");
        return None;
    };
    let common = |c: &mut Command| {
        c.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            // Nothing may come from the network: any request would fail.
            "--proxy-server=127.0.0.1:9",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .stdin(Stdio::null());
    };
    let mut dom = Command::new(&exe);
    common(&mut dom);
    let out = dom.arg("--dump-dom").arg(format!("file://{}", page.display())).output().unwrap();
    assert!(out.status.success(), "chromium --dump-dom: {}", String::from_utf8_lossy(&out.stderr));
    let mut shot = Command::new(&exe);
    common(&mut shot);
    let st = shot
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1400,1000")
        .arg(format!("file://{}", page.display()))
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "chromium --screenshot failed");
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}

/// The events of a small machine: a web server, an admin tool holding sys_admin and
/// setuid to root, a backup tool with dac_read_search, and failures over two hours.
fn machine(g: &Gen) -> std::path::PathBuf {
    let web = |pid| process("rep_web_t", pid, "usr/sbin/nginx", 0);
    let adm = |pid| process("rep_adm_t", pid, "usr/sbin/admtool", 0);
    let bak = |pid| process("rep_backup_t", pid, "usr/bin/backup", 0);
    let events = [
        event(1, web(812), ability("net_bind_service", Some(Subrange::value(80)), true, true)),
        event(2, web(812), ability("setuid", Some(Subrange::value(33)), true, true)),
        event(3, adm(900), ability("sys_admin", None, true, true)),
        event(4, adm(900), ability("setuid", Some(Subrange::value(0)), true, true)),
        event(5, bak(950), ability("dac_read_search", None, true, true)),
        event(60, web(813), ability("sys_ptrace", None, true, false)),
        event(3600, process("rep_web_t", 814, "usr/sbin/nginx", 33), ability("kill", None, false, false)),
        event(7200, bak(951), ability("chown", None, true, false)),
    ];
    g.file("machine.rec", &events.iter().map(|e| to_json_line(e) + "\n").collect::<String>())
}

fn check_page(html: &str, dom: &str) {
    // Self-contained: no script, no stylesheet or image fetched, no URL but SVG's namespace.
    assert!(!html.contains("<script") && !html.contains(" src=") && !html.contains("<link"), "{html}");
    assert_eq!(html.matches("://").count(), 1, "only the SVG namespace names a URL");
    for id in ["id=\"ranking-table\"", "id=\"matrix-table\"", "id=\"timeline-chart\"", "id=\"summary\""] {
        assert!(dom.contains(id), "the page as Chromium built it lacks {id}");
    }
    // The most dangerous first: admin (sys_admin, setuid to root), then backup, then web.
    let table = &dom[dom.find("id=\"ranking-table\"").unwrap()..dom.find("id=\"matrix\"").unwrap()];
    let at = |t: &str| table.find(&format!(">{t}<")).unwrap_or_else(|| panic!("{t} not ranked: {table}"));
    assert!(at("rep_adm_t") < at("rep_backup_t") && at("rep_backup_t") < at("rep_web_t"), "{table}");
    assert!(table.contains("setuid to root</a> as root"), "{table}");
    // Cells link to rules, and the rules say who first needed them.
    assert!(dom.contains("href=\"#rule--rep_adm_t--sys_admin--root\""));
    let rule = &dom[dom.find("id=\"rule--rep_adm_t--sys_admin--root\"").expect("the rule")..];
    assert!(
        rule[..400.min(rule.len())].contains("first needed by <b>usr/sbin/admtool</b> (pid 900)"),
        "{rule}"
    );
    // Failures: root and non-root marks, linked.
    assert!(
        dom.contains("href=\"#fail--rep_web_t--sys_ptrace--root\"")
            && dom.contains("id=\"fail--rep_web_t--sys_ptrace--root\"")
    );
    assert!(dom.contains("href=\"#fail--rep_web_t--kill--nonroot\""));
    // Two hours of failures: one bar per minute would be too many, so hours; three with failures.
    assert!(dom.contains("one bar per hour"), "timeline scale");
    assert_eq!(dom.matches("<rect class=\"bar\"").count(), 3, "hours 0, 1 and 2");
}

#[test]
fn report_of_a_machine_in_headless_chromium() {
    let mut g = Gen::new("report-html");
    g.start(&["-u", "-N", "-f", "0.2"]);
    let rec = machine(&g);
    g.load(&rec);

    // From the running generator.
    let page = g.tmp.join("report.html");
    let (out, _) = secpolctl(&g.run_dir(), &["report", "--html", page.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    let png = g.tmp.join("report.png");
    let Some(dom) = chromium(&page, &png, &g.tmp.join("chromium-profile")) else { return };
    check_page(&html, &dom);
    let shot = std::fs::read(&png).expect("a screenshot");
    assert!(
        shot.starts_with(b"\x89PNG\r\n\x1a\n") && shot.len() > 10_000,
        "screenshot of {} bytes",
        shot.len()
    );

    // From files: the generator's outputs, as an admin would copy them off a machine.
    let (policy, errors) = (g.out_dir().join("policy"), g.out_dir().join("errors"));
    let page2 = g.tmp.join("files.html");
    let from_files = |errors: &Path| {
        let args = ["report", "--html", page2.to_str().unwrap(), "--policy", policy.to_str().unwrap()];
        secpolctl(&g.tmp.join("nowhere"), &[&args[..], &["--errors", errors.to_str().unwrap()]].concat()).0
    };
    let out = from_files(&errors);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html2 = std::fs::read_to_string(&page2).unwrap();
    let Some(dom2) = chromium(&page2, &g.tmp.join("files.png"), &g.tmp.join("chromium-profile2")) else {
        return;
    };
    check_page(&html2, &dom2);

    // A bad errors file is refused, naming the file and line.
    let bad = g.file("bad.errors", "# Failures, 1 of 1\n\nallow x_t self:ability kill;\n");
    let out = from_files(&bad);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains(&format!("{}:3: not a failure headline", bad.display())),
        "{err}"
    );
}
