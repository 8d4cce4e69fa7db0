#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("mongodb: {0}")]
    Mongo(#[from] mongodb::error::Error),
    #[error("cannot convert document: {0}")]
    Convert(String),
    #[error("mongodb refused writes: {0}")]
    WritesRefused(String),
    #[error("invalid database name {0:?}")]
    InvalidName(String),
}
