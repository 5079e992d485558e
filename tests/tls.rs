//! Client TLS with rustls: async-nats and nats.py over TLS (server-only and mutual,
//! certificates made with rcgen in the test), `handshake_first`, INFO `tls_required` /
//! `tls_verify`, and the refusals: plaintext to the TLS port (a clear `-ERR`), a
//! client that trusts another CA, missing, expired and foreign client certificates,
//! TLS to a plaintext port, and `natrium -t` with an unreadable certificate.

mod common;
mod tls_certs;

use std::path::Path;
use std::time::Duration;

use common::{start_server, test_config, Raw};
use futures::StreamExt;
use natrium::config::{Config, TlsConfig};
use natrium::server::RunningServer;

struct Pki {
    dir: tempfile::TempDir,
    ca: tls_certs::Ca,
    server: tls_certs::Pair,
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = tls_certs::ca(dir.path(), "ca");
    let server = tls_certs::server(dir.path(), &ca, "server");
    Pki { dir, ca, server }
}

fn tls_config(p: &Pki, verify: bool) -> Config {
    let mut cfg = test_config();
    cfg.tls = Some(TlsConfig {
        cert_file: p.server.cert.clone(),
        key_file: p.server.key.clone(),
        ca_file: verify.then(|| p.ca.pem.clone()),
        verify,
        ..TlsConfig::default()
    });
    cfg
}

fn tls_url(srv: &RunningServer) -> String {
    format!("tls://127.0.0.1:{}", srv.client_addr.port())
}

async fn connect(
    url: &str,
    opts: async_nats::ConnectOptions,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    opts.connection_timeout(Duration::from_secs(3))
        .connect(url)
        .await
}

async fn roundtrip(c: &async_nats::Client) {
    let mut sub = c.subscribe("tls.t").await.expect("subscribe");
    c.flush().await.expect("flush");
    c.publish("tls.t", "secret payload".into())
        .await
        .expect("publish");
    let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("message within 5s")
        .expect("message");
    assert_eq!(m.payload, "secret payload".as_bytes());
}

async fn run_py(url: &str, args: &[&Path]) {
    let script = format!("{}/tests/py/tls_check.py", env!("CARGO_MANIFEST_DIR"));
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new("python3")
            .arg(&script)
            .arg(url)
            .args(args)
            .output(),
    )
    .await
    .expect("nats.py finishes within 60s")
    .expect("python3 runs (tests/run.sh installs python3 and nats-py)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "nats.py over TLS failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("OK pubsub") && stdout.contains("OK request"),
        "{stdout}"
    );
}

#[tokio::test]
async fn async_nats_over_tls_and_plaintext_refused() {
    let p = pki();
    let srv = start_server(tls_config(&p, false)).await;
    let raw = Raw::connect(&srv).await;
    assert_eq!(raw.info["tls_required"], true);
    assert!(raw.info.get("tls_verify").is_none());

    let c = connect(
        &tls_url(&srv),
        async_nats::ConnectOptions::new()
            .add_root_certificates(p.ca.pem.clone())
            .require_tls(true),
    )
    .await
    .expect("async-nats connects over TLS");
    roundtrip(&c).await;

    // Plaintext where the handshake belongs: a clear error, then closed.
    let mut raw = raw;
    raw.send(b"CONNECT {}\r\nPING\r\n").await;
    assert_eq!(
        raw.read_line().await,
        "-ERR 'Secure Connection - TLS Required'"
    );
    let (rest, closed) = raw.read_for(Duration::from_secs(5)).await;
    assert!(closed && rest.is_empty(), "{rest:?}");

    // A client that trusts another CA refuses the server.
    let other = tls_certs::ca(p.dir.path(), "other-ca");
    let bad = connect(
        &tls_url(&srv),
        async_nats::ConnectOptions::new()
            .add_root_certificates(other.pem.clone())
            .require_tls(true),
    )
    .await;
    assert!(
        bad.is_err(),
        "a client trusting another CA must not connect"
    );
}

#[tokio::test]
async fn nats_py_over_tls() {
    let p = pki();
    let srv = start_server(tls_config(&p, false)).await;
    run_py(&tls_url(&srv), &[&p.ca.pem]).await;
}

#[tokio::test]
async fn mutual_tls_requires_a_valid_client_certificate() {
    let p = pki();
    let srv = start_server(tls_config(&p, true)).await;
    let raw = Raw::connect(&srv).await;
    assert_eq!(raw.info["tls_required"], true);
    assert_eq!(raw.info["tls_verify"], true);
    let d = p.dir.path();
    let good = tls_certs::client(d, &p.ca, "alice");
    let c = connect(
        &tls_url(&srv),
        async_nats::ConnectOptions::new()
            .add_root_certificates(p.ca.pem.clone())
            .add_client_certificate(good.cert.clone(), good.key.clone())
            .require_tls(true),
    )
    .await
    .expect("client with a certificate from the CA connects");
    roundtrip(&c).await;
    run_py(&tls_url(&srv), &[&p.ca.pem, &good.cert, &good.key]).await;

    let no_cert = connect(
        &tls_url(&srv),
        async_nats::ConnectOptions::new()
            .add_root_certificates(p.ca.pem.clone())
            .require_tls(true),
    )
    .await;
    assert!(no_cert.is_err(), "no client certificate must be refused");

    let expired = tls_certs::expired_client(d, &p.ca, "old");
    let r = connect(
        &tls_url(&srv),
        async_nats::ConnectOptions::new()
            .add_root_certificates(p.ca.pem.clone())
            .add_client_certificate(expired.cert.clone(), expired.key.clone())
            .require_tls(true),
    )
    .await;
    assert!(r.is_err(), "an expired client certificate must be refused");

    let other = tls_certs::ca(d, "rogue-ca");
    let foreign = tls_certs::client(d, &other, "mallory");
    let r = connect(
        &tls_url(&srv),
        async_nats::ConnectOptions::new()
            .add_root_certificates(p.ca.pem.clone())
            .add_client_certificate(foreign.cert.clone(), foreign.key.clone())
            .require_tls(true),
    )
    .await;
    assert!(r.is_err(), "a certificate from another CA must be refused");
    // The server is still serving after the refusals.
    roundtrip(&c).await;
}

#[tokio::test]
async fn handshake_first() {
    let p = pki();
    let mut cfg = tls_config(&p, false);
    if let Some(t) = cfg.tls.as_mut() {
        t.handshake_first = true;
    }
    let srv = start_server(cfg).await;
    let c = connect(
        &tls_url(&srv),
        async_nats::ConnectOptions::new()
            .add_root_certificates(p.ca.pem.clone())
            .tls_first(),
    )
    .await
    .expect("async-nats connects with TLS first");
    roundtrip(&c).await;
}

#[tokio::test]
async fn tls_client_to_plaintext_port_is_refused() {
    let p = pki();
    let srv = start_server(test_config()).await;
    let r = connect(
        &tls_url(&srv),
        async_nats::ConnectOptions::new()
            .add_root_certificates(p.ca.pem.clone())
            .require_tls(true),
    )
    .await;
    assert!(
        r.is_err(),
        "a client requiring TLS must not connect in plaintext"
    );
}

#[test]
fn test_flag_checks_certificate_files() {
    let p = pki();
    let conf = p.dir.path().join("tls.conf");
    let text = format!(
        "port: -1\ntls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n}}\n",
        p.server.cert.display(),
        p.server.key.display()
    );
    std::fs::write(&conf, &text).expect("write");
    let bin = env!("CARGO_BIN_EXE_natrium");
    let out = std::process::Command::new(bin)
        .args(["-t", "-c"])
        .arg(&conf)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&conf, text.replace("server-cert.pem", "missing.pem")).expect("write");
    let out = std::process::Command::new(bin)
        .args(["-t", "-c"])
        .arg(&conf)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cert_file") && err.contains("missing.pem"),
        "{err}"
    );
    // --tls without a certificate is refused too.
    let out = std::process::Command::new(bin)
        .args(["-t", "--tls"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tlscert"));
}
