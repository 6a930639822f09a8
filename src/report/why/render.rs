//! `why`'s two forms: text (a heading, one line per check, the cause, what
//! the kernel said, the fix) and JSON ([`super::Verdict`] as it is).

use super::{Outcome, Verdict};
use crate::report::why::msg;

/// The text form: a heading, one line per check, then the cause and the
/// fix (or that the module would load).
pub fn render_text(v: &Verdict) -> String {
    let mut s = msg::why_heading(&v.module, &v.kernel);
    s.push('\n');
    for c in &v.checks {
        let mark = match c.result {
            Outcome::Pass => msg::WHY_PASS,
            Outcome::Fail => msg::WHY_FAIL,
            Outcome::Skipped => msg::WHY_SKIPPED,
        };
        s.push_str(&format!("{mark} {}: {}\n", c.check, c.fact));
    }
    s.push('\n');
    match &v.cause {
        Some(c) => {
            s.push_str(&msg::why_cause_line(&c.text));
            s.push('\n');
            if !v.kernel_log.is_empty() {
                s.push_str(msg::WHY_KERNEL_SAID);
                s.push('\n');
                for l in &v.kernel_log {
                    s.push_str(&format!("    {l}\n"));
                }
            }
            if let Some(fix) = &c.fix {
                s.push_str(&msg::why_fix_line(fix));
                s.push('\n');
            }
        }
        None => {
            s.push_str(&msg::why_loads(&v.module, &v.kernel));
            s.push('\n');
        }
    }
    s
}

/// The JSON form.
pub fn render_json(v: &Verdict) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default() + "\n"
}
