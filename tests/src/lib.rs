//! The whole fleet in one process, against the real PostgreSQL, RabbitMQ, Redis and MongoDB,
//! isolated per [`Fleet`] (see `s4e_test_support::TestEnv`), and the local servers it scans.
//! Used by the end-to-end tests in `tests/` and by the benchmark programs in `src/bin/`.

mod fleet;
mod targets;

pub use fleet::{Fleet, Replicas, ScanEvent, session_cookie};
pub use targets::{
    Hanging, Received, Receiver, RedisProxy, Slow, Target, tls_front, tls_handshakes,
};
