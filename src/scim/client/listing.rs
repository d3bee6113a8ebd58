//! Reading a whole collection page by page: each page parsed as it arrives, the remaining pages
//! asked for a few at once, and every page checked (no `totalResults`, a short page, a repeated
//! id, a listing that stops early are all an incomplete read, never the end), and the number of
//! pages read is capped, so a server that keeps answering ends the read instead of running on.

use std::collections::HashSet;

use futures::StreamExt;
use serde_json::Value;

use super::*;

/// The most pages one listing reads, whatever the server says: at the largest page adsync asks
/// for, far more users than any application holds; at one result per page, a hundred thousand.
pub const MAX_LIST_PAGES: usize = 100_000;

/// The pages a listing may read beyond those its first page implies (`totalResults` over the page
/// size): twice that, for servers that answer pages shorter than the first, plus this many for
/// results added while it reads.
const PAGE_MARGIN: usize = 10;

impl ScimClient {
    /// Every resource at `path` matching `filter`, page by page (`startIndex`/`count`), each
    /// page turned into `T` by `parse` as it arrives, so only the pages in flight are ever held
    /// as JSON. Once the first page tells `totalResults` and the server's page size, up to
    /// [`LIST_CONCURRENCY`] of the remaining pages are asked for at once (and never more than the
    /// adaptive limit lets out); they are checked in order. Fails with [`ScimError::Incomplete`]
    /// when a page has no `totalResults` (without it the end of the listing cannot be told), a
    /// page is short of what it claims, the server repeats results, or it stops before
    /// `totalResults`.
    pub(super) async fn list_all<T>(
        &self,
        path: &str,
        filter: Option<&str>,
        extra: &[(&str, String)],
        parse: impl Fn(&Value) -> Result<T, String>,
    ) -> Result<Vec<T>, ScimError> {
        let page_size = self.page_size();
        let mut listing = Listing {
            client: self,
            path,
            parse: &parse,
            out: Vec::new(),
            seen: HashSet::new(),
            next: 1,
            total: 0,
            pages: 0,
            page_budget: MAX_LIST_PAGES,
        };
        let first = self.list_page(path, filter, extra, 1, page_size).await?;
        let served = listing.take(1, first)?;
        if served > 0 {
            let expected = listing.total.div_ceil(served);
            listing.page_budget = expected
                .saturating_mul(2)
                .saturating_add(PAGE_MARGIN)
                .min(MAX_LIST_PAGES);
        }
        if listing.done() {
            return Ok(listing.out);
        }
        if served == 0 {
            return Err(listing.stopped());
        }
        // The pages still to read, at the server's own page size; read a few at once, taken in
        // order. A page that comes back short leaves a gap that is read before the next page.
        let starts = (1 + served..=listing.total).step_by(served);
        let mut pages = futures::stream::iter(starts)
            .map(|start| async move {
                let page = self.list_page(path, filter, extra, start, served).await;
                (start, page)
            })
            .buffered(LIST_CONCURRENCY);
        while let Some((start, page)) = pages.next().await {
            let page = page?;
            while listing.next < start && !listing.done() {
                let gap = start - listing.next;
                let page = self
                    .list_page(path, filter, extra, listing.next, gap)
                    .await?;
                if listing.take(listing.next, page)? == 0 && !listing.done() {
                    return Err(listing.stopped());
                }
            }
            if listing.done() {
                return Ok(listing.out);
            }
            if listing.take(start, page)? == 0 && !listing.done() {
                return Err(listing.stopped());
            }
        }
        drop(pages);
        // The server may say there are more than it first did: read on until it has said all.
        while !listing.done() {
            let page = self
                .list_page(path, filter, extra, listing.next, page_size)
                .await?;
            if listing.take(listing.next, page)? == 0 && !listing.done() {
                return Err(listing.stopped());
            }
        }
        Ok(listing.out)
    }

    /// One page of a listing, as the server sent it.
    pub(super) async fn list_page(
        &self,
        path: &str,
        filter: Option<&str>,
        extra: &[(&str, String)],
        start: usize,
        count: usize,
    ) -> Result<Value, ScimError> {
        let mut query: Vec<(&str, String)> = vec![
            ("startIndex", start.to_string()),
            ("count", count.to_string()),
        ];
        if let Some(filter) = filter {
            query.push(("filter", filter.to_owned()));
        }
        query.extend(extra.iter().cloned());
        self.get_json(path, &query).await
    }
}

/// A listing being read: what came so far, checked page by page.
struct Listing<'a, T, P> {
    client: &'a ScimClient,
    path: &'a str,
    parse: &'a P,
    out: Vec<T>,
    /// The ids received, to catch a server that does not page by `startIndex`.
    seen: HashSet<String>,
    /// The `startIndex` of the first result not yet received.
    next: usize,
    /// `totalResults` as the latest page said.
    total: usize,
    /// Pages taken so far.
    pages: usize,
    /// The most pages this listing may take (see [`PAGE_MARGIN`], [`MAX_LIST_PAGES`]).
    page_budget: usize,
}

impl<T, P: Fn(&Value) -> Result<T, String>> Listing<'_, T, P> {
    fn incomplete(&self, detail: String) -> ScimError {
        ScimError::Incomplete {
            url: self.client.url(self.path),
            detail,
        }
    }

    fn done(&self) -> bool {
        self.out.len() >= self.total
    }

    fn stopped(&self) -> ScimError {
        self.incomplete(format!(
            "the server said there are {} results but returned {}",
            self.total,
            self.out.len()
        ))
    }

    /// Checks and parses the page asked for at `start`; returns how many results it held.
    /// Results already received from a longer page before it are skipped.
    fn take(&mut self, start: usize, page: Value) -> Result<usize, ScimError> {
        let path = self.path;
        self.pages += 1;
        if self.pages > self.page_budget {
            return Err(self.incomplete(format!(
                "the server kept answering pages: {} pages read, more than its first page \
                 implied (at most {}), and it still says there are {} results with {} received; \
                 it does not page by startIndex, or its totalResults keeps growing",
                self.pages - 1,
                self.page_budget,
                self.total,
                self.out.len()
            )));
        }
        let obj = page.as_object().ok_or_else(|| {
            self.client
                .invalid("GET", path, "a list response must be an object")
        })?;
        let resources: &[Value] = match get_ci(obj, "Resources") {
            Some(Value::Array(items)) => items,
            None | Some(Value::Null) => &[],
            Some(_) => return Err(self.client.invalid("GET", path, "Resources is not a list")),
        };
        let count = resources.len();
        self.total = get_ci(obj, "totalResults")
            .and_then(Value::as_u64)
            .map(|n| n as usize)
            .ok_or_else(|| {
                self.incomplete(format!(
                    "the page at startIndex {start} has no totalResults, so whether the \
                     listing is complete cannot be told (RFC 7644 §3.4.2 requires it)"
                ))
            })?;
        // A page holding fewer results than it claims, before the end, lost some. (Some
        // servers echo the requested count as itemsPerPage on the last page: that is fine.)
        if let Some(claimed) = get_ci(obj, "itemsPerPage").and_then(Value::as_u64)
            && claimed as usize > count
            && start - 1 + count < self.total
        {
            return Err(self.incomplete(format!(
                "the page at startIndex {start} says it holds {claimed} results but has {count}"
            )));
        }
        let skip = self.next.saturating_sub(start).min(count);
        for resource in &resources[skip..] {
            if let Some(id) = resource.get("id").and_then(Value::as_str)
                && !self.seen.insert(id.to_owned())
            {
                return Err(self.incomplete(format!(
                    "the server returned {id} twice; it does not page by startIndex"
                )));
            }
            let item = (self.parse)(resource).map_err(|e| self.client.invalid("GET", path, e))?;
            self.out.push(item);
        }
        self.next = self.next.max(start + count);
        Ok(count)
    }
}
