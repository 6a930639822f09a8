//! Shrinking: the shortest sequence that still diverges, found by
//! dropping chunks of events and then single events, and by replacing a
//! disturbed event with its plain step, while the sequence still fails.
//! A run is seconds long, so the search has a budget.

use super::event::{Event, Fault};
use super::runner::run_sequence;
use super::universe::Universe;

/// The shrunk sequence and how many runs it took.
pub fn shrink(
    u: &Universe,
    events: &[Event],
    at: usize,
    seed: u64,
    budget: usize,
) -> (Vec<Event>, usize) {
    let mut cur: Vec<Event> = events[..(at + 1).min(events.len())].to_vec();
    let mut runs = 0;
    let fails = |cand: &[Event], runs: &mut usize| -> bool {
        *runs += 1;
        run_sequence(u, cand, seed, None).is_err()
    };
    let mut chunk = cur.len() / 2;
    while chunk >= 1 && runs < budget {
        let mut i = 0;
        let mut changed = false;
        while i + chunk <= cur.len() && runs < budget {
            let mut cand = cur.clone();
            cand.drain(i..i + chunk);
            if !cand.is_empty() && fails(&cand, &mut runs) {
                cur = cand;
                changed = true;
            } else {
                i += chunk;
            }
        }
        if !changed {
            chunk /= 2;
        }
    }
    // Plainer events.
    let mut i = 0;
    while i < cur.len() && runs < budget {
        let simpler: Vec<Event> = match &cur[i] {
            Event::Single(s, f) if *f != Fault::None => vec![Event::Single(s.clone(), Fault::None)],
            Event::Pair(a, b) => vec![
                Event::Single(a.clone(), Fault::None),
                Event::Single(b.clone(), Fault::None),
            ],
            _ => vec![],
        };
        let mut replaced = false;
        for s in simpler {
            let mut cand = cur.clone();
            cand[i] = s;
            if fails(&cand, &mut runs) {
                cur = cand;
                replaced = true;
                break;
            }
        }
        if !replaced {
            i += 1;
        }
    }
    (cur, runs)
}
