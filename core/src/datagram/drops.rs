//! What the socket server says about the datagrams it drops: at most one line per kind of
//! problem per second, with how many of that kind were dropped since the last line, so a flood of
//! garbage can neither fill the log nor go unnoticed.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::DatagramError;

/// Rate-limits the log lines about dropped datagrams, per [`DatagramError::kind`].
#[derive(Debug, Default)]
pub struct DropReporter {
    kinds: HashMap<&'static str, KindState>,
}

#[derive(Debug)]
struct KindState {
    last_line: Instant,
    suppressed: u64,
}

impl DropReporter {
    /// Notes one dropped datagram; returns the line to log, if one is due.
    pub fn note(
        &mut self,
        now: Instant,
        from: SocketAddr,
        error: &DatagramError,
    ) -> Option<String> {
        let kind = error.kind();
        match self.kinds.get_mut(kind) {
            Some(state) if now.saturating_duration_since(state.last_line) < REPORT_INTERVAL => {
                state.suppressed += 1;
                None
            }
            Some(state) => {
                let suppressed = std::mem::take(&mut state.suppressed);
                state.last_line = now;
                Some(line(from, error, suppressed))
            }
            None => {
                self.kinds.insert(
                    kind,
                    KindState {
                        last_line: now,
                        suppressed: 0,
                    },
                );
                Some(line(from, error, 0))
            }
        }
    }
}

fn line(from: SocketAddr, error: &DatagramError, suppressed: u64) -> String {
    let more = match suppressed {
        0 => String::new(),
        n => format!(" ({n} more of this kind since the last report)"),
    };
    format!("socket server: dropped a datagram from {from}: {error}{more}")
}

/// One line per kind per second keeps a flood readable and still shows it is going on.
const REPORT_INTERVAL: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_kind_per_second_with_the_count() {
        let mut reporter = DropReporter::default();
        let from: SocketAddr = ([127, 0, 0, 1], 9).into();
        let start = crate::testing::epoch();
        assert!(reporter.note(start, from, &DatagramError::Empty).is_some());
        assert!(reporter
            .note(start, from, &DatagramError::MalformedJson)
            .is_some());
        for _ in 0..5 {
            assert!(reporter
                .note(
                    start + Duration::from_millis(10),
                    from,
                    &DatagramError::Empty
                )
                .is_none());
        }
        let line = reporter
            .note(start + Duration::from_secs(1), from, &DatagramError::Empty)
            .unwrap();
        assert!(
            line.ends_with("(5 more of this kind since the last report)"),
            "{line}"
        );
    }
}
