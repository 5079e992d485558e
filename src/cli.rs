//! Command-line flags, with nats-server's names, and how they override the config file.
//!
//! Owns: the clap definitions and [`normalize_args`], which turns nats-server's Go-style
//! flags (`-js`, `-sd`, `-DV`, `-routes`) into the forms clap understands.
//! Must not: start anything.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{ClusterConfig, Config, JetStreamConfig, TlsConfig};

/// natrium: a NATS-compatible, Raft-replicated message broker.
#[derive(Debug, Parser)]
#[command(
    name = "natrium",
    disable_version_flag = true,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load generator modelled on `nats bench` (uses the official async-nats client).
    Bench(crate::bench::BenchArgs),
}

/// Server flags. Values given here override the config file.
#[derive(Debug, Args, Default)]
pub struct ServerArgs {
    /// Configuration file.
    #[arg(short = 'c', long = "config")]
    pub config: Option<PathBuf>,
    /// Test the configuration file and exit.
    #[arg(short = 't', long = "test_config")]
    pub test_config: bool,
    /// Client port (-1 for a random port).
    #[arg(short = 'p', long = "port", allow_negative_numbers = true)]
    pub port: Option<i32>,
    /// Client listen address.
    #[arg(short = 'a', long = "addr", visible_aliases = ["net"])]
    pub addr: Option<String>,
    /// Server name.
    #[arg(short = 'n', long = "name", visible_aliases = ["server_name"])]
    pub name: Option<String>,
    /// HTTP monitoring port.
    #[arg(short = 'm', long = "http_port", allow_negative_numbers = true)]
    pub http_port: Option<i32>,
    /// Enable JetStream.
    #[arg(long = "jetstream")]
    pub jetstream: bool,
    /// JetStream store directory.
    #[arg(long = "store_dir")]
    pub store_dir: Option<PathBuf>,
    /// User required for connections.
    #[arg(long = "user")]
    pub user: Option<String>,
    /// Password required for connections.
    #[arg(long = "pass")]
    pub pass: Option<String>,
    /// Authorization token required for connections.
    #[arg(long = "auth")]
    pub auth: Option<String>,
    /// Log file.
    #[arg(short = 'l', long = "log")]
    pub log: Option<PathBuf>,
    /// PID file.
    #[arg(short = 'P', long = "pid")]
    pub pid: Option<PathBuf>,
    /// Debug logging.
    #[arg(short = 'D', long = "debug")]
    pub debug: bool,
    /// Trace logging.
    #[arg(short = 'V', long = "trace")]
    pub trace: bool,
    /// Cluster listen URL, e.g. nats://0.0.0.0:6222.
    #[arg(long = "cluster", visible_aliases = ["cluster_listen"])]
    pub cluster: Option<String>,
    /// Comma-separated route URLs to dial.
    #[arg(long = "routes")]
    pub routes: Option<String>,
    /// Cluster name.
    #[arg(long = "cluster_name")]
    pub cluster_name: Option<String>,
    /// Client URL advertised to other nodes' clients.
    #[arg(long = "client_advertise")]
    pub client_advertise: Option<String>,
    /// Require TLS on the client port (needs --tlscert and --tlskey).
    #[arg(long = "tls")]
    pub tls: bool,
    /// Server certificate (PEM).
    #[arg(long = "tlscert")]
    pub tlscert: Option<PathBuf>,
    /// Server private key (PEM).
    #[arg(long = "tlskey")]
    pub tlskey: Option<PathBuf>,
    /// CA bundle client certificates must chain to (PEM).
    #[arg(long = "tlscacert")]
    pub tlscacert: Option<PathBuf>,
    /// Require and verify client certificates (implies --tls).
    #[arg(long = "tlsverify")]
    pub tlsverify: bool,
    /// Print the version and exit.
    #[arg(short = 'v', long = "version")]
    pub version: bool,
}

/// Long options that nats-server also accepts with a single dash.
const LONG_OPTS: &[&str] = &[
    "config",
    "port",
    "addr",
    "net",
    "name",
    "server_name",
    "http_port",
    "jetstream",
    "store_dir",
    "user",
    "pass",
    "auth",
    "log",
    "pid",
    "debug",
    "trace",
    "cluster",
    "cluster_listen",
    "routes",
    "cluster_name",
    "client_advertise",
    "tls",
    "tlscert",
    "tlskey",
    "tlscacert",
    "tlsverify",
    "version",
];

/// Rewrites nats-server's Go-style flags into clap's forms: `-js` → `--jetstream`,
/// `-sd` → `--store_dir`, `-DV`/`-DVV`/`-VV` → `-D -V`, `-routes x` → `--routes x`.
pub fn normalize_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    for a in args {
        let (flag, value) = match a.split_once('=') {
            Some((f, v)) if f.starts_with('-') => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mapped: Vec<String> = match flag.as_str() {
            "-js" | "--js" => vec!["--jetstream".into()],
            "-sd" | "--sd" => vec!["--store_dir".into()],
            "-DV" | "-DVV" => vec!["-D".into(), "-V".into()],
            "-VV" => vec!["-V".into()],
            f if f.starts_with('-') && !f.starts_with("--") && f.len() > 2 => {
                let name = &f[1..];
                if LONG_OPTS.contains(&name) {
                    vec![format!("--{name}")]
                } else {
                    vec![f.to_string()]
                }
            }
            f => vec![f.to_string()],
        };
        let n = mapped.len();
        for (i, m) in mapped.into_iter().enumerate() {
            match (&value, i + 1 == n) {
                (Some(v), true) => out.push(format!("{m}={v}")),
                _ => out.push(m),
            }
        }
    }
    out
}

/// An error in a flag's value.
#[derive(Debug, thiserror::Error)]
#[error("invalid value for {flag}: {reason}")]
pub struct FlagError {
    pub flag: &'static str,
    pub reason: String,
}

fn port_value(flag: &'static str, p: i32) -> Result<u16, FlagError> {
    match p {
        -1 => Ok(0),
        0..=65535 => Ok(p as u16),
        _ => Err(FlagError {
            flag,
            reason: format!("{p} is not a port"),
        }),
    }
}

/// Splits `nats://host:port` (scheme optional) into host and port.
fn host_port(url: &str) -> Option<(String, u16)> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let (h, p) = rest.rsplit_once(':')?;
    Some((h.to_string(), p.trim_end_matches('/').parse().ok()?))
}

impl ServerArgs {
    /// `--tls`, `--tlscert`, `--tlskey`, `--tlscacert`, `--tlsverify` over the file's
    /// `tls` block. Certificate flags without `--tls`/`--tlsverify` change an existing
    /// block only; turning TLS on needs a certificate and a key.
    fn apply_tls(&self, cfg: &mut Config) -> Result<(), FlagError> {
        let any_file = self.tlscert.is_some() || self.tlskey.is_some() || self.tlscacert.is_some();
        let turn_on = self.tls || self.tlsverify;
        let amend = any_file && cfg.tls.is_some();
        if !turn_on && !amend {
            if any_file {
                return Err(FlagError {
                    flag: "--tlscert/--tlskey/--tlscacert",
                    reason: "TLS is off: add --tls (or --tlsverify)".into(),
                });
            }
            return Ok(());
        }
        let t = cfg.tls.get_or_insert_with(TlsConfig::default);
        if let Some(c) = &self.tlscert {
            t.cert_file = c.clone();
        }
        if let Some(k) = &self.tlskey {
            t.key_file = k.clone();
        }
        if let Some(ca) = &self.tlscacert {
            t.ca_file = Some(ca.clone());
        }
        t.verify |= self.tlsverify;
        if t.cert_file.as_os_str().is_empty() || t.key_file.as_os_str().is_empty() {
            return Err(FlagError {
                flag: "--tls",
                reason: "TLS needs a server certificate and key (--tlscert and --tlskey)".into(),
            });
        }
        if t.verify && t.ca_file.is_none() {
            return Err(FlagError {
                flag: "--tlsverify",
                reason: "verifying client certificates needs --tlscacert".into(),
            });
        }
        Ok(())
    }

    /// Applies the flags over `cfg` (flags win).
    pub fn apply(&self, cfg: &mut Config) -> Result<(), FlagError> {
        if let Some(p) = self.port {
            cfg.port = port_value("--port", p)?;
        }
        if let Some(a) = &self.addr {
            cfg.host = a.clone();
        }
        if let Some(n) = &self.name {
            cfg.server_name = Some(n.clone());
        }
        if let Some(p) = self.http_port {
            cfg.http_port = Some(port_value("--http_port", p)?);
        }
        if self.jetstream || self.store_dir.is_some() {
            let js = cfg.jetstream.get_or_insert_with(JetStreamConfig::default);
            if self.jetstream {
                js.enabled = true;
            }
            if let Some(sd) = &self.store_dir {
                js.store_dir = Some(sd.clone());
            }
        }
        if let Some(t) = &self.auth {
            cfg.authorization.token = Some(t.clone());
        }
        if let Some(u) = &self.user {
            cfg.authorization.user = Some(u.clone());
        }
        if let Some(p) = &self.pass {
            cfg.authorization.password = Some(p.clone());
        }
        if let Some(l) = &self.log {
            cfg.log_file = Some(l.clone());
        }
        if let Some(p) = &self.pid {
            cfg.pid_file = Some(p.clone());
        }
        self.apply_tls(cfg)?;
        cfg.debug |= self.debug;
        cfg.trace |= self.trace;
        if let Some(ca) = &self.client_advertise {
            cfg.client_advertise = Some(ca.clone());
        }
        if self.cluster.is_some() || self.routes.is_some() || self.cluster_name.is_some() {
            let cl = cfg.cluster.get_or_insert_with(ClusterConfig::default);
            if let Some(url) = &self.cluster {
                let (h, p) = host_port(url).ok_or_else(|| FlagError {
                    flag: "--cluster",
                    reason: format!("{url:?} is not a URL like nats://0.0.0.0:6222"),
                })?;
                cl.host = h;
                cl.port = p;
            }
            if let Some(r) = &self.routes {
                cl.routes = r
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
            }
            if let Some(n) = &self.cluster_name {
                cl.name = Some(n.clone());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn go_style_flags() {
        assert_eq!(
            normalize_args(v(&[
                "natrium", "-js", "-sd", "/d", "-DV", "-routes", "a,b", "-p", "5"
            ])),
            v(&[
                "natrium",
                "--jetstream",
                "--store_dir",
                "/d",
                "-D",
                "-V",
                "--routes",
                "a,b",
                "-p",
                "5"
            ])
        );
        assert_eq!(normalize_args(v(&["-port=4"])), v(&["--port=4"]));
    }

    #[test]
    fn flags_override_file() {
        let cli = Cli::parse_from(normalize_args(v(&[
            "natrium",
            "-p",
            "-1",
            "-n",
            "x",
            "--user",
            "u",
            "--pass",
            "p",
            "--cluster",
            "nats://127.0.0.1:7000",
            "--routes",
            "nats://h:1,nats://h:2",
            "-js",
        ])));
        let mut cfg = Config::default();
        cli.server.apply(&mut cfg).unwrap();
        assert_eq!(cfg.port, 0);
        assert_eq!(cfg.server_name.as_deref(), Some("x"));
        assert_eq!(cfg.authorization.user.as_deref(), Some("u"));
        let cl = cfg.cluster.unwrap();
        assert_eq!((cl.host.as_str(), cl.port), ("127.0.0.1", 7000));
        assert_eq!(cl.routes.len(), 2);
        assert!(cfg.jetstream.unwrap().enabled);
    }
}
