use std::collections::BTreeSet;

use proptest::prelude::*;
use rand::{Rng, SeedableRng, rngs::StdRng};

use super::*;

fn items(n: usize, seed: u64) -> Vec<Item> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let mut id = [0_u8; 32];
            rng.fill(&mut id);
            Item {
                // A message every few seconds, some in the same millisecond.
                timestamp: 1_700_000_000_000 + (i as u64) * 2_000 + rng.gen_range(0..3),
                id: GroupMessageId(id),
            }
        })
        .collect()
}

/// What a run cost.
#[derive(Debug)]
struct Run {
    bytes: usize,
    messages: usize,
    a_need: BTreeSet<GroupMessageId>,
    b_need: BTreeSet<GroupMessageId>,
}

fn run(a: Vec<Item>, b: Vec<Item>, max: usize) -> Run {
    run_shaped(a, b, max, BRANCHING, ID_LIST_THRESHOLD)
}

fn run_shaped(a: Vec<Item>, b: Vec<Item>, max: usize, branching: usize, threshold: usize) -> Run {
    let mut ra = Reconciler::new(a)
        .unwrap()
        .with_max_message(max)
        .with_shape(branching, threshold);
    let mut rb = Reconciler::new(b)
        .unwrap()
        .with_max_message(max)
        .with_shape(branching, threshold);
    let mut msg = ra.initiate().unwrap();
    let mut bytes = msg.len();
    let mut messages = 1;
    let mut to_b = true;
    loop {
        let side = if to_b { &mut rb } else { &mut ra };
        let step = side.respond(&msg).unwrap();
        match step.send {
            Some(m) => {
                assert!(m.len() <= max);
                bytes += m.len();
                messages += 1;
                msg = m;
            }
            None => {
                assert!(step.done);
                break;
            }
        }
        if step.done {
            // The peer takes the last message and has nothing to answer.
            let other = if to_b { &mut ra } else { &mut rb };
            let last = other.respond(&msg).unwrap();
            assert!(last.done && last.send.is_none(), "{last:?}");
            break;
        }
        to_b = !to_b;
    }
    assert!(ra.is_done() && rb.is_done());
    Run {
        bytes,
        messages,
        a_need: ra.need().clone(),
        b_need: rb.need().clone(),
    }
}

fn ids(v: &[Item]) -> BTreeSet<GroupMessageId> {
    v.iter().map(|i| i.id).collect()
}

fn check(a: &[Item], b: &[Item], max: usize) -> Run {
    let r = run(a.to_vec(), b.to_vec(), max);
    let (sa, sb) = (ids(a), ids(b));
    assert_eq!(r.a_need, &sb - &sa, "what a lacks");
    assert_eq!(r.b_need, &sa - &sb, "what b lacks");
    r
}

#[test]
fn ten_thousand_differing_by_few() {
    let all = items(10_100, 1);
    for d in [0_usize, 1, 3, 100] {
        // b has all 10 000 + d; a lacks d of them, spread through the history.
        let gone: BTreeSet<usize> = (0..d).map(|k| 37 + k * 97).collect();
        let b: Vec<Item> = all[..10_000 + d].to_vec();
        let a: Vec<Item> = b
            .iter()
            .enumerate()
            .filter(|(i, _)| !gone.contains(i))
            .map(|(_, x)| *x)
            .collect();
        assert_eq!(a.len(), 10_000);
        let r1 = check(&a, &b, MAX_RECONCILE_MESSAGE);
        let r2 = check(&b, &a, MAX_RECONCILE_MESSAGE);
        eprintln!(
            "10k, {d} differences: {} / {} bytes, {} / {} messages",
            r1.bytes, r2.bytes, r1.messages, r2.messages
        );
        if d == 0 {
            assert_eq!(r1.messages, 2);
            assert!(r1.bytes < 400, "{}", r1.bytes);
        }
        if d == 3 {
            for r in [&r1, &r2] {
                assert!(r.bytes >= 100 && r.bytes < 4_000, "{}", r.bytes);
            }
        }
        // Far from sending every id.
        assert!(r1.bytes < 10_000 * 32 / 8, "{}", r1.bytes);
    }
}

#[test]
fn differences_spread_through_history() {
    let all = items(10_000, 2);
    // a lacks 3 messages from the middle of the history; b lacks 2 others.
    let a: Vec<Item> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| ![1234, 5000, 9876].contains(i))
        .map(|(_, x)| *x)
        .collect();
    let b: Vec<Item> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| ![17, 7777].contains(i))
        .map(|(_, x)| *x)
        .collect();
    let r = check(&a, &b, MAX_RECONCILE_MESSAGE);
    assert!(r.bytes < 6_000, "{}", r.bytes);
    check(&b, &a, MAX_RECONCILE_MESSAGE);
}

#[test]
fn empty_and_disjoint_sides() {
    let a = items(5_000, 3);
    check(&a, &[], MAX_RECONCILE_MESSAGE);
    check(&[], &a, MAX_RECONCILE_MESSAGE);
    check(&[], &[], MAX_RECONCILE_MESSAGE);
    let b = items(3_000, 4);
    let r = check(&a, &b, MAX_RECONCILE_MESSAGE);
    assert!(r.messages <= 2 * MAX_ROUNDS as usize);
}

#[test]
fn small_messages_continue_over_rounds() {
    let a = items(3_000, 5);
    let b = items(2_000, 6);
    let r = check(&a, &b, 1024);
    assert!(r.messages > 4);
    let mut c = a.clone();
    c.truncate(2_500);
    check(&a, &c, 1024);
    check(&c, &a, 1024);
}

#[test]
fn same_timestamps_everywhere() {
    // Every item in the same millisecond: the bounds are id prefixes.
    let mut a = items(2_000, 7);
    for i in &mut a {
        i.timestamp = 5;
    }
    let mut b = a.clone();
    b.remove(1000);
    b.remove(10);
    check(&a, &b, MAX_RECONCILE_MESSAGE);
    check(&b, &a, MAX_RECONCILE_MESSAGE);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn random_splits_converge(n in 0_usize..3_000, seed in any::<u64>(), pa in 0_u8..100, pb in 0_u8..100) {
        let all = items(n, seed);
        let mut rng = StdRng::seed_from_u64(seed ^ 0x55);
        let mut a = Vec::new();
        let mut b = Vec::new();
        for it in all {
            let ina = rng.gen_range(0..100) >= pa / 4;
            let inb = rng.gen_range(0..100) >= pb / 4;
            if ina { a.push(it); }
            if inb { b.push(it); }
        }
        check(&a, &b, MAX_RECONCILE_MESSAGE);
        check(&b, &a, 2048);
    }
}

fn responder() -> Reconciler {
    Reconciler::new(items(1_000, 9)).unwrap()
}

#[test]
fn malformed_messages_are_typed_errors() {
    let cases: Vec<Vec<u8>> = vec![
        vec![],
        vec![2],
        vec![1],
        vec![1, 5],
        vec![1, 1, 1, 0],       // a range with ts 1, no prefix, mode tag missing
        vec![1, 1, 0, 0, 9],    // unknown mode
        vec![1, 1, 0, 0, 0, 0], // trailing byte
        vec![1, 1, 1, 33, 0],   // prefix length 33 (truncated)
    ];
    for c in cases {
        let e = responder().respond(&c).unwrap_err();
        assert!(
            matches!(e, Error::Decode { .. } | Error::UnsupportedVersion { .. }),
            "{c:?}: {e:?}"
        );
    }
    let big = vec![1_u8; MAX_RECONCILE_MESSAGE + 1];
    assert!(matches!(
        responder().respond(&big),
        Err(Error::TooLarge { .. })
    ));
}

fn wire(ranges: Vec<WireRange>) -> Vec<u8> {
    postcard::to_extend(&ranges, vec![CURRENT_VERSION]).unwrap()
}

fn range(ts: u64, mode: WireMode) -> WireRange {
    WireRange {
        ts,
        prefix: vec![],
        mode,
    }
}

#[test]
fn ranges_out_of_order_are_refused() {
    // ts delta 1 means "the same timestamp as before": equal bounds.
    let m = wire(vec![range(5, WireMode::Skip), range(1, WireMode::Skip)]);
    assert!(matches!(
        responder().respond(&m),
        Err(Error::Decode {
            reason: "ranges out of order",
            ..
        })
    ));
    let m = wire(vec![range(0, WireMode::Skip), range(3, WireMode::Skip)]);
    assert!(matches!(
        responder().respond(&m),
        Err(Error::Decode {
            reason: "range after the end",
            ..
        })
    ));
    // An empty first range.
    let m = wire(vec![range(1, WireMode::Skip)]);
    assert!(matches!(responder().respond(&m), Err(Error::Decode { .. })));
    let m = wire(vec![range(u64::MAX, WireMode::Skip)]);
    assert!(matches!(
        responder().respond(&m),
        Err(Error::Decode {
            reason: "bound out of range",
            ..
        })
    ));
    let m = wire(vec![WireRange {
        ts: 2,
        prefix: vec![1; 33],
        mode: WireMode::Skip,
    }]);
    assert!(matches!(responder().respond(&m), Err(Error::Decode { .. })));
}

#[test]
fn oversized_lists_are_refused() {
    let ids = vec![GroupMessageId([1; 32]); MAX_IDS + 1];
    let m = wire(vec![range(0, WireMode::Ids(ids))]);
    // Over the byte bound or the id bound, either way typed.
    assert!(matches!(
        responder().respond(&m),
        Err(Error::TooLarge { .. })
    ));
    let ids = vec![GroupMessageId([1; 32]); 600];
    let m = wire(vec![
        range(2, WireMode::Ids(ids.clone())),
        range(0, WireMode::Missing(ids)),
    ]);
    assert!(matches!(
        responder().respond(&m),
        Err(Error::TooLarge { .. })
    ));
    let many: Vec<WireRange> = (0..MAX_RANGES + 1)
        .map(|_| range(2, WireMode::Skip))
        .collect();
    assert!(matches!(
        responder().respond(&wire(many)),
        Err(Error::TooLarge { .. })
    ));
}

#[test]
fn endless_fingerprints_end_at_the_round_bound() {
    // A peer that always answers with a mismatching fingerprint of everything.
    let mut r = responder();
    let m = wire(vec![range(0, WireMode::Fingerprint([0xaa; 16]))]);
    let mut n = 0;
    let err = loop {
        match r.respond(&m) {
            Ok(step) => {
                assert!(!step.done);
                n += 1;
            }
            Err(e) => break e,
        }
    };
    assert_eq!(err, Error::TooManyRounds { max: MAX_ROUNDS });
    assert_eq!(n, MAX_ROUNDS);
    // And after the end, nothing more is taken.
    let mut r = responder();
    assert!(r.respond(&wire(vec![])).unwrap().done);
    assert_eq!(r.respond(&m), Err(Error::Finished));
}

#[test]
fn fingerprint_is_order_free_and_matches_prefix_sums() {
    let v = items(50, 10);
    let mut rev = v.clone();
    rev.reverse();
    assert_eq!(
        fingerprint(v.iter().map(|i| &i.id)),
        fingerprint(rev.iter().map(|i| &i.id))
    );
    let r = Reconciler::new(v.clone()).unwrap();
    let mut sorted = v.clone();
    sorted.sort();
    assert_eq!(
        r.fingerprint_of(10, 30),
        fingerprint(sorted[10..30].iter().map(|i| &i.id))
    );
    assert_ne!(r.fingerprint_of(10, 30), r.fingerprint_of(10, 31));
    // Carries across limbs: ff.. + 01 = 0 with a count of 2.
    let ff = GroupMessageId([0xff; 32]);
    let mut one = [0_u8; 32];
    one[0] = 1;
    assert_eq!(
        fingerprint([&ff, &GroupMessageId(one)]),
        finish_fingerprint([0; 4], 2)
    );
}

/// Each side's split factor and list threshold are its own: any mix
/// converges (the benchmark compares their costs).
#[test]
fn any_shapes_converge() {
    let all = items(3_000, 1);
    for (ba, ta, bb, tb) in [
        (8, 8, 16, 16),
        (2, 1, 64, 64),
        (3, 5, 4, 2),
        (16, 16, 2, 64),
    ] {
        for d in [1_usize, 30, 300] {
            let gone: BTreeSet<usize> = (0..d).map(|k| (37 + k * 997) % 3_000).collect();
            let a: Vec<Item> = all
                .iter()
                .enumerate()
                .filter(|(i, _)| !gone.contains(i))
                .map(|(_, x)| *x)
                .collect();
            let mut ra = Reconciler::new(a.clone()).unwrap().with_shape(ba, ta);
            let mut rb = Reconciler::new(all.clone()).unwrap().with_shape(bb, tb);
            let mut msg = ra.initiate().unwrap();
            let mut turn_b = true;
            while !(ra.is_done() && rb.is_done()) {
                let side = if turn_b { &mut rb } else { &mut ra };
                match side.respond(&msg).unwrap().send {
                    Some(m) => msg = m,
                    None => break,
                }
                turn_b = !turn_b;
            }
            if !(ra.is_done() && rb.is_done()) {
                let side = if turn_b { &mut rb } else { &mut ra };
                side.respond(&msg).unwrap();
            }
            assert!(ra.is_done() && rb.is_done());
            assert_eq!(*ra.need(), &ids(&all) - &ids(&a), "{ba} {ta} {bb} {tb} {d}");
            assert!(rb.need().is_empty());
        }
    }
}

const VECTORS_DESCRIPTION: &str = "Group sync (docs/protocol.md section 14). \
    Items of vector_items: 20 items, item i has timestamp 1000 + i/2 and id [i + 1; 32]. \
    initiate_empty: the first message of a side with no items; answer_one: the answer to it \
    of a side holding only item 0; initiate_twenty: the first message of a side with the 20 \
    items; want: a Want frame of group 07x32 for the id 01x32. \
    Written by the kith-sync unit test reconcile::tests::vectors with KITH_WRITE_VECTORS=1.";

fn vector_items() -> Vec<Item> {
    (0..20_u8)
        .map(|i| Item {
            timestamp: 1000 + u64::from(i / 2),
            id: GroupMessageId([i + 1; 32]),
        })
        .collect()
}

/// `docs/vectors/sync.json` matches this code (`KITH_WRITE_VECTORS=1`
/// rewrites it first), and `docs/protocol.md` quotes the same bytes.
#[test]
fn vectors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/vectors/sync.json");
    let initiate_empty = Reconciler::new(vec![]).unwrap().initiate().unwrap();
    let mut one = Reconciler::new(vector_items()[..1].to_vec()).unwrap();
    let step = one.respond(&initiate_empty).unwrap();
    assert!(step.done);
    let answer_one = step.send.unwrap();
    let initiate_twenty = Reconciler::new(vector_items()).unwrap().initiate().unwrap();
    let want = crate::frame::encode(&crate::frame::SyncFrame::Want {
        group: kith_core::group::GroupId([7; 32]),
        ids: vec![GroupMessageId([1; 32])],
    })
    .unwrap();
    let ours = serde_json::json!({
        "description": VECTORS_DESCRIPTION,
        "initiate_empty_hex": hex::encode(&initiate_empty),
        "answer_one_hex": hex::encode(&answer_one),
        "initiate_twenty_hex": hex::encode(&initiate_twenty),
        "want_hex": hex::encode(&want),
    });
    if std::env::var_os("KITH_WRITE_VECTORS").is_some() {
        let json = serde_json::to_string_pretty(&ours).unwrap();
        std::fs::write(path, json + "\n").unwrap();
    }
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(file, ours);
    let doc = include_str!("../../../../docs/protocol.md");
    for k in [
        "initiate_empty_hex",
        "answer_one_hex",
        "initiate_twenty_hex",
        "want_hex",
    ] {
        let hex = ours[k].as_str().unwrap();
        assert!(doc.contains(hex), "docs/protocol.md lacks {k} {hex}");
    }
    // And the initiator of the empty side learns it needs item 0.
    let mut empty = Reconciler::new(vec![]).unwrap();
    empty.initiate().unwrap();
    assert!(empty.respond(&answer_one).unwrap().done);
    assert_eq!(empty.need().len(), 1);
}
