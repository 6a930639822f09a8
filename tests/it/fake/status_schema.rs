//! The machine-readable `dkms status --output json|yaml` against a tree
//! that holds every state a user can meet: added, built, installed,
//! broken, ruled out by BUILD_EXCLUSIVE, deferred for missing headers and
//! failed. Checks the document's contract: the schema version, every field
//! present with its type, `null` where a field does not apply, RFC 3339
//! times, filters on every section, and YAML saying the same as JSON.

use crate::harness::*;
use serde_json::Value;

/// A kernel whose image is installed but whose headers never came.
const NO_HEADERS: &str = "6.1.0-93-fake";

fn rfc3339(v: &Value) -> bool {
    let Some(s) = v.as_str() else { return false };
    let b = s.as_bytes();
    s.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// A root holding every state, and the arch the modules were built for.
fn every_state() -> (TestRoot, String) {
    let root = TestRoot::with_kernel(K1);
    root.add_fake_kernel(NO_HEADERS, false, true);
    for m in ["hello", "excl", "broken"] {
        root.add_source(&format!("{m}-1.0"));
        root.dkms(&["add", &format!("{m}/1.0")]).assert_ok();
    }
    // hello installs, excl is ruled out, broken fails to build.
    root.hook(&["kernel-postinst", K1]).assert_code(11);
    // No headers: the kernel's work is deferred.
    root.hook(&["kernel-postinst", NO_HEADERS]).assert_ok();
    // Built only; added only; broken (its source went away).
    root.add_source("multi-1.0");
    root.dkms(&["build", "multi/1.0", "-k", K1]).assert_ok();
    root.add_source("dep-1.0");
    root.dkms(&["add", "dep/1.0"]).assert_ok();
    root.add_source("prebuild-1.0");
    root.dkms(&["add", "prebuild/1.0"]).assert_ok();
    std::fs::remove_dir_all(root.path("/usr/src/prebuild-1.0")).expect("rm source");
    let arch = std::env::consts::ARCH.to_string();
    (root, arch)
}

fn json(root: &TestRoot, extra: &[&str]) -> Value {
    let mut args = vec!["status", "--output", "json"];
    args.extend_from_slice(extra);
    let out = root.dkms(&args);
    out.assert_ok();
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e})\n{out}"))
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    k.sort();
    k
}

#[test]
fn every_state_has_its_place_and_every_field_its_type() {
    let (root, arch) = every_state();
    let doc = json(&root, &[]);
    assert_eq!(
        keys(&doc),
        ["failed", "modules", "pending", "schema", "skipped"]
    );
    assert_eq!(doc["schema"], 1);

    // modules: upstream's status lines as fields.
    let mut states: Vec<(String, String)> = Vec::new();
    for r in doc["modules"].as_array().expect("modules") {
        assert_eq!(
            keys(r),
            [
                "arch",
                "built_modules_missing",
                "differences",
                "kernel",
                "module",
                "original_modules_exist",
                "signature",
                "state",
                "version"
            ],
            "{r}"
        );
        let state = r["state"].as_str().expect("state").to_string();
        let per_kernel = !matches!(state.as_str(), "added" | "broken");
        assert_eq!(r["kernel"].is_string(), per_kernel, "{r}");
        assert_eq!(r["arch"].is_string(), per_kernel, "{r}");
        assert!(r["kernel"].is_null() || r["kernel"] == K1, "{r}");
        for flag in [
            "built_modules_missing",
            "differences",
            "original_modules_exist",
        ] {
            assert!(r[flag].is_boolean(), "{r}");
        }
        states.push((r["module"].as_str().expect("module").to_string(), state));
    }
    states.sort();
    let want: Vec<(String, String)> = [
        ("broken", "added"),
        ("dep", "added"),
        ("excl", "added"),
        ("hello", "installed"),
        ("multi", "built"),
        ("prebuild", "broken"),
    ]
    .iter()
    .map(|(m, s)| (m.to_string(), s.to_string()))
    .collect();
    assert_eq!(states, want, "{doc:#}");

    // skipped: excl on the kernel with headers only.
    let skipped = doc["skipped"].as_array().expect("skipped");
    assert_eq!(skipped.len(), 1, "{doc:#}");
    let s = &skipped[0];
    assert_eq!(keys(s), ["arch", "kernel", "module", "reason", "version"]);
    assert_eq!(
        (
            &s["module"],
            &s["version"],
            &s["kernel"],
            &s["arch"],
            &s["reason"]
        ),
        (
            &Value::from("excl"),
            &Value::from("1.0"),
            &Value::from(K1),
            &Value::from(arch.as_str()),
            &Value::from("build-exclusive")
        )
    );

    // pending: the kernel without headers, for every module (module null).
    let pending = doc["pending"].as_array().expect("pending");
    assert_eq!(pending.len(), 1, "{doc:#}");
    let p = &pending[0];
    assert_eq!(
        keys(p),
        ["arch", "detail", "kernel", "module", "reason", "since"]
    );
    assert_eq!(p["kernel"], NO_HEADERS);
    assert_eq!(p["reason"], "headers-missing");
    assert!(p["module"].is_null(), "{p}");
    assert!(
        p["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("linux-headers-{NO_HEADERS}"))),
        "{p}"
    );
    assert!(rfc3339(&p["since"]), "{p}");

    // failed: broken's build, with its kept log and an RFC 3339 time.
    let failed = doc["failed"].as_array().expect("failed");
    assert_eq!(failed.len(), 1, "{doc:#}");
    let f = &failed[0];
    assert_eq!(
        keys(f),
        ["arch", "code", "kernel", "log", "module", "reason", "version", "when"]
    );
    assert_eq!(
        (&f["module"], &f["kernel"], &f["code"]),
        (&Value::from("broken"), &Value::from(K1), &Value::from(10))
    );
    let log = f["log"].as_str().expect("a log path");
    assert!(
        std::path::Path::new(log).is_file(),
        "the log named exists: {log}"
    );
    assert!(rfc3339(&f["when"]), "{f}");
}

#[test]
fn filters_apply_to_every_section_and_yaml_says_the_same() {
    let (root, _) = every_state();
    let all = json(&root, &[]);

    let hello = json(&root, &["-m", "hello"]);
    assert_eq!(
        hello["modules"].as_array().map(Vec::len),
        Some(1),
        "{hello:#}"
    );
    assert_eq!(hello["skipped"], Value::Array(vec![]), "{hello:#}");
    assert_eq!(hello["failed"], Value::Array(vec![]), "{hello:#}");
    // A whole-kernel deferral concerns every module, hello included.
    assert_eq!(hello["pending"], all["pending"]);

    let broken = json(&root, &["-m", "broken"]);
    assert_eq!(broken["failed"], all["failed"]);
    let excl = json(&root, &["-m", "excl", "-k", K1]);
    assert_eq!(excl["skipped"], all["skipped"]);
    assert_eq!(
        excl["pending"],
        Value::Array(vec![]),
        "another kernel's deferral"
    );

    let other = json(&root, &["-k", NO_HEADERS]);
    assert_eq!(other["failed"], Value::Array(vec![]));
    assert_eq!(other["skipped"], Value::Array(vec![]));
    assert_eq!(other["pending"], all["pending"]);

    let out = root.dkms(&["status", "--output", "yaml"]);
    out.assert_ok();
    let yaml: Value = serde_norway::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(yaml, all, "YAML and JSON carry the same document");
}

#[test]
fn output_on_an_action_without_machine_output_is_refused() {
    let root = TestRoot::with_kernel(K1);
    root.add_source("hello-1.0");
    let before = snapshot_dir(root.root());
    let out = root.dkms(&["add", "hello/1.0", "--output", "json"]);
    out.assert_code(2);
    assert!(out.stderr.contains("--output"), "{out}");
    assert!(
        diff_snapshots(&before, &snapshot_dir(root.root())).is_empty(),
        "nothing written"
    );
}
