//! Splitting a byte stream into lines, across arbitrary read boundaries.

/// Which bytes end a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineEndings {
    /// CRLF, LF or a lone CR, as the SSE rules say.
    Sse,
    /// LF only; one CR before it is dropped (NDJSON).
    LfOnly,
}

/// Buffers bytes and hands out complete lines, without their terminators.
#[derive(Debug)]
pub(crate) struct LineSplitter {
    endings: LineEndings,
    buffer: Vec<u8>,
    /// Start of the first line not handed out yet.
    start: usize,
    /// Bytes before this offset hold no terminator (saves rescans of a long line).
    scanned: usize,
    /// The last line ended with a CR at the end of the buffer: an LF that comes
    /// first in the next read belongs to that CR (one CRLF, not two lines).
    skip_lf: bool,
}

impl LineSplitter {
    pub(crate) fn new(endings: LineEndings) -> Self {
        Self {
            endings,
            buffer: Vec::new(),
            start: 0,
            scanned: 0,
            skip_lf: false,
        }
    }

    /// Appends the bytes of one read.
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        // Drop the lines already handed out so the buffer stays small.
        if self.start > 0 {
            self.buffer.drain(..self.start);
            self.scanned -= self.start;
            self.start = 0;
        }

        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete line, if the buffer holds one.
    pub(crate) fn next_line(&mut self) -> Option<Vec<u8>> {
        if self.skip_lf && self.start < self.buffer.len() {
            if self.buffer[self.start] == b'\n' {
                self.start += 1;
                self.scanned = self.scanned.max(self.start);
            }
            self.skip_lf = false;
        }

        let from = self.scanned.max(self.start);
        let Some(offset) = self.buffer[from..]
            .iter()
            .position(|b| self.is_terminator(*b))
        else {
            self.scanned = self.buffer.len();
            return None;
        };

        let end = from + offset;
        let mut line = self.buffer[self.start..end].to_vec();
        self.start = end + 1;

        if self.buffer[end] == b'\r' {
            self.consume_lf_after_cr();
        } else if self.endings == LineEndings::LfOnly && line.last() == Some(&b'\r') {
            line.pop();
        }

        self.scanned = self.start;
        Some(line)
    }

    /// What is left after the last terminator, at end of stream.
    pub(crate) fn take_rest(&mut self) -> Option<Vec<u8>> {
        let rest = self.buffer.split_off(self.start);
        self.buffer.clear();
        self.start = 0;
        self.scanned = 0;

        if rest.is_empty() {
            None
        } else {
            Some(rest)
        }
    }

    fn is_terminator(&self, byte: u8) -> bool {
        match self.endings {
            LineEndings::Sse => byte == b'\n' || byte == b'\r',
            LineEndings::LfOnly => byte == b'\n',
        }
    }

    fn consume_lf_after_cr(&mut self) {
        match self.buffer.get(self.start) {
            Some(b'\n') => self.start += 1,
            Some(_) => {}
            // The CR was the last byte of this read: decide on the next one.
            None => self.skip_lf = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(endings: LineEndings, reads: &[&[u8]]) -> Vec<String> {
        let mut splitter = LineSplitter::new(endings);
        let mut lines = Vec::new();

        for read in reads {
            splitter.feed(read);
            while let Some(line) = splitter.next_line() {
                lines.push(String::from_utf8(line).expect("test lines are UTF-8"));
            }
        }

        lines
    }

    #[test]
    fn sse_accepts_every_line_ending() {
        let lines = split(LineEndings::Sse, &[b"a\r\nb\nc\rd\n"]);
        assert_eq!(lines, ["a", "b", "c", "d"]);
    }

    #[test]
    fn a_crlf_split_across_reads_is_one_line_end() {
        let lines = split(LineEndings::Sse, &[b"a\r", b"\nb\r", b"", b"\n\n"]);
        assert_eq!(lines, ["a", "b", ""]);
    }

    #[test]
    fn a_lone_cr_then_text_in_the_next_read() {
        let lines = split(LineEndings::Sse, &[b"a\r", b"b\n"]);
        assert_eq!(lines, ["a", "b"]);
    }

    #[test]
    fn lf_only_keeps_lone_cr_and_drops_cr_before_lf() {
        let lines = split(LineEndings::LfOnly, &[b"a\rb\r\nc", b"d\n"]);
        assert_eq!(lines, ["a\rb", "cd"]);
    }

    #[test]
    fn the_rest_is_what_follows_the_last_terminator() {
        let mut splitter = LineSplitter::new(LineEndings::LfOnly);
        splitter.feed(b"one\ntwo");

        assert_eq!(splitter.next_line(), Some(b"one".to_vec()));
        assert_eq!(splitter.next_line(), None);
        assert_eq!(splitter.take_rest(), Some(b"two".to_vec()));
        assert_eq!(splitter.take_rest(), None);
    }

    #[test]
    fn one_byte_reads_give_the_same_lines() {
        let input = b"x: 1\r\n\r\ny\rz\n";
        let whole = split(LineEndings::Sse, &[input]);
        let bytes: Vec<&[u8]> = input.chunks(1).collect();

        assert_eq!(split(LineEndings::Sse, &bytes), whole);
    }
}
