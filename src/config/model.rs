//! The typed server configuration: what a parsed nats.conf (plus CLI flags) means.
//!
//! Owns: plain data types with nats-server's defaults. Must not: read files, start
//! anything, or know how the text was laid out (that is `parser`/`convert`).

use std::path::PathBuf;
use std::time::Duration;

/// Default client port.
pub const DEFAULT_PORT: u16 = 4222;
/// Default maximum payload (1 MiB).
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;
/// Default maximum control line (4 KiB).
pub const DEFAULT_MAX_CONTROL_LINE: usize = 4096;
/// Default per-client outbound buffer limit (64 MiB).
pub const DEFAULT_MAX_PENDING: usize = 64 * 1024 * 1024;
/// Default maximum number of client connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 64 * 1024;

/// Everything a natrium node needs to start.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file this came from, if any (used for messages and relative paths).
    pub source: Option<PathBuf>,
    /// `server_name`; defaults to the server id when absent.
    pub server_name: Option<String>,
    /// Client listen host (`listen`, `host`, `net`, `-a`). Default `0.0.0.0`.
    pub host: String,
    /// Client port (`port`, `listen`, `-p`). `0` means an ephemeral port (`-1` in nats.conf).
    pub port: u16,
    /// `client_advertise`: the host:port advertised in `connect_urls`.
    pub client_advertise: Option<String>,
    /// Monitoring listen host (`http: "host:port"`). Default `0.0.0.0`.
    pub http_host: String,
    /// Monitoring port (`http_port`, `monitor_port`, `http`, `-m`). `None` = disabled, `Some(0)` = ephemeral.
    pub http_port: Option<u16>,
    pub max_payload: usize,
    pub max_control_line: usize,
    pub max_pending: usize,
    pub max_connections: usize,
    /// 0 = unlimited.
    pub max_subscriptions: usize,
    pub ping_interval: Duration,
    pub ping_max: u32,
    pub write_deadline: Duration,
    /// `no_header_support`.
    pub no_header_support: bool,
    pub lame_duck_duration: Duration,
    pub authorization: Authorization,
    /// `accounts { NAME { ... } }`, in file order.
    pub accounts: Vec<AccountConfig>,
    /// `system_account`; `$SYS` when not given.
    pub system_account: Option<String>,
    /// `no_auth_user`: connections without credentials become this user.
    pub no_auth_user: Option<String>,
    /// `tls { ... }` for client connections (and `--tls*` flags).
    pub tls: Option<TlsConfig>,
    pub cluster: Option<ClusterConfig>,
    pub jetstream: Option<JetStreamConfig>,
    pub websocket: Option<WebSocketConfig>,
    pub mqtt: Option<MqttConfig>,
    pub log_file: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    /// `debug` / `-D`.
    pub debug: bool,
    /// `trace` / `-V`.
    pub trace: bool,
    /// `logtime`; default true.
    pub logtime: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            source: None,
            server_name: None,
            host: "0.0.0.0".to_string(),
            port: DEFAULT_PORT,
            client_advertise: None,
            http_host: "0.0.0.0".to_string(),
            http_port: None,
            max_payload: DEFAULT_MAX_PAYLOAD,
            max_control_line: DEFAULT_MAX_CONTROL_LINE,
            max_pending: DEFAULT_MAX_PENDING,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_subscriptions: 0,
            ping_interval: Duration::from_secs(120),
            ping_max: 2,
            write_deadline: Duration::from_secs(10),
            no_header_support: false,
            lame_duck_duration: Duration::from_secs(120),
            authorization: Authorization::default(),
            accounts: Vec::new(),
            system_account: None,
            no_auth_user: None,
            tls: None,
            cluster: None,
            jetstream: None,
            websocket: None,
            mqtt: None,
            log_file: None,
            pid_file: None,
            debug: false,
            trace: false,
            logtime: true,
        }
    }
}

/// The top-level `authorization { ... }` block (users go to the global account `$G`).
#[derive(Debug, Clone, PartialEq)]
pub struct Authorization {
    pub user: Option<String>,
    /// Plain text or a bcrypt hash (`$2a$...`).
    pub password: Option<String>,
    /// Plain text or a bcrypt hash.
    pub token: Option<String>,
    /// Auth timeout; default 2 s (`timeout` is float seconds in nats.conf).
    pub timeout: Duration,
    pub users: Vec<UserConfig>,
    /// `permissions`/`default_permissions` applied to users without their own.
    pub default_permissions: Option<Permissions>,
}

impl Default for Authorization {
    fn default() -> Self {
        Authorization {
            user: None,
            password: None,
            token: None,
            timeout: Duration::from_secs(2),
            users: Vec::new(),
            default_permissions: None,
        }
    }
}

/// One entry of a `users: [...]` list.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UserConfig {
    /// The user name; for an nkey user, its public key.
    pub user: String,
    /// Public user nkey (`U...`): the client proves it holds the seed by signing the
    /// server's nonce; no password.
    pub nkey: Option<String>,
    /// Plain text or a bcrypt hash.
    pub password: Option<String>,
    pub permissions: Option<Permissions>,
}

/// `permissions { publish ..., subscribe ..., allow_responses ... }`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Permissions {
    pub publish: Option<SubjectPermission>,
    pub subscribe: Option<SubjectPermission>,
    /// `allow_responses: true` or `{ max, expires }`; `None` when absent.
    pub allow_responses: Option<ResponsePermission>,
}

/// A list of subjects, or `{ allow: [...], deny: [...] }`. A bare list means `allow`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SubjectPermission {
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}

/// `allow_responses`: the user may publish to the reply subject of each request it
/// receives, `max` times within `expires` (as nats-server).
#[derive(Debug, Clone, PartialEq)]
pub struct ResponsePermission {
    /// Responses per request; default 1; negative = unlimited.
    pub max: i64,
    /// How long a reply subject stays open; default 2 minutes; `None` = no expiry.
    pub expires: Option<Duration>,
}

impl Default for ResponsePermission {
    fn default() -> Self {
        ResponsePermission {
            max: 1,
            expires: Some(Duration::from_secs(120)),
        }
    }
}

/// `accounts { NAME { users: [...], jetstream: ... } }`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AccountConfig {
    pub name: String,
    pub users: Vec<UserConfig>,
    /// `None` = jetstream not set for this account (disabled when accounts are configured).
    pub jetstream: Option<AccountJetStream>,
}

/// Per-account JetStream setting: `enabled`, `disabled`, a bool, or a map of limits.
/// A limit of `-1` (unlimited) is `None`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AccountJetStream {
    pub enabled: bool,
    pub max_memory: Option<i64>,
    pub max_file: Option<i64>,
    pub max_streams: Option<i64>,
    pub max_consumers: Option<i64>,
}

/// A `tls { ... }` block: the certificate a listener presents and whether it
/// verifies its peers' certificates (mutual TLS).
#[derive(Debug, Clone, PartialEq)]
pub struct TlsConfig {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// CA bundle that peer certificates must chain to (required with `verify`).
    pub ca_file: Option<PathBuf>,
    /// Require and verify a client (or peer) certificate.
    pub verify: bool,
    /// `verify_and_map`: verify, and the certificate names the user (no password).
    pub verify_and_map: bool,
    /// Handshake deadline; default 2 s (`timeout` is float seconds).
    pub timeout: Duration,
    /// TLS before INFO (`handshake_first: true`).
    pub handshake_first: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            cert_file: PathBuf::new(),
            key_file: PathBuf::new(),
            ca_file: None,
            verify: false,
            verify_and_map: false,
            timeout: Duration::from_secs(2),
            handshake_first: false,
        }
    }
}

/// `cluster { ... }`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    pub name: Option<String>,
    pub host: String,
    /// default 6222; 0 = ephemeral (`-1`)
    pub port: u16,
    /// Route URLs as written (`nats://user:pass@host:6222`, `nats-route://...`).
    pub routes: Vec<String>,
    pub authorization: Option<RouteAuth>,
    pub advertise: Option<String>,
    pub no_advertise: bool,
    pub connect_retries: u32,
    pub pool_size: i64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            name: None,
            host: "0.0.0.0".to_string(),
            port: 6222,
            routes: Vec::new(),
            authorization: None,
            advertise: None,
            no_advertise: false,
            connect_retries: 0,
            pool_size: 3,
        }
    }
}

/// `cluster { authorization { user password timeout } }`.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteAuth {
    pub user: String,
    pub password: String,
    pub timeout: Duration,
}

/// `jetstream { ... }` (or `jetstream: enabled`).
#[derive(Debug, Clone, PartialEq)]
pub struct JetStreamConfig {
    pub enabled: bool,
    /// `store_dir`; `None` means the default (`$TMPDIR/nats/jetstream`).
    pub store_dir: Option<PathBuf>,
    /// bytes; `None` = default (75% of RAM)
    pub max_memory_store: Option<i64>,
    /// bytes; `None` = default
    pub max_file_store: Option<i64>,
    pub sync_interval: SyncInterval,
    pub domain: Option<String>,
}

impl Default for JetStreamConfig {
    fn default() -> Self {
        JetStreamConfig {
            enabled: true,
            store_dir: None,
            max_memory_store: None,
            max_file_store: None,
            sync_interval: SyncInterval::Always,
            domain: None,
        }
    }
}

/// natrium fsyncs before acknowledging by default (`Always`, with group commit).
/// `sync_interval: "2m"` is accepted for compatibility and relaxes that.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SyncInterval {
    Always,
    Every(Duration),
}

/// `websocket { ... }`: the NATS protocol over WebSocket (no TLS: `no_tls: true` is
/// required, as natrium does not terminate TLS).
#[derive(Debug, Clone, PartialEq)]
pub struct WebSocketConfig {
    pub host: String,
    /// `None`: not listening (port 0 or absent); `Some(0)`: ephemeral (`-1`).
    pub port: Option<u16>,
    pub no_tls: bool,
    /// permessage-deflate when the client offers it.
    pub compression: bool,
    pub same_origin: bool,
    pub allowed_origins: Vec<String>,
    pub handshake_timeout: Duration,
}

impl Default for WebSocketConfig {
    fn default() -> Self {
        WebSocketConfig {
            host: "0.0.0.0".to_string(),
            port: None,
            no_tls: false,
            compression: false,
            same_origin: false,
            allowed_origins: Vec::new(),
            handshake_timeout: Duration::from_secs(2),
        }
    }
}

/// `mqtt { ... }`: MQTT 3.1.1 clients (needs JetStream and `server_name`).
#[derive(Debug, Clone, PartialEq)]
pub struct MqttConfig {
    pub host: String,
    /// `None`: not listening (port 0 or absent); `Some(0)`: ephemeral (`-1`).
    pub port: Option<u16>,
    /// How long a QoS 1/2 message waits for its PUBACK/PUBREC before redelivery.
    pub ack_wait: Duration,
    /// Most unacknowledged QoS 1/2 messages per subscription.
    pub max_ack_pending: u16,
    pub stream_replicas: u32,
    pub consumer_replicas: u32,
    /// Refuse (close) QoS 2 publishes instead of handling them.
    pub reject_qos2_publish: bool,
    /// Grant QoS 1 to QoS 2 subscriptions.
    pub downgrade_qos2_subscribe: bool,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            host: "0.0.0.0".to_string(),
            port: None,
            ack_wait: Duration::from_secs(30),
            max_ack_pending: 1024,
            stream_replicas: 1,
            consumer_replicas: 1,
            reject_qos2_publish: false,
            downgrade_qos2_subscribe: false,
        }
    }
}
