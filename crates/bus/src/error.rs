#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("message broker unavailable: {0}")]
    Unavailable(String),
    #[error("message broker refused the message: {0}")]
    Refused(String),
    #[error(
        "message could not be routed to any queue (exchange {exchange}, routing key {routing_key})"
    )]
    Unroutable {
        exchange: String,
        routing_key: String,
    },
    #[error("message broker error: {0}")]
    Broker(String),
    #[error("cannot encode message: {0}")]
    Encode(#[from] serde_json::Error),
}

impl From<lapin::Error> for BusError {
    fn from(error: lapin::Error) -> Self {
        BusError::Broker(error.to_string())
    }
}
