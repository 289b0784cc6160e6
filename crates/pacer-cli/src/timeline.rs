//! The timeline: an HTML page with one SVG row per provider and one mark per call,
//! coloured by outcome, so spacing and exclusion can be seen at a glance.

use pacer_testkit::mock_api::CallObservation;
use std::collections::BTreeMap;
use std::fmt::Write as _;

const ROW: f64 = 18.0;
const LEFT: f64 = 140.0;
const WIDTH: f64 = 1200.0;

fn colour(status: Option<u16>) -> &'static str {
    match status {
        Some(200..=299) => "#2e9e44",
        Some(429) | Some(408) | Some(425) | Some(500..=599) | None => "#e69500",
        Some(_) => "#c0392b",
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders the calls as a standalone HTML page.
pub fn render_html(title: &str, calls: &[CallObservation]) -> String {
    let mut rows: BTreeMap<&str, Vec<&CallObservation>> = BTreeMap::new();
    for c in calls {
        rows.entry(c.provider.as_str()).or_default().push(c);
    }
    let t0 = calls.iter().map(|c| c.started_at).min().unwrap_or(0);
    let t1 = calls
        .iter()
        .map(|c| c.finished_at)
        .max()
        .unwrap_or(1)
        .max(t0 + 1);
    let scale = WIDTH / (t1 - t0) as f64;
    let height = ROW * (rows.len() as f64 + 2.0);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" font-family="monospace" font-size="11">"#,
        w = LEFT + WIDTH + 20.0
    );
    for (i, (provider, calls)) in rows.iter().enumerate() {
        let y = ROW * (i as f64 + 1.0);
        let _ = write!(
            svg,
            r#"<text x="4" y="{}">{}</text>"#,
            y + 12.0,
            escape(provider)
        );
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{}" y2="{}" stroke="#ddd"/>"##,
            LEFT + WIDTH,
            y + 9.0,
            y + 9.0
        );
        for c in calls {
            let x = LEFT + (c.started_at - t0) as f64 * scale;
            let w = ((c.finished_at - c.started_at) as f64 * scale).max(0.8);
            let _ = write!(
                svg,
                r#"<rect x="{x:.2}" y="{}" width="{w:.2}" height="{}" fill="{}"><title>{} {}: {:?}</title></rect>"#,
                y + 2.0,
                ROW - 4.0,
                colour(c.status),
                escape(provider),
                escape(c.record_id.as_deref().unwrap_or("?")),
                c.status
            );
        }
    }
    let seconds = (t1 - t0) as f64 / 1e6;
    let _ = write!(svg, r#"<text x="{LEFT}" y="{}">0 s</text>"#, height - 4.0);
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="end">{seconds:.1} s</text></svg>"#,
        LEFT + WIDTH,
        height - 4.0
    );
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head><body>\
         <h1>{t}</h1><p>{n} calls across {p} providers over {seconds:.1} s. \
         <span style=\"color:#2e9e44\">■ success</span> <span style=\"color:#e69500\">■ transient</span> \
         <span style=\"color:#c0392b\">■ permanent</span>. Marks in one row never overlap: one call per provider at a time.</p>\
         {svg}</body></html>",
        t = escape(title),
        n = calls.len(),
        p = rows.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(provider: &str, start: u64, end: u64, status: Option<u16>) -> CallObservation {
        CallObservation {
            provider: provider.into(),
            record_id: Some("r<1>".into()),
            fencing_token: Some(1),
            started_at: start,
            finished_at: end,
            status,
            overlapped: false,
        }
    }

    #[test]
    fn draws_one_row_per_provider_and_one_mark_per_call_escaping_names() {
        let html = render_html(
            "t",
            &[
                call("a", 0, 10, Some(200)),
                call("a", 20, 30, Some(503)),
                call("b", 5, 15, Some(422)),
            ],
        );
        assert_eq!(html.matches("<rect").count(), 3);
        assert!(html.contains(">a</text>") && html.contains(">b</text>"));
        assert!(html.contains("r&lt;1&gt;"));
        assert!(html.contains("#c0392b") && html.contains("#e69500") && html.contains("#2e9e44"));
    }
}
