//! Kith end-to-end test harness: helpers shared by the suites in `tests.rs`.

pub mod cli;
pub mod tornet;
