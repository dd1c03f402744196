use std::collections::BTreeSet;

use proptest::prelude::*;
use rand::{Rng, SeedableRng, rngs::StdRng};

use super::*;

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

/// What a run cost and found.
#[derive(Debug)]
struct Run {
    bytes: usize,
    /// Changes of direction, plus one: 2 is one round trip.
    turns: usize,
    initiator: Outcome,
    responder: Outcome,
    salt: [u8; 16],
}

/// `a` starts, `b` answers; messages go one way at a time.
fn run(a: &[GroupMessageId], b: &[GroupMessageId], salt: [u8; 16]) -> Run {
    let (mut ra, first) = Reconciler::initiate(a.iter().copied(), salt).unwrap();
    let mut rb = Reconciler::respond_to(b.iter().copied()).unwrap();
    let mut to_b = vec![first];
    let mut bytes = 0;
    let mut turns = 0;
    let (mut oa, mut ob) = (None, None);
    loop {
        let (side, out, batch) = if turns % 2 == 0 {
            (&mut rb, &mut ob, std::mem::take(&mut to_b))
        } else {
            (&mut ra, &mut oa, std::mem::take(&mut to_b))
        };
        if batch.is_empty() {
            break;
        }
        turns += 1;
        for m in batch {
            assert!(m.len() <= MAX_RECONCILE_MESSAGE);
            bytes += m.len();
            let step = side.handle(&m).unwrap();
            if let Some(o) = step.done {
                assert!(out.is_none(), "one outcome");
                *out = Some(o);
            }
            to_b.extend(step.send);
        }
        assert!(turns < 200);
    }
    assert!(ra.is_done() && rb.is_done());
    Run {
        bytes,
        turns,
        initiator: oa.unwrap(),
        responder: ob.unwrap(),
        salt,
    }
}

fn set(v: &[GroupMessageId]) -> BTreeSet<GroupMessageId> {
    v.iter().copied().collect()
}

/// Both sides end knowing exactly the symmetric difference.
fn check(a: &[GroupMessageId], b: &[GroupMessageId], salt: [u8; 16]) -> Run {
    let r = run(a, b, salt);
    let (sa, sb) = (set(a), set(b));
    let a_only: Vec<GroupMessageId> = (&sa - &sb).into_iter().collect();
    let b_only: Vec<GroupMessageId> = (&sb - &sa).into_iter().collect();
    assert_eq!(r.initiator.need, b_only, "what the initiator lacks");
    assert_eq!(
        r.initiator.give, a_only,
        "what the responder lacks, on the initiator"
    );
    assert!(r.initiator.need_keys.is_empty());
    assert_eq!(
        r.responder.give, b_only,
        "what the initiator lacks, on the responder"
    );
    let mut keys: Vec<Key> = a_only.iter().map(|id| Key::of(&r.salt, id)).collect();
    keys.sort_unstable();
    assert_eq!(r.responder.need_keys, keys, "what the responder lacks");
    assert!(r.responder.need.is_empty());
    r
}

/// The figure to hold: bytes at most twice the missing ids, plus this.
const CONSTANT: usize = 512;

#[test]
fn ten_thousand_differing_by_few_cost_what_is_missing() {
    let all = ids(11_000, 1);
    for d in [0_usize, 1, 3, 10, 100, 1000] {
        let b = &all[..10_000 + d];
        // a lacks d of b's, spread through b.
        let gone: BTreeSet<usize> = (0..d).map(|k| k * 10).collect();
        let a: Vec<GroupMessageId> = b
            .iter()
            .enumerate()
            .filter(|(i, _)| !gone.contains(i))
            .map(|(_, x)| *x)
            .collect();
        for (x, y) in [(&a[..], b), (b, &a[..])] {
            let r = check(x, y, [d as u8; 16]);
            assert!(
                r.bytes <= 2 * 32 * d + CONSTANT,
                "{d} missing: {} bytes",
                r.bytes
            );
            if d == 0 {
                assert_eq!(r.turns, 2, "in sync: one round trip");
                assert!(r.bytes < 130, "{}", r.bytes);
            }
            if d <= 1 {
                assert_eq!(r.turns, 2);
            }
            assert!(r.turns <= 6, "{d}: {} turns", r.turns);
        }
    }
}

#[test]
fn both_sides_lacking_converge() {
    let all = ids(3_000, 2);
    for d in [1_usize, 2, 7, 50, 400] {
        // Each lacks its own d.
        let a: Vec<GroupMessageId> = all[d..].to_vec();
        let b: Vec<GroupMessageId> = all[..all.len() - d].to_vec();
        let r = check(&a, &b, [9; 16]);
        assert!(r.bytes <= 2 * 32 * 2 * d + 4 * CONSTANT, "{d}: {}", r.bytes);
    }
}

#[test]
fn empty_and_disjoint_sides() {
    let x = ids(3_000, 3);
    let y = ids(2_000, 4);
    check(&[], &[], [0; 16]);
    check(&x, &[], [0; 16]);
    check(&[], &x, [0; 16]);
    let r = check(&x, &y, [1; 16]);
    // 5 000 differences: about 1.5 symbols each, the responder's 2 000
    // ids and the 3 000 keys it lacks (more than the naive 160 000 bytes:
    // with nothing in common, listing every id is cheaper).
    assert!(
        r.bytes < 5_000 * 16 * 2 + 2_000 * 32 + 3_000 * 12,
        "{}",
        r.bytes
    );
}

#[test]
fn many_salts_many_sizes() {
    let all = ids(600, 5);
    let mut rng = StdRng::seed_from_u64(6);
    for round in 0..60_u8 {
        let a: Vec<GroupMessageId> = all.iter().filter(|_| rng.gen_bool(0.9)).copied().collect();
        let b: Vec<GroupMessageId> = all.iter().filter(|_| rng.gen_bool(0.95)).copied().collect();
        check(&a, &b, [round; 16]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn random_sets_give_the_symmetric_difference(
        n in 0_usize..2_500,
        seed in any::<u64>(),
        salt in any::<[u8; 16]>(),
        pa in 0_u8..=100,
        pb in 0_u8..=100,
    ) {
        let all = ids(n, seed);
        let mut rng = StdRng::seed_from_u64(seed ^ 1);
        let a: Vec<GroupMessageId> =
            all.iter().filter(|_| rng.gen_range(0..100) < pa).copied().collect();
        let b: Vec<GroupMessageId> =
            all.iter().filter(|_| rng.gen_range(0..100) < pb).copied().collect();
        check(&a, &b, salt);
    }
}

#[test]
fn index_density_is_about_one_over_one_plus_half_the_index() {
    let n = 20_000;
    let mut hits = vec![0_u32; 2001];
    for id in ids(n, 7) {
        let mut m = Mapping::new(Key::of(&[0; 16], &id).seed());
        while m.index <= 2000 {
            hits[m.index as usize] += 1;
            m.advance();
        }
    }
    assert_eq!(hits[0] as usize, n);
    for i in [1_usize, 2, 5, 10, 50, 100, 500, 2000] {
        let p = f64::from(hits[i]) / n as f64;
        let want = 1.0 / (1.0 + i as f64 / 2.0);
        // Within a third (the counts are small far out).
        assert!(
            (p - want).abs() < want / 3.0 + 0.003,
            "index {i}: {p} vs {want}"
        );
    }
}

#[test]
fn xor_of_items_rarely_passes_the_check() {
    let keys: Vec<u128> = ids(4_000, 8)
        .iter()
        .map(|id| Key::of(&[0; 16], id).symbol())
        .collect();
    let mut pass = 0;
    for w in keys.windows(3) {
        for v in [w[0] ^ w[1], w[0] ^ w[1] ^ w[2]] {
            if check_of(v & KEY_MASK) == (v >> 96) as u32 {
                pass += 1;
            }
        }
        assert_eq!(check_of(w[0] & KEY_MASK), (w[0] >> 96) as u32);
    }
    assert_eq!(pass, 0);
}

// Hostile peers.

fn msg(m: &Message) -> Vec<u8> {
    postcard::to_extend(m, vec![CURRENT_VERSION]).unwrap()
}

fn decode_err(r: Result<Step, Error>) -> Error {
    r.expect_err("refused")
}

#[test]
fn malformed_messages_are_typed_errors() {
    let (_, good) = Reconciler::initiate(ids(10, 9), [1; 16]).unwrap();
    let responder = || Reconciler::respond_to(ids(10, 9)).unwrap();
    for bad in [
        vec![],
        vec![CURRENT_VERSION],
        good[..good.len() - 1].to_vec(),
        [&good[..], &[0]].concat(),
        vec![CURRENT_VERSION, 9],
    ] {
        assert!(
            matches!(responder().handle(&bad), Err(Error::Decode { .. })),
            "{bad:?}"
        );
    }
    let mut old = good.clone();
    old[0] = 1;
    assert!(matches!(
        responder().handle(&old),
        Err(Error::UnsupportedVersion { version: 1, .. })
    ));
    assert!(matches!(
        responder().handle(&vec![CURRENT_VERSION; MAX_RECONCILE_MESSAGE + 1]),
        Err(Error::TooLarge { .. })
    ));
    // A start without symbols, claiming too much, or with too many.
    let start = |count, n| Message::Start {
        salt: [0; 16],
        count,
        symbols: vec![Symbol([0; 16]); n],
    };
    assert!(matches!(
        responder().handle(&msg(&start(0, 0))),
        Err(Error::Decode { .. })
    ));
    assert!(matches!(
        responder().handle(&msg(&start(MAX_ITEMS + 1, 1))),
        Err(Error::TooLarge { .. })
    ));
    assert!(matches!(
        responder().handle(&msg(&start(0, MAX_SYMBOLS_PER_MESSAGE + 1))),
        Err(Error::TooLarge { .. })
    ));
    // A length prefix that claims more than there is.
    assert!(matches!(
        responder().handle(&[CURRENT_VERSION, 2, 0xff, 0xff, 0xff, 0x0f]),
        Err(Error::Decode { .. })
    ));
    // Out of turn: the responder gets a request, the initiator a start.
    let more = msg(&Message::More { count: 0, upto: 9 });
    assert!(matches!(
        responder().handle(&more),
        Err(Error::Decode { .. })
    ));
    let (mut i, first) = Reconciler::initiate(ids(10, 9), [1; 16]).unwrap();
    assert!(matches!(i.handle(&first), Err(Error::Decode { .. })));
    // After an error, nothing more.
    assert_eq!(i.handle(&more).unwrap_err(), Error::Finished);
}

#[test]
fn requests_out_of_bounds_are_refused() {
    let n = 100_u64;
    let fresh = || {
        Reconciler::initiate(ids(n as usize, 10), [2; 16])
            .unwrap()
            .0
    };
    let sent = INITIAL_SYMBOLS as u64;
    for (count, upto) in [
        (0, sent),                           // nothing new
        (0, 1),                              // backwards
        (0, symbol_cap(n, 0) + 1),           // over the cap for these counts
        (MAX_ITEMS, sent + MAX_REQUEST + 1), // too much at once
    ] {
        let e = decode_err(fresh().handle(&msg(&Message::More { count, upto })));
        assert!(matches!(e, Error::Decode { .. }), "{count} {upto}: {e:?}");
    }
    // A claimed count over the bound.
    let e = decode_err(fresh().handle(&msg(&Message::More {
        count: MAX_ITEMS + 1,
        upto: sent + 1,
    })));
    assert!(matches!(e, Error::TooLarge { .. }));
    // A request within bounds is answered with exactly those symbols.
    let step = fresh()
        .handle(&msg(&Message::More {
            count: MAX_ITEMS,
            upto: sent + 2 * MAX_SYMBOLS_PER_MESSAGE as u64 + 1,
        }))
        .unwrap();
    let got: usize = step
        .send
        .iter()
        .map(|m| match decode(m).unwrap() {
            Message::Symbols { symbols } => symbols.len(),
            other => panic!("{other:?}"),
        })
        .sum();
    assert_eq!(step.send.len(), 3);
    assert_eq!(got, 2 * MAX_SYMBOLS_PER_MESSAGE + 1);
}

#[test]
fn endless_requests_end_at_the_bound() {
    // A responder that claims the largest replica and keeps asking, one
    // symbol at a time: at most MAX_REQUESTS answers.
    let (mut i, _) = Reconciler::initiate(ids(100, 11), [2; 16]).unwrap();
    let mut upto = INITIAL_SYMBOLS as u64;
    let mut answered = 0;
    loop {
        upto += 1;
        match i.handle(&msg(&Message::More {
            count: MAX_ITEMS,
            upto,
        })) {
            Ok(_) => answered += 1,
            Err(e) => {
                assert_eq!(e, Error::TooManyRounds { max: MAX_REQUESTS });
                break;
            }
        }
    }
    assert_eq!(answered, MAX_REQUESTS);
}

#[test]
fn a_flood_of_random_symbols_ends_at_the_cap() {
    // An initiator that sends noise, as much as asked: the responder asks
    // for at most its cap of symbols, then for the initiator's ids (or
    // gives up earlier with a typed error, should the noise not add up).
    let mut rng = StdRng::seed_from_u64(12);
    let mut noise = |n: usize| -> Vec<Symbol> {
        (0..n)
            .map(|_| {
                let mut s = [0_u8; 16];
                rng.fill(&mut s);
                Symbol(s)
            })
            .collect()
    };
    let mut r = Reconciler::respond_to(ids(300, 13)).unwrap();
    let mut step = r
        .handle(&msg(&Message::Start {
            salt: [0; 16],
            count: 300,
            symbols: noise(INITIAL_SYMBOLS),
        }))
        .unwrap();
    let mut have = INITIAL_SYMBOLS as u64;
    let cap = symbol_cap(300, 300);
    let end = loop {
        let [ask] = &step.send[..] else {
            panic!("one request: {step:?}")
        };
        let upto = match decode(ask).unwrap() {
            Message::More { upto, .. } => upto,
            Message::SendIds { count } => {
                assert_eq!(count, 300);
                break None;
            }
            other => panic!("a request: {other:?}"),
        };
        assert!(upto <= cap);
        let mut result = Ok(Step::default());
        while have < upto {
            let n = (upto - have).min(MAX_SYMBOLS_PER_MESSAGE as u64) as usize;
            result = r.handle(&msg(&Message::Symbols { symbols: noise(n) }));
            have += n as u64;
        }
        match result {
            Ok(s) => step = s,
            Err(e) => break Some(e),
        }
    };
    match &end {
        None => assert_eq!(have, cap, "ids asked for before the cap"),
        Some(e) => assert!(matches!(e, Error::Decode { .. }), "{e:?}"),
    }
    assert!(have <= cap);
    // Asked for its ids, the initiator cannot go back to symbols.
    if end.is_none() {
        assert!(
            r.handle(&msg(&Message::Symbols { symbols: noise(1) }))
                .is_err()
        );
    }
}

#[test]
fn symbols_not_asked_for_and_lying_answers_are_refused() {
    let all = ids(200, 14);
    // More symbols than asked.
    let (_, first) = Reconciler::initiate(all[..150].iter().copied(), [4; 16]).unwrap();
    let mut r = Reconciler::respond_to(all.iter().copied()).unwrap();
    let step = r.handle(&first).unwrap();
    assert!(step.done.is_none());
    let Message::More { upto, .. } = decode(&step.send[0]).unwrap() else {
        panic!("a request")
    };
    let n = (upto - INITIAL_SYMBOLS as u64 + 1) as usize;
    let e = decode_err(r.handle(&msg(&Message::Symbols {
        symbols: vec![Symbol([0; 16]); n],
    })));
    assert!(matches!(e, Error::Decode { .. }));

    // An initiator that lies about its count: the symbols decode, the
    // count does not match.
    let (_, mut first) = Reconciler::initiate(all.iter().copied(), [4; 16]).unwrap();
    let Message::Start { salt, symbols, .. } = decode(&first).unwrap() else {
        panic!("a start")
    };
    first = msg(&Message::Start {
        salt,
        count: 0,
        symbols,
    });
    let mut r = Reconciler::respond_to(all.iter().copied()).unwrap();
    let e = decode_err(r.handle(&first));
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");

    // A responder that claims a difference larger than the symbols sent,
    // or keys of nothing the initiator sent.
    let fresh = || {
        Reconciler::initiate(all.iter().copied(), [4; 16])
            .unwrap()
            .0
    };
    let e = decode_err(fresh().handle(&msg(&Message::Done {
        lacks: vec![],
        extra: ids(INITIAL_SYMBOLS + 1, 15),
        last: true,
    })));
    assert!(matches!(e, Error::Decode { .. }));
    let e = decode_err(fresh().handle(&msg(&Message::Done {
        lacks: vec![Key([1; KEY_LEN])],
        extra: vec![],
        last: true,
    })));
    assert!(matches!(e, Error::Decode { .. }));
    // Over the list bounds.
    let e = decode_err(fresh().handle(&msg(&Message::Done {
        lacks: vec![],
        extra: vec![GroupMessageId([1; 32]); MAX_DONE_IDS + 1],
        last: false,
    })));
    assert!(matches!(e, Error::TooLarge { .. }));
    // A done in parts is taken to its last, then nothing more.
    let mut i = fresh();
    let key = Key::of(&[4; 16], &all[0]);
    let part = |last| {
        msg(&Message::Done {
            lacks: vec![key],
            extra: vec![],
            last,
        })
    };
    assert!(i.handle(&part(false)).unwrap().done.is_none());
    let o = i.handle(&part(true)).unwrap().done.unwrap();
    assert_eq!(o.give, vec![all[0]]);
    assert_eq!(i.handle(&part(true)).unwrap_err(), Error::Finished);
}

#[test]
fn large_differences_come_in_many_messages_and_parts() {
    // 6 000 the initiator lacks: several symbol messages per request, and
    // a `Done` in parts (1000 ids a part).
    let b = ids(6_000, 16);
    let r = check(&[], &b, [5; 16]);
    assert!(r.bytes > 6_000 * 32);
    let r = check(&b, &[], [5; 16]);
    assert!(
        r.bytes < 6_000 * (2 * 16 + 12),
        "keys, not ids: {}",
        r.bytes
    );
}

#[test]
fn a_new_member_gets_the_list_not_symbols() {
    // The initiator holds nothing: its (empty) list costs less than any
    // symbols, so the responder asks for it: two round trips, and the
    // bytes are the responder's ids.
    let b = ids(3_000, 17);
    let r = check(&[], &b, [6; 16]);
    assert_eq!(r.turns, 4);
    assert!(r.bytes < 3_000 * 32 + 300, "{}", r.bytes);
    // Holding a few: their list is cheaper than the symbols too.
    let r = check(&b[..3], &b, [6; 16]);
    assert_eq!(r.turns, 4);
    assert!(r.bytes < 3_000 * 32 + 300, "{}", r.bytes);
}

#[test]
fn lying_lists_are_refused() {
    let all = ids(100, 18);
    let mut sorted = all.clone();
    sorted.sort_unstable();
    // A responder holding 100 asks an initiator holding 2 for its list.
    let listing = || {
        let (_, first) = Reconciler::initiate(sorted[..2].iter().copied(), [7; 16]).unwrap();
        let mut r = Reconciler::respond_to(all.iter().copied()).unwrap();
        let step = r.handle(&first).unwrap();
        assert_eq!(
            decode(&step.send[0]).unwrap(),
            Message::SendIds { count: 100 }
        );
        r
    };
    let ids_msg = |ids: &[GroupMessageId], last| {
        msg(&Message::Ids {
            ids: ids.to_vec(),
            last,
        })
    };
    // Out of order, repeated, more than claimed, fewer than claimed.
    for bad in [
        vec![ids_msg(&[sorted[1], sorted[0]], true)],
        vec![ids_msg(&[sorted[0]], false), ids_msg(&[sorted[0]], true)],
        vec![ids_msg(&sorted[..3], true)],
        vec![ids_msg(&sorted[..1], true)],
    ] {
        let mut r = listing();
        let mut result = Ok(Step::default());
        for m in &bad {
            result = r.handle(m);
            if result.is_err() {
                break;
            }
        }
        assert!(matches!(result, Err(Error::Decode { .. })), "{result:?}");
    }
    // The honest list settles it.
    let mut r = listing();
    let o = r
        .handle(&ids_msg(&sorted[..2], true))
        .unwrap()
        .done
        .unwrap();
    assert_eq!(o.give.len(), 98);
    assert!(o.need_keys.is_empty());
    // An initiator asked twice, or asked for symbols after its list.
    let (mut i, _) = Reconciler::initiate(all.iter().copied(), [7; 16]).unwrap();
    let ask = msg(&Message::SendIds { count: 5 });
    let step = i.handle(&ask).unwrap();
    assert_eq!(step.send.len(), 1);
    assert!(matches!(i.handle(&ask), Err(Error::Decode { .. })));
    let (mut i, _) = Reconciler::initiate(all.iter().copied(), [7; 16]).unwrap();
    i.handle(&ask).unwrap();
    let more = msg(&Message::More {
        count: 5,
        upto: 100,
    });
    assert!(matches!(i.handle(&more), Err(Error::Decode { .. })));
    // After its list, the initiator takes no more extra ids than the
    // responder said it held, plus its own count.
    let (mut i, _) = Reconciler::initiate(all[..10].iter().copied(), [7; 16]).unwrap();
    i.handle(&ask).unwrap();
    let e = decode_err(i.handle(&msg(&Message::Done {
        lacks: vec![],
        extra: ids(16, 19),
        last: true,
    })));
    assert!(matches!(e, Error::Decode { .. }));
}

const VECTORS_DESCRIPTION: &str = "Group sync (docs/protocol.md section 14). \
    Item i of the twenty has id [i + 1; 32]. \
    key_01: the key of id 01x32 under salt 01x16; symbol_01: its symbol value (key || check); \
    indices_01: the first 8 indices of its sequence. \
    start_empty: the first message of a side with no items, salt 00x16; \
    done_one: the answer to it of a side holding only id 01x32; \
    start_twenty: the first message of a side with the twenty ids, salt 01x16; \
    want: a Want frame of group 07x32 for the id 01x32. \
    Written by the kith-sync unit test reconcile::tests::vectors with KITH_WRITE_VECTORS=1.";

fn twenty() -> Vec<GroupMessageId> {
    (0..20_u8).map(|i| GroupMessageId([i + 1; 32])).collect()
}

/// `docs/vectors/sync.json` matches this code (`KITH_WRITE_VECTORS=1`
/// rewrites it first), and `docs/protocol.md` quotes the same bytes.
#[test]
fn vectors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/vectors/sync.json");
    let salt = [1_u8; 16];
    let key = Key::of(&salt, &GroupMessageId([1; 32]));
    let symbol = Symbol::from_value(key.symbol());
    let mut m = Mapping::new(key.seed());
    let mut indices = Vec::new();
    for _ in 0..8 {
        indices.push(m.index);
        m.advance();
    }
    let (_, start_empty) = Reconciler::initiate([], [0; 16]).unwrap();
    let mut one = Reconciler::respond_to([GroupMessageId([1; 32])]).unwrap();
    let step = one.handle(&start_empty).unwrap();
    assert!(step.done.is_some());
    let [done_one] = &step.send[..] else {
        panic!("one message")
    };
    let (_, start_twenty) = Reconciler::initiate(twenty(), salt).unwrap();
    let want = crate::frame::encode(&crate::frame::SyncFrame::Want {
        group: kith_core::group::GroupId([7; 32]),
        ids: vec![GroupMessageId([1; 32])],
    })
    .unwrap();
    let ours = serde_json::json!({
        "description": VECTORS_DESCRIPTION,
        "key_01_hex": hex::encode(key.0),
        "symbol_01_hex": hex::encode(symbol.0),
        "indices_01": indices,
        "start_empty_hex": hex::encode(&start_empty),
        "done_one_hex": hex::encode(done_one),
        "start_twenty_hex": hex::encode(&start_twenty),
        "want_hex": hex::encode(&want),
    });
    if std::env::var_os("KITH_WRITE_VECTORS").is_some() {
        std::fs::write(path, serde_json::to_string_pretty(&ours).unwrap() + "\n").unwrap();
    }
    let theirs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(theirs, ours, "docs/vectors/sync.json is stale");
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/protocol.md"
    ))
    .unwrap();
    for (name, v) in ours.as_object().unwrap() {
        if let Some(hex) = v.as_str().filter(|_| name.ends_with("_hex")) {
            assert!(doc.contains(hex), "docs/protocol.md lacks {name}");
        }
    }
    let listed = format!("{indices:?}");
    assert!(doc.contains(&listed), "docs/protocol.md lacks {listed}");
}

/// Symbols the responder needs to decode a difference of `d` (peeling one
/// symbol at a time).
fn threshold(d: usize, seed: u64) -> u64 {
    let (mut i, _) = Reconciler::initiate(ids(d, seed), [seed as u8; 16]).unwrap();
    let mut r = Reconciler::respond_to([]).unwrap();
    r.set_salt([seed as u8; 16]);
    let mut p = Peeler {
        peer_count: d as u64,
        diff: Vec::new(),
        // The responder holds nothing: its symbols are zero.
        own: vec![0; 1 << 14],
        own_from: 0,
        upto: u64::MAX,
        requests: 0,
        decoded: HashMap::new(),
        decoded_coder: Coder::default(),
        queue: Vec::new(),
    };
    // The initiator's coder already produced the first batch: redo it.
    i.coder = Coder::default();
    let salt = [seed as u8; 16];
    for id in ids(d, seed) {
        let k = Key::of(&salt, &id);
        i.coder.add(k.symbol(), Mapping::new(k.seed()));
    }
    loop {
        let s = Symbol::from_value(i.own_symbols(p.diff.len() as u64, 1)[0]);
        r.receive(&mut p, &[s]).unwrap();
        if p.diff[0] == 0 {
            assert_eq!(p.decoded.len(), d);
            return p.diff.len() as u64;
        }
    }
}

#[test]
fn decoding_needs_about_one_and_a_half_symbols_per_difference() {
    for d in [1_usize, 2, 3] {
        for seed in 0..50 {
            let t = threshold(d, seed);
            assert!(t >= d as u64);
            if d == 1 {
                assert_eq!(t, 1, "symbol 0 holds it alone");
            }
        }
    }
    // Means over a few trials (the paper: about 1.35–1.7).
    for (d, trials, most) in [(10_usize, 200, 2.0), (100, 40, 1.6), (1000, 8, 1.45)] {
        let total: u64 = (0..trials).map(|s| threshold(d, s * 31 + 1)).sum();
        let per = total as f64 / (trials * d as u64) as f64;
        assert!(per > 1.2 && per < most, "{d}: {per} symbols each");
    }
}
