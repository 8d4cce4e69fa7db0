//! The trace context of the work in progress, in the W3C `traceparent` format
//! (`00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`).
//!
//! A request entering a service, or a message taken from the bus, runs inside [`scope`] with
//! the context it arrived with (or a new one). Outgoing REST calls and published messages carry
//! [`outgoing`], a child of the current context, so one scan can be followed across every
//! service's logs by its trace id. No tracing backend is needed for that; exporting spans can
//! come later without changing the carriers.

use std::fmt;
use std::future::Future;

/// The header (REST) and message header (AMQP) name.
pub const HEADER: &str = "traceparent";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    flags: u8,
}

tokio::task_local! {
    static CURRENT: TraceContext;
}

thread_local! {
    /// SplitMix64 state, seeded once per thread from the OS random source (UUIDv4 bytes): ids
    /// only need to be unique and unguessable in practice, and a system call per id would cost
    /// more than the rest of a small request's tracing.
    static RANDOM: std::cell::Cell<u64> = std::cell::Cell::new({
        let seed = uuid::Uuid::new_v4().as_u64_pair();
        seed.0 ^ seed.1
    });
}

fn next_random() -> u64 {
    RANDOM.with(|state| {
        let mut z = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        state.set(z);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

/// Random bytes that are never all zero (an all-zero id is invalid).
fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    loop {
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&next_random().to_le_bytes()[..chunk.len()]);
        }
        if bytes.iter().any(|byte| *byte != 0) {
            return bytes;
        }
    }
}

impl TraceContext {
    /// A new trace, for work that did not arrive with one.
    pub fn new_root() -> Self {
        Self {
            trace_id: random_bytes(),
            span_id: random_bytes(),
            flags: 1,
        }
    }

    /// The same trace with a new span id: what to send to the next hop.
    pub fn child(&self) -> Self {
        Self {
            span_id: random_bytes(),
            ..*self
        }
    }

    /// Parses a `traceparent` value; `None` for anything malformed or all-zero (the spec says
    /// to start a new trace then).
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.trim().split('-');
        let (version, trace, span, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if version.len() != 2 || version == "ff" || (version == "00" && parts.next().is_some()) {
            return None;
        }
        let trace_id: [u8; 16] = decode_hex(trace)?;
        let span_id: [u8; 8] = decode_hex(span)?;
        let [flags] = decode_hex::<1>(flags)?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return None;
        }
        Some(Self {
            trace_id,
            span_id,
            flags,
        })
    }

    pub fn trace_id(&self) -> String {
        encode_hex(&self.trace_id)
    }
}

impl fmt::Display for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            encode_hex(&self.trace_id),
            encode_hex(&self.span_id),
            self.flags
        )
    }
}

fn decode_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; N];
    for (index, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * index..2 * index + 2], 16).ok()?;
    }
    Some(out)
}

fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// Runs `work` with `context` as the current trace context. A plain function, not an `async`
/// one: an async wrapper would hold `work` twice (its argument and the scope's).
pub fn scope<F: Future>(context: TraceContext, work: F) -> impl Future<Output = F::Output> {
    CURRENT.scope(context, work)
}

/// The current context, if the task runs inside [`scope`].
pub fn current() -> Option<TraceContext> {
    CURRENT.try_with(|context| *context).ok()
}

/// The `traceparent` to send with an outgoing call or message: a child of the current context.
pub fn outgoing() -> Option<String> {
    current().map(|context| context.child().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_malformed_values() {
        let value = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let context = TraceContext::parse(value).unwrap();
        assert_eq!(context.to_string(), value);
        assert_eq!(context.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert_eq!(TraceContext::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn children_keep_the_trace_and_change_the_span() {
        let root = TraceContext::new_root();
        let child = root.child();
        assert_eq!(child.trace_id(), root.trace_id());
        assert_ne!(child.to_string(), root.to_string());
        assert_eq!(TraceContext::parse(&root.to_string()), Some(root));
    }

    #[test]
    fn ids_do_not_repeat_within_or_across_threads() {
        let roots = || {
            (0..10_000)
                .map(|_| TraceContext::new_root().trace_id())
                .collect::<Vec<_>>()
        };
        let other = std::thread::spawn(roots).join().unwrap();
        let mut all: Vec<String> = roots().into_iter().chain(other).collect();
        assert!(
            all.iter()
                .all(|id| TraceContext::parse(&format!("00-{id}-00f067aa0ba902b7-01")).is_some())
        );
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 20_000);
    }

    #[tokio::test]
    async fn the_current_context_is_the_scope_s() {
        assert_eq!(current(), None);
        assert_eq!(outgoing(), None);
        let root = TraceContext::new_root();
        scope(root, async {
            assert_eq!(current(), Some(root));
            let sent = TraceContext::parse(&outgoing().unwrap()).unwrap();
            assert_eq!(sent.trace_id(), root.trace_id());
        })
        .await;
    }
}
