//! The wall clock of one connection, for `Date` headers: derived from the monotonic `now` and one
//! reading taken when the connection opened, so no input method needs a wall-clock value.

use std::time::Instant;

use time::OffsetDateTime;

use crate::http::HttpDate;

/// Wall-clock time derived from the monotonic clock and one reading taken when the connection
/// opened, with the formatted `Date` cached per second.
#[derive(Debug)]
pub(super) struct WallClock {
    anchor: Instant,
    wall: OffsetDateTime,
    cached: Option<(i64, HttpDate)>,
}

impl WallClock {
    pub(super) fn new(anchor: Instant, wall: OffsetDateTime) -> Self {
        WallClock {
            anchor,
            wall,
            cached: None,
        }
    }

    pub(super) fn date(&mut self, now: Instant) -> HttpDate {
        let wall = self.wall + now.saturating_duration_since(self.anchor);
        let second = wall.unix_timestamp();
        match self.cached {
            Some((cached_second, date)) if cached_second == second => date,
            _ => {
                let date = HttpDate::new(wall);
                self.cached = Some((second, date));
                date
            }
        }
    }
}
