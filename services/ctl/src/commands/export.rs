//! `secpolctl export --systemd|--docker|--json TYPE`: a type's capabilities in the words of
//! other tools, for people who enforce with systemd or docker instead of `secpolctl on`.

use std::path::Path;
use std::process::ExitCode;

use secpol::endpoint::RuntimeDir;

use crate::enforce::Restrictions;
use crate::{plan, policy_source};

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `CapabilityBoundingSet=` / `AmbientCapabilities=` lines for a unit's `[Service]`.
    Systemd,
    /// `docker run` flags.
    Docker,
    /// A JSON object.
    Json,
}

fn cap_names(set: &std::collections::BTreeSet<u32>) -> Vec<String> {
    set.iter()
        .filter_map(|n| secpol::ability::capability_name(*n))
        .map(|n| format!("CAP_{}", n.to_ascii_uppercase()))
        .collect()
}

/// Renders the restrictions of a type in `format`.
pub fn render(r: &Restrictions, origin: &str, format: Format) -> String {
    let bounding: std::collections::BTreeSet<u32> = r.root.union(&r.nonroot).copied().collect();
    match format {
        Format::Systemd => {
            let mut s = format!("# secpol type {} (policy: {origin})\n", r.type_name);
            for n in &r.notes {
                s.push_str(&format!("# note: {n}\n"));
            }
            s.push_str(&format!("CapabilityBoundingSet={}\n", cap_names(&bounding).join(" ")));
            s.push_str(&format!("AmbientCapabilities={}\n", cap_names(&r.nonroot).join(" ")));
            s.push_str("NoNewPrivileges=yes\n");
            s
        }
        Format::Docker => {
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
                "notes": r.notes,
            });
            format!("{obj:#}\n")
        }
    }
}

/// Prints the export of `type_name`.
pub fn run(
    dir: &RuntimeDir,
    policy: Option<&Path>,
    type_name: &str,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let loaded = policy_source::load(dir, policy)?;
    let r = plan::restrictions(&loaded.policy, type_name, &loaded.origin)?;
    print!("{}", render(&r, &loaded.origin, format));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web() -> Restrictions {
        let p = secpol::policy::parse(
            "type web_t;\nallow web_t self:ability { net_bind_service setuid };\n\
             allow web_t self:ability { nonroot net_bind_service };\n",
            "p",
        )
        .unwrap();
        plan::restrictions(&p, "web_t", "p").unwrap()
    }

    #[test]
    fn systemd_lines() {
        let s = render(&web(), "p", Format::Systemd);
        assert!(s.contains("\nCapabilityBoundingSet=CAP_SETUID CAP_NET_BIND_SERVICE\n"), "{s}");
        assert!(s.contains("\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n"), "{s}");
    }

    #[test]
    fn docker_flags() {
        assert_eq!(
            render(&web(), "p", Format::Docker),
            "--cap-drop ALL --cap-add SETUID --cap-add NET_BIND_SERVICE --security-opt no-new-privileges\n"
        );
    }

    #[test]
    fn json_object() {
        let v: serde_json::Value = serde_json::from_str(&render(&web(), "p", Format::Json)).unwrap();
        assert_eq!(v["type"], "web_t");
        assert_eq!(v["ambient"], serde_json::json!(["CAP_NET_BIND_SERVICE"]));
    }
}
