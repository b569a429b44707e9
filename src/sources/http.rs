//! `intent_sources.http`: a list a backend serves, like Prometheus `http_sd_configs`.
//!
//! `GET url` every `refresh_interval`, with `If-None-Match` from the last `ETag` (a 304
//! keeps the list and is a success) and `Authorization: Bearer …` when a token is
//! configured, within `request_timeout`, reading at most [`MAX_BODY_BYTES`]. Any failure
//! (connect error, timeout, non-2xx, oversize, invalid list) keeps the last good list; it
//! is counted each time and logged once per kind until a fetch succeeds. Redirects are
//! not followed and no proxy is used, as for the AllScale API.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_LENGTH, ETAG, IF_NONE_MATCH};

use super::list;
use super::refresh::{Fetch, Problem, Round};
use crate::config::HttpSource;

/// Largest list body read (checked against `Content-Length` and while reading).
pub const MAX_BODY_BYTES: u64 = 32 * 1024 * 1024;

/// The HTTP source of one store.
pub(crate) struct Http {
    client: reqwest::Client,
    config: HttpSource,
    /// What the URL is shown as in logs: no query (it may carry a key).
    shown: String,
    etag: Option<reqwest::header::HeaderValue>,
    tick: tokio::time::Interval,
}

impl Http {
    pub(crate) fn new(config: HttpSource, request_timeout: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(format!("allscale-exporter/{}", crate::VERSION))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {}", chain(&e)))?;
        let start = tokio::time::Instant::now() + config.refresh_interval;
        let mut tick = tokio::time::interval_at(start, config.refresh_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Ok(Self {
            client,
            shown: config.shown_url(),
            config,
            etag: None,
            tick,
        })
    }

    fn problem(&self, kind: impl Into<String>, why: impl std::fmt::Display) -> Round {
        Round {
            problems: vec![Problem {
                key: kind.into(),
                message: format!("GET {}: {why}", self.shown),
            }],
            ..Round::default()
        }
    }

    /// The body, at most [`MAX_BODY_BYTES`]; `Err(round)` with the problem otherwise.
    async fn body(&self, mut response: reqwest::Response) -> Result<Vec<u8>, Round> {
        let oversize = || {
            self.problem(
                "oversize",
                format!("the list is larger than {} MiB", MAX_BODY_BYTES >> 20),
            )
        };
        let declared = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
            return Err(oversize());
        }
        let mut body = Vec::with_capacity(declared.unwrap_or(0) as usize);
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if (body.len() + chunk.len()) as u64 > MAX_BODY_BYTES {
                        return Err(oversize());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body),
                Err(e) => return Err(self.problem(kind(&e), chain(&e))),
            }
        }
    }
}

impl Fetch for Http {
    async fn next(&mut self) {
        self.tick.tick().await;
    }

    async fn fetch(&mut self) -> Round {
        let mut request = self.client.get(self.config.url.clone());
        if let Some(etag) = &self.etag {
            request = request.header(IF_NONE_MATCH, etag.clone());
        }
        if let Some(token) = &self.config.bearer_token {
            request = request.bearer_auth(token.expose());
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return self.problem(kind(&e), chain(&e)),
        };
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED && self.etag.is_some() {
            return Round {
                clean: true,
                ..Round::default()
            };
        }
        if !status.is_success() {
            return self.problem(
                format!("status {}", status.as_u16()),
                format!("answered {status}"),
            );
        }
        let etag = response.headers().get(ETAG).cloned();
        let body = match self.body(response).await {
            Ok(body) => body,
            Err(round) => return round,
        };
        match list::parse(&body) {
            Ok(list) => {
                self.etag = etag;
                Round {
                    list: Some(list),
                    problems: Vec::new(),
                    clean: true,
                }
            }
            Err(e) => {
                self.etag = None;
                self.problem("invalid", format!("the list is invalid: {e}"))
            }
        }
    }
}

/// The kind of a failed request, for logging once per kind.
fn kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "request"
    }
}

/// The error with its causes (`error sending request: … Connection refused`), without
/// the URL (the caller shows it, without its query).
pub(crate) fn chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    let url = e.url().map(|u| u.as_str().to_owned());
    match url {
        Some(url) => text.replace(&format!(" for url ({url})"), ""),
        None => text,
    }
}
