#![no_main]
//! Conversation and file messages (tags 8 to 17) as they arrive in a session.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kith_core::fuzzing::conversation_message(data));
