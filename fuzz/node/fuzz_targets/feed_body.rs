#![no_main]
//! A fetched feed body through what the node does with it: `parse_feed`
//! as `Profile::fetch_feed` calls it, then the items merged into what a
//! subscription keeps and encoded for the store.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kith_node::fuzzing::feed_body(data);
});
