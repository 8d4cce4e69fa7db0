//! Writing TLS handshake bytes by hand: the length-prefixed fields a ClientHello is made of.
//! Shared by the port scan's TLS probe and the protocol check.

/// A 24-bit length, as handshake messages carry it.
pub(crate) fn u24(len: usize) -> [u8; 3] {
    let [_, a, b, c] = u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes();
    [a, b, c]
}

/// `data` after its 16-bit length.
pub(crate) fn push_len16(out: &mut Vec<u8>, data: &[u8]) {
    let len = u16::try_from(data.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(data);
}

/// A list of 16-bit values after its 16-bit length in bytes.
pub(crate) fn push_u16_list(out: &mut Vec<u8>, items: &[u16]) {
    let bytes: Vec<u8> = items.iter().flat_map(|item| item.to_be_bytes()).collect();
    push_len16(out, &bytes);
}

/// One extension: its type, then its data after a 16-bit length.
pub(crate) fn push_extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    push_len16(out, data);
}
