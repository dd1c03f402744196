//! What the record layer costs: records sealed by one `Session` and opened
//! by its peer (a real Noise XK handshake in memory), against raw
//! ChaCha20-Poly1305 (the RustCrypto crate that `snow` uses here) sealing
//! and opening the same messages in place, unpadded. Kith's figure includes
//! the padding to a bucket (`PADDING_BUCKETS`: a 16 KiB message fills the
//! 64 KiB bucket, 16 365 bytes is the most the 16 KiB one holds), its
//! buffers and checks; the second baseline seals the bucket's length raw,
//! to split padding from the rest. Prints a Markdown table
//! (`docs/performance.md`, "Session records"); run it in release:
//!
//! ```sh
//! cargo bench -p kith-session --bench records
//! ```

#![allow(clippy::print_stdout, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use ed25519_dalek::SigningKey;
use kith_session::{Initiator, PADDING_BUCKETS, Record, Responder, Session, next_frame};

/// Each measurement runs at least this long; the table shows the best of
/// [`ROUNDS`].
const MIN_TIME: Duration = Duration::from_millis(300);
const ROUNDS: usize = 5;

fn pair() -> (Session, Session) {
    let a = SigningKey::from_bytes(&[1; 32]);
    let b = SigningKey::from_bytes(&[2; 32]);
    let (initiator, hello) = Initiator::new(&a, &b.verifying_key()).expect("initiator");
    let responder = Responder::new(&b).expect("responder");
    let (waiting, reply) = responder
        .read_hello(next_frame(&hello).expect("hello frame").0)
        .expect("hello");
    let (sa, finish) = initiator
        .read_reply(next_frame(&reply).expect("reply frame").0)
        .expect("reply");
    let (sb, peer) = waiting
        .read_finish(next_frame(&finish).expect("finish frame").0)
        .expect("finish");
    assert_eq!(peer, a.verifying_key());
    (sa, sb)
}

/// Records per second of `step`, best of [`ROUNDS`] runs of at least
/// [`MIN_TIME`].
fn rate(mut step: impl FnMut()) -> f64 {
    let mut best = 0.0_f64;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let mut n = 0_u64;
        while start.elapsed() < MIN_TIME {
            for _ in 0..64 {
                step();
            }
            n += 64;
        }
        best = best.max(n as f64 / start.elapsed().as_secs_f64());
    }
    best
}

fn kith(len: usize) -> f64 {
    let (mut a, mut b) = pair();
    let msg = vec![0x5a_u8; len];
    rate(|| {
        let frame = a.seal(black_box(&msg)).expect("seal");
        let body = next_frame(&frame).expect("one frame").0;
        match b.open(body).expect("open") {
            Record::Data(d) => assert_eq!(d.len(), len),
            Record::Close => unreachable!("data sent"),
        }
    })
}

/// Raw AEAD: seal `len` bytes in place into a reused buffer, open them,
/// a counter nonce as Noise uses; no allocation, no framing.
fn raw(len: usize) -> f64 {
    let key = Key::from([7_u8; 32]);
    let (sealer, opener) = (ChaCha20Poly1305::new(&key), ChaCha20Poly1305::new(&key));
    let mut buf = vec![0x5a_u8; len];
    let mut counter = 0_u64;
    rate(|| {
        let mut n = [0_u8; 12];
        n[4..].copy_from_slice(&counter.to_le_bytes());
        counter += 1;
        let nonce = Nonce::from(n);
        let tag = sealer
            .encrypt_in_place_detached(&nonce, b"", &mut buf)
            .expect("seal");
        opener
            .decrypt_in_place_detached(&nonce, b"", &mut buf, &tag)
            .expect("open");
        black_box(&buf);
    })
}

fn bucket(len: usize) -> usize {
    PADDING_BUCKETS
        .into_iter()
        .find(|&b| b >= len + 3 + 16)
        .expect("fits a record")
}

fn main() {
    println!(
        "records sealed by one session and opened by its peer, per second (best of {ROUNDS} × ≥ {} ms)",
        MIN_TIME.as_millis()
    );
    println!();
    println!(
        "| message | bucket | Kith records/s | Kith MB/s | raw AEAD records/s | raw MB/s | raw / Kith | raw on the bucket records/s | bucket raw / Kith |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for len in [100_usize, 16_365, 16_384] {
        let b = bucket(len);
        let k = kith(len);
        let r = raw(len);
        let rb = raw(b - 16);
        let mb = |rate: f64| rate * len as f64 / 1e6;
        println!(
            "| {len} B | {b} B | {k:.0} | {:.1} | {r:.0} | {:.1} | {:.2}× | {rb:.0} | {:.2}× |",
            mb(k),
            mb(r),
            r / k,
            rb / k
        );
    }
    println!();
    println!("MB/s count the message's bytes (10^6 bytes), each sealed and opened once.");
}
