//! Who may use the console, and what every response carries.
//!
//! Without credentials the console serves loopback only, and only to requests
//! whose `Host` is a loopback name (so a web page elsewhere cannot reach it by
//! rebinding a DNS name to 127.0.0.1). With `--token` or `--basic-auth` every
//! request must carry them. Every `POST` must carry `X-Herald-Console: 1`: a
//! custom header no cross-site form or simple request can send, so another
//! site cannot make a logged-in browser act. Responses forbid framing and any
//! script or style from elsewhere.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::bail;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use base64::Engine as _;
use subtle::ConstantTimeEq as _;

use super::error::ApiError;

/// The header every state-changing request must carry.
pub(crate) const ACTION_HEADER: &str = "x-herald-console";

/// The page's content security policy: nothing from anywhere else; inline
/// styles only (the Adaptive Card renderer sets them); framed previews of
/// email HTML come from `srcdoc` and run no script.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The credentials the console asks for.
#[derive(Clone)]
pub(crate) struct Access {
    token: Option<String>,
    basic: Option<(String, String)>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

/// Who made a request: the basic-auth user, `token`, or `local`.
#[derive(Debug, Clone)]
pub(crate) struct Who(pub(crate) String);

impl std::fmt::Display for Who {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Access {
    /// From `--token` and `--basic-auth user:password` (empty values count as unset).
    pub(crate) fn new(token: Option<&str>, basic: Option<&str>) -> anyhow::Result<Self> {
        let token = token.filter(|t| !t.is_empty()).map(str::to_owned);
        let basic = match basic.filter(|b| !b.is_empty()) {
            None => None,
            Some(b) => match b.split_once(':') {
                Some((user, pass)) if !user.is_empty() && !pass.is_empty() => {
                    Some((user.to_owned(), pass.to_owned()))
                }
                _ => bail!("--basic-auth must be `user:password`, both non-empty"),
            },
        };
        Ok(Self { token, basic })
    }

    /// True when no credentials are configured.
    fn open(&self) -> bool {
        self.token.is_none() && self.basic.is_none()
    }

    /// What protects the console, for the log.
    pub(crate) fn describe(&self) -> &'static str {
        match (&self.token, &self.basic) {
            (None, None) => "none (loopback only)",
            (Some(_), None) => "token",
            (None, Some(_)) => "basic",
            (Some(_), Some(_)) => "token or basic",
        }
    }

    /// Refuses to serve anywhere but loopback without credentials.
    pub(crate) fn allows_listening_on(&self, addr: SocketAddr) -> anyhow::Result<()> {
        if self.open() && !addr.ip().is_loopback() {
            bail!(
                "refusing to serve the console on {addr} without credentials: anyone who can reach it could send test notifications and replay or purge dead letters. Give --token (or HERALD_CONSOLE_TOKEN) or --basic-auth user:password (or HERALD_CONSOLE_BASIC_AUTH), or listen on 127.0.0.1"
            );
        }
        Ok(())
    }

    /// Who the request is from, or `None` when its credentials are missing or wrong.
    fn identify(&self, headers: &HeaderMap) -> Option<Who> {
        if self.open() {
            return Some(Who("local".to_owned()));
        }
        let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, value) = auth.split_once(' ')?;
        if scheme.eq_ignore_ascii_case("bearer") {
            let token = self.token.as_deref()?;
            return same(value.trim(), token).then(|| Who("token".to_owned()));
        }
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (user, pass) = decoded.split_once(':')?;
        if let Some((u, p)) = &self.basic
            && same(user, u) & same(pass, p)
        {
            return Some(Who(user.to_owned()));
        }
        match &self.token {
            Some(token) if same(pass, token) => Some(Who("token".to_owned())),
            _ => None,
        }
    }
}

/// Compares in constant time (for equal lengths).
fn same(given: &str, expected: &str) -> bool {
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

/// True when `Host` names this machine (`localhost`, `127.0.0.1`, `[::1]`,
/// with any port).
fn loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks who is asking and whether an action is really meant, then adds
/// the security headers to the answer.
pub(crate) async fn guard(
    State(access): State<Arc<Access>>,
    mut request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let mut response = if access.open() && !loopback_host(headers) {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "without credentials the console answers only to localhost, 127.0.0.1 or [::1]",
        )
        .into_response()
    } else if let Some(who) = access.identify(headers) {
        let safe = matches!(*request.method(), Method::GET | Method::HEAD);
        let meant = headers
            .get(ACTION_HEADER)
            .is_some_and(|v| v.as_bytes() == b"1");
        if !safe && !meant {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "actions need the header `X-Herald-Console: 1`",
            )
            .into_response()
        } else {
            request.extensions_mut().insert(who);
            next.run(request).await
        }
    } else {
        let mut r = ApiError::new(StatusCode::UNAUTHORIZED, "credentials required").into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Herald console\", charset=\"UTF-8\""),
        );
        r
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod unit {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn basic(user: &str, pass: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        )
    }

    #[test]
    fn loopback_needs_nothing_anything_else_needs_credentials() {
        let open = Access::new(None, None).unwrap();
        assert!(
            open.allows_listening_on("127.0.0.1:8080".parse().unwrap())
                .is_ok()
        );
        assert!(
            open.allows_listening_on("[::1]:8080".parse().unwrap())
                .is_ok()
        );
        let err = open
            .allows_listening_on("0.0.0.0:8080".parse().unwrap())
            .unwrap_err();
        assert!(err.to_string().contains("--token"), "{err}");
        let token = Access::new(Some("s3cret"), None).unwrap();
        assert!(
            token
                .allows_listening_on("0.0.0.0:8080".parse().unwrap())
                .is_ok()
        );
        assert!(Access::new(None, Some("nopassword")).is_err());
        assert!(Access::new(None, Some(":x")).is_err());
    }

    #[test]
    fn requests_are_identified_by_their_credentials() {
        let access = Access::new(Some("tok"), Some("ops:pw")).unwrap();
        let who = |h: &HeaderMap| access.identify(h).map(|w| w.0);
        assert_eq!(
            who(&headers(&[("authorization", "Bearer tok")])).as_deref(),
            Some("token")
        );
        assert_eq!(who(&headers(&[("authorization", "Bearer nope")])), None);
        assert_eq!(
            who(&headers(&[("authorization", &basic("ops", "pw"))])).as_deref(),
            Some("ops")
        );
        assert_eq!(
            who(&headers(&[("authorization", &basic("anyone", "tok"))])).as_deref(),
            Some("token")
        );
        assert_eq!(
            who(&headers(&[("authorization", &basic("ops", "bad"))])),
            None
        );
        assert_eq!(who(&HeaderMap::new()), None);
        let open = Access::new(None, None).unwrap();
        assert_eq!(
            open.identify(&HeaderMap::new()).map(|w| w.0).as_deref(),
            Some("local")
        );
    }

    #[test]
    fn only_loopback_host_names_pass_without_credentials() {
        for ok in [
            "127.0.0.1:8080",
            "localhost",
            "LOCALHOST:1",
            "[::1]:8080",
            "127.0.0.2",
        ] {
            assert!(loopback_host(&headers(&[("host", ok)])), "{ok}");
        }
        for bad in ["evil.example:8080", "10.0.0.1", "[2001:db8::1]:80"] {
            assert!(!loopback_host(&headers(&[("host", bad)])), "{bad}");
        }
        assert!(!loopback_host(&HeaderMap::new()));
    }
}
