//! What a service said, as text that can be shown and stored: banners are often binary.

/// The most characters of a banner kept as evidence.
pub const BANNER_LIMIT: usize = 256;

/// `bytes` as printable text of at most [`BANNER_LIMIT`] characters: valid UTF-8 text is kept,
/// CR, LF and tab are written `\r`, `\n`, `\t`, and any other control or invalid byte as
/// `\xNN`, so a binary greeting (MySQL, AMQP) stays readable and cannot corrupt a log line or
/// a terminal. An escape is never cut in half.
pub fn printable(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut push = |piece: &str, out: &mut String| -> bool {
        let len = piece.chars().count();
        if count + len > BANNER_LIMIT {
            return false;
        }
        count += len;
        out.push_str(piece);
        true
    };
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            let piece = match c {
                '\r' => "\\r".to_owned(),
                '\n' => "\\n".to_owned(),
                '\t' => "\\t".to_owned(),
                '\\' => "\\\\".to_owned(),
                c if c.is_control() => format!("\\x{:02x}", u32::from(c)),
                c => c.to_string(),
            };
            if !push(&piece, &mut out) {
                return out;
            }
        }
        for byte in chunk.invalid() {
            if !push(&format!("\\x{byte:02x}"), &mut out) {
                return out;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_kept_and_line_ends_escaped() {
        assert_eq!(
            printable(b"SSH-2.0-OpenSSH_8.9p1\r\n"),
            "SSH-2.0-OpenSSH_8.9p1\\r\\n"
        );
        assert_eq!(printable("héllo\tthere".as_bytes()), "héllo\\tthere");
        assert_eq!(printable(b"a\\b"), "a\\\\b");
    }

    #[test]
    fn binary_is_escaped() {
        assert_eq!(printable(b"J\x00\x00\x00\x0a8.0"), "J\\x00\\x00\\x00\\n8.0");
        assert_eq!(printable(&[0xff, 0xfb, 0x01]), "\\xff\\xfb\\x01");
        assert_eq!(printable(&[0x7f]), "\\x7f");
    }

    #[test]
    fn long_banners_are_cut_without_splitting_an_escape() {
        let text = printable(&[b'a'; 1000]);
        assert_eq!(text.chars().count(), BANNER_LIMIT);
        let mut bytes = vec![b'a'; BANNER_LIMIT - 2];
        bytes.push(0);
        let text = printable(&bytes);
        // The escape needs four characters and only two are left: it is dropped whole.
        assert_eq!(text, "a".repeat(BANNER_LIMIT - 2));
        let text = printable(&"é".repeat(400).into_bytes());
        assert_eq!(text.chars().count(), BANNER_LIMIT);
    }
}
