//! The AMQP probe: the AMQP 0-9-1 protocol header, answered by a Connection.Start method frame
//! whose server properties name the broker (RabbitMQ sends `product` and `version`).

use super::banner::starts_with_or_is_prefix;
use super::{Service, Verdict};

/// "AMQP", then protocol id 0 and version 0-9-1.
pub const PROTOCOL_HEADER: &[u8; 8] = b"AMQP\x00\x00\x09\x01";

const METHOD_FRAME: u8 = 1;
const FRAME_END: u8 = 0xce;
/// Connection (class 10), Start (method 10).
const CONNECTION_START: [u8; 4] = [0, 10, 0, 10];
/// Far above any real Connection.Start, far below anything that would hurt to buffer.
const MAX_FRAME: usize = 1 << 20;

pub fn parse(reply: &[u8], end: bool) -> Verdict {
    if reply.is_empty() {
        return if end { Verdict::Not } else { Verdict::More };
    }
    // A broker that does not speak 0-9-1 (an AMQP 1.0 broker, say) answers with the header of
    // the protocol it does speak, then closes: still an AMQP broker.
    if reply[0] == b'A' {
        if !starts_with_or_is_prefix(reply, b"AMQP") {
            return Verdict::Not;
        }
        return if reply.len() >= 8 {
            Verdict::Is(Service::new("amqp", None, None))
        } else if end {
            Verdict::Not
        } else {
            Verdict::More
        };
    }
    // type, channel (2), payload size (4), payload, frame end.
    if reply[0] != METHOD_FRAME {
        return Verdict::Not;
    }
    if reply.len() < 11 {
        let channel_zero = starts_with_or_is_prefix(&reply[1..], &[0, 0]);
        return if channel_zero && !end {
            Verdict::More
        } else {
            Verdict::Not
        };
    }
    let size = usize::try_from(u32::from_be_bytes([reply[3], reply[4], reply[5], reply[6]]))
        .unwrap_or(usize::MAX);
    if reply[1..3] != [0, 0] || !(4..=MAX_FRAME).contains(&size) || reply[7..11] != CONNECTION_START
    {
        return Verdict::Not;
    }
    let Some(payload) = reply.get(7..7 + size) else {
        // The method is known already; the properties are a bonus worth waiting for.
        return if end {
            Verdict::Is(Service::new("amqp", None, None))
        } else {
            Verdict::More
        };
    };
    if reply.get(7 + size).is_some_and(|b| *b != FRAME_END) {
        return Verdict::Not;
    }
    // class, method, version-major, version-minor, then the server-properties table.
    let properties = payload.get(6..).map(server_properties).unwrap_or_default();
    let find = |key: &str| {
        properties
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.clone())
    };
    Verdict::Is(Service::new("amqp", find("product"), find("version")))
}

/// The string entries of an AMQP field table (a 4-byte length, then entries of a short-string
/// name, a type byte and a value). Other entries are skipped; parsing stops at anything it
/// cannot size, keeping what it found.
fn server_properties(table: &[u8]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let Some(len) = table.get(..4) else {
        return found;
    };
    let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    let Some(mut rest) = table.get(4..4 + len) else {
        return found;
    };
    while let Some((&name_len, after)) = rest.split_first() {
        let name_len = usize::from(name_len);
        let (Some(name), Some(&kind)) = (after.get(..name_len), after.get(name_len)) else {
            break;
        };
        let value = &after[name_len + 1..];
        let size = match kind {
            b'V' => 0,
            b't' | b'b' | b'B' => 1,
            b's' | b'u' => 2,
            b'I' | b'i' | b'f' => 4,
            b'D' => 5,
            b'l' | b'L' | b'd' | b'T' => 8,
            // Long string, nested table, array, byte array: a 4-byte length first.
            b'S' | b'F' | b'A' | b'x' => match value.get(..4) {
                Some(l) => 4 + u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize,
                None => break,
            },
            _ => break,
        };
        let Some(data) = value.get(..size) else {
            break;
        };
        if kind == b'S' {
            found.push((
                String::from_utf8_lossy(name).into_owned(),
                String::from_utf8_lossy(&data[4..]).into_owned(),
            ));
        }
        rest = &value[size..];
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Connection.Start frame as RabbitMQ sends it (properties shortened), built field by
    /// field.
    fn connection_start(product: &str, version: &str) -> Vec<u8> {
        fn long_string(out: &mut Vec<u8>, name: &str, value: &str) {
            out.push(u8::try_from(name.len()).unwrap());
            out.extend_from_slice(name.as_bytes());
            out.push(b'S');
            out.extend_from_slice(&u32::try_from(value.len()).unwrap().to_be_bytes());
            out.extend_from_slice(value.as_bytes());
        }
        let mut table = Vec::new();
        // A nested table and a boolean first, so the parser has to skip them.
        let mut capabilities = Vec::new();
        capabilities.push(18);
        capabilities.extend_from_slice(b"publisher_confirms");
        capabilities.extend_from_slice(&[b't', 1]);
        table.push(12);
        table.extend_from_slice(b"capabilities");
        table.push(b'F');
        table.extend_from_slice(&u32::try_from(capabilities.len()).unwrap().to_be_bytes());
        table.extend_from_slice(&capabilities);
        long_string(&mut table, "cluster_name", "rabbit@broker");
        long_string(&mut table, "product", product);
        long_string(&mut table, "version", version);
        let mut payload = CONNECTION_START.to_vec();
        payload.extend_from_slice(&[0, 9]);
        payload.extend_from_slice(&u32::try_from(table.len()).unwrap().to_be_bytes());
        payload.extend_from_slice(&table);
        for text in ["AMQPLAIN PLAIN", "en_US"] {
            payload.extend_from_slice(&u32::try_from(text.len()).unwrap().to_be_bytes());
            payload.extend_from_slice(text.as_bytes());
        }
        let mut frame = vec![METHOD_FRAME, 0, 0];
        frame.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
        frame.extend_from_slice(&payload);
        frame.push(FRAME_END);
        frame
    }

    #[test]
    fn connection_start_names_the_broker() {
        let frame = connection_start("RabbitMQ", "3.13.7");
        assert_eq!(
            parse(&frame, false),
            Verdict::Is(Service::new(
                "amqp",
                Some("RabbitMQ".into()),
                Some("3.13.7".into())
            ))
        );
        // Partial frames wait for the rest; at the end the method alone is enough.
        assert_eq!(parse(&frame[..5], false), Verdict::More);
        assert_eq!(parse(&frame[..40], false), Verdict::More);
        assert_eq!(
            parse(&frame[..40], true),
            Verdict::Is(Service::new("amqp", None, None))
        );
    }

    #[test]
    fn a_protocol_header_back_is_amqp() {
        assert_eq!(
            parse(b"AMQP\x00\x01\x00\x00", false),
            Verdict::Is(Service::new("amqp", None, None))
        );
        assert_eq!(parse(b"AMQ", false), Verdict::More);
        assert_eq!(parse(b"AMQ", true), Verdict::Not);
    }

    #[test]
    fn other_replies_are_not_amqp() {
        assert_eq!(parse(b"HTTP/1.1 400 Bad Request\r\n", false), Verdict::Not);
        assert_eq!(parse(b"ABCD", false), Verdict::Not);
        // A method frame, but not Connection.Start.
        let mut frame = connection_start("RabbitMQ", "3.13.7");
        frame[10] = 11;
        assert_eq!(parse(&frame, false), Verdict::Not);
        // The wrong frame end.
        let mut frame = connection_start("RabbitMQ", "3.13.7");
        let last = frame.len() - 1;
        frame[last] = 0;
        assert_eq!(parse(&frame, false), Verdict::Not);
        assert_eq!(parse(&[1, 0, 5], false), Verdict::Not);
    }

    #[test]
    fn properties_survive_unknown_types() {
        // An entry of an unknown type ends the walk but keeps what came before.
        let mut table = vec![1, b'a', b'S', 0, 0, 0, 1, b'x', 1, b'b', b'?'];
        let len = u32::try_from(table.len()).unwrap().to_be_bytes();
        table.splice(0..0, len);
        assert_eq!(server_properties(&table), vec![("a".into(), "x".into())]);
        assert!(server_properties(&[0, 0]).is_empty());
    }
}
