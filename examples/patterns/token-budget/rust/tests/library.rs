//! The public API against a scripted server on 127.0.0.1.

mod support;

use support::{openai_text, End, Script, Server, OPENAI_DONE};
use token_budget::{
    stream_with_budget, End as StreamEnd, Error, ErrorKind, Provider, ProviderKind, Request,
};

fn provider_for(server: &Server) -> Provider {
    let base = format!("{}/v1", server.url);
    Provider::new(ProviderKind::OpenAi, Some(&base), None).expect("a local base URL needs no key")
}

#[tokio::test]
async fn the_budget_result_has_the_documented_fields() {
    let frames = [
        openai_text("abcd"),
        openai_text("efgh"),
        openai_text("ijkl"),
        OPENAI_DONE.to_owned(),
    ];
    let server = Server::start(Script::sse(
        &frames.each_ref().map(String::as_str),
        End::Close,
    ));
    let provider = provider_for(&server);
    let request = Request::new("m", "hi");

    let result = stream_with_budget(&provider, &request, 2)
        .await
        .expect("a budget stop is Ok");

    assert_eq!(result.content, "abcdefgh");
    assert_eq!(result.estimated_tokens, 2);
    assert!(result.budget_reached);
    assert_eq!(result.end, StreamEnd::Budget);
}

#[tokio::test]
async fn a_stream_error_is_an_err_that_keeps_the_partial_result() {
    let frames = [openai_text("Partial")];
    let server = Server::start(Script::sse(
        &frames.each_ref().map(String::as_str),
        End::Cut,
    ));
    let provider = provider_for(&server);

    let error = stream_with_budget(&provider, &Request::new("m", "hi"), 100)
        .await
        .expect_err("a cut body is an error");

    let Error::Stream(partial) = &error else {
        panic!("expected a stream error, got {error}");
    };
    assert_eq!(partial.content, "Partial");
    assert_eq!(
        error.stream_error().map(|e| e.kind),
        Some(ErrorKind::Connection)
    );
}
