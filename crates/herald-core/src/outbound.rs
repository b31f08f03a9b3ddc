//! The outbound allow-list: which hosts and networks the workers may connect to.
//!
//! A deployment may set `worker.outbound.allow` to a list of host names
//! (`hooks.slack.com`), wildcard names (`*.example.com`: any name below
//! `example.com`), addresses (`192.0.2.10`) and networks (`10.0.0.0/8`). Then:
//!
//! - a URL whose host is an allowed name is allowed (whatever it resolves to);
//! - any other host name is resolved, and only its addresses inside an allowed
//!   network are used; when none is, the request is refused;
//! - a literal address must be inside an allowed network.
//!
//! HTTP requests are checked before they are sent ([`OutboundPolicy::check_url`])
//! and again when the client resolves a name ([`PolicyResolver`]), so a name
//! cannot be turned into an internal address by DNS. Without a list, every
//! host is allowed. A refused target is a permanent failure of a broken
//! destination: retrying cannot help, the configuration must change.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer};

/// One entry of `worker.outbound.allow`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowRule {
    /// One host name (lowercase, no trailing dot).
    Host(String),
    /// Every name below this domain (`*.example.com` is stored as `example.com`).
    Below(String),
    /// An address or a network.
    Network(IpNet),
}

impl FromStr for AllowRule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let v = s.trim();
        if v.is_empty() {
            return Err("an empty entry; write a host name, `*.domain`, an address or a network such as 10.0.0.0/8".into());
        }
        if let Ok(net) = v.parse::<IpNet>() {
            return Ok(AllowRule::Network(net.trunc()));
        }
        if let Ok(ip) = v.parse::<IpAddr>() {
            return Ok(AllowRule::Network(IpNet::from(ip)));
        }
        if v.contains('/') {
            return Err(format!(
                "`{v}` is not a network; write one as 10.0.0.0/8 or fd00::/8"
            ));
        }
        let (below, name) = match v.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, v),
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let valid = !name.is_empty()
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !valid {
            return Err(format!(
                "`{v}` is not a host name, `*.domain`, an address or a network (such as hooks.slack.com, *.example.com, 192.0.2.10 or 10.0.0.0/8)"
            ));
        }
        Ok(if below {
            AllowRule::Below(name)
        } else {
            AllowRule::Host(name)
        })
    }
}

impl fmt::Display for AllowRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowRule::Host(h) => f.write_str(h),
            AllowRule::Below(d) => write!(f, "*.{d}"),
            AllowRule::Network(n) => write!(f, "{n}"),
        }
    }
}

impl<'de> Deserialize<'de> for AllowRule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Why a target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{target} is outside the outbound allow-list (worker.outbound.allow: {allowed})")]
pub struct Refused {
    /// The host or address refused.
    pub target: String,
    /// The list, for the message.
    pub allowed: String,
}

/// The deployment's outbound policy: everything, or an allow-list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// The entries; `None` allows every host.
    allow: Option<Vec<AllowRule>>,
}

/// What the policy says of a host before any name is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostVerdict {
    /// Allowed (an allowed name or address, or no list).
    Allowed,
    /// A name not in the list: only its addresses inside an allowed network may be used.
    ResolveAndFilter,
    /// Refused outright (an address outside every allowed network).
    Refused(Refused),
}

impl OutboundPolicy {
    /// Every host allowed.
    pub fn open() -> Self {
        Self::default()
    }

    /// Only these hosts and networks.
    pub fn allow(rules: Vec<AllowRule>) -> Self {
        Self { allow: Some(rules) }
    }

    /// True when there is a list.
    pub fn is_restricted(&self) -> bool {
        self.allow.is_some()
    }

    fn refused(&self, target: impl Into<String>) -> Refused {
        Refused {
            target: target.into(),
            allowed: self
                .allow
                .iter()
                .flatten()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// The verdict on `host` (a name, or an address with or without brackets).
    pub fn host(&self, host: &str) -> HostVerdict {
        let Some(rules) = &self.allow else {
            return HostVerdict::Allowed;
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return match self.address(ip) {
                Ok(()) => HostVerdict::Allowed,
                Err(r) => HostVerdict::Refused(r),
            };
        }
        let name = bare.trim_end_matches('.').to_ascii_lowercase();
        let by_name = rules.iter().any(|r| match r {
            AllowRule::Host(h) => *h == name,
            AllowRule::Below(d) => name
                .strip_suffix(d.as_str())
                .is_some_and(|rest| rest.ends_with('.')),
            AllowRule::Network(_) => false,
        });
        if by_name {
            HostVerdict::Allowed
        } else {
            HostVerdict::ResolveAndFilter
        }
    }

    /// Whether an address is inside an allowed network.
    ///
    /// # Errors
    /// [`Refused`] when it is not.
    pub fn address(&self, ip: IpAddr) -> Result<(), Refused> {
        let Some(rules) = &self.allow else {
            return Ok(());
        };
        let ip = canonical(ip);
        if rules
            .iter()
            .any(|r| matches!(r, AllowRule::Network(n) if n.contains(&ip)))
        {
            Ok(())
        } else {
            Err(self.refused(ip.to_string()))
        }
    }

    /// Checks a URL's host before a request is sent: literal addresses must be
    /// in an allowed network; names are checked again when resolved.
    ///
    /// # Errors
    /// [`Refused`] when the URL has no host or its address is not allowed.
    pub fn check_url(&self, url: &url::Url) -> Result<(), Refused> {
        if self.allow.is_none() {
            return Ok(());
        }
        let Some(host) = url.host_str() else {
            return Err(self.refused(format!("a URL without a host ({})", url.scheme())));
        };
        match self.host(host) {
            HostVerdict::Refused(r) => Err(r),
            HostVerdict::Allowed | HostVerdict::ResolveAndFilter => Ok(()),
        }
    }

    /// Keeps the resolved addresses of `host` the policy allows.
    ///
    /// # Errors
    /// [`Refused`] when none is left.
    pub fn filter(&self, host: &str, addrs: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, Refused> {
        match self.host(host) {
            HostVerdict::Allowed => Ok(addrs),
            HostVerdict::Refused(r) => Err(r),
            HostVerdict::ResolveAndFilter => {
                let kept: Vec<SocketAddr> = addrs
                    .iter()
                    .copied()
                    .filter(|a| self.address(a.ip()).is_ok())
                    .collect();
                if kept.is_empty() {
                    let shown = addrs
                        .iter()
                        .map(|a| a.ip().to_string())
                        .collect::<Vec<_>>()
                        .join(", ");
                    Err(self.refused(format!("{host} ({shown})")))
                } else {
                    Ok(kept)
                }
            }
        }
    }

    /// Resolves `host` and keeps the allowed addresses (SMTP, and `herald check`).
    ///
    /// # Errors
    /// [`ResolveError`] when the name does not resolve or no address is allowed.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            self.address(ip).map_err(ResolveError::Refused)?;
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
            .await
            .map_err(|e| ResolveError::Lookup(format!("cannot resolve {bare}: {e}")))?
            .collect();
        self.filter(bare, addrs).map_err(ResolveError::Refused)
    }
}

/// Why [`OutboundPolicy::resolve`] found no address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The name did not resolve.
    #[error("{0}")]
    Lookup(String),
    /// Every address is outside the allow-list.
    #[error(transparent)]
    Refused(Refused),
}

/// IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) are judged as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// The HTTP client's name resolver: the system's, filtered by the policy, so a
/// name cannot lead a request to an address outside the allow-list.
#[derive(Debug, Clone)]
pub struct PolicyResolver {
    policy: Arc<OutboundPolicy>,
}

impl PolicyResolver {
    /// A resolver enforcing `policy`.
    pub fn new(policy: Arc<OutboundPolicy>) -> Self {
        Self { policy }
    }
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept = policy.filter(&host, addrs)?;
            let out: reqwest::dns::Addrs = Box::new(kept.into_iter());
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(entries: &[&str]) -> OutboundPolicy {
        OutboundPolicy::allow(entries.iter().map(|e| e.parse().unwrap()).collect())
    }

    fn sa(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 443)
    }

    #[test]
    fn entries_parse_or_say_what_is_valid() {
        assert_eq!(
            "Hooks.Slack.com.".parse::<AllowRule>(),
            Ok(AllowRule::Host("hooks.slack.com".into()))
        );
        assert_eq!(
            "*.example.com".parse::<AllowRule>(),
            Ok(AllowRule::Below("example.com".into()))
        );
        assert_eq!(
            "10.1.2.3/8".parse::<AllowRule>(),
            Ok(AllowRule::Network("10.0.0.0/8".parse().unwrap()))
        );
        assert_eq!(
            "192.0.2.1".parse::<AllowRule>(),
            Ok(AllowRule::Network("192.0.2.1/32".parse().unwrap()))
        );
        for bad in ["", "10.0.0.0/99", "http://x", "a..b", "exa mple.com"] {
            let e = bad.parse::<AllowRule>().unwrap_err();
            assert!(
                e.contains("network") || e.contains("host name"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn names_wildcards_and_networks() {
        let p = policy(&["hooks.slack.com", "*.example.com", "10.0.0.0/8"]);
        assert_eq!(p.host("hooks.slack.com"), HostVerdict::Allowed);
        assert_eq!(p.host("a.b.example.com"), HostVerdict::Allowed);
        assert_eq!(p.host("example.com"), HostVerdict::ResolveAndFilter);
        assert_eq!(p.host("badexample.com"), HostVerdict::ResolveAndFilter);
        assert_eq!(p.host("10.2.3.4"), HostVerdict::Allowed);
        assert!(matches!(p.host("127.0.0.1"), HostVerdict::Refused(_)));
        assert!(matches!(p.host("[::1]"), HostVerdict::Refused(_)));
        assert!(p.address("::ffff:10.0.0.1".parse().unwrap()).is_ok());
        // A name outside the list keeps only its addresses inside a network.
        let kept = p
            .filter("internal.corp", vec![sa("127.0.0.1"), sa("10.9.9.9")])
            .unwrap();
        assert_eq!(kept, vec![sa("10.9.9.9")]);
        let e = p.filter("localhost", vec![sa("127.0.0.1")]).unwrap_err();
        assert!(e.to_string().contains("localhost (127.0.0.1)"), "{e}");
        assert!(e.to_string().contains("10.0.0.0/8"), "{e}");
        // An allowed name keeps every address.
        assert_eq!(
            p.filter("hooks.slack.com", vec![sa("127.0.0.1")]).unwrap(),
            vec![sa("127.0.0.1")]
        );
    }

    #[test]
    fn urls_with_literal_addresses_are_checked_before_sending() {
        let p = policy(&["10.0.0.0/8"]);
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert!(p.check_url(&u("http://10.0.0.1:8080/x")).is_ok());
        assert!(p.check_url(&u("http://127.0.0.1:8080/x")).is_err());
        assert!(p.check_url(&u("http://[::1]:8080/x")).is_err());
        assert!(
            p.check_url(&u("http://localhost:8080/x")).is_ok(),
            "names are checked when resolved"
        );
        assert!(
            OutboundPolicy::open()
                .check_url(&u("http://127.0.0.1/"))
                .is_ok()
        );
    }
}
