//! HTTP basic auth against the bcrypt hashes of the web config, as an axum middleware.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::LiveWebConfig;
use super::config::BcryptHash;

/// bcrypt checks running at once: a flood of wrong passwords queues here instead of
/// taking every core from the pollers.
const BCRYPT_PARALLEL: usize = 2;
static BCRYPT_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(BCRYPT_PARALLEL);

/// Checks waiting for a slot. Beyond this, a request is answered 429 at once: a queue
/// without bound would hold every flooding connection (and its memory) for ever longer.
const BCRYPT_QUEUE: usize = 8;
static BCRYPT_ADMITTED: tokio::sync::Semaphore =
    tokio::sync::Semaphore::const_new(BCRYPT_PARALLEL + BCRYPT_QUEUE);

/// Seconds a client told 429 should wait: a few bcrypt checks' time.
const RETRY_AFTER_SECONDS: &str = "1";

/// What a credentials check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Denied,
    /// Too many checks running and queued: try again later.
    Busy,
}

/// One users table and the credentials it has already accepted.
pub struct Users {
    hashes: BTreeMap<String, BcryptHash>,
    /// Keyed HMAC of accepted (user, password) pairs: a scrape every 15 s must not pay a
    /// bcrypt each time, and the cache holds no password. It lives as long as the table,
    /// so a changed hash takes effect at once.
    accepted: Mutex<HashSet<[u8; 32]>>,
    cache_key: [u8; 32],
    /// Checked for unknown users, at the table's highest cost, so they cost as much as a
    /// known user: the answer time does not say which users exist. Made on first need,
    /// off the async threads.
    dummy_hash: OnceLock<String>,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Users")
            .field("names", &self.hashes.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Users {
    pub fn new(hashes: BTreeMap<String, BcryptHash>) -> Self {
        Self {
            hashes,
            accepted: Mutex::default(),
            cache_key: rand::random(),
            dummy_hash: OnceLock::new(),
        }
    }

    fn dummy_hash(&self) -> &str {
        self.dummy_hash.get_or_init(|| {
            let cost = self
                .hashes
                .values()
                .filter_map(|h| h.expose().parse::<bcrypt::HashParts>().ok())
                .map(|parts| parts.get_cost())
                .max()
                .unwrap_or(bcrypt::DEFAULT_COST);
            bcrypt::hash("no such user", cost).unwrap_or_default()
        })
    }

    /// Whether `password` is `user`'s. A miss costs a bcrypt (off the async threads), or
    /// is [`Verdict::Busy`] when the bcrypt queue is full; accepted credentials never are.
    pub async fn verify(self: Arc<Self>, user: String, password: String) -> Verdict {
        let fingerprint = self.fingerprint(&user, &password);
        if self.accepted_lock().contains(&fingerprint) {
            return Verdict::Allowed;
        }
        let Ok(admitted) = BCRYPT_ADMITTED.try_acquire() else {
            return Verdict::Busy;
        };
        let Ok(slot) = BCRYPT_SLOTS.acquire().await else {
            return Verdict::Denied;
        };
        // The permits go with the check: a client that hangs up does not free its place
        // while its bcrypt still runs.
        let allowed = tokio::task::spawn_blocking(move || {
            let _permits = (admitted, slot);
            let known = self.hashes.get(&user);
            let hash = known.map_or_else(|| self.dummy_hash(), BcryptHash::expose);
            let ok = bcrypt::verify(&password, hash).unwrap_or(false) && known.is_some();
            if ok {
                self.accepted_lock().insert(fingerprint);
            }
            ok
        })
        .await
        .unwrap_or(false);
        if allowed {
            Verdict::Allowed
        } else {
            Verdict::Denied
        }
    }

    fn fingerprint(&self, user: &str, password: &str) -> [u8; 32] {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.cache_key).expect("HMAC takes any key size");
        mac.update(user.as_bytes());
        mac.update(&[0]);
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn accepted_lock(&self) -> std::sync::MutexGuard<'_, HashSet<[u8; 32]>> {
        crate::lock(&self.accepted)
    }
}

/// Middleware for the protected routes: 401 with a `WWW-Authenticate` challenge unless the
/// request carries the credentials of a configured user.
pub async fn require_basic_auth(
    State(web): State<Arc<LiveWebConfig>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(users) = web.current().await.users else {
        return next.run(request).await;
    };
    let verdict = match credentials(request.headers()) {
        Some((user, password)) => users.verify(user, password).await,
        None => Verdict::Denied,
    };
    match verdict {
        Verdict::Allowed => next.run(request).await,
        Verdict::Denied => unauthorized(),
        Verdict::Busy => too_many_attempts(),
    }
}

fn too_many_attempts() -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, RETRY_AFTER_SECONDS)],
        "too many authentication attempts at once; retry later\n",
    )
        .into_response()
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(
            header::WWW_AUTHENTICATE,
            "Basic realm=\"allscale-exporter\", charset=\"UTF-8\"",
        )],
        "unauthorized\n",
    )
        .into_response()
}

/// User and password of an `Authorization: Basic` header.
fn credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Arc<Users> {
        let hash = parse_hash(&bcrypt::hash("s3cret", 4).unwrap());
        Arc::new(Users::new(BTreeMap::from([("alice".to_owned(), hash)])))
    }

    /// A hash as the web config parser accepts it.
    fn parse_hash(hash: &str) -> BcryptHash {
        let text = format!("basic_auth_users:\n  alice: '{hash}'\n");
        let config = super::super::config::WebConfig::parse(&text, std::path::Path::new("/"));
        config.unwrap().users.unwrap().remove("alice").unwrap()
    }

    #[tokio::test]
    async fn accepts_the_right_password_only_and_caches_successes() {
        let users = users();
        let check = |u: &str, p: &str| {
            let verdict = Arc::clone(&users).verify(u.into(), p.into());
            async move { verdict.await == Verdict::Allowed }
        };
        assert!(!check("alice", "wrong").await);
        assert!(!check("mallory", "s3cret").await);
        let dummy = users
            .dummy_hash
            .get()
            .expect("an unknown user checks the dummy hash");
        let cost = dummy.parse::<bcrypt::HashParts>().unwrap().get_cost();
        assert_eq!(cost, 4, "the dummy hash costs what alice's does");
        assert!(users.accepted_lock().is_empty(), "failures are not cached");
        assert!(check("alice", "s3cret").await);
        assert_eq!(users.accepted_lock().len(), 1);
        assert!(check("alice", "s3cret").await);
        assert!(!check("alice", "s3cret ").await);
    }

    #[tokio::test]
    async fn accepts_htpasswd_hashes() {
        // `htpasswd -nbBC 10 alice example-password-change-me`, as in docs/security.md.
        let hash = "$2y$10$DwfI67k2SruiWURr333PPOPLqUIO9YoyG8auCSxuD.E9GacwGxARa";
        let users = Arc::new(Users::new(BTreeMap::from([(
            "alice".to_owned(),
            parse_hash(hash),
        )])));
        let verdict = users.verify("alice".into(), "example-password-change-me".into());
        assert_eq!(verdict.await, Verdict::Allowed);
    }

    #[test]
    fn parses_basic_credentials() {
        let mut headers = HeaderMap::new();
        assert_eq!(credentials(&headers), None);
        // "alice:pa:ss" -> the password may contain ':'.
        headers.insert(
            header::AUTHORIZATION,
            "Basic YWxpY2U6cGE6c3M=".parse().unwrap(),
        );
        assert_eq!(
            credentials(&headers),
            Some(("alice".into(), "pa:ss".into()))
        );
        headers.insert(
            header::AUTHORIZATION,
            "Bearer YWxpY2U6cGE6c3M=".parse().unwrap(),
        );
        assert_eq!(credentials(&headers), None);
        headers.insert(header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert_eq!(credentials(&headers), None);
    }

    #[test]
    fn debug_shows_names_only() {
        let text = format!("{:?}", users());
        assert!(text.contains("alice") && !text.contains("$2"), "{text}");
    }
}
