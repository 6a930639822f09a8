//! The randomized campaign: generated event sequences, with kills at
//! fault points and during make and depmod, two events started at once
//! and full disks, played against the real binaries in throwaway roots and
//! checked after every event against a serial [`model`] and the
//! [`invariants`].
//!
//! * [`generator`] draws a sequence from a seed ([`rng`]); [`universe`]
//!   holds the kernels and modules it draws from, [`event`] its events.
//! * [`runner`] plays it ([`process`] runs and kills the commands) and
//!   compares; [`shrink`] finds the shortest sequence that still diverges;
//!   [`mix`] tallies what happened.
//!
//! `cargo test` runs the CI slice: 50 fake-kernel sequences with a new
//! seed each run (printed). `tests/campaign.sh --seed S --sequences N
//! [--real N]` runs a full campaign by hand through the same test, with
//! these variables:
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `CAMPAIGN_SEED` | the seed | a fresh one |
//! | `CAMPAIGN_SEQUENCES` | fake-kernel sequences | 50 |
//! | `CAMPAIGN_REAL` | real-kernel sequences (real headers and make) | 0 |
//! | `CAMPAIGN_ONLY` | play only this sequence number | all |
//! | `CAMPAIGN_REPLAY` | play this sequence text instead (`;`-separated events) | |
//! | `CAMPAIGN_JOBS` | sequences played at once | 2 |
//! | `CAMPAIGN_SHRINK_RUNS` | runs the shrinker may make per divergence | 40 |
//!
//! The last line is `campaign: N sequences, D divergences (seed S)`; the
//! test fails unless D is 0.

mod event;
mod generator;
mod invariants;
mod mix;
mod model;
mod process;
mod rng;
mod runner;
mod shrink;
mod universe;

use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use event::{sequence_text, show_sequence, Event};
use mix::Mix;
use runner::{run_sequence, Divergence};
use universe::Universe;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Real-kernel sequences are numbered from here, so that they draw
/// other sequences than the fake ones of the same seed.
const REAL_BASE: u64 = 1 << 32;

fn report(
    kind: &str,
    seed: u64,
    index: u64,
    events: &[Event],
    d: &Divergence,
    shrunk: Option<(Vec<Event>, usize)>,
) -> String {
    let mut s = format!(
        "DIVERGENCE: {kind} sequence {index} (seed {seed}), after event {} `{}`:\n",
        d.at, d.event
    );
    for w in &d.what {
        s.push_str(&format!("  - {w}\n"));
    }
    s.push_str(&format!(
        "  sequence ({} events; replay: tests/campaign.sh --seed {seed} --only {index}{}):\n{}\n",
        events.len(),
        if kind == "real" { " --real 1" } else { "" },
        show_sequence(events)
    ));
    if let Some((ev, runs)) = shrunk {
        s.push_str(&format!(
            "  shrunk to {} events in {runs} runs (replay: tests/campaign.sh --seed {seed} --replay '{}'):\n{}\n",
            ev.len(),
            sequence_text(&ev),
            show_sequence(&ev)
        ));
    }
    s.push_str("  output of the event's commands:\n");
    for o in &d.outputs {
        for l in o.lines() {
            s.push_str(&format!("    | {l}\n"));
        }
    }
    s
}

/// Plays `text` (a sequence) on fake kernels; the divergence, if any.
pub fn replay(text: &str) -> Result<(), String> {
    let u = Universe::fake();
    let events = Event::parse_sequence(text)?;
    run_sequence(&u, &events, 0, None).map_err(|d| report("replayed", 0, 0, &events, &d, None))
}

#[test]
fn campaign() {
    let seed = env_u64("CAMPAIGN_SEED").unwrap_or_else(rng::fresh_seed);
    let fake_n = env_u64("CAMPAIGN_SEQUENCES").unwrap_or(50);
    let real_n = env_u64("CAMPAIGN_REAL").unwrap_or(0);
    let jobs = env_u64("CAMPAIGN_JOBS").unwrap_or(2).max(1);
    let budget = env_u64("CAMPAIGN_SHRINK_RUNS").unwrap_or(40) as usize;
    let only = env_u64("CAMPAIGN_ONLY");
    let t0 = Instant::now();
    let _clock = crate::harness::tier_clock("campaign");
    let fake = Universe::fake();
    let real = if real_n > 0 {
        let r = Universe::real();
        if r.is_none() {
            assert!(!in_ci(), "CAMPAIGN_REAL set but no real kernel headers");
            println!("campaign: no real kernel headers; the real slice is skipped");
        }
        r
    } else {
        None
    };
    println!(
        "campaign: seed {seed}; {fake_n} fake-kernel and {} real-kernel sequences; fault points {}; full disk {}",
        if real.is_some() { real_n } else { 0 },
        if cfg!(feature = "fault-injection") { "compiled in" } else { "NOT compiled in (kills only)" },
        if fake.full_disk { "on (tmpfs)" } else { "off (needs root)" },
    );
    // Straight to stderr, past the test harness's capture: CI logs show
    // the seed of every run, so that a failure can be replayed.
    let real_arg = if real.is_some() {
        format!(" --real {real_n}")
    } else {
        String::new()
    };
    let _ = writeln!(
        std::io::stderr(),
        "campaign: seed {seed}, {fake_n} sequences (replay: tests/campaign.sh --seed {seed} --sequences {fake_n}{real_arg})"
    );

    if let Ok(text) = std::env::var("CAMPAIGN_REPLAY") {
        let u = if std::env::var_os("CAMPAIGN_REPLAY_REAL").is_some() {
            Universe::real().expect("real kernel headers")
        } else {
            fake.clone()
        };
        let events = Event::parse_sequence(&text).expect("CAMPAIGN_REPLAY");
        let result = run_sequence(&u, &events, seed, None);
        let d = match &result {
            Ok(()) => 0,
            Err(d) => {
                println!("{}", report("replayed", seed, 0, &events, d, None));
                1
            }
        };
        println!("campaign: 1 sequences, {d} divergences (seed {seed})");
        assert_eq!(d, 0);
        return;
    }

    let mut work: Vec<(Universe, &str, u64)> = Vec::new();
    for i in 0..fake_n {
        if only.is_none_or(|o| o == i) {
            work.push((fake.clone(), "fake", i));
        }
    }
    if let Some(r) = &real {
        for i in 0..real_n {
            if only.is_none_or(|o| o == i) {
                work.push((r.clone(), "real", i));
            }
        }
    }
    let mix = Mix::default();
    let next = AtomicUsize::new(0);
    let done = AtomicU64::new(0);
    let divergences = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some((u, kind, index)) = work.get(i) else { break };
                let stream = if *kind == "real" { REAL_BASE + index } else { *index };
                let mut events = generator::generate(u, seed, stream);
                if !cfg!(feature = "fault-injection") {
                    events.retain(|e| !matches!(e, Event::Single(_, event::Fault::Point(..))));
                }
                let started = Instant::now();
                if let Err(d) = run_sequence(u, &events, seed ^ stream, Some(&mix)) {
                    let shrunk = shrink::shrink(u, &events, d.at, seed ^ stream, budget);
                    let text = report(kind, seed, *index, &events, &d, Some(shrunk));
                    println!("{text}");
                    divergences.lock().unwrap_or_else(|e| e.into_inner()).push(text);
                }
                let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                if n % 25 == 0 || *kind == "real" {
                    println!(
                        "campaign: {n}/{} sequences done ({kind} {index}: {} events, {:.1} s), {:.0} s so far",
                        work.len(),
                        events.len(),
                        started.elapsed().as_secs_f64(),
                        t0.elapsed().as_secs_f64()
                    );
                }
            });
        }
    });
    let d = divergences.lock().unwrap_or_else(|e| e.into_inner()).len();
    println!("{}", mix.table());
    println!(
        "campaign: wall time {:.1} s; kinds that took effect fewer than 20 times: {:?}",
        t0.elapsed().as_secs_f64(),
        mix.below(20)
    );
    println!(
        "campaign: {} sequences, {d} divergences (seed {seed})",
        work.len()
    );
    assert_eq!(
        d, 0,
        "the campaign found divergences (seed {seed}); see above"
    );
}

use crate::harness::in_ci;
