//! Newline-delimited JSON, as Ollama streams it.

use super::lines::{LineEndings, LineSplitter};

/// One non-blank line of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NdjsonLine {
    /// The decoded line, without its line end.
    pub text: String,
    /// False for a final fragment that the body ended without `\n`.
    pub terminated: bool,
}

/// Turns bytes into lines, one at a time.
#[derive(Debug)]
pub struct NdjsonDecoder {
    lines: LineSplitter,
}

impl Default for NdjsonDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl NdjsonDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self {
            lines: LineSplitter::new(LineEndings::LfOnly),
        }
    }

    /// Appends the bytes of one read.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.lines.feed(bytes);
    }

    /// The next non-blank complete line, calling `on_line` with every raw line.
    pub fn next_line(&mut self, on_line: &mut dyn FnMut(&str)) -> Option<NdjsonLine> {
        while let Some(raw) = self.lines.next_line() {
            let text = String::from_utf8_lossy(&raw).into_owned();
            on_line(&text);

            if !is_blank(&text) {
                return Some(NdjsonLine {
                    text,
                    terminated: true,
                });
            }
        }

        None
    }

    /// Ends the stream: a last line without `\n` is still handed out.
    pub fn finish(&mut self, on_line: &mut dyn FnMut(&str)) -> Option<NdjsonLine> {
        let raw = self.lines.take_rest()?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        on_line(&text);

        if is_blank(&text) {
            return None;
        }

        Some(NdjsonLine {
            text,
            terminated: false,
        })
    }
}

/// Lines of ASCII whitespace only are skipped (SPEC §4.4); a no-break space
/// or another Unicode space makes the line count, and fail as JSON.
fn is_blank(text: &str) -> bool {
    text.bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(reads: &[&[u8]]) -> Vec<(String, bool)> {
        let mut decoder = NdjsonDecoder::new();
        let mut lines = Vec::new();

        for read in reads {
            decoder.feed(read);
            while let Some(line) = decoder.next_line(&mut |_| {}) {
                lines.push((line.text, line.terminated));
            }
        }
        if let Some(line) = decoder.finish(&mut |_| {}) {
            lines.push((line.text, line.terminated));
        }

        lines
    }

    #[test]
    fn a_line_split_across_reads_is_joined() {
        let lines = decode(&[b"{\"a\":1}\n{\"b\"", b":2}\n"]);
        assert_eq!(
            lines,
            [
                ("{\"a\":1}".to_owned(), true),
                ("{\"b\":2}".to_owned(), true)
            ]
        );
    }

    #[test]
    fn blank_lines_are_skipped_and_cr_is_dropped() {
        let lines = decode(&[b"\n{}\r\n\r\n  \n"]);
        assert_eq!(lines, [("{}".to_owned(), true)]);
    }

    #[test]
    fn only_ascii_whitespace_is_blank() {
        let lines = decode(&[b" \t\x0b\x0c\n\xc2\xa0\n"]);
        assert_eq!(lines, [("\u{a0}".to_owned(), true)]);
    }

    #[test]
    fn a_final_line_without_newline_is_kept_and_marked() {
        let lines = decode(&[b"{}\n{\"done\":true}"]);
        assert_eq!(lines[1], ("{\"done\":true}".to_owned(), false));
    }

    #[test]
    fn a_split_character_is_one_code_point() {
        let lines = decode(&[b"\"\xE4\xBD", b"\xA0\"\n"]);
        assert_eq!(lines, [("\"你\"".to_owned(), true)]);
    }
}
