//! Kith end-to-end suites: one module per user story.

mod cli_chat;
mod tor_chat;
mod tornet;
