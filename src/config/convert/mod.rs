//! Value tree → [`Config`]: top-level keys, typed accessors with error messages
//! that name the key and what was expected, and cross-field validation.
//!
//! Owns: [`Conv`] (warnings, user registry for duplicate checks), the top-level
//! key table, and the shared typed getters used by the block converters in
//! `auth`, `accounts`, `cluster` and `jetstream`. Must not: parse text, touch
//! the filesystem or environment, or panic on any tree.

mod accounts;
mod auth;
mod cluster;
mod frontends;
mod jetstream;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use super::error::{ConfigError, Warning};
use super::literal::{parse_duration, parse_size_str};
use super::model::*;
use super::value::{Entry, Map, Pos, Value, ValueKind};

pub(crate) type Result<T> = std::result::Result<T, ConfigError>;

/// The largest `max_payload` accepted (64 MiB).
pub const MAX_PAYLOAD_LIMIT: i64 = 64 * 1024 * 1024;
/// Above this `max_payload` a warning is given (8 MiB, as nats-server).
pub const MAX_PAYLOAD_WARN: i64 = 8 * 1024 * 1024;
/// The smallest `lame_duck_duration` accepted (as nats-server).
pub const MIN_LAME_DUCK: Duration = Duration::from_secs(30);

/// Top-level security settings natrium does not implement: a config that sets one
/// is refused (see [`Conv::refuse`]), never run with the setting ignored.
const REFUSED_TOP: &[&str] = &[
    "tls",
    "allow_non_tls",
    "operator",
    "operators",
    "root",
    "roots",
    "root_operator",
    "root_operators",
    "resolver",
    "account_resolver",
    "accounts_resolver",
    "resolver_preload",
    "resolver_tls",
    "resolver_pinned_accounts",
    "trusted",
    "trusted_keys",
    "default_sentinel",
    "ocsp",
    "ocsp_cache",
    "https",
    "https_port",
    "proxies",
];

/// Blocks natrium does not implement that are refused when they carry a security
/// setting (see [`SECURITY_KEYS`]) and otherwise ignored with a warning.
const REFUSED_WITH_SECURITY: &[&str] = &["leafnodes", "leaf", "gateway"];

/// Keys that, anywhere inside a [`REFUSED_WITH_SECURITY`] block, make it a refusal.
const SECURITY_KEYS: &[&str] = &[
    "authorization",
    "authentication",
    "tls",
    "users",
    "user",
    "username",
    "password",
    "pass",
    "token",
    "nkey",
    "nkeys",
    "credentials",
    "creds",
    "account",
    "accounts",
    "auth_callout",
    "permissions",
];

/// Top-level keys nats-server knows that natrium does not implement and that are
/// harmless to ignore: they only warn.
const UNSUPPORTED_TOP: &[&str] = &[
    "server_tags",
    "server_metadata",
    "feature_flags",
    "mappings",
    "maps",
    "logtime_utc",
    "syslog",
    "remote_syslog",
    "max_sub_tokens",
    "max_subscription_tokens",
    "lame_duck_grace_period",
    "ports_file_dir",
    "trace_verbose",
    "trace_headers",
    "http_base_path",
    "prof_port",
    "prof_block_rate",
    "logfile_size_limit",
    "log_size_limit",
    "logfile_max_num",
    "log_max_num",
    "max_traced_msg_len",
    "disable_sublist_cache",
    "no_sublist_cache",
    "connect_error_reports",
    "reconnect_error_reports",
    "max_closed_clients",
    "no_fast_producer_stall",
    "write_timeout",
    "proxy_protocol",
    "default_js_domain",
    "no_system_account",
    "no_system",
    "no_sys_acc",
    "nkey",
    "jetstream_max_memory",
    "jetstream_max_store",
    "jetstream_request_queue_limit",
];

/// The converter: collects warnings while turning a tree into a [`Config`].
pub(crate) struct Conv {
    pub warnings: Vec<Warning>,
    /// Every username defined so far (authorization and accounts), for duplicate checks.
    users_seen: HashMap<String, Pos>,
}

/// Converts a parsed top-level map into a [`Config`] plus warnings.
pub(crate) fn convert(root: &Map, source: Option<PathBuf>) -> Result<(Config, Vec<Warning>)> {
    let mut conv = Conv {
        warnings: Vec::new(),
        users_seen: HashMap::new(),
    };
    let mut config = conv.top(root)?;
    config.source = source;
    Ok((config, conv.warnings))
}

/// Describes a bad value: `invalid port "abc": expected an integer`.
pub(crate) fn invalid(key: &str, v: &Value, expected: &str) -> ConfigError {
    ConfigError::invalid(
        &v.pos,
        format!("invalid {key} {}: expected {expected}", v.describe()),
    )
}

/// Joins a block prefix and a key for messages (`cluster` + `port` → `cluster.port`).
pub(crate) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Which port value `0` stands for where the port is parsed.
#[derive(Clone, Copy)]
pub(crate) struct PortRules {
    /// What `0` in the file means (nats-server: the default port).
    pub zero: u16,
}

impl Conv {
    pub fn warn(&mut self, pos: &Pos, message: impl Into<String>) {
        self.warnings.push(Warning::at(pos, message));
    }

    /// Warns about a key nobody knows (unless it is a referenced variable).
    pub fn unknown(&mut self, prefix: &str, e: &Entry) {
        if !e.used_as_variable {
            let name = join(prefix, &e.key);
            self.warn(
                &e.key_pos,
                format!("unknown configuration key '{name}', ignored"),
            );
        }
    }

    /// Warns about a key nats-server knows and natrium does not implement.
    pub fn unsupported(&mut self, prefix: &str, e: &Entry) {
        let name = join(prefix, &e.key);
        self.warn(
            &e.key_pos,
            format!("configuration key '{name}' is not supported yet, ignored"),
        );
    }

    /// The error for a security setting natrium does not implement: the server must
    /// not start without it (fail closed).
    pub fn refuse(&self, prefix: &str, e: &Entry) -> ConfigError {
        ConfigError::invalid(
            &e.key_pos,
            format!(
                "'{}' is not supported by natrium; remove it (natrium will not start with security settings it would ignore)",
                join(prefix, &e.key)
            ),
        )
    }

    /// An unimplemented block: refused if it holds a security setting anywhere
    /// inside, otherwise ignored with a warning.
    fn refuse_if_secured(&mut self, e: &Entry) -> Result<()> {
        if let Some(inner) = find_security_key(&e.value) {
            return Err(ConfigError::invalid(
                &inner.key_pos,
                format!(
                    "'{}' with '{}' is not supported by natrium; remove it (natrium will not start with security settings it would ignore)",
                    e.key, inner.key
                ),
            ));
        }
        self.unsupported("", e);
        Ok(())
    }

    /// Records a username; errors if it was already defined anywhere.
    pub fn register_user(&mut self, name: &str, pos: &Pos) -> Result<()> {
        if let Some(first) = self.users_seen.get(name) {
            return Err(ConfigError::invalid(
                pos,
                format!("duplicate user '{name}': already defined at {first}"),
            ));
        }
        self.users_seen.insert(name.to_string(), pos.clone());
        Ok(())
    }

    fn top(&mut self, root: &Map) -> Result<Config> {
        let mut c = Config::default();
        let mut top_store_dir: Option<(PathBuf, Pos)> = None;
        let mut system_account_pos: Option<Pos> = None;
        let mut no_auth_user_pos: Option<Pos> = None;
        let mut authorization_pos: Option<Pos> = None;
        let client_port = PortRules { zero: DEFAULT_PORT };
        for e in &root.entries {
            let v = &e.value;
            let key = e.key.to_ascii_lowercase();
            let k = key.as_str();
            match k {
                "port" => c.port = self.port(k, v, client_port)?,
                "listen" => {
                    let (host, port) = self.listen(k, v, client_port)?;
                    if let Some(h) = host {
                        c.host = h;
                    }
                    c.port = port;
                }
                "host" | "net" => c.host = self.string(k, v)?,
                "client_advertise" => c.client_advertise = Some(self.string(k, v)?),
                "server_name" => c.server_name = Some(self.name_without_spaces(k, v)?),
                "http_port" | "monitor_port" => c.http_port = self.monitor_port(k, v)?,
                "http" => {
                    let (host, port) = self.listen(k, v, PortRules { zero: 0 })?;
                    if let Some(h) = host {
                        c.http_host = h;
                    }
                    c.http_port = monitor_port_value(v, port);
                }
                "max_payload" => c.max_payload = self.max_payload(k, v)?,
                "max_control_line" => {
                    c.max_control_line = self.positive_size(k, v, i64::from(i32::MAX))?
                }
                "max_pending" => c.max_pending = self.positive_size(k, v, i64::MAX)?,
                "max_connections" | "max_conn" => c.max_connections = self.count(k, v)?,
                "max_subscriptions" | "max_subs" => c.max_subscriptions = self.count(k, v)?,
                "ping_interval" => c.ping_interval = self.positive_duration(k, v)?,
                "ping_max" => c.ping_max = self.count_u32(k, v)?,
                "write_deadline" => c.write_deadline = self.positive_duration(k, v)?,
                "no_header_support" => c.no_header_support = self.bool(k, v)?,
                "lame_duck_duration" => {
                    let d = self.duration(k, v)?;
                    if d < MIN_LAME_DUCK {
                        return Err(ConfigError::invalid(
                            &v.pos,
                            format!("invalid lame_duck_duration of {d:?}: minimum is 30 seconds"),
                        ));
                    }
                    c.lame_duck_duration = d;
                }
                "authorization" => {
                    c.authorization = self.authorization(k, v)?;
                    authorization_pos = Some(v.pos.clone());
                }
                "accounts" => c.accounts = self.accounts(k, v)?,
                "system_account" | "system" => {
                    c.system_account = Some(self.string(k, v)?);
                    system_account_pos = Some(v.pos.clone());
                }
                "no_auth_user" => {
                    c.no_auth_user = Some(self.string(k, v)?);
                    no_auth_user_pos = Some(v.pos.clone());
                }
                "cluster" => c.cluster = Some(self.cluster(k, v)?),
                "jetstream" => c.jetstream = Some(self.jetstream(k, v)?),
                "websocket" | "ws" => c.websocket = Some(self.websocket(k, v)?),
                "mqtt" => c.mqtt = Some(self.mqtt(k, v)?),
                "store_dir" | "storedir" => {
                    top_store_dir = Some((PathBuf::from(self.string(k, v)?), v.pos.clone()))
                }
                "log_file" | "logfile" => c.log_file = Some(PathBuf::from(self.string(k, v)?)),
                "pid_file" | "pidfile" => c.pid_file = Some(PathBuf::from(self.string(k, v)?)),
                "debug" => c.debug = self.bool(k, v)?,
                "trace" => c.trace = self.bool(k, v)?,
                "logtime" => c.logtime = self.bool(k, v)?,
                _ if REFUSED_TOP.contains(&k) => return Err(self.refuse("", e)),
                _ if REFUSED_WITH_SECURITY.contains(&k) => self.refuse_if_secured(e)?,
                _ if UNSUPPORTED_TOP.contains(&k) => self.unsupported("", e),
                _ => self.unknown("", e),
            }
        }
        if let Some((dir, pos)) = top_store_dir {
            let js = c.jetstream.get_or_insert_with(|| JetStreamConfig {
                enabled: false,
                ..JetStreamConfig::default()
            });
            if js.store_dir.is_some() {
                return Err(ConfigError::invalid(
                    &pos,
                    "duplicate store_dir: it is also set in the jetstream block",
                ));
            }
            js.store_dir = Some(dir);
        }
        self.validate(&c, authorization_pos, system_account_pos, no_auth_user_pos)?;

        Ok(c)
    }

    /// Checks that span several keys.
    fn validate(
        &self,
        c: &Config,
        authorization_pos: Option<Pos>,
        system_account_pos: Option<Pos>,
        no_auth_user_pos: Option<Pos>,
    ) -> Result<()> {
        if let (Some(name), Some(pos)) = (&c.no_auth_user, &no_auth_user_pos) {
            if !self.users_seen.contains_key(name) {
                return Err(ConfigError::invalid(
                    pos,
                    format!(
                        "invalid no_auth_user '{name}': not defined as a user in authorization or accounts"
                    ),
                ));
            }
        }
        if let (Some(name), Some(pos)) = (&c.system_account, &system_account_pos) {
            if name != "$SYS" && !c.accounts.iter().any(|a| &a.name == name) {
                return Err(ConfigError::invalid(
                    pos,
                    format!("invalid system_account '{name}': no such account in accounts"),
                ));
            }
        }
        if let Some(pos) = authorization_pos {
            let a = &c.authorization;
            if a.user.is_some() && !c.accounts.iter().all(|acc| acc.users.is_empty()) {
                return Err(ConfigError::invalid(
                    &pos,
                    "authorization cannot have a single user/password when accounts define users",
                ));
            }
        }
        Ok(())
    }

    // ----- typed getters -------------------------------------------------------

    pub fn map<'v>(&self, key: &str, v: &'v Value) -> Result<&'v Map> {
        v.as_map().ok_or_else(|| invalid(key, v, "a map { ... }"))
    }

    pub fn string(&self, key: &str, v: &Value) -> Result<String> {
        match &v.kind {
            ValueKind::String(s) => Ok(s.clone()),
            _ => Err(invalid(key, v, "a string")),
        }
    }

    /// A string, also accepting a number as written (`password: 12345`).
    pub fn text(&self, key: &str, v: &Value) -> Result<String> {
        match (&v.kind, &v.literal) {
            (ValueKind::String(s), _) => Ok(s.clone()),
            (ValueKind::Integer(_) | ValueKind::Float(_), Some(lit)) => Ok(lit.to_string()),
            _ => Err(invalid(key, v, "a string")),
        }
    }

    /// A non-empty name without spaces (`server_name`, `cluster.name`).
    pub fn name_without_spaces(&self, key: &str, v: &Value) -> Result<String> {
        let s = self.text(key, v)?;
        if s.is_empty() || s.chars().any(char::is_whitespace) {
            return Err(invalid(key, v, "a non-empty name without spaces"));
        }
        Ok(s)
    }

    pub fn bool(&self, key: &str, v: &Value) -> Result<bool> {
        v.as_bool()
            .ok_or_else(|| invalid(key, v, "a boolean (true/false, yes/no, on/off)"))
    }

    pub fn int(&self, key: &str, v: &Value) -> Result<i64> {
        v.as_int().ok_or_else(|| invalid(key, v, "an integer"))
    }

    /// A non-negative integer as usize.
    pub fn count(&self, key: &str, v: &Value) -> Result<usize> {
        let i = self.int(key, v)?;
        usize::try_from(i).map_err(|_| invalid(key, v, "a non-negative integer"))
    }

    pub fn count_u32(&self, key: &str, v: &Value) -> Result<u32> {
        let i = self.int(key, v)?;
        u32::try_from(i).map_err(|_| invalid(key, v, "a non-negative integer"))
    }

    /// A port: an integer in -1..=65535; -1 → 0 (random), 0 → `rules.zero`.
    pub fn port(&self, key: &str, v: &Value, rules: PortRules) -> Result<u16> {
        let i = self.int(key, v)?;
        port_from_int(i, rules).ok_or_else(|| {
            invalid(
                key,
                v,
                "an integer port between 0 and 65535 (or -1 for a random port)",
            )
        })
    }

    /// `http_port`: -1 → `Some(0)` (random), 0 → `None` (disabled).
    fn monitor_port(&self, key: &str, v: &Value) -> Result<Option<u16>> {
        let p = self.port(key, v, PortRules { zero: 0 })?;
        Ok(monitor_port_value(v, p))
    }

    /// `listen`: a port number, or `"host:port"`. Returns the host (if given) and the port.
    pub fn listen(&self, key: &str, v: &Value, rules: PortRules) -> Result<(Option<String>, u16)> {
        let expected = "a port or \"host:port\"";
        match &v.kind {
            ValueKind::Integer(_) => Ok((None, self.port(key, v, rules)?)),
            ValueKind::String(s) => {
                let (host, port) = split_host_port(s).ok_or_else(|| invalid(key, v, expected))?;
                let port: i64 = port.parse().map_err(|_| invalid(key, v, expected))?;
                let port = port_from_int(port, rules).ok_or_else(|| {
                    invalid(
                        key,
                        v,
                        "\"host:port\" with a port between 0 and 65535 (or -1)",
                    )
                })?;
                let host = if host.is_empty() { None } else { Some(host) };
                Ok((host, port))
            }
            _ => Err(invalid(key, v, expected)),
        }
    }

    /// A size in bytes: an integer (suffixes allowed: `10GB`) or a string (`"10G"`).
    pub fn size(&self, key: &str, v: &Value) -> Result<i64> {
        let expected = "a size such as 1048576, 512MB or \"10G\"";
        match &v.kind {
            ValueKind::Integer(i) => Ok(*i),
            ValueKind::String(s) => parse_size_str(s).map_err(|_| invalid(key, v, expected)),
            _ => Err(invalid(key, v, expected)),
        }
    }

    /// A size that must be in `1..=max`.
    fn positive_size(&self, key: &str, v: &Value, max: i64) -> Result<usize> {
        let s = self.size(key, v)?;
        if s <= 0 {
            return Err(invalid(key, v, "a size greater than zero"));
        }
        if s > max {
            return Err(invalid(key, v, &format!("a size of at most {max} bytes")));
        }
        usize::try_from(s).map_err(|_| invalid(key, v, "a smaller size"))
    }

    /// An optional limit: -1 → `None` (unlimited / default), other negatives are errors.
    pub fn limit(&self, key: &str, v: &Value, is_size: bool) -> Result<Option<i64>> {
        let n = if is_size {
            self.size(key, v)?
        } else {
            self.int(key, v)?
        };
        match n {
            -1 => Ok(None),
            n if n < 0 => Err(invalid(
                key,
                v,
                "a non-negative value (or -1 for unlimited)",
            )),
            n => Ok(Some(n)),
        }
    }

    fn max_payload(&mut self, key: &str, v: &Value) -> Result<usize> {
        let n = self.size(key, v)?;
        if n <= 0 {
            return Err(invalid(key, v, "a size greater than zero"));
        }
        if n > MAX_PAYLOAD_LIMIT {
            return Err(invalid(key, v, "a size of at most 64MB"));
        }
        if n > MAX_PAYLOAD_WARN {
            self.warn(
                &v.pos,
                format!("max_payload of {n} bytes is larger than the recommended maximum of 8MB"),
            );
        }
        usize::try_from(n).map_err(|_| invalid(key, v, "a smaller size"))
    }

    /// A Go duration string (`"2m"`, `"1h30m"`, `"500ms"`). An unquoted suffixed
    /// number such as `2m` is read as the duration it looks like; a bare number
    /// is seconds (with a warning).
    pub fn duration(&mut self, key: &str, v: &Value) -> Result<Duration> {
        let expected = "a duration such as \"2m\", \"10s\" or \"500ms\"";
        match &v.kind {
            ValueKind::String(s) => parse_duration(s).map_err(|why| {
                let why = why.split_once(": ").map_or(why.as_str(), |(_, w)| w);
                invalid(key, v, &format!("{expected} ({why})"))
            }),
            ValueKind::Integer(i) => {
                if let Some(lit) = &v.literal {
                    if lit.bytes().any(|b| b.is_ascii_alphabetic()) {
                        if let Ok(d) = parse_duration(lit) {
                            return Ok(d);
                        }
                    }
                }
                let secs =
                    u64::try_from(*i).map_err(|_| invalid(key, v, "a non-negative duration"))?;
                self.warn(
                    &v.pos,
                    format!(
                        "{key} should be a duration string such as \"{secs}s\"; interpreted as {secs} seconds"
                    ),
                );
                Ok(Duration::from_secs(secs))
            }
            ValueKind::Float(f) => {
                let d = Duration::try_from_secs_f64(*f)
                    .map_err(|_| invalid(key, v, "a non-negative duration"))?;
                self.warn(
                    &v.pos,
                    format!(
                        "{key} should be a duration string such as \"{f}s\"; interpreted as {f} seconds"
                    ),
                );
                Ok(d)
            }
            _ => Err(invalid(key, v, expected)),
        }
    }

    /// A duration that must be greater than zero.
    fn positive_duration(&mut self, key: &str, v: &Value) -> Result<Duration> {
        let d = self.duration(key, v)?;
        if d.is_zero() {
            return Err(invalid(key, v, "a duration greater than zero"));
        }
        Ok(d)
    }

    /// Seconds as a number (int or float) or a duration string; used by auth `timeout`.
    pub fn seconds(&mut self, key: &str, v: &Value) -> Result<Duration> {
        let expected = "a number of seconds such as 2 or 0.5 (or a duration string)";
        let d = match &v.kind {
            ValueKind::Integer(i) => u64::try_from(*i).ok().map(Duration::from_secs),
            ValueKind::Float(f) => Duration::try_from_secs_f64(*f).ok(),
            ValueKind::String(s) => parse_duration(s).ok(),
            _ => None,
        }
        .ok_or_else(|| invalid(key, v, expected))?;
        if d > Duration::from_secs(60) {
            self.warn(
                &v.pos,
                format!(
                    "{key} of {} seconds is high, consider keeping it under 60 seconds",
                    d.as_secs_f64()
                ),
            );
        }
        Ok(d)
    }

    /// A string or an array of strings.
    pub fn string_list(&self, key: &str, v: &Value) -> Result<Vec<String>> {
        let expected = "a string or an array of strings";
        match &v.kind {
            ValueKind::String(s) => Ok(vec![s.clone()]),
            ValueKind::Array(items) => items
                .iter()
                .map(|item| match &item.kind {
                    ValueKind::String(s) => Ok(s.clone()),
                    _ => Err(invalid(key, item, "a string in the array")),
                })
                .collect(),
            _ => Err(invalid(key, v, expected)),
        }
    }
}

fn port_from_int(i: i64, rules: PortRules) -> Option<u16> {
    match i {
        -1 => Some(0),
        0 => Some(rules.zero),
        _ => u16::try_from(i).ok(),
    }
}

/// Maps a parsed monitoring port: `-1` was random (`Some(0)`), `0` disables.
fn monitor_port_value(v: &Value, parsed: u16) -> Option<u16> {
    let random = match &v.kind {
        ValueKind::Integer(i) => *i == -1,
        ValueKind::String(s) => s.ends_with(":-1"),
        _ => false,
    };
    if random {
        Some(0)
    } else if parsed == 0 {
        None
    } else {
        Some(parsed)
    }
}

/// The first key in [`SECURITY_KEYS`] found anywhere inside `v` (maps and arrays).
fn find_security_key(v: &Value) -> Option<&Entry> {
    match &v.kind {
        ValueKind::Map(m) => m.entries.iter().find_map(|e| {
            if SECURITY_KEYS.contains(&e.key.to_ascii_lowercase().as_str()) {
                Some(e)
            } else {
                find_security_key(&e.value)
            }
        }),
        ValueKind::Array(items) => items.iter().find_map(find_security_key),
        _ => None,
    }
}

/// Splits `host:port` like Go's `net.SplitHostPort` (`[::1]:4222` → `::1`, `4222`).
pub(crate) fn split_host_port(s: &str) -> Option<(String, String)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':')?;
        return Some((host.to_string(), port.to_string()));
    }
    let (host, port) = s.rsplit_once(':')?;
    if host.contains(':') || port.is_empty() {
        return None;
    }
    Some((host.to_string(), port.to_string()))
}
