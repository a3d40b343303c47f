//! The browser's side of a [`FileRequest`]: answering a folder listing once the shell read
//! the folder, and going on once credentials were checked.

use super::{with_header, FileRequest, FileStep, Lookup, Stage, HTML};
use crate::files::auth::unauthorized;
use crate::files::listing::{self, is_listed, prefers_json, sort_entries, ListQuery, Listing};
use crate::http::conditional::NO_CACHE;
use crate::http::{Body, Response};

impl FileRequest {
    /// Takes what the shell read of the folder of the last [`FileStep::List`]: its entries, or
    /// why there are none (`Missing` when it is not a folder, `Forbidden` when it may not be
    /// read); returns the answer.
    pub fn listed(&mut self, found: Result<Listing, Lookup>) -> FileStep {
        let stage = std::mem::replace(&mut self.stage, Stage::Done);
        let Stage::Listing(folder) = stage else {
            return self.page(500, "The server lost its way.");
        };
        let mut listing = match found {
            Ok(listing) => listing,
            Err(Lookup::Forbidden) => return self.page(403, "This folder may not be read."),
            Err(_) => return self.not_found(),
        };
        let at_root = folder.segments().is_empty();
        let hidden = self.config.hidden;
        listing
            .entries
            .retain(|entry| is_listed(&entry.name, at_root, hidden));
        let query = ListQuery::from_target(&self.target);
        sort_entries(&mut listing.entries, &query);
        let response = if query.json || prefers_json(self.accept.as_deref()) {
            let body = listing::render_json(&listing.entries);
            Response::new(200).with_body("application/json", Body::Owned(body))
        } else {
            let options = listing::page::PageOptions {
                writable: self.config.takes_writes(),
                truncated: listing.truncated,
            };
            let body = listing::render_page(&folder, &listing.entries, &query, options);
            Response::new(200).with_body(HTML, Body::Owned(body))
        };
        let response = response
            .with_header("Cache-Control", NO_CACHE)
            .with_header("Vary", "Accept");
        self.respond(response, None)
    }

    /// Takes whether the credentials of the last [`FileStep::Authenticate`] hold (`Some`), or
    /// that they could not be checked now (`None`: the server is busy checking others);
    /// returns the next step.
    pub fn authenticated(&mut self, verdict: Option<bool>) -> FileStep {
        let stage = std::mem::replace(&mut self.stage, Stage::Done);
        let Stage::Authenticating(path) = stage else {
            return self.page(500, "The server lost its way.");
        };
        match verdict {
            Some(true) => self.proceed(path),
            Some(false) => self.respond(unauthorized(), None),
            None => {
                let step = self.page(503, "Too many sign-ins are being checked; try again.");
                with_header(step, "Retry-After", "1")
            }
        }
    }
}
