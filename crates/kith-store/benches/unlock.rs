//! How long unlocking a profile takes with the default Argon2id parameters
//! (the deliberate cost a password guess pays), and with the alternatives
//! weighed against them. Prints figures; run it in release:
//!
//! ```sh
//! cargo bench -p kith-store --bench unlock
//! ```

#![allow(clippy::print_stdout, missing_docs)]

use std::time::{Duration, Instant};

use kith_store::{KdfParams, NewProfile, Store, Timestamp};
use zeroize::Zeroizing;

const PASSWORD: &[u8] = b"correct horse battery staple";
const RUNS: u32 = 3;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let candidates = [
        ("default", KdfParams::default()),
        ("64 MiB, t=3", KdfParams::new(64 * 1024, 3, 1)?),
        ("256 MiB, t=2", KdfParams::new(256 * 1024, 2, 1)?),
    ];
    println!("unlock (Store::open: Argon2id + unwrap + first read), mean of {RUNS}:");
    for (i, (name, kdf)) in candidates.into_iter().enumerate() {
        let path = dir.path().join(format!("p{i}.db"));
        let profile = NewProfile {
            display_name: "bench".into(),
            identity_seed: Zeroizing::new([7; 32]),
            created_at: Timestamp(0),
        };
        drop(Store::create(&path, PASSWORD, kdf, &profile)?);
        let mut total = Duration::ZERO;
        for _ in 0..RUNS {
            let start = Instant::now();
            let store = Store::open(&path, PASSWORD)?;
            total += start.elapsed();
            drop(store);
        }
        println!(
            "  {name:<14} {kdf:?}: {:>7.3} s",
            (total / RUNS).as_secs_f64()
        );
    }
    Ok(())
}
