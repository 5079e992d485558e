//! Route URLs as written in `cluster.routes`: `nats://user:pass@host:6222`,
//! `nats-route://host:6222`, or bare `host:port`.

/// A parsed route URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteUrl {
    /// `host:port` to dial.
    pub addr: String,
    pub user: Option<String>,
    pub password: Option<String>,
}

impl RouteUrl {
    /// Parses a route URL; `None` if it has no host or a bad port.
    pub fn parse(s: &str) -> Option<RouteUrl> {
        let s = s.trim();
        let rest = match s.split_once("://") {
            Some((_, r)) => r,
            None => s,
        };
        let rest = rest.trim_end_matches('/');
        let (creds, hostport) = match rest.rsplit_once('@') {
            Some((c, h)) => (Some(c), h),
            None => (None, rest),
        };
        let (user, password) = match creds {
            Some(c) => match c.split_once(':') {
                Some((u, p)) => (Some(u.to_string()), Some(p.to_string())),
                None => (Some(c.to_string()), None),
            },
            None => (None, None),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() => (h, p.parse::<u16>().ok()?),
            Some(_) => return None,
            None if !hostport.is_empty() => (hostport, 6222),
            None => return None,
        };
        Some(RouteUrl {
            addr: format!("{host}:{port}"),
            user,
            password,
        })
    }

    /// The URL without credentials, for logs and /varz.
    pub fn redacted(&self) -> String {
        format!("nats-route://{}", self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::RouteUrl;

    #[test]
    fn parses_the_usual_forms() {
        let u = RouteUrl::parse("nats://ruser:T0p$ecret@node1:6222").unwrap();
        assert_eq!(u.addr, "node1:6222");
        assert_eq!(u.user.as_deref(), Some("ruser"));
        assert_eq!(u.password.as_deref(), Some("T0p$ecret"));
        let u = RouteUrl::parse("nats-route://127.0.0.1:7000/").unwrap();
        assert_eq!(u.addr, "127.0.0.1:7000");
        assert_eq!(u.user, None);
        assert_eq!(RouteUrl::parse("host").unwrap().addr, "host:6222");
        assert_eq!(RouteUrl::parse("nats://:5"), None);
        assert_eq!(RouteUrl::parse("nats://h:notaport"), None);
        assert_eq!(u.redacted(), "nats-route://127.0.0.1:7000");
    }
}
