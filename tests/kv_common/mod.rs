//! Helpers shared by the KV and object store tests: a JetStream server to run against
//! and a polling helper. By default the server is natrium, in-process, storing in a
//! temporary directory. With `NATRIUM_COMPARE_URL` set (e.g. `nats://127.0.0.1:4333`
//! of a `nats-server -js`), the tests that do not restart the server run against that
//! server instead, to compare natrium with the reference behaviour. (async-nats 0.51's
//! `create_key_value` reads `reserved_memory` from `$JS.API.INFO`, which nats-server
//! 2.9 does not send, so bucket creation needs a 2.10+ server there; the nats.py
//! scripts and raw requests work against 2.9.10.)

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use natrium::server::RunningServer;

use crate::js_common;

/// A server for one test.
pub struct Target {
    pub url: String,
    pub srv: Option<RunningServer>,
    pub dir: tempfile::TempDir,
}

impl Target {
    /// natrium with JetStream (or the comparison server, see the module docs).
    pub async fn start() -> Target {
        let dir = tempfile::tempdir().expect("tempdir");
        if let Ok(url) = std::env::var("NATRIUM_COMPARE_URL") {
            return Target {
                url,
                srv: None,
                dir,
            };
        }
        let srv = js_common::start_js(dir.path()).await;
        Target {
            url: srv.client_url(),
            srv: Some(srv),
            dir,
        }
    }

    pub async fn client(&self) -> async_nats::Client {
        async_nats::connect(&self.url)
            .await
            .expect("async-nats connects")
    }

    pub async fn js(&self) -> async_nats::jetstream::Context {
        async_nats::jetstream::new(self.client().await)
    }
}

/// A name unique to this process and call, so that tests sharing a comparison server
/// do not collide.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Polls `f` every 50 ms until it returns true or `within` passes.
pub async fn eventually<F, Fut>(within: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if f().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Awaits a future for at most 5 s.
pub async fn within5<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), f)
        .await
        .expect("answered within 5s")
}

pub use crate::common::run_python;
