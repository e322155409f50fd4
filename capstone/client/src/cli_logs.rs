//! `baleia logs`: a container's output, from its log (`GET /containers/{id}/logs`).
//!
//! With `-f` it keeps following across a restart of the daemon: the container runs on under
//! its supervisor, which goes on writing its log, so when the stream breaks the client waits
//! for the daemon to answer again and asks for the rest. Nothing is shown twice or lost:
//!
//! - Without a terminal, each frame of the stream is one log entry; we ask for them with
//!   their times (`timestamps=1`, taken off again unless `-t` wants them) and resume with
//!   `since` = the last time shown, skipping the entries already shown at that very time.
//! - With a terminal, the stream is raw bytes with no entry boundaries to read times from;
//!   we count the bytes shown and resume with the same question, skipping that many.

use crate::client::{copy_stream, encode, Client, Reply};
use anyhow::{bail, Result};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// How long a follower waits for a daemon that went away to answer again.
const DAEMON_BACK_WITHIN: Duration = Duration::from_secs(60);

/// What `logs` was asked.
pub struct LogsQuery<'a> {
    pub container: &'a str,
    pub follow: bool,
    pub timestamps: bool,
    pub tail: Option<&'a str>,
    pub since: Option<&'a str>,
    pub until: Option<&'a str>,
}

pub fn logs(client: &Client, query: &LogsQuery) -> Result<()> {
    let since = query.since.map(crate::cli_events::timestamp).transpose()?;
    let until = query.until.map(crate::cli_events::timestamp).transpose()?;
    let path = |tail: &str, since: Option<&str>, timestamps: bool| {
        let mut path = format!(
            "/containers/{}/logs?stdout=1&stderr=1&follow={}&timestamps={}&tail={}",
            encode(query.container),
            query.follow as u8,
            timestamps as u8,
            encode(tail)
        );
        for (key, value) in [("since", since), ("until", until.as_deref())] {
            if let Some(value) = value {
                path.push_str(&format!("&{key}={}", encode(value)));
            }
        }
        path
    };
    let tail = query.tail.unwrap_or("all");
    if !query.follow {
        let mut reply = Reply::success(client.request(
            "GET",
            &path(tail, since.as_deref(), query.timestamps),
            None,
            false,
        )?)?;
        return copy_stream(&mut reply);
    }
    let found = client.call(
        "GET",
        &format!("/containers/{}/json", encode(query.container)),
        None,
    )?;
    let id = found["Id"].as_str().unwrap_or(query.container).to_string();
    // From here on a daemon that does not answer is one restarting: wait for it, never start
    // another beside it.
    let client = &Client {
        autostart: false,
        ..client.clone()
    };
    let tty = found["Config"]["Tty"] == true;
    let mut resume = Resume::new(tty, query.timestamps, query.tail.is_some());
    // Since when the daemon has not given a whole stream: a follower gives up after a while.
    let mut breaks: Option<Instant> = None;
    loop {
        let asked = match resume.since() {
            // Resumed without a terminal: every entry after the last one shown.
            Some(since) => path("all", Some(&since), true),
            // With a terminal: the same question as first asked (then skip what was shown);
            // with --tail that question's answer moves, so from the time of the break.
            None if resume.started() && resume.by_time => {
                path("all", Some(&resume.break_time()), query.timestamps)
            }
            None => path(tail, since.as_deref(), resume.wants_times()),
        };
        let streamed = match client.request("GET", &asked, None, false) {
            Ok(reply) => match reply.success() {
                Ok(mut reply) => {
                    breaks = None;
                    resume.copy(&mut reply)
                }
                // The daemon's own answer (the container removed meanwhile): final.
                Err(refused) if resume.started() && is_not_found(&refused) => return Ok(()),
                Err(refused) => return Err(refused),
            },
            Err(unreachable) => Err(unreachable),
        };
        if streamed.is_err() || !client.daemon_answers() {
            // The daemon went away (or is going): wait for it, then ask for the rest, whatever
            // became of the container meanwhile; a stream for a stopped container ends once
            // it has sent what is left.
            let given_up = breaks.is_some_and(|since| since.elapsed() > DAEMON_BACK_WITHIN);
            if given_up || !wait_for_daemon(client) {
                bail!(
                    "the daemon at {} went away and did not answer again within {} s; \
                     `baleia logs -f {}` follows again once it is back",
                    client.socket.display(),
                    DAEMON_BACK_WITHIN.as_secs(),
                    query.container
                );
            }
            breaks.get_or_insert_with(Instant::now);
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        if until.as_deref().is_some_and(past) {
            return Ok(());
        }
        // The stream ended with the daemon up: the container stopped, unless it was restarted.
        let state = client.call("GET", &format!("/containers/{id}/json"), None);
        if !state.is_ok_and(|state| state["State"]["Running"] == true) {
            return Ok(());
        }
    }
}

fn is_not_found(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<crate::client::DaemonError>()
        .is_some_and(|e| e.status == 404)
}

/// Wait until the daemon's socket answers again; false if it does not in time.
fn wait_for_daemon(client: &Client) -> bool {
    let deadline = Instant::now() + DAEMON_BACK_WITHIN;
    while Instant::now() < deadline {
        if client.daemon_answers() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Whether unix seconds `text` (`1700000000.5`) is in the past.
fn past(text: &str) -> bool {
    text.parse::<f64>()
        .is_ok_and(|u| (crate::time::now_nanos() as f64) / 1e9 > u)
}

/// Where a follower is: enough to ask for the rest after a break and skip what it has shown.
struct Resume {
    tty: bool,
    /// `-t`: show the entries' times.
    timestamps: bool,
    /// Without a terminal: the time of the last entry shown, and how many shown had it.
    last: Option<(String, usize)>,
    /// Entries at `last`'s time still to skip in a resumed stream.
    same_time_to_skip: Option<usize>,
    /// With a terminal: bytes shown so far, and bytes of a resumed stream still to skip.
    shown: u64,
    bytes_to_skip: u64,
    /// With a terminal and --tail: resume from the time of the last output (the first
    /// question's answer moves as the log grows, so its bytes cannot be counted off).
    by_time: bool,
    last_output: i64,
}

impl Resume {
    fn new(tty: bool, timestamps: bool, tail: bool) -> Resume {
        Resume {
            tty,
            by_time: tty && tail,
            timestamps,
            last: None,
            same_time_to_skip: None,
            shown: 0,
            bytes_to_skip: 0,
            last_output: crate::time::now_nanos(),
        }
    }

    fn started(&self) -> bool {
        self.shown > 0 || self.last.is_some()
    }

    /// Ask the daemon for times: always without a terminal (they are how we resume).
    fn wants_times(&self) -> bool {
        self.timestamps || !self.tty
    }

    /// The `since` to resume from (without a terminal, once something was shown): a
    /// millisecond before the last entry's time, as unix seconds (the daemon reads them as a
    /// float); the entries up to it are skipped by their exact times.
    fn since(&self) -> Option<String> {
        let (time, _) = self.last.as_ref()?;
        let nanos = unix_nanos(time)? - 1_000_000;
        Some(format!(
            "{}.{:09}",
            nanos.div_euclid(1_000_000_000),
            nanos.rem_euclid(1_000_000_000)
        ))
    }

    fn break_time(&self) -> String {
        let nanos = self.last_output;
        format!(
            "{}.{:09}",
            nanos.div_euclid(1_000_000_000),
            nanos.rem_euclid(1_000_000_000)
        )
    }

    /// Copy one stream to our stdout and stderr, skipping what an earlier stream showed.
    fn copy(&mut self, reply: &mut Reply) -> Result<()> {
        if self.tty {
            self.bytes_to_skip = if self.by_time { 0 } else { self.shown };
            return self.copy_raw(&mut reply.reader);
        }
        self.same_time_to_skip = self.last.as_ref().map(|(_, n)| *n);
        let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
        while let Some((stream, payload)) = crate::logs::read_frame(&mut reply.reader)? {
            let Some(at) = payload.iter().position(|b| *b == b' ') else {
                continue;
            };
            let time = String::from_utf8_lossy(&payload[..at]).into_owned();
            if self.already_shown(&time) {
                continue;
            }
            let shown = if self.timestamps {
                &payload[..]
            } else {
                &payload[at + 1..]
            };
            let sink: &mut dyn Write = if stream == 2 { &mut err } else { &mut out };
            sink.write_all(shown)?;
            sink.flush()?;
            self.last = match self.last.take() {
                Some((last, n)) if last == time => Some((last, n + 1)),
                _ => Some((time, 1)),
            };
        }
        Ok(())
    }

    /// Whether the entry at `time` came before the break: older than the last shown, or one
    /// of the entries shown at that same time.
    fn already_shown(&mut self, time: &str) -> bool {
        let Some((last, _)) = &self.last else {
            return false;
        };
        match self.same_time_to_skip {
            Some(_) if time < last.as_str() => true,
            Some(n) if time == last.as_str() && n > 0 => {
                self.same_time_to_skip = Some(n - 1);
                true
            }
            _ => {
                self.same_time_to_skip = None;
                false
            }
        }
    }

    fn copy_raw(&mut self, reader: &mut impl Read) -> Result<()> {
        let mut out = std::io::stdout();
        let mut buffer = [0u8; 8192];
        loop {
            let n = reader.read(&mut buffer)?;
            if n == 0 {
                return Ok(());
            }
            let skip = self.bytes_to_skip.min(n as u64) as usize;
            self.bytes_to_skip -= skip as u64;
            if skip < n {
                out.write_all(&buffer[skip..n])?;
                out.flush()?;
                self.shown += (n - skip) as u64;
                self.last_output = crate::time::now_nanos();
            }
        }
    }
}

/// `2026-11-29T02:10:00.123456789Z` (the log's times, always UTC with nine digits) → unix
/// nanoseconds. The days from the civil date are Howard Hinnant's `days_from_civil`.
fn unix_nanos(time: &str) -> Option<i64> {
    let number = |range: std::ops::Range<usize>| time.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let fraction = time.get(19..)?.trim_end_matches('Z');
    let nanos = match fraction.strip_prefix('.') {
        Some(digits) => format!("{digits:0<9}").get(..9)?.parse::<i64>().ok()?,
        None => 0,
    };
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second;
    Some(seconds * 1_000_000_000 + nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_times_read_back_as_the_nanoseconds_they_were_written_from() {
        for nanos in [
            1_796_659_342_123_456_789,
            951_782_400_000_000_001,
            86_400_000_000_000,
        ] {
            let text = crate::time::rfc3339_nanos(nanos);
            assert_eq!(unix_nanos(&text), Some(nanos), "{text}");
        }
        assert_eq!(unix_nanos("not a time"), None);
    }

    #[test]
    fn a_resumed_stream_skips_exactly_the_entries_shown_before() {
        let mut resume = Resume::new(false, false, false);
        resume.last = Some(("2026-01-01T00:00:02.000000000Z".into(), 2));
        resume.same_time_to_skip = Some(2);
        let seen: Vec<bool> = [
            "2026-01-01T00:00:01.999999999Z",
            "2026-01-01T00:00:02.000000000Z",
            "2026-01-01T00:00:02.000000000Z",
            "2026-01-01T00:00:02.000000000Z",
            "2026-01-01T00:00:03.000000000Z",
        ]
        .iter()
        .map(|t| resume.already_shown(t))
        .collect();
        assert_eq!(seen, [true, true, true, false, false]);
    }
}
