//! Publishing bytes as they are: for replaying dead letters and for tests that need to send
//! what no well-behaved publisher would.

use lapin::BasicProperties;
use lapin::types::ShortString;

use crate::connection::Bus;
use crate::error::BusError;
use crate::topology::Exchange;

impl Bus {
    /// Publishes `body` unchanged, confirmed, like [`Bus::publish`] does for envelopes.
    pub async fn publish_bytes(
        &self,
        exchange: Exchange,
        routing_key: &str,
        body: &[u8],
    ) -> Result<(), BusError> {
        let properties = BasicProperties::default()
            .with_content_type(ShortString::from("application/json"))
            .with_delivery_mode(2);
        self.publish_raw(exchange, routing_key, body, properties)
            .await
    }
}
