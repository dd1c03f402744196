//! What group sync costs: two replicas of N messages where one lacks D of
//! them (spread through the history), reconciled with `Reconciler`, next to
//! a naive exchange of every id. Prints a Markdown table
//! (`docs/performance.md`, "Group sync").
//!
//! `cargo bench -p kith-sync --bench reconcile` (add `-- 16 16` to try
//! another branching factor and list threshold).
#![allow(clippy::print_stdout)] // A benchmark prints its table.

use std::collections::BTreeSet;
use std::time::Instant;

use kith_core::group::GroupMessageId;
use kith_sync::reconcile::{BRANCHING, ID_LIST_THRESHOLD};
use kith_sync::{Item, Reconciler};
use rand::{Rng, SeedableRng, rngs::StdRng};

fn items(n: usize, seed: u64) -> Vec<Item> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let mut id = [0_u8; 32];
            rng.fill(&mut id);
            Item {
                timestamp: 1_700_000_000_000 + (i as u64) * 2_000 + rng.gen_range(0..3),
                id: GroupMessageId(id),
            }
        })
        .collect()
}

struct Cost {
    bytes: usize,
    messages: usize,
}

/// `a` starts; returns the bytes both ways and the messages sent.
fn reconcile(
    a: Vec<Item>,
    b: Vec<Item>,
    shape: (usize, usize),
) -> (Cost, BTreeSet<GroupMessageId>) {
    let mut ra = Reconciler::new(a)
        .expect("valid items")
        .with_shape(shape.0, shape.1);
    let mut rb = Reconciler::new(b)
        .expect("valid items")
        .with_shape(shape.0, shape.1);
    let mut msg = ra.initiate().expect("initiate");
    let mut cost = Cost {
        bytes: msg.len(),
        messages: 1,
    };
    let mut to_b = true;
    loop {
        let side = if to_b { &mut rb } else { &mut ra };
        let step = side.respond(&msg).expect("an honest peer");
        let Some(m) = step.send else { break };
        cost.bytes += m.len();
        cost.messages += 1;
        msg = m;
        if step.done {
            let other = if to_b { &mut ra } else { &mut rb };
            other.respond(&msg).expect("the last message");
            break;
        }
        to_b = !to_b;
    }
    (cost, ra.need().clone())
}

fn main() {
    let args: Vec<usize> = std::env::args().filter_map(|a| a.parse().ok()).collect();
    let shape = match args[..] {
        [b, t, ..] => (b, t),
        _ => (BRANCHING, ID_LIST_THRESHOLD),
    };
    println!(
        "branching {}, id lists up to {} ids, fingerprints of 16 bytes, messages up to 32 KiB",
        shape.0, shape.1
    );
    println!();
    println!(
        "| messages | missing | RBSR bytes | RBSR round trips | naive bytes | missing ids (32 B each) | RBSR / missing | naive / RBSR | time |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in [1_000_usize, 10_000, 100_000] {
        let all = items(n, n as u64);
        for d in [0_usize, 1, 10, 100, 1000] {
            if d >= n {
                continue;
            }
            // Spread the missing ones evenly through the history.
            let gone: BTreeSet<usize> = (0..d)
                .map(|k| k * n / d.max(1) + n / (2 * d.max(1)))
                .collect();
            let a: Vec<Item> = all
                .iter()
                .enumerate()
                .filter(|(i, _)| !gone.contains(i))
                .map(|(_, x)| *x)
                .collect();
            let start = Instant::now();
            let (cost, need) = reconcile(a, all.clone(), shape);
            let elapsed = start.elapsed();
            assert_eq!(need.len(), d, "the reconciliation found what is missing");
            // Naive: one side sends every id it has, the other answers with
            // the ids the first lacks: one round trip.
            let naive = 1 + 3 + 32 * (n - d) + 1 + 3 + 32 * d;
            let missing = 32 * d;
            let ratio = if d == 0 {
                "–".to_string()
            } else {
                format!("{:.1}×", cost.bytes as f64 / missing as f64)
            };
            println!(
                "| {n} | {d} | {} | {} | {naive} | {missing} | {ratio} | {:.0}× | {:.1} ms |",
                cost.bytes,
                cost.messages.div_ceil(2),
                naive as f64 / cost.bytes as f64,
                elapsed.as_secs_f64() * 1000.0,
            );
        }
    }
}
