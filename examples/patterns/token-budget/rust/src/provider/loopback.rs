//! The in-process provider: a fixed, deterministic answer streamed word by
//! word, so the budget loop can be shown and tested without any network.

use futures::stream;

use super::{Chunk, ChunkStream, Request};
use crate::estimate::{code_points, ratio_estimate, DEFAULT_CHARS_PER_TOKEN};
use crate::usage::UsageUpdate;

const ANSWER: &str = "A streamed answer arrives in small pieces, and every piece costs \
tokens the moment the provider produces it. Without a budget a single request can keep \
generating long after the useful part is over, and the bill grows with it. A token \
budget watches the pieces as they arrive, estimates how many tokens they hold, and stops \
the request as soon as the estimate reaches the limit. Stopping means closing the \
connection, not just ignoring the rest: a provider that still has an open connection \
may keep generating text that nobody reads. The estimate is deliberately simple, a \
count of characters divided by an average number of characters per token, because it \
has to run on every piece without slowing the stream down. When the provider reports \
its own counts at the end, those are kept next to the estimate so the two can be \
compared. A budget does not make answers better, but it makes their cost predictable, \
and predictable cost is what lets a team put streaming models in front of real users \
without watching every request by hand.";

/// Streams the answer one word at a time. The loopback honours
/// `max_tokens` like a real provider: it stops with `length` when its own
/// estimate of what it generated reaches the limit.
pub(crate) fn stream(request: &Request, max_tokens: u32) -> ChunkStream {
    let mut chunks = Vec::new();
    let mut generated = 0;
    let mut finish_reason = "stop";

    for piece in ANSWER.split_inclusive(' ') {
        generated += code_points(piece);
        chunks.push(Ok(Chunk {
            text: piece.to_owned(),
            ..Chunk::default()
        }));

        if ratio_estimate(generated, DEFAULT_CHARS_PER_TOKEN) >= u64::from(max_tokens) {
            finish_reason = "length";
            break;
        }
    }

    let prompt = ratio_estimate(code_points(&request.prompt), DEFAULT_CHARS_PER_TOKEN);
    let completion = ratio_estimate(generated, DEFAULT_CHARS_PER_TOKEN);
    chunks.push(Ok(Chunk {
        finish_reason: Some(finish_reason.to_owned()),
        usage: Some(UsageUpdate {
            prompt_tokens: Some(Some(prompt)),
            completion_tokens: Some(Some(completion)),
        }),
        terminal: true,
        ..Chunk::default()
    }));

    Box::pin(stream::iter(chunks))
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;

    async fn collect(max_tokens: u32) -> Vec<Chunk> {
        let request = Request::new("loopback-1", "why?");
        stream(&request, max_tokens)
            .map(|item| item.expect("loopback never fails"))
            .collect()
            .await
    }

    #[tokio::test]
    async fn a_large_limit_streams_the_whole_answer() {
        let chunks = collect(10_000).await;
        let text: String = chunks.iter().map(|c| c.text.as_str()).collect();
        let last = chunks.last().unwrap();

        assert_eq!(text, ANSWER);
        assert!(last.terminal);
        assert_eq!(last.finish_reason.as_deref(), Some("stop"));
    }

    #[tokio::test]
    async fn a_small_limit_stops_with_length() {
        let chunks = collect(5).await;
        let last = chunks.last().unwrap();
        let usage = last.usage.unwrap();

        assert_eq!(last.finish_reason.as_deref(), Some("length"));
        assert_eq!(usage.completion_tokens, Some(Some(5)));
        assert_eq!(usage.prompt_tokens, Some(Some(1)));
    }
}
