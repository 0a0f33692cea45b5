//! Server-sent events, per the WHATWG "event stream interpretation" rules.

use super::lines::{LineEndings, LineSplitter};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, or `message` when there was none.
    pub event: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// Turns bytes into events, one at a time, so the caller can stop between two
/// events of the same read without looking at the second.
#[derive(Debug)]
pub struct SseDecoder {
    lines: LineSplitter,
    at_stream_start: bool,
    event: String,
    data: String,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SseDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self {
            lines: LineSplitter::new(LineEndings::Sse),
            at_stream_start: true,
            event: String::new(),
            data: String::new(),
        }
    }

    /// Appends the bytes of one read.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.lines.feed(bytes);
    }

    /// The next complete event in the buffered bytes, calling `on_line` with
    /// every raw line it consumes on the way.
    pub fn next_event(&mut self, on_line: &mut dyn FnMut(&str)) -> Option<SseEvent> {
        while let Some(raw) = self.lines.next_line() {
            let line = self.decode_line(raw);
            on_line(&line);

            if let Some(event) = self.process_line(&line) {
                return Some(event);
            }
        }

        None
    }

    /// Ends the stream. An event without its blank line is discarded, as the
    /// SSE rules say; the caller decides what a missing terminator means.
    pub fn finish(&mut self) {
        self.lines.take_rest();
        self.event.clear();
        self.data.clear();
    }

    fn decode_line(&mut self, raw: Vec<u8>) -> String {
        // One leading BOM is stripped; a later one is ordinary text.
        let bytes = if self.at_stream_start && raw.starts_with(BOM) {
            &raw[BOM.len()..]
        } else {
            &raw[..]
        };
        self.at_stream_start = false;

        String::from_utf8_lossy(bytes).into_owned()
    }

    fn process_line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }

        if line.starts_with(':') {
            return None;
        }

        let (name, value) = match line.split_once(':') {
            Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };

        // `id` and `retry` only matter for reconnecting, which a budgeted
        // request never does (SPEC §4.3: no second request).
        match name {
            "event" => value.clone_into(&mut self.event),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            _ => {}
        }

        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let mut data = std::mem::take(&mut self.data);
        let event = std::mem::take(&mut self.event);

        if data.is_empty() {
            return None;
        }

        data.pop();
        let event = if event.is_empty() {
            "message".to_owned()
        } else {
            event
        };

        Some(SseEvent { event, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(reads: &[&[u8]]) -> Vec<(String, String)> {
        let mut decoder = SseDecoder::new();
        let mut events = Vec::new();

        for read in reads {
            decoder.feed(read);
            while let Some(event) = decoder.next_event(&mut |_| {}) {
                events.push((event.event, event.data));
            }
        }
        decoder.finish();

        events
    }

    fn data_of(reads: &[&[u8]]) -> Vec<String> {
        decode(reads).into_iter().map(|(_, data)| data).collect()
    }

    #[test]
    fn exactly_one_space_after_the_colon_is_removed() {
        assert_eq!(
            data_of(&[b"data: a\n\ndata:  b\n\ndata:c\n\n"]),
            ["a", " b", "c"]
        );
    }

    #[test]
    fn data_lines_are_joined_with_lf() {
        assert_eq!(data_of(&[b"data: x\ndata: y\n\n"]), ["x\ny"]);
    }

    #[test]
    fn cr_and_crlf_end_lines() {
        assert_eq!(data_of(&[b"data: x\r\rdata: y\r\n\r\n"]), ["x", "y"]);
    }

    #[test]
    fn comments_and_data_less_events_dispatch_nothing() {
        assert!(decode(&[b": keepalive\n\nevent: ping\n\n:\n"]).is_empty());
    }

    #[test]
    fn a_bare_data_line_dispatches_empty_data() {
        assert_eq!(data_of(&[b"data\n\n"]), [""]);
    }

    #[test]
    fn one_leading_bom_is_stripped_even_when_split() {
        assert_eq!(data_of(&[b"\xEF\xBB", b"\xBFdata: a\n\n"]), ["a"]);
        // A second BOM makes an unknown field name, so the line is ignored.
        assert!(data_of(&[b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\n"]).is_empty());
    }

    #[test]
    fn an_unterminated_event_is_discarded_at_eof() {
        assert!(data_of(&[b"data: tail\n"]).is_empty());
        assert!(data_of(&[b"data: tail"]).is_empty());
    }

    #[test]
    fn event_names_are_kept_and_default_to_message() {
        let events = decode(&[b"event: ping\ndata: {}\n\ndata: 1\n\n"]);
        assert_eq!(events[0].0, "ping");
        assert_eq!(events[1].0, "message");
    }

    #[test]
    fn a_character_split_across_reads_is_one_code_point() {
        let events = data_of(&[b"data: caf\xC3", b"\xA9 \xF0\x9F", b"\x99\x82\n\n"]);
        assert_eq!(events, ["café 🙂"]);
    }

    #[test]
    fn events_come_out_one_at_a_time() {
        let mut decoder = SseDecoder::new();
        decoder.feed(b"data: 1\n\ndata: 2\n\n");

        let first = decoder.next_event(&mut |_| {});
        assert_eq!(first.map(|e| e.data), Some("1".to_owned()));

        let second = decoder.next_event(&mut |_| {});
        assert_eq!(second.map(|e| e.data), Some("2".to_owned()));
    }

    #[test]
    fn raw_lines_are_reported() {
        let mut decoder = SseDecoder::new();
        let mut seen = Vec::new();
        decoder.feed(b": hi\ndata: 1\n\n");

        decoder.next_event(&mut |line| seen.push(line.to_owned()));
        assert_eq!(seen, [": hi", "data: 1", ""]);
    }

    #[test]
    fn every_split_of_the_input_gives_the_same_events() {
        let input: &[u8] =
            b"\xEF\xBB\xBFevent: a\r\ndata: \xE4\xBD\xA0\r\n\r\n: c\rdata: x\rdata: y\r\r";
        let whole = decode(&[input]);

        for cut in 0..input.len() {
            let (left, right) = input.split_at(cut);
            assert_eq!(decode(&[left, right]), whole, "split at byte {cut}");
        }

        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(decode(&bytes), whole);
    }

    /// A small xorshift generator, so the random splits are the same on every run.
    fn random_cuts(len: usize, seed: u64) -> Vec<usize> {
        let mut state = seed.max(1);
        let mut cuts = Vec::new();
        let mut at = 0;

        while at < len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            at += 1 + (state % 17) as usize;
            cuts.push(at.min(len));
        }
        cuts
    }

    #[test]
    fn random_splits_of_a_mixed_stream_give_the_same_events() {
        let input: &[u8] = b": ping\r\nevent: content_block_delta\r\ndata: {\"t\":\"\xE6\xBC\xA2\xF0\x9F\x98\x80\"}\r\n\r\n\
data: a\ndata:  b\n\ndata\n\nevent: x\n\n\rdata: [DONE]\r\rdata: tail";
        let whole = decode(&[input]);
        assert_eq!(whole.len(), 4);

        for seed in 1..200 {
            let mut reads = Vec::new();
            let mut from = 0;
            for cut in random_cuts(input.len(), seed) {
                reads.push(&input[from..cut]);
                from = cut;
            }
            assert_eq!(decode(&reads), whole, "seed {seed}");
        }
    }
}
