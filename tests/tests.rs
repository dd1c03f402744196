//! Kith end-to-end suites: one module per user story.
//!
//! The suites on Tor share one private Tor network per test process
//! ([`kith_tests::tornet::TorNet::shared`]); only `tor_load`, whose nodes
//! start before any network is up, starts one of its own.

mod blogs;
mod bridges;
mod cli_chat;
mod cli_hardening;
mod conversations;
mod feeds;
mod files;
mod flood;
mod forums;
mod groups;
mod inbox;
mod introductions;
mod keepalive;
mod meet;
mod networks;
mod peer_dates;
mod provenance;
mod tor_chat;
mod tor_load;
mod tornet;
