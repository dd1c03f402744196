//! Entry points for `cargo fuzz` targets (in `fuzz/`), compiled on stable so
//! they cannot rot. Each asserts a round trip, not only "no panic".

use crate::link::ContactLink;
use crate::wire;

/// Feed arbitrary text to the link parser; whatever parses must re-parse to itself.
pub fn contact_link(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(link) = ContactLink::parse(s) {
        let again = ContactLink::parse(&link.to_string()).expect("a printed link parses");
        assert_eq!(again, link);
    }
}

/// Feed arbitrary bytes to the peer-message decoder; whatever decodes must
/// re-encode to the same bytes (the encoding is canonical).
pub fn wire_frame(data: &[u8]) {
    if let Ok(msg) = wire::decode(data) {
        let bytes = wire::encode(&msg).expect("a decoded message encodes");
        assert_eq!(wire::decode(&bytes).expect("re-decodes"), msg);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    /// Found by `cargo fuzz`: a multi-byte character across the end of
    /// where `kith://` would be panicked the slicing.
    #[test]
    fn link_with_a_character_across_the_scheme_boundary() {
        super::contact_link(&[11, 38, 9, 1, 0, 0, 0, 214, 160]);
        super::contact_link("kith:/é".as_bytes());
    }

    proptest! {
        #[test]
        fn link_never_panics(s in "(kith://)?[a-z2-7]{0,60}(\\.onion)?(\\?tcp=[0-9.:\\[\\]]{0,25})?") {
            super::contact_link(s.as_bytes());
        }

        #[test]
        fn link_never_panics_on_any_bytes(data in proptest::collection::vec(any::<u8>(), 0..120)) {
            super::contact_link(&data);
        }

        #[test]
        fn link_never_panics_on_any_text(s in "\\PC{0,80}") {
            super::contact_link(s.as_bytes());
        }

        #[test]
        fn wire_never_panics(mut data in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Some(b) = data.first_mut() { *b = 1; }
            super::wire_frame(&data);
        }
    }
}
