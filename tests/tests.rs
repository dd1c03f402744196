//! Kith end-to-end suites: one module per user story.

mod bridges;
mod cli_chat;
mod cli_hardening;
mod flood;
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
