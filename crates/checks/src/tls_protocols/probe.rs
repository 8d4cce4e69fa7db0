//! One probe: connect to the approved address, send one ClientHello, read the answer.
//!
//! Reads are bounded in time (the probe's deadline) and in size ([`MAX_REPLY`]): a hostile
//! server cannot keep a probe reading forever or make it buffer without end.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use super::reply::{self, Progress, Reply};

/// The most bytes read for one answer: room for a ServerHello spread over many records.
pub const MAX_REPLY: usize = 64 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Reply(Reply),
    /// Nothing conclusive before the deadline.
    Silent,
}

/// Sends `hello` to `address` and reads the answer until `deadline`. Only a failed connect is
/// an error: once connected, a reset or a closed connection is how servers refuse.
pub async fn exchange(address: SocketAddr, hello: &[u8], deadline: Instant) -> io::Result<Answer> {
    let mut tcp = match timeout_at(deadline, TcpStream::connect(address)).await {
        Err(_elapsed) => return Ok(Answer::Silent),
        Ok(result) => result?,
    };
    // The hello is one small write; failing it means the server already closed.
    match timeout_at(deadline, tcp.write_all(hello)).await {
        Err(_elapsed) => return Ok(Answer::Silent),
        Ok(Err(_closed)) => return Ok(Answer::Reply(Reply::Closed)),
        Ok(Ok(())) => {}
    }
    let mut received: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let room = MAX_REPLY - received.len();
        let read = match timeout_at(deadline, tcp.read(&mut chunk[..room.min(4096)])).await {
            Err(_elapsed) => return Ok(Answer::Silent),
            Ok(read) => read,
        };
        let end = match read {
            Ok(0) | Err(_) => true,
            Ok(n) => {
                received.extend_from_slice(&chunk[..n]);
                false
            }
        };
        match reply::parse(&received, end) {
            Progress::Done(reply) => return Ok(Answer::Reply(reply)),
            Progress::More if received.len() >= MAX_REPLY => {
                return Ok(Answer::Reply(Reply::NotTls(format!(
                    "no complete ServerHello in the first {MAX_REPLY} bytes"
                ))));
            }
            Progress::More => {}
        }
    }
}
