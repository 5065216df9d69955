//! `secpolctl export --systemd|--docker|--podman|--kubernetes|--json TYPE`: a type's
//! privileges in the words of other tools, for people who enforce with systemd, a container
//! runtime or Kubernetes instead of `secpolctl on`.
//!
//! The systemd drop-in (`[Service]`) carries, above each setting, a comment naming the
//! learned rules it comes from (or the rule it stands for the absence of):
//! `CapabilityBoundingSet=`, `AmbientCapabilities=` (the non-root grants, for a service
//! with a non-root `User=`), `NoNewPrivileges=yes`, `SocketBindAllow=`/`SocketBindDeny=any`
//! when `net_bind_service` is learned for some ports only, and the protections the lack
//! of a capability implies (`ProtectKernelModules=` without `sys_module`, ...). `--write`
//! installs it as `/etc/systemd/system/UNIT.d/secpol.conf`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use secpol::cgroup_types;
use secpol::endpoint::RuntimeDir;
use secpol::policy::{Domain, Policy};

use crate::restrictions::Restrictions;
use crate::rules::{rules, Grant, Rule};
use crate::{plan, policy_source};

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A systemd drop-in: `[Service]` with capability, privilege and socket settings.
    Systemd,
    /// `docker run` flags.
    Docker,
    /// `podman run` flags (the same as docker's).
    Podman,
    /// A Kubernetes container `securityContext` (YAML).
    Kubernetes,
    /// A JSON object.
    Json,
}

/// Where `--write` puts a drop-in.
#[derive(Debug, Clone)]
pub struct Write {
    /// The unit (`nginx.service`); `None`: the unit whose name gives the type.
    pub unit: Option<String>,
    /// The root of the file system holding `/etc/systemd/system` (`/` normally).
    pub root: PathBuf,
}

fn cap_names(set: &BTreeSet<u32>) -> Vec<String> {
    set.iter()
        .filter_map(|n| secpol::ability::capability_name(*n))
        .map(|n| format!("CAP_{}", n.to_ascii_uppercase()))
        .collect()
}

/// The rules of a type (its own and its attributes') that grant each capability.
struct Sources {
    rules: Vec<Rule>,
    names: BTreeSet<String>,
}

impl Sources {
    fn of(policy: &Policy, type_name: &str) -> Self {
        let mut names: BTreeSet<String> = BTreeSet::from([type_name.to_string()]);
        if let Some(decl) = policy.types().get(type_name) {
            names.extend(decl.attributes.iter().cloned());
        }
        let rules = rules(policy).into_iter().filter(|r| names.contains(&r.subject)).collect();
        Sources { rules, names }
    }

    /// The rules granting capability `cap` (in `domain` only, when given).
    fn granting(&self, cap: u32, domain: Option<Domain>) -> Vec<&Rule> {
        let Some(name) = secpol::ability::capability_name(cap) else { return Vec::new() };
        self.rules
            .iter()
            .filter(|r| {
                matches!(&r.grant, Grant::Ability { name: n, domain: d }
                    if n == name && domain.is_none_or(|want| want == *d))
            })
            .collect()
    }

    /// Comment lines citing the rules that grant the capabilities of `set`.
    fn cite(&self, set: &BTreeSet<u32>, domain: Option<Domain>) -> Vec<String> {
        set.iter()
            .flat_map(|&cap| self.granting(cap, domain))
            .map(|r| format!("{} <- {}", r.text, r.provenance))
            .collect()
    }

    fn has(&self, ability: &str) -> bool {
        secpol::ability::capability_number(ability).is_some_and(|c| !self.granting(c, None).is_empty())
    }

    fn subjects(&self) -> String {
        self.names.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// Protections the lack of a capability implies: (capability, setting, why).
const IMPLIED: [(&str, &str, &str); 4] = [
    ("sys_module", "ProtectKernelModules=yes", "no rule grants sys_module: no kernel modules are loaded"),
    ("syslog", "ProtectKernelLogs=yes", "no rule grants syslog: the kernel log is not read"),
    ("sys_admin", "ProtectHostname=yes", "no rule grants sys_admin: the host name is not changed"),
    ("sys_nice", "RestrictRealtime=yes", "no rule grants sys_nice: no realtime scheduling"),
];

fn comment(out: &mut String, lines: &[String]) {
    for l in lines {
        let _ = writeln!(out, "# {l}");
    }
}

fn systemd(r: &Restrictions, origin: &str, src: &Sources, section: &str) -> String {
    let bounding: BTreeSet<u32> = r.root.union(&r.nonroot).copied().collect();
    let mut s = format!("# secpol type {} (policy: {origin})\n", r.type_name);
    for n in &r.notes {
        s.push_str(&format!("# note: {n}\n"));
    }
    let _ = writeln!(s, "[{section}]");
    let none = |what: &str| vec![format!("no rule of {} grants {what}", src.subjects())];
    let cited = src.cite(&bounding, None);
    comment(&mut s, if cited.is_empty() { none("a Linux capability") } else { cited }.as_slice());
    s.push_str(&format!("CapabilityBoundingSet={}\n", cap_names(&bounding).join(" ")));
    let cited = src.cite(&r.nonroot, Some(Domain::NonRoot));
    let ambient = if cited.is_empty() {
        none("a capability as non-root")
    } else {
        let mut c = vec!["for a service running as a non-root User=:".to_string()];
        c.extend(cited);
        c
    };
    comment(&mut s, &ambient);
    s.push_str(&format!("AmbientCapabilities={}\n", cap_names(&r.nonroot).join(" ")));
    comment(&mut s, &["no_new_privs, as `secpolctl on` runs every type".to_string()]);
    s.push_str("NoNewPrivileges=yes\n");
    if let Some(ports) = &r.privileged_ports {
        let cap = secpol::ability::capability_number("net_bind_service").unwrap_or(10);
        comment(&mut s, &src.cite(&BTreeSet::from([cap]), None));
        for p in ports {
            if p.start() == p.end() {
                let _ = writeln!(s, "SocketBindAllow={}", p.start());
            } else {
                let _ = writeln!(s, "SocketBindAllow={}-{}", p.start(), p.end());
            }
        }
        comment(&mut s, &["ports from 1024 need no capability, so secpol does not learn them".to_string()]);
        s.push_str("SocketBindAllow=1024-65535\n");
        comment(&mut s, &["every other port below 1024: no rule grants it".to_string()]);
        s.push_str("SocketBindDeny=any\n");
    }
    for (ability, setting, why) in IMPLIED {
        if !src.has(ability) {
            comment(&mut s, &[why.to_string()]);
            let _ = writeln!(s, "{setting}");
        }
    }
    s
}

fn kubernetes(r: &Restrictions, origin: &str, src: &Sources) -> String {
    let mut s = format!("# secpol type {} (policy: {origin})\n", r.type_name);
    for n in &r.notes {
        s.push_str(&format!("# note: {n}\n"));
    }
    s.push_str("securityContext:\n  # no_new_privs, as `secpolctl on` runs every type\n");
    s.push_str("  allowPrivilegeEscalation: false\n  capabilities:\n    drop:\n      - ALL\n");
    if r.root.is_empty() {
        let _ = writeln!(s, "    # no rule of {} grants a Linux capability\n    add: []", src.subjects());
        return s;
    }
    s.push_str("    add:\n");
    for &cap in &r.root {
        for rule in src.granting(cap, None) {
            let _ = writeln!(s, "      # {} <- {}", rule.text, rule.provenance);
        }
        if let Some(name) = secpol::ability::capability_name(cap) {
            let _ = writeln!(s, "      - {}", name.to_ascii_uppercase());
        }
    }
    s
}

/// Renders the restrictions of a type in `format`; `policy` gives the rules cited.
pub fn render(r: &Restrictions, policy: &Policy, origin: &str, format: Format) -> String {
    render_section(r, policy, origin, format, "Service")
}

fn render_section(r: &Restrictions, policy: &Policy, origin: &str, format: Format, section: &str) -> String {
    let src = Sources::of(policy, &r.type_name);
    let bounding: BTreeSet<u32> = r.root.union(&r.nonroot).copied().collect();
    match format {
        Format::Systemd => systemd(r, origin, &src, section),
        Format::Kubernetes => kubernetes(r, origin, &src),
        Format::Docker | Format::Podman => {
            let mut s = String::from("--cap-drop ALL");
            for c in cap_names(&r.root) {
                s.push_str(&format!(" --cap-add {}", c.trim_start_matches("CAP_")));
            }
            s.push_str(" --security-opt no-new-privileges\n");
            s
        }
        Format::Json => {
            let paths = |v: &Option<Vec<std::path::PathBuf>>| {
                v.as_ref().map(|v| v.iter().map(|p| p.display().to_string()).collect::<Vec<_>>())
            };
            let provenance: BTreeMap<String, Vec<serde_json::Value>> = bounding
                .iter()
                .filter_map(|&cap| {
                    let rules: Vec<serde_json::Value> = src
                        .granting(cap, None)
                        .iter()
                        .map(|r| serde_json::json!({"rule": r.text, "from": r.provenance.to_string()}))
                        .collect();
                    Some((
                        format!("CAP_{}", secpol::ability::capability_name(cap)?.to_ascii_uppercase()),
                        rules,
                    ))
                })
                .collect();
            let obj = serde_json::json!({
                "type": r.type_name,
                "policy": origin,
                "root": cap_names(&r.root),
                "nonroot": cap_names(&r.nonroot),
                "bounding": cap_names(&bounding),
                "ambient": cap_names(&r.nonroot),
                "privileged_ports": r.privileged_ports.as_ref().map(|v| v.iter().map(|p| [*p.start(), *p.end()]).collect::<Vec<_>>()),
                "sockets_beneath": paths(&r.sock_beneath),
                "links_beneath": paths(&r.link_beneath),
                "provenance": provenance,
                "notes": r.notes,
            });
            format!("{obj:#}\n")
        }
    }
}

/// Unit directories under `root`, most specific first.
const UNIT_DIRS: [&str; 4] =
    ["etc/systemd/system", "run/systemd/system", "usr/lib/systemd/system", "lib/systemd/system"];

/// The units whose automatic type is `type_name`: from the cgroups that exist now (they name
/// template instances, `getty@tty1.service`) and from the unit files under `root`.
fn units_of_type(type_name: &str, root: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    if let Ok(tree) = secpol::cgroup_types::TypeTree::open() {
        let mut stack = vec![(tree.mount().to_path_buf(), String::new())];
        while let Some((dir, rel)) = stack.pop() {
            let Ok(children) = std::fs::read_dir(&dir) else { continue };
            for c in children.flatten().filter(|c| c.file_type().is_ok_and(|t| t.is_dir())) {
                let Some(name) = c.file_name().to_str().map(str::to_string) else { continue };
                let rel = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
                match cgroup_types::system_unit(&rel) {
                    Some(unit) if unit == name => {
                        if cgroup_types::unit_type(unit).as_deref() == Some(type_name) {
                            found.insert(unit.to_string());
                        }
                    }
                    Some(_) => {}
                    None => stack.push((c.path(), rel)),
                }
            }
        }
    }
    for dir in UNIT_DIRS {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else { continue };
        for e in entries.flatten() {
            let Some(name) = e.file_name().to_str().map(str::to_string) else { continue };
            if (name.ends_with(".service") || name.ends_with(".socket"))
                && cgroup_types::unit_type(&name).as_deref() == Some(type_name)
            {
                found.insert(name);
            }
        }
    }
    found
}

/// Checks a unit name given with `--unit`.
fn check_unit(unit: &str) -> anyhow::Result<()> {
    let ok = (unit.ends_with(".service") || unit.ends_with(".socket"))
        && !unit.starts_with('.')
        && unit.chars().all(|c| c.is_ascii_alphanumeric() || ":-_.\\@".contains(c));
    anyhow::ensure!(ok, "bad unit name {unit:?}: expected a NAME.service or NAME.socket unit");
    Ok(())
}

/// The unit a drop-in for `type_name` is for.
fn unit_for(type_name: &str, w: &Write) -> anyhow::Result<String> {
    if let Some(u) = &w.unit {
        check_unit(u)?;
        return Ok(u.clone());
    }
    let units = units_of_type(type_name, &w.root);
    match units.len() {
        1 => Ok(units.into_iter().next().expect("one unit")),
        0 => anyhow::bail!(
            "type {type_name} is not the type of a systemd unit here (no unit cgroup or unit file under {} \
             gives it); name the unit with --unit",
            w.root.display()
        ),
        _ => anyhow::bail!(
            "type {type_name} is the type of several units ({}); name one with --unit",
            units.into_iter().collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Prints (or, with `write`, installs) the export of `type_name`.
pub fn run(
    dir: &RuntimeDir,
    policy: Option<&Path>,
    type_name: &str,
    format: Format,
    write: Option<&Write>,
) -> anyhow::Result<ExitCode> {
    let loaded = policy_source::load(dir, policy)?;
    let r = plan::restrictions(&loaded.policy, type_name, &loaded.origin)?;
    let Some(w) = write else {
        print!("{}", render(&r, &loaded.policy, &loaded.origin, format));
        return Ok(ExitCode::SUCCESS);
    };
    anyhow::ensure!(format == Format::Systemd, "--write installs systemd drop-ins: it needs --systemd");
    let unit = unit_for(type_name, w)?;
    let section = if unit.ends_with(".socket") { "Socket" } else { "Service" };
    let text = render_section(&r, &loaded.policy, &loaded.origin, format, section);
    let drop_in = w.root.join("etc/systemd/system").join(format!("{unit}.d"));
    std::fs::create_dir_all(&drop_in).with_context(|| format!("cannot create {}", drop_in.display()))?;
    let path = drop_in.join("secpol.conf");
    secpol::files::write_atomic(&path, text.as_bytes(), 0o644)
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("{}", path.display());
    eprintln!(
        "secpolctl: wrote {}; apply it with `systemctl daemon-reload && systemctl restart {unit}`",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEB: &str = "type web_t;\nallow web_t self:ability {\n\
                       # learned: usr/sbin/nginx (pid 812) 2026-11-29T10:41:41Z\n\
                       net_bind_service\n# learned: usr/sbin/nginx (pid 812) 2026-11-29T10:41:41Z\nsetuid };\n\
                       allow web_t self:ability { nonroot net_bind_service };\n";

    fn web(text: &str) -> (Restrictions, Policy) {
        let p = secpol::policy::parse(text, "p").unwrap();
        (plan::restrictions(&p, "web_t", "p").unwrap(), p)
    }

    #[test]
    fn systemd_lines() {
        let (r, p) = web(WEB);
        let s = render(&r, &p, "p", Format::Systemd);
        assert!(s.contains("\n[Service]\n"), "{s}");
        assert!(s.contains("\nCapabilityBoundingSet=CAP_SETUID CAP_NET_BIND_SERVICE\n"), "{s}");
        assert!(s.contains("\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n"), "{s}");
        assert!(
            s.contains("# allow web_t self:ability { net_bind_service }; <- usr/sbin/nginx (pid 812), first 2026-11-29T10:41:41Z\n"),
            "{s}"
        );
        assert!(!s.contains("SocketBind"), "any port: no port rules\n{s}");
        assert!(s.contains("\nProtectKernelModules=yes\n") && s.contains("\nRestrictRealtime=yes\n"), "{s}");
        // Every setting has a comment right above it.
        let lines: Vec<&str> = s.lines().collect();
        for (i, l) in lines.iter().enumerate().filter(|(_, l)| !l.starts_with('#') && l.contains('=')) {
            assert!(lines[i - 1].starts_with('#'), "{l} has no comment\n{s}");
        }
    }

    #[test]
    fn learned_ports_become_socket_bind_rules() {
        let (r, p) = web("type web_t;\nallow web_t self:ability { net_bind_service:80,443 sys_admin };\n");
        let s = render(&r, &p, "p", Format::Systemd);
        assert!(
            s.contains("\nSocketBindAllow=80\nSocketBindAllow=443\n# ports from 1024 need no capability, so secpol does not learn them\nSocketBindAllow=1024-65535\n# every other port below 1024: no rule grants it\nSocketBindDeny=any\n"),
            "{s}"
        );
        assert!(!s.contains("ProtectHostname"), "sys_admin is granted\n{s}");
    }

    #[test]
    fn docker_and_podman_flags() {
        let (r, p) = web(WEB);
        let want =
            "--cap-drop ALL --cap-add SETUID --cap-add NET_BIND_SERVICE --security-opt no-new-privileges\n";
        assert_eq!(render(&r, &p, "p", Format::Docker), want);
        assert_eq!(render(&r, &p, "p", Format::Podman), want);
    }

    #[test]
    fn kubernetes_security_context() {
        let (r, p) = web(WEB);
        let s = render(&r, &p, "p", Format::Kubernetes);
        assert!(s.contains("securityContext:\n"), "{s}");
        assert!(s.contains("  allowPrivilegeEscalation: false\n"), "{s}");
        assert!(s.contains("    drop:\n      - ALL\n    add:\n"), "{s}");
        assert!(s.contains("      - SETUID\n") && s.contains("      - NET_BIND_SERVICE\n"), "{s}");
        let (r, p) = web("type web_t;\n");
        assert!(render(&r, &p, "p", Format::Kubernetes).contains("    add: []\n"));
    }

    #[test]
    fn json_object() {
        let (r, p) = web(WEB);
        let v: serde_json::Value = serde_json::from_str(&render(&r, &p, "p", Format::Json)).unwrap();
        assert_eq!(v["type"], "web_t");
        assert_eq!(v["ambient"], serde_json::json!(["CAP_NET_BIND_SERVICE"]));
        assert_eq!(
            v["provenance"]["CAP_SETUID"][0]["from"],
            "usr/sbin/nginx (pid 812), first 2026-11-29T10:41:41Z"
        );
    }

    #[test]
    fn units_are_found_by_their_type() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().to_path_buf();
        std::fs::create_dir_all(tmp.join("lib/systemd/system")).unwrap();
        std::fs::write(tmp.join("lib/systemd/system/exp-demo.service"), "[Service]\n").unwrap();
        std::fs::write(tmp.join("lib/systemd/system/exp_demo.service"), "[Service]\n").unwrap();
        let w = |unit: Option<&str>| Write { unit: unit.map(str::to_string), root: tmp.clone() };
        let e = unit_for("exp_demo_service_t", &w(None)).unwrap_err().to_string();
        assert!(e.contains("several units (exp-demo.service, exp_demo.service)"), "{e}");
        std::fs::remove_file(tmp.join("lib/systemd/system/exp_demo.service")).unwrap();
        assert_eq!(unit_for("exp_demo_service_t", &w(None)).unwrap(), "exp-demo.service");
        assert!(unit_for("web_t", &w(None)).unwrap_err().to_string().contains("name the unit with --unit"));
        assert_eq!(unit_for("web_t", &w(Some("nginx.service"))).unwrap(), "nginx.service");
        assert!(unit_for("web_t", &w(Some("../x.service"))).is_err());
        assert!(unit_for("web_t", &w(Some("nginx"))).is_err());
    }
}
