//! YAML for `status --output yaml`, written so that every reader gets the
//! same values back: every string is double-quoted (JSON escaping is valid
//! YAML), so a module named `yes`, `no`, `on` or `null` stays a string for
//! YAML 1.1 readers too; numbers, booleans and `null` are plain.

use serde_json::Value;

/// `value` as a YAML document.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => object(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => array(&mut out, a, 0),
        v => {
            out.push_str(&scalar(v));
            out.push('\n');
        }
    }
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()),
        Value::Null => "null".into(),
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Array(a) if a.is_empty() => "[]".into(),
        other => other.to_string(),
    }
}

fn is_block(v: &Value) -> bool {
    matches!(v, Value::Object(m) if !m.is_empty()) || matches!(v, Value::Array(a) if !a.is_empty())
}

fn object(out: &mut String, m: &serde_json::Map<String, Value>, indent: usize) {
    for (k, v) in m {
        out.push_str(&" ".repeat(indent));
        out.push_str(&scalar(&Value::String(k.clone())));
        out.push(':');
        if is_block(v) {
            out.push('\n');
            match v {
                Value::Object(o) => object(out, o, indent + 2),
                Value::Array(a) => array(out, a, indent + 2),
                _ => {}
            }
        } else {
            out.push(' ');
            out.push_str(&scalar(v));
            out.push('\n');
        }
    }
}

fn array(out: &mut String, a: &[Value], indent: usize) {
    for v in a {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match v {
            Value::Object(o) if !o.is_empty() => {
                // The first key on the dash's line, the rest aligned under it.
                let mut first = String::new();
                object(&mut first, o, indent + 2);
                out.push(' ');
                out.push_str(first.trim_start());
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                array(out, inner, indent + 2);
            }
            v => {
                out.push(' ');
                out.push_str(&scalar(v));
                out.push('\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_that_look_like_other_things_stay_strings() {
        let doc = json!({"schema": 1, "modules": [
            {"module": "yes", "version": "1.0", "kernel": null, "ok": true},
            {"module": "null", "version": "on", "kernel": "6.1", "ok": false}
        ], "pending": []});
        let y = to_yaml(&doc);
        assert!(y.contains("- \"module\": \"yes\"\n"), "{y}");
        assert!(y.contains("  \"kernel\": null\n"), "{y}");
        let back: serde_json::Value = serde_norway::from_str(&y).unwrap();
        assert_eq!(back, doc, "{y}");
    }
}
