//! Incremental decoders that turn response bytes into frames.
//!
//! Both work on bytes and decode UTF-8 only once a line is complete, so a
//! character split across network reads stays one code point (BR-18).

mod lines;
mod ndjson;
mod sse;

pub use ndjson::{NdjsonDecoder, NdjsonLine};
pub use sse::{SseDecoder, SseEvent};
