//! [`Mix`], the tally of what the generator drew and what really happened
//! (a kill that fired, a full disk that made an install fail), printed at
//! the end so that it can be seen that every event kind and every fault
//! occurred often enough.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Per kind: how often it was drawn and how often it took effect.
#[derive(Default)]
pub struct Mix(Mutex<BTreeMap<String, (u64, u64)>>);

impl Mix {
    /// Counts one `key`; `fired` when it took effect.
    pub fn add(&self, key: &str, fired: bool) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let e = m.entry(key.to_string()).or_default();
        e.0 += 1;
        if fired {
            e.1 += 1;
        }
    }

    /// The table: one line per kind, drawn and took effect.
    pub fn table(&self) -> String {
        let m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let width = m.keys().map(String::len).max().unwrap_or(10);
        let mut out = format!("{:<width$}  {:>7}  {:>7}\n", "event mix", "drawn", "effect");
        for (k, (n, f)) in m.iter() {
            out.push_str(&format!("{k:<width$}  {n:>7}  {f:>7}\n"));
        }
        out
    }

    /// The kinds that took effect fewer than `min` times.
    pub fn below(&self, min: u64) -> Vec<String> {
        let m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        m.iter()
            .filter(|(_, (_, f))| *f < min)
            .map(|(k, (_, f))| format!("{k} ({f})"))
            .collect()
    }
}
