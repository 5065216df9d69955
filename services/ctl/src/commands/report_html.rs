//! The HTML page of `secpolctl report`: one self-contained file (inline CSS and SVG, no
//! script, nothing fetched) for a person reviewing a whole machine's privileges.
//!
//! - a summary, then the types ranked by danger: a type holding `sys_admin`,
//!   `sys_module`, `sys_ptrace`, `dac_override`, `setuid` to root... comes first;
//! - a matrix of types by abilities: each cell says root / non-root, learned / failed, and
//!   links to the rule (with who first needed it) or the failure below;
//! - failures over time, a bar chart of when they were first seen;
//! - every type's rules and failures, each with an anchor the matrix links to.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::failures::{Failure, Lack};
use super::policy_view::{AbilityView, PolicyView, SubjectView};

/// How dangerous holding an ability is, 0..=10 (0: not a capability this list knows).
pub fn danger(ability: &str) -> u32 {
    match ability {
        "sys_admin" | "sys_module" => 10,
        "sys_rawio" | "sys_ptrace" | "bpf" | "setpcap" | "mac_admin" | "mac_override" => 9,
        "dac_override" | "setuid" | "setgid" | "setfcap" | "sys_boot" => 8,
        "dac_read_search" | "net_admin" | "perfmon" | "chown" | "fowner" | "linux_immutable" => 7,
        "sys_chroot" | "mknod" | "audit_control" | "sys_time" | "syslog" | "net_raw"
        | "checkpoint_restore" => 6,
        "kill" | "fsetid" | "ipc_owner" | "sys_resource" | "sys_pacct" => 5,
        "sys_nice" | "ipc_lock" | "lease" | "audit_write" | "audit_read" | "sys_tty_config" => 3,
        "net_bind_service" | "net_broadcast" | "wake_alarm" | "block_suspend" => 2,
        _ => 1,
    }
}

/// The danger of one grant: `setuid`/`setgid` that cannot reach uid 0 weigh less.
fn grant_danger(a: &AbilityView) -> u32 {
    match a.ability.as_str() {
        "setuid" | "setgid" if !a.reaches_root() => 4,
        name => danger(name),
    }
}

/// What one cell of the matrix holds.
#[derive(Default)]
struct Cell {
    learned_root: bool,
    learned_nonroot: bool,
    failed_root: bool,
    failed_nonroot: bool,
}

/// A type's rank: its most dangerous grant, then the sum of all of them.
fn rank(t: &SubjectView) -> (u32, u32) {
    let weights = t.abilities.iter().map(grant_danger);
    (weights.clone().max().unwrap_or(0), weights.sum())
}

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// An anchor id made only of safe characters.
fn anchor(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| {
            p.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '-' }).collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("--")
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SSZ`.
pub fn epoch(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let n = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, m, d, hh, mm, ss) = (n(0..4)?, n(5..7)?, n(8..10)?, n(11..13)?, n(14..16)?, n(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// The inputs of a report.
pub struct Review<'a> {
    /// The policy.
    pub policy: &'a PolicyView,
    /// Its failures (empty when none were given).
    pub failures: &'a [Failure],
    /// Where the failures came from, if anywhere.
    pub failures_source: Option<&'a str>,
    /// The machine's name.
    pub host: &'a str,
    /// When the report was made.
    pub generated: &'a str,
}

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#222}h1{margin-bottom:0}\
.muted{color:#666}table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:3px 6px;text-align:center}\
th.type,td.type{text-align:left;white-space:nowrap}thead th{position:sticky;top:0;background:#f4f4f4}\
th.cap{writing-mode:vertical-rl;transform:rotate(180deg);font-weight:normal;font-size:90%}\
th.d10,th.d9,th.d8{color:#a00;font-weight:bold}\
a.cell{display:inline-block;min-width:1.6em;padding:1px 3px;margin:1px;border-radius:3px;text-decoration:none;font-size:85%}\
a.learned{background:#fde2b8;color:#6a3d00}a.learned.root{background:#f7b267}\
a.failed{background:#f6c1c1;color:#800}a.failed.root{background:#e06666;color:#fff}\
.danger{display:inline-block;padding:0 6px;border-radius:8px;color:#fff}.danger.high{background:#b00}.danger.mid{background:#d80}.danger.low{background:#6a6}\
pre{background:#f7f7f7;padding:6px;margin:4px 0;white-space:pre-wrap}.rule{margin:6px 0 12px 0}\
.prov{font-size:90%;color:#444}section.type{border-top:2px solid #ddd;margin-top:1.5em}\
.legend a.cell{pointer-events:none}";

fn danger_badge(level: u32) -> String {
    let class = match level {
        8.. => "high",
        5..=7 => "mid",
        _ => "low",
    };
    format!("<span class=\"danger {class}\">{level}</span>")
}

fn notes_html(prov: &[super::policy_view::Provenance], comments: &[String]) -> String {
    let mut s = String::new();
    for p in prov {
        let _ = write!(
            s,
            "<div class=\"prov\">first needed by <b>{}</b> (pid {}) at {}</div>",
            esc(&p.process),
            p.pid,
            esc(&p.time)
        );
    }
    for c in comments {
        let _ = write!(s, "<div class=\"prov\"># {}</div>", esc(c));
    }
    if prov.is_empty() && comments.is_empty() {
        s.push_str("<div class=\"prov\">from the base policy (no provenance)</div>");
    }
    s
}

fn rule_text(t: &str, a: &AbilityView) -> String {
    let mut words = Vec::new();
    if a.domain == "nonroot" {
        words.push("nonroot".to_string());
    }
    if a.unlock {
        words.push("unlock".to_string());
    }
    if a.noinherit {
        words.push("noinherit".to_string());
    }
    words.push(format!("{}{}", a.ability, a.values_text()));
    if words.len() == 1 {
        format!("allow {t} self:ability {};", words[0])
    } else {
        format!("allow {t} self:ability {{ {} }};", words.join(" "))
    }
}

/// Renders the page.
pub fn render(r: &Review) -> String {
    // The types: those with rules or failures, most dangerous first.
    let failed_types: BTreeSet<&str> = r.failures.iter().map(|f| f.type_name.as_str()).collect();
    let mut types: Vec<&SubjectView> = r
        .policy
        .types
        .iter()
        .filter(|t| {
            !t.abilities.is_empty()
                || !t.attach.is_empty()
                || !t.link.is_empty()
                || !t.connect.is_empty()
                || failed_types.contains(t.name.as_str())
        })
        .collect();
    types.sort_by(|a, b| rank(b).cmp(&rank(a)).then(a.name.cmp(&b.name)));
    // Types that only failed and are not in the policy still get a row.
    let known: BTreeSet<&str> = types.iter().map(|t| t.name.as_str()).collect();
    let only_failed: Vec<&str> = failed_types.iter().copied().filter(|t| !known.contains(t)).collect();

    // The cells.
    let mut cells: BTreeMap<(&str, &str), Cell> = BTreeMap::new();
    for t in &types {
        for a in &t.abilities {
            let c = cells.entry((t.name.as_str(), a.ability.as_str())).or_default();
            if a.domain == "root" {
                c.learned_root = true;
            } else {
                c.learned_nonroot = true;
            }
        }
    }
    let mut other_failures: BTreeMap<&str, usize> = BTreeMap::new();
    for f in r.failures {
        match &f.lack {
            Lack::Ability { ability, root, .. } => {
                let c = cells.entry((f.type_name.as_str(), ability.as_str())).or_default();
                if *root {
                    c.failed_root = true;
                } else {
                    c.failed_nonroot = true;
                }
            }
            Lack::Other { .. } => *other_failures.entry(f.type_name.as_str()).or_default() += 1,
        }
    }
    let mut columns: Vec<&str> = cells.keys().map(|(_, a)| *a).collect::<BTreeSet<_>>().into_iter().collect();
    columns.sort_by(|a, b| danger(b).cmp(&danger(a)).then(a.cmp(b)));

    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>secpol report: {host}</title><style>{STYLE}</style></head><body>\n\
         <h1>secpol privileges of {host}</h1>\n<p class=\"muted\">policy: {src}{fsrc}; generated {gen} by secpolctl {ver}</p>\n",
        host = esc(r.host),
        src = esc(&r.policy.source),
        fsrc = r.failures_source.map(|s| format!("; failures: {}", esc(s))).unwrap_or_default(),
        gen = esc(r.generated),
        ver = env!("CARGO_PKG_VERSION"),
    );
    let grants: usize = types.iter().map(|t| t.abilities.len()).sum();
    let _ = writeln!(
        h,
        "<p id=\"summary\">{} types with rules, {} ability grants, {} failures recorded.</p>",
        types.len(),
        grants,
        r.failures.len()
    );

    // Ranking.
    h.push_str("<h2 id=\"ranking\">Most dangerous first</h2>\n<table id=\"ranking-table\"><thead><tr><th>danger</th><th class=\"type\">type</th><th class=\"type\">dangerous abilities</th><th>failures</th></tr></thead><tbody>\n");
    for t in &types {
        let (max, _) = rank(t);
        let mut held: Vec<&AbilityView> = t.abilities.iter().filter(|a| grant_danger(a) >= 6).collect();
        held.sort_by(|a, b| grant_danger(b).cmp(&grant_danger(a)).then(a.ability.cmp(&b.ability)));
        let list: Vec<String> = held
            .iter()
            .map(|a| {
                let id = anchor(&["rule", &t.name, &a.ability, a.domain]);
                let who = if a.domain == "root" { "as root" } else { "as non-root" };
                let to_root = if matches!(a.ability.as_str(), "setuid" | "setgid") && a.reaches_root() {
                    " to root"
                } else {
                    ""
                };
                format!("<a href=\"#{id}\">{}{}</a> {who}", esc(&a.ability), to_root)
            })
            .collect();
        let nfail = r.failures.iter().filter(|f| f.type_name == t.name).count();
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"type\"><a href=\"#{}\">{}</a></td><td class=\"type\">{}</td><td>{}</td></tr>",
            danger_badge(max),
            anchor(&["type", &t.name]),
            esc(&t.name),
            if list.is_empty() { "-".to_string() } else { list.join(", ") },
            nfail
        );
    }
    h.push_str("</tbody></table>\n");

    // Matrix.
    h.push_str(
        "<h2 id=\"matrix\">Types by abilities</h2>\n<p class=\"legend\">\
         <a class=\"cell learned root\">R</a> learned as root \
         <a class=\"cell learned\">N</a> learned as non-root (any uid) \
         <a class=\"cell failed root\">R!</a> failed as root \
         <a class=\"cell failed\">N!</a> failed as non-root; abilities most dangerous first; \
         each mark links to its rule or failure.</p>\n<table id=\"matrix-table\"><thead><tr><th class=\"type\">type</th>",
    );
    for c in &columns {
        let _ = write!(h, "<th class=\"cap d{}\" title=\"danger {}\">{}</th>", danger(c), danger(c), esc(c));
    }
    h.push_str("</tr></thead><tbody>\n");
    let rows: Vec<&str> = types.iter().map(|t| t.name.as_str()).chain(only_failed.iter().copied()).collect();
    for t in &rows {
        let _ = write!(h, "<tr><td class=\"type\"><a href=\"#{}\">{}</a></td>", anchor(&["type", t]), esc(t));
        for c in &columns {
            h.push_str("<td>");
            if let Some(cell) = cells.get(&(*t, *c)) {
                let marks = [
                    (cell.learned_root, "learned root", "R", anchor(&["rule", t, c, "root"])),
                    (cell.learned_nonroot, "learned", "N", anchor(&["rule", t, c, "nonroot"])),
                    (cell.failed_root, "failed root", "R!", anchor(&["fail", t, c, "root"])),
                    (cell.failed_nonroot, "failed", "N!", anchor(&["fail", t, c, "nonroot"])),
                ];
                for (on, class, text, id) in marks {
                    if on {
                        let _ = write!(h, "<a class=\"cell {class}\" href=\"#{id}\">{text}</a>");
                    }
                }
            }
            h.push_str("</td>");
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table>\n");

    // Failures over time.
    h.push_str("<h2 id=\"timeline\">Failures over time</h2>\n");
    h.push_str(&timeline(r.failures));

    // Per type.
    h.push_str("<h2 id=\"rules\">Rules and failures by type</h2>\n");
    for t in &types {
        let _ = writeln!(
            h,
            "<section class=\"type\" id=\"{}\"><h3>{} <span class=\"muted\">({})</span> {}</h3>",
            anchor(&["type", &t.name]),
            esc(&t.name),
            t.kind,
            danger_badge(rank(t).0)
        );
        if !t.attributes.is_empty() {
            let _ = writeln!(h, "<p>attributes: {}</p>", esc(&t.attributes.join(", ")));
        }
        let mut abilities: Vec<&AbilityView> = t.abilities.iter().collect();
        abilities.sort_by(|a, b| grant_danger(b).cmp(&grant_danger(a)).then(a.ability.cmp(&b.ability)));
        for a in abilities {
            let _ = writeln!(
                h,
                "<div class=\"rule\" id=\"{}\"><pre>{}</pre>{}</div>",
                anchor(&["rule", &t.name, &a.ability, a.domain]),
                esc(&rule_text(&t.name, a)),
                notes_html(&a.notes.provenance, &a.notes.comments)
            );
        }
        for (word, list) in [("allow_attach", &t.attach), ("allow_link", &t.link)] {
            for p in list {
                let _ = writeln!(
                    h,
                    "<div class=\"rule\"><pre>{} {} {};</pre>{}</div>",
                    word,
                    esc(&t.name),
                    esc(&p.target),
                    notes_html(&p.notes.provenance, &p.notes.comments)
                );
            }
        }
        for c in &t.connect {
            let _ = writeln!(
                h,
                "<div class=\"rule\"><pre>allow {} {}:channel connect;</pre>{}</div>",
                esc(&t.name),
                esc(&c.target),
                notes_html(&c.notes.provenance, &c.notes.comments)
            );
        }
        failures_html(&mut h, &t.name, r.failures);
        h.push_str("</section>\n");
    }
    for t in &only_failed {
        let _ = writeln!(
            h,
            "<section class=\"type\" id=\"{}\"><h3>{} <span class=\"muted\">(not in the policy)</span></h3>",
            anchor(&["type", t]),
            esc(t)
        );
        failures_html(&mut h, t, r.failures);
        h.push_str("</section>\n");
    }
    h.push_str("</body></html>\n");
    h
}

fn failures_html(h: &mut String, type_name: &str, failures: &[Failure]) {
    let mut seen = BTreeSet::new();
    for f in failures.iter().filter(|f| f.type_name == type_name) {
        let (what, id) = match &f.lack {
            Lack::Ability { ability, value, root } => {
                let d = if *root { "root" } else { "nonroot" };
                let v = value.as_deref().map(|v| format!("({v})")).unwrap_or_default();
                let id = anchor(&["fail", type_name, ability, d]);
                (format!("lacks {ability}{v} as {}", if *root { "root" } else { "non-root" }), id)
            }
            Lack::Other { what } => (what.clone(), String::new()),
        };
        // The first failure of a cell carries its anchor.
        let id_attr =
            if !id.is_empty() && seen.insert(id.clone()) { format!(" id=\"{id}\"") } else { String::new() };
        let _ = writeln!(
            h,
            "<div class=\"rule failure\"{id_attr}><div><b>failed:</b> {} (pid {}) {}: {} time{}, first {}, last {}</div><pre>{}</pre></div>",
            esc(&f.process),
            f.pid,
            esc(&what),
            f.count,
            if f.count == 1 { "" } else { "s" },
            esc(&f.first),
            esc(&f.last),
            esc(&f.rule)
        );
    }
}

/// An SVG bar chart of failures by when they were first seen.
fn timeline(failures: &[Failure]) -> String {
    let times: Vec<i64> = failures.iter().filter_map(|f| epoch(&f.first)).collect();
    let (Some(lo), Some(hi)) = (times.iter().min(), times.iter().max()) else {
        return "<p id=\"timeline-empty\">No failures recorded.</p>\n".to_string();
    };
    // The smallest step that shows the whole span in at most 60 bars.
    let span = hi - lo + 1;
    let (step, unit) = [(60, "minute"), (3600, "hour"), (86_400, "day"), (7 * 86_400, "week")]
        .into_iter()
        .find(|(s, _)| span / s < 60)
        .unwrap_or((30 * 86_400, "month"));
    let start = lo - lo.rem_euclid(step);
    let n = ((hi - start) / step + 1) as usize;
    let mut counts = vec![0u64; n];
    for (f, t) in failures.iter().filter_map(|f| epoch(&f.first).map(|t| (f, t))) {
        counts[((t - start) / step) as usize] += f.count.max(1);
    }
    let max = *counts.iter().max().unwrap_or(&1).max(&1);
    let (w, hgt, bar) = ((n as u32 * 14 + 60).max(420), 160u32, 12u32);
    let mut s = format!(
        "<svg id=\"timeline-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{}\" role=\"img\" aria-label=\"failures per {unit}\">",
        hgt + 40
    );
    let _ = write!(s, "<text x=\"0\" y=\"12\" font-size=\"11\">{max}</text><line x1=\"40\" y1=\"{hgt}\" x2=\"{w}\" y2=\"{hgt}\" stroke=\"#999\"/>");
    for (i, c) in counts.iter().enumerate() {
        let bh = (*c as f64 / max as f64 * (hgt - 20) as f64).round() as u32;
        let x = 44 + i as u32 * 14;
        let label = secpol::qnxlog::utc_seconds(((start + i as i64 * step).max(0) as u64) * 1_000_000_000);
        let _ = write!(
            s,
            "<rect class=\"bar\" x=\"{x}\" y=\"{}\" width=\"{bar}\" height=\"{bh}\" fill=\"#c44\"><title>{label}: {c} failures</title></rect>",
            hgt - bh
        );
    }
    let first = secpol::qnxlog::utc_seconds((start.max(0) as u64) * 1_000_000_000);
    let _ = writeln!(
        s,
        "<text x=\"44\" y=\"{}\" font-size=\"11\">from {first}, one bar per {unit}</text></svg>",
        hgt + 16
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs() {
        assert_eq!(epoch("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(epoch("2026-11-29T10:41:41Z"), Some(1_795_948_901));
        assert_eq!(epoch("2026-13-29T10:41:41Z"), None);
        assert_eq!(epoch("garbage"), None);
    }

    #[test]
    fn escaping() {
        assert_eq!(esc("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
        assert_eq!(anchor(&["rule", "web_t", "iofunc/read", "root"]), "rule--web_t--iofunc-read--root");
    }

    #[test]
    fn the_most_dangerous_type_comes_first_and_cells_link_to_rules() {
        let text = "type web_t;\ntype adm_t;\n\
            # learned: usr/sbin/nginx (pid 812) 2026-11-29T10:41:41Z\n\
            allow web_t self:ability net_bind_service:80;\n\
            # learned: usr/sbin/adm (pid 9) 2026-11-29T10:00:00Z\n\
            allow adm_t self:ability { sys_admin setuid:0 };\n";
        let p = secpol::policy::parse(text, "p").unwrap();
        let view = PolicyView::new(&p, "p");
        let errors = "# usr/bin/<x> (pid 11) of type web_t lacks ability SETUID(0) as non-root: 2 times, \
                      first 2026-11-29T10:00:01Z, last 2026-11-29T11:00:04Z\nallow web_t self:ability {\n    nonroot\n    setuid:0\n};\n";
        let failures = super::super::failures::parse(errors, "e").unwrap();
        let html = render(&Review {
            policy: &view,
            failures: &failures,
            failures_source: Some("e"),
            host: "h",
            generated: "now",
        });
        let adm = html.find("href=\"#type--adm_t\"").unwrap();
        let web = html.find("href=\"#type--web_t\"").unwrap();
        assert!(adm < web, "sys_admin ranks first");
        assert!(html.contains("href=\"#rule--adm_t--sys_admin--root\""), "a cell links to its rule");
        assert!(html.contains("id=\"rule--adm_t--sys_admin--root\""), "the rule is there");
        assert!(html.contains("first needed by <b>usr/sbin/adm</b> (pid 9)"), "with provenance");
        assert!(
            html.contains("href=\"#fail--web_t--setuid--nonroot\"")
                && html.contains("id=\"fail--web_t--setuid--nonroot\"")
        );
        assert!(html.contains("usr/bin/&lt;x&gt;"), "names are escaped");
        assert!(html.contains("setuid to root</a> as root"), "setuid to root is called so");
        assert!(html.contains("<rect class=\"bar\""), "a timeline");
        assert!(!html.contains("http://") || html.matches("http://").count() == 1, "only the SVG namespace");
        assert!(!html.contains("<script") && !html.contains("src="), "nothing loaded");
    }
}
