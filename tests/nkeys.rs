//! nkey users: INFO carries a nonce, the client signs it with its seed, the server
//! checks the ed25519 signature against the configured public key. Checked with
//! async-nats' nkey auth and with raw CONNECTs (wrong key, bad and missing
//! signatures, replayed signatures from another connection).

mod common;

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use common::{start_server, Raw};
use futures::StreamExt;

fn config(text: &str) -> natrium::config::Config {
    let text = format!("host: 127.0.0.1\nport: -1\n{text}");
    natrium::config::load_str(&text, "test.conf", Path::new("/tmp"))
        .expect("config loads")
        .config
}

async fn pong_or_err(c: &mut Raw, connect: String) -> String {
    c.send(format!("{connect}\r\nPING\r\n").as_bytes()).await;
    c.read_line().await
}

fn sign(kp: &nkeys::KeyPair, nonce: &str) -> String {
    let sig = kp.sign(nonce.as_bytes()).expect("sign");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
}

#[tokio::test]
async fn nkey_users_log_in_with_async_nats_and_bad_signatures_are_refused() {
    let alice = nkeys::KeyPair::new_user();
    let bob = nkeys::KeyPair::new_user();
    let mallory = nkeys::KeyPair::new_user();
    let cfg = config(&format!(
        "accounts {{\n  A {{ users: [ {{ nkey: {} }} ] }}\n  B {{ users: [ {{ nkey: {}, permissions: {{ publish: \"b.>\" }} }} ] }}\n}}",
        alice.public_key(),
        bob.public_key()
    ));
    let srv = start_server(cfg).await;

    let mut raw = Raw::connect(&srv).await;
    assert_eq!(raw.info["auth_required"], true);
    let nonce = raw.info["nonce"]
        .as_str()
        .expect("nonce in INFO")
        .to_string();
    assert_eq!(nonce.len(), 15);

    // Signed by another key than the one claimed.
    let r = pong_or_err(
        &mut raw,
        format!(
            "CONNECT {{\"verbose\":false,\"nkey\":\"{}\",\"sig\":\"{}\"}}",
            alice.public_key(),
            sign(&mallory, &nonce)
        ),
    )
    .await;
    assert_eq!(r, "-ERR 'Authorization Violation'");

    // A signature of another connection's nonce does not work here.
    let mut raw2 = Raw::connect(&srv).await;
    let n2 = raw2.info["nonce"].as_str().expect("nonce").to_string();
    assert_ne!(n2, nonce);
    let mut raw3 = Raw::connect(&srv).await;
    let r = pong_or_err(
        &mut raw3,
        format!(
            "CONNECT {{\"verbose\":false,\"nkey\":\"{}\",\"sig\":\"{}\"}}",
            alice.public_key(),
            sign(&alice, &n2)
        ),
    )
    .await;
    assert_eq!(r, "-ERR 'Authorization Violation'");

    // No signature, an unknown key, garbage.
    for connect in [
        format!("CONNECT {{\"nkey\":\"{}\"}}", alice.public_key()),
        format!(
            "CONNECT {{\"nkey\":\"{}\",\"sig\":\"{}\"}}",
            mallory.public_key(),
            sign(&mallory, &n2)
        ),
        format!(
            "CONNECT {{\"nkey\":\"{}\",\"sig\":\"!!\"}}",
            alice.public_key()
        ),
    ] {
        let mut c = Raw::connect(&srv).await;
        assert_eq!(
            pong_or_err(&mut c, connect.clone()).await,
            "-ERR 'Authorization Violation'",
            "{connect}"
        );
    }

    // The right signature over this connection's nonce.
    let r = pong_or_err(
        &mut raw2,
        format!(
            "CONNECT {{\"verbose\":false,\"nkey\":\"{}\",\"sig\":\"{}\"}}",
            alice.public_key(),
            sign(&alice, &n2)
        ),
    )
    .await;
    assert_eq!(r, "PONG");

    // async-nats with the seeds: accounts are separate, permissions apply.
    let url = srv.client_url();
    let a = async_nats::ConnectOptions::with_nkey(alice.seed().expect("seed"))
        .connection_timeout(Duration::from_secs(3))
        .connect(&url)
        .await
        .expect("alice connects with her nkey");
    let b = async_nats::ConnectOptions::with_nkey(bob.seed().expect("seed"))
        .connection_timeout(Duration::from_secs(3))
        .connect(&url)
        .await
        .expect("bob connects with his nkey");
    let mut sub = a.subscribe("x.>").await.expect("sub");
    a.flush().await.expect("flush");
    a.publish("x.1", "from alice".into()).await.expect("pub");
    let m = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("in time")
        .expect("msg");
    assert_eq!(m.payload, "from alice".as_bytes());

    let mut bsub = b.subscribe(">").await.expect("sub");
    b.flush().await.expect("flush");
    b.publish("x.1", "denied".into()).await.expect("queued");
    b.publish("b.ok", "allowed".into()).await.expect("pub");
    b.flush().await.expect("flush");
    let m = tokio::time::timeout(Duration::from_secs(5), bsub.next())
        .await
        .expect("in time")
        .expect("msg");
    assert_eq!(m.subject.as_str(), "b.ok", "x.1 is not allowed for bob");

    let bad = async_nats::ConnectOptions::with_nkey(mallory.seed().expect("seed"))
        .connection_timeout(Duration::from_secs(3))
        .connect(&url)
        .await;
    assert!(bad.is_err(), "an unknown nkey must not connect");
}

#[test]
fn invalid_nkeys_are_config_errors() {
    let e = natrium::config::load_str(
        "authorization { users: [ { nkey: UNOTAKEY } ] }",
        "t.conf",
        Path::new("/tmp"),
    )
    .expect_err("bad nkey refused");
    assert_eq!(
        e.to_string(),
        "t.conf:1:34: invalid authorization.users.nkey \"UNOTAKEY\": expected a public user nkey (U...)"
    );
    let acct = nkeys::KeyPair::new_account().public_key();
    let e = natrium::config::load_str(
        &format!("authorization {{ users: [ {{ nkey: {acct} }} ] }}"),
        "t.conf",
        Path::new("/tmp"),
    )
    .expect_err("account key refused");
    assert!(e.to_string().contains("expected a public user nkey"), "{e}");
}
