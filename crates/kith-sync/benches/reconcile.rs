//! What group sync costs: two replicas of N messages where one lacks D of
//! them (spread through the history), reconciled with `Reconciler`
//! (rateless IBLT), next to a naive exchange of every id. Prints a Markdown
//! table (`docs/performance.md`, "Group sync"); with `KITH_WRITE_PLOT=path`
//! also writes the plot of bytes against D (`docs/sync-bytes.svg`).
//!
//! `cargo bench -p kith-sync --bench reconcile`
#![allow(clippy::print_stdout)] // A benchmark prints its table.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use kith_core::group::GroupMessageId;
use kith_sync::Reconciler;
use rand::{Rng, SeedableRng, rngs::StdRng};

/// The figure to hold: at most twice the missing ids, plus this.
const CONSTANT: usize = 512;
/// Salts each row runs with (both directions each): the table shows the
/// first and the worst.
const SALTS: u8 = 10;

fn ids(n: usize, seed: u64) -> Vec<GroupMessageId> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let mut id = [0_u8; 32];
            rng.fill(&mut id);
            GroupMessageId(id)
        })
        .collect()
}

struct Cost {
    bytes: usize,
    round_trips: usize,
    time: Duration,
}

/// `a` starts, `b` answers; checks both learn the difference.
fn reconcile(a: &[GroupMessageId], b: &[GroupMessageId], salt: [u8; 16]) -> Cost {
    let start = Instant::now();
    let (mut ra, first) = Reconciler::initiate(a.iter().copied(), salt).expect("valid ids");
    let mut rb = Reconciler::respond_to(b.iter().copied()).expect("valid ids");
    let mut in_flight = vec![first];
    let (mut bytes, mut turns) = (0, 0_usize);
    let (mut oa, mut ob) = (None, None);
    while !in_flight.is_empty() {
        let (side, out) = if turns % 2 == 0 {
            (&mut rb, &mut ob)
        } else {
            (&mut ra, &mut oa)
        };
        turns += 1;
        for m in std::mem::take(&mut in_flight) {
            bytes += m.len();
            let step = side.handle(&m).expect("an honest peer");
            in_flight.extend(step.send);
            if step.done.is_some() {
                *out = step.done;
            }
        }
    }
    let time = start.elapsed();
    let (oa, ob) = (oa.expect("initiator done"), ob.expect("responder done"));
    let (sa, sb): (BTreeSet<_>, BTreeSet<_>) =
        (a.iter().copied().collect(), b.iter().copied().collect());
    assert_eq!(oa.need, (&sb - &sa).into_iter().collect::<Vec<_>>());
    assert_eq!(ob.give, oa.need);
    assert_eq!(oa.give, (&sa - &sb).into_iter().collect::<Vec<_>>());
    assert_eq!(ob.need_keys.len(), oa.give.len());
    Cost {
        bytes,
        round_trips: turns.div_ceil(2),
        time,
    }
}

/// RBSR as it was (branching 8, lists of 8: `docs/performance.md` before
/// this scheme replaced it), for the plot: (N, D, bytes).
const RBSR: &[(usize, usize, usize)] = &[
    (1_000, 1, 600),
    (1_000, 10, 4_176),
    (1_000, 100, 21_509),
    (10_000, 1, 797),
    (10_000, 10, 5_956),
    (10_000, 100, 39_502),
    (10_000, 1000, 245_189),
    (100_000, 1, 1_002),
    (100_000, 10, 8_070),
    (100_000, 100, 59_706),
    (100_000, 1000, 491_459),
];

struct Row {
    n: usize,
    d: usize,
    worst: usize,
    naive: usize,
}

fn main() {
    println!(
        "rateless IBLT: symbols of 16 bytes, {} first, messages up to 32 KiB; \
         worst of {SALTS} salts × both directions",
        kith_sync::reconcile::INITIAL_SYMBOLS
    );
    println!();
    println!(
        "| messages | missing | bytes (initiator lacks) | bytes (responder lacks) | worst bytes | round trips | naive bytes | missing ids (32 B each) | worst / missing | 2 × missing + {CONSTANT} | time |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut rows = Vec::new();
    for n in [1_000_usize, 10_000, 100_000] {
        let all = ids(n, n as u64);
        for d in [0_usize, 1, 10, 100, 1000] {
            // Spread the missing ones evenly through the history.
            let gone: BTreeSet<usize> = (0..d).map(|k| k * n / d.max(1)).collect();
            let lacking: Vec<GroupMessageId> = all
                .iter()
                .enumerate()
                .filter(|(i, _)| !gone.contains(i))
                .map(|(_, x)| *x)
                .collect();
            let mut first = (0, 0);
            let mut worst = 0;
            let mut round_trips = 0;
            let mut times = Vec::new();
            for s in 0..SALTS {
                let i_lacks = reconcile(&lacking, &all, [s; 16]);
                let r_lacks = reconcile(&all, &lacking, [s; 16]);
                if s == 0 {
                    first = (i_lacks.bytes, r_lacks.bytes);
                }
                worst = worst.max(i_lacks.bytes).max(r_lacks.bytes);
                round_trips = round_trips
                    .max(i_lacks.round_trips)
                    .max(r_lacks.round_trips);
                times.push(i_lacks.time);
                times.push(r_lacks.time);
            }
            times.sort_unstable();
            let time = times[times.len() / 2];
            // Naive: one side sends every id it has, the other answers with
            // the ids the first lacks: one round trip.
            let naive = 1 + 3 + 32 * (n - d) + 1 + 3 + 32 * d;
            let missing = 32 * d;
            let bound = 2 * missing + CONSTANT;
            let ratio = if d == 0 {
                "–".to_string()
            } else {
                format!("{:.2}×", worst as f64 / missing as f64)
            };
            println!(
                "| {n} | {d} | {} | {} | {worst} | {round_trips} | {naive} | {missing} | {ratio} | {bound} | {:.1} ms |",
                first.0,
                first.1,
                time.as_secs_f64() * 1000.0,
            );
            rows.push(Row { n, d, worst, naive });
        }
    }
    tails();
    both_lack();
    if let Some(path) = std::env::var_os("KITH_WRITE_PLOT") {
        std::fs::write(path, plot(&rows)).expect("write the plot");
    }
}

/// How often the bound is missed: many salts, the costlier direction (the
/// initiator lacks: the responder lists full ids), 1000 messages (the
/// bytes do not depend on the history).
fn tails() {
    const RUNS: u64 = 1000;
    println!();
    println!("{RUNS} salts each, 1000 messages, the initiator lacks D (its ids listed in full):");
    println!();
    println!(
        "| missing | median bytes | 99 % | 99.9 % | max | 2 × missing + {CONSTANT} | runs over it | round trips (median, max) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    let all = ids(1000, 1);
    for d in [1_usize, 2, 5, 10, 20, 100, 1000] {
        let lacking = &all[d..];
        let mut bytes = Vec::new();
        let mut trips = Vec::new();
        for run in 0..RUNS {
            let mut salt = [0_u8; 16];
            salt[..8].copy_from_slice(&run.to_le_bytes());
            let c = reconcile(lacking, &all, salt);
            bytes.push(c.bytes);
            trips.push(c.round_trips);
        }
        bytes.sort_unstable();
        trips.sort_unstable();
        let q = |v: &[usize], f: f64| v[((v.len() - 1) as f64 * f) as usize];
        let bound = 64 * d + CONSTANT;
        println!(
            "| {d} | {} | {} | {} | {} | {bound} | {} | {}, {} |",
            q(&bytes, 0.5),
            q(&bytes, 0.99),
            q(&bytes, 0.999),
            bytes[bytes.len() - 1],
            bytes.iter().filter(|&&b| b > bound).count(),
            q(&trips, 0.5),
            trips[trips.len() - 1],
        );
    }
}

/// Each side lacks D of the other's: the counts say nothing of the
/// difference, so the responder finds its size by growing its requests.
fn both_lack() {
    println!();
    println!("10 000 messages, each side lacks D others the other has ({SALTS} salts):");
    println!();
    println!(
        "| each lacks | differences | worst bytes | round trips (max) | 2 × 32 × differences + {CONSTANT} | naive bytes |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    let all = ids(10_000, 3);
    for d in [1_usize, 10, 100, 1000] {
        let a = &all[d..];
        let b = &all[..all.len() - d];
        let (mut worst, mut trips) = (0, 0);
        for s in 0..SALTS {
            let c = reconcile(a, b, [s; 16]);
            worst = worst.max(c.bytes);
            trips = trips.max(c.round_trips);
        }
        println!(
            "| {d} | {} | {worst} | {trips} | {} | {} |",
            2 * d,
            64 * 2 * d + CONSTANT,
            8 + 32 * (all.len() - d) + 32 * d,
        );
    }
}

/// A line of the plot: label, colour, dashes, points (D, bytes).
type Series = (String, &'static str, &'static str, Vec<(f64, f64)>);

/// An SVG of bytes against missing ids, log–log: this scheme (worst of the
/// salts), RBSR as it was, the naive list, and the bound.
fn plot(rows: &[Row]) -> String {
    let (w, h, left, right, top, bottom) = (760.0, 480.0, 80.0, 200.0, 30.0, 60.0);
    let (x0, x1, y0, y1) = (0.0_f64, 3.0_f64, 1.0_f64, 7.0_f64);
    let x = |d: f64| left + (d.log10() - x0) / (x1 - x0) * (w - left - right);
    let y = |b: f64| h - bottom - (b.log10() - y0) / (y1 - y0) * (h - top - bottom);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    for e in 0..=3 {
        let px = x(10_f64.powi(e));
        let _ = writeln!(
            s,
            r##"<line x1="{px:.1}" y1="{top}" x2="{px:.1}" y2="{:.1}" stroke="#ddd"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            h - bottom,
            h - bottom + 18.0,
            10_u32.pow(e as u32)
        );
    }
    for e in 1..=7 {
        let py = y(10_f64.powi(e));
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">10^{e}</text>"##,
            w - right,
            left - 6.0,
            py + 4.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">messages one side lacks (D)</text>"#,
        (left + w - right) / 2.0,
        h - 15.0
    );
    let _ = writeln!(
        s,
        r#"<text x="18" y="{:.1}" text-anchor="middle" transform="rotate(-90 18 {:.1})">bytes to reconcile</text>"#,
        (top + h - bottom) / 2.0,
        (top + h - bottom) / 2.0
    );
    let mut series: Vec<Series> = Vec::new();
    for (n, dash) in [(1_000, "2,3"), (10_000, "6,3"), (100_000, "")] {
        let label = format!("{}k", n / 1000);
        let pick = |f: &dyn Fn(&Row) -> usize| {
            rows.iter()
                .filter(|r| r.n == n && r.d > 0)
                .map(|r| (r.d as f64, f(r) as f64))
                .collect::<Vec<_>>()
        };
        series.push((format!("naive, {label}"), "#999", dash, pick(&|r| r.naive)));
        series.push((
            format!("RBSR (old), {label}"),
            "#d62728",
            dash,
            RBSR.iter()
                .filter(|r| r.0 == n)
                .map(|r| (r.1 as f64, r.2 as f64))
                .collect(),
        ));
        series.push((
            format!("rateless IBLT, {label}"),
            "#1f77b4",
            dash,
            pick(&|r| r.worst),
        ));
    }
    series.push((
        format!("2 × 32 × D + {CONSTANT}"),
        "#2ca02c",
        "1,2",
        [1.0, 10.0, 100.0, 1000.0]
            .iter()
            .map(|&d| (d, 64.0 * d + CONSTANT as f64))
            .collect(),
    ));
    for (i, (label, colour, dash, points)) in series.iter().enumerate() {
        let path: Vec<String> = points
            .iter()
            .map(|&(d, b)| format!("{:.1},{:.1}", x(d), y(b)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>"#,
            path.join(" ")
        );
        for p in &path {
            let (px, py) = p.split_once(',').unwrap_or(("0", "0"));
            let _ = writeln!(
                s,
                r#"<circle cx="{px}" cy="{py}" r="2.5" fill="{colour}"/>"#
            );
        }
        let ly = top + 10.0 + 18.0 * i as f64;
        let lx = w - right + 12.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" y1="{ly}" x2="{:.1}" y2="{ly}" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/><text x="{:.1}" y="{:.1}">{label}</text>"#,
            lx + 24.0,
            lx + 30.0,
            ly + 4.0
        );
    }
    s.push_str("</svg>\n");
    s
}
