//! HTTP/1.1 message bodies as streams, both ends and both ways: a [`BodyReader`] reads one
//! body off a connection (a known length, `Transfer-Encoding: chunked`, or until the
//! connection closes) and stops exactly at its end; a [`ChunkedWriter`] writes one of unknown
//! length in chunks. A 1 GiB `docker load` or `docker cp` then passes through the daemon and
//! the client in pieces of [`CHUNK`] bytes instead of being held whole.
//!
//! Chunked framing (RFC 9112, section 7.1): each chunk is its size in hex, CRLF, the bytes,
//! CRLF; a chunk of size 0 (then optional trailer lines and a blank line) ends the body. It is
//! how a stream of unknown length ends *without* closing the connection, and what Docker's
//! SDKs expect of every streamed answer (events, logs, pulls, builds, stats).

use std::io::{self, BufRead, Read, Write};

/// The most a [`ChunkedWriter`] gathers before it sends a chunk (and so the largest chunk it
/// makes of small writes).
pub const CHUNK: usize = 64 * 1024;

/// How a body's end is known (RFC 9112, section 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length`: exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Neither: the body ends when the connection does (a response to an old client, or a
    /// hijacked stream).
    UntilClose,
}

impl Framing {
    /// The framing the headers announce; `None` for a `Content-Length` that is not a number.
    pub fn from_headers(headers: &[(String, String)]) -> Option<Framing> {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        if header("Transfer-Encoding").is_some_and(|t| t.to_ascii_lowercase().contains("chunked")) {
            return Some(Framing::Chunked);
        }
        match header("Content-Length") {
            Some(length) => length.trim().parse().ok().map(Framing::Length),
            None => Some(Framing::UntilClose),
        }
    }
}

/// Where a body reader is.
#[derive(Debug, Clone, Copy)]
enum State {
    /// This many bytes of a `Content-Length` body left.
    Length(u64),
    /// Inside a chunked body: this many bytes of the current chunk left (0: the next size
    /// line comes; `first`: no chunk was read yet, so no CRLF precedes it).
    Chunked {
        left: u64,
        first: bool,
    },
    UntilClose,
    Done,
}

/// One body read off `inner`, which is left right after it (for the next message of a
/// keep-alive connection). With a limit, a body announced or grown past it fails with
/// [`io::ErrorKind::FileTooLarge`] before the bytes past the limit are read.
#[derive(Debug)]
pub struct BodyReader<R> {
    inner: R,
    state: State,
    /// Bytes announced so far (a length, or the sum of the chunk sizes).
    announced: u64,
    limit: Option<u64>,
}

impl<R: BufRead> BodyReader<R> {
    pub fn new(inner: R, framing: Framing) -> Self {
        let state = match framing {
            Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::Chunked {
                left: 0,
                first: true,
            },
            Framing::UntilClose => State::UntilClose,
        };
        let announced = match framing {
            Framing::Length(n) => n,
            _ => 0,
        };
        BodyReader {
            inner,
            state,
            announced,
            limit: None,
        }
    }

    /// Refuse a body of more than `limit` bytes.
    pub fn with_limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// The connection (or reader) the body comes from.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Has the whole body been read?
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    fn check_limit(&self) -> io::Result<()> {
        match self.limit {
            Some(limit) if self.announced > limit => Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                format!("body larger than {limit} bytes"),
            )),
            _ => Ok(()),
        }
    }

    /// Between chunks: the CRLF after the previous one, the next size line, and after the
    /// last (size 0) the trailers up to the blank line.
    fn next_chunk(&mut self, first: bool) -> io::Result<()> {
        // exercise capstone.2: the framing of a chunked body, up to its limit
        if !first {
            let mut crlf = [0u8; 2];
            self.inner.read_exact(&mut crlf)?;
            if &crlf != b"\r\n" {
                return Err(invalid("chunk not followed by CRLF"));
            }
        }
        let line = read_short_line(&mut self.inner)?;
        let size = u64::from_str_radix(line.trim().split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| invalid("bad chunk size"))?;
        if size == 0 {
            while !read_short_line(&mut self.inner)?.trim().is_empty() {}
            self.state = State::Done;
            return Ok(());
        }
        self.announced = self.announced.saturating_add(size);
        self.check_limit()?;
        self.state = State::Chunked {
            left: size,
            first: false,
        };
        Ok(())
        // end of exercise capstone.2
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// A chunk-size or trailer line: short, or not a chunk line at all.
fn read_short_line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = Vec::new();
    Read::take(&mut *reader, 4096).read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        return Err(invalid("chunk line too long or truncated"));
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

impl<R: BufRead> BufRead for BodyReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.check_limit()?;
        while let State::Chunked { left: 0, first } = self.state {
            self.next_chunk(first)?;
        }
        let left = match self.state {
            State::Done => return Ok(&[]),
            State::Length(left) | State::Chunked { left, .. } => Some(left),
            State::UntilClose => None,
        };
        let available = self.inner.fill_buf()?;
        if available.is_empty() && left.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the connection closed in the middle of a body",
            ));
        }
        let n = left.map_or(available.len(), |left| {
            available
                .len()
                .min(usize::try_from(left).unwrap_or(usize::MAX))
        });
        Ok(&available[..n])
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
        let amount = amount as u64;
        self.state = match self.state {
            State::Length(left) if left <= amount => State::Done,
            State::Length(left) => State::Length(left - amount),
            State::Chunked { left, first } => State::Chunked {
                left: left.saturating_sub(amount),
                first,
            },
            other => other,
        };
    }
}

impl<R: BufRead> Read for BodyReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// A body of unknown length, written as chunks of up to [`CHUNK`] bytes; `flush` sends what
/// was gathered at once (an event, a log line), and [`ChunkedWriter::finish`] ends the body.
/// A writer dropped without `finish` leaves the body unended: the reader sees it cut short,
/// which is how a stream that failed half-way says so after its `200` went out.
pub struct ChunkedWriter<W: Write> {
    inner: W,
    gathered: Vec<u8>,
}

impl<W: Write> ChunkedWriter<W> {
    pub fn new(inner: W) -> Self {
        ChunkedWriter {
            inner,
            gathered: Vec::with_capacity(CHUNK),
        }
    }

    fn send(inner: &mut W, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(()); // a chunk of size 0 would end the body
        }
        write!(inner, "{:x}\r\n", bytes.len())?;
        inner.write_all(bytes)?;
        inner.write_all(b"\r\n")
    }

    fn send_gathered(&mut self) -> io::Result<()> {
        Self::send(&mut self.inner, &self.gathered)?;
        self.gathered.clear();
        Ok(())
    }

    /// Send what is left and the last chunk; the connection may carry another message after.
    pub fn finish(mut self) -> io::Result<W> {
        self.send_gathered()?;
        self.inner.write_all(b"0\r\n\r\n")?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for ChunkedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.gathered.is_empty() && buf.len() >= CHUNK {
            // A large write (io::copy's) is a chunk of its own, without a copy.
            let n = buf.len().min(4 * CHUNK);
            Self::send(&mut self.inner, &buf[..n])?;
            return Ok(n);
        }
        let n = buf.len().min(CHUNK - self.gathered.len());
        self.gathered.extend_from_slice(&buf[..n]);
        if self.gathered.len() >= CHUNK {
            self.send_gathered()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_gathered()?;
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(body: &[u8], framing: Framing, limit: Option<u64>) -> io::Result<Vec<u8>> {
        let mut reader = BodyReader::new(body, framing);
        if let Some(limit) = limit {
            reader = reader.with_limit(limit);
        }
        let mut out = Vec::new();
        reader.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn chunked_bodies_are_read_up_to_their_limit() {
        let body = b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer: x\r\n\r\nNEXT";
        assert_eq!(read_all(body, Framing::Chunked, Some(5)).unwrap(), b"abcde");
        let refused = read_all(body, Framing::Chunked, Some(4)).unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::FileTooLarge);
        // A chunk size past any limit is refused before anything is read or allocated.
        let huge = read_all(b"ffffffffffffffff\r\n", Framing::Chunked, Some(1 << 20));
        assert_eq!(huge.unwrap_err().kind(), io::ErrorKind::FileTooLarge);
        // A chunk-size line that never ends.
        let endless = vec![b'1'; 10_000];
        let endless = read_all(&endless, Framing::Chunked, Some(1 << 20)).unwrap_err();
        assert_eq!(endless.kind(), io::ErrorKind::InvalidData);
        // Cut short: an error, never a quietly shorter body.
        let cut = read_all(b"5\r\nab", Framing::Chunked, None).unwrap_err();
        assert_eq!(cut.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn a_body_stops_at_its_end_and_leaves_the_next_message() {
        let mut connection: &[u8] = b"hello, worldGET /next";
        let mut body = BodyReader::new(&mut connection, Framing::Length(5));
        let mut text = String::new();
        body.read_to_string(&mut text).unwrap();
        assert_eq!(text, "hello");
        assert!(body.is_done());
        assert_eq!(connection, b", worldGET /next");
        assert_eq!(read_all(b"abc", Framing::UntilClose, None).unwrap(), b"abc");
        let short = read_all(b"abc", Framing::Length(4), None).unwrap_err();
        assert_eq!(short.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn what_a_chunked_writer_writes_a_body_reader_reads_back() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let mut writer = ChunkedWriter::new(Vec::new());
        writer.write_all(b"small ").unwrap();
        writer.flush().unwrap();
        writer.write_all(&data).unwrap();
        io::copy(&mut &data[..], &mut writer).unwrap();
        let wire = writer.finish().unwrap();
        assert!(wire.starts_with(b"6\r\nsmall \r\n"));
        assert!(wire.ends_with(b"\r\n0\r\n\r\n"));
        let back = read_all(&wire, Framing::Chunked, None).unwrap();
        assert_eq!(&back[..6], b"small ");
        assert_eq!(&back[6..6 + data.len()], &data[..]);
        assert_eq!(&back[6 + data.len()..], &data[..]);
    }

    #[test]
    fn framing_comes_from_the_headers() {
        let headers = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let chunked = headers(&[("transfer-encoding", "Chunked"), ("Content-Length", "3")]);
        assert_eq!(Framing::from_headers(&chunked), Some(Framing::Chunked));
        let length = headers(&[("Content-Length", " 12 ")]);
        assert_eq!(Framing::from_headers(&length), Some(Framing::Length(12)));
        assert_eq!(Framing::from_headers(&[]), Some(Framing::UntilClose));
        let bad = headers(&[("Content-Length", "lots")]);
        assert_eq!(Framing::from_headers(&bad), None);
    }
}
