//! The Docker deployment: builds the image (FROM scratch, no registry needed), brings
//! docker-compose.cluster.yml up, checks that every node reports two routes, and tears
//! it down again, also on failure. Where no Docker engine runs or no compose command
//! exists it fails under `CI` and is otherwise skipped visibly (`common::skip`: the
//! reason is printed and listed in tests/run.sh's summary).

mod cluster;
mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use cluster::free_port;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn run(cmd: &mut Command) -> Option<Output> {
    cmd.current_dir(ROOT).stdin(Stdio::null()).output().ok()
}

/// The compose command: `docker-compose` (v1) or `docker compose` (v2).
fn compose_cmd() -> Option<Vec<&'static str>> {
    let ok = |c: &mut Command| run(c).is_some_and(|o| o.status.success());
    if ok(Command::new("docker-compose").arg("version")) {
        return Some(vec!["docker-compose"]);
    }
    if ok(Command::new("docker").args(["compose", "version"])) {
        return Some(vec!["docker", "compose"]);
    }
    None
}

/// Runs `down -v` when dropped, so a failed assertion leaves nothing behind.
struct Down {
    compose: Vec<&'static str>,
    args: Vec<String>,
    envs: Vec<(String, String)>,
}

impl Down {
    fn command(&self, extra: &[&str]) -> Command {
        let mut c = Command::new(self.compose[0]);
        c.args(&self.compose[1..]).args(&self.args).args(extra);
        for (k, v) in &self.envs {
            c.env(k, v);
        }
        c
    }
}

impl Drop for Down {
    fn drop(&mut self) {
        let _ = run(&mut self.command(&["down", "-v", "--remove-orphans"]));
    }
}

fn skip(reason: &str) {
    common::skip(
        "docker_cluster::docker_compose_cluster_forms_full_mesh",
        reason,
    );
}

async fn num_routes(port: u16) -> Option<u64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let fut = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        s.write_all(b"GET /routez HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .await
            .ok()?;
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).await.ok()?;
        let text = String::from_utf8_lossy(&resp).into_owned();
        let (_, body) = text.split_once("\r\n\r\n")?;
        let v: serde_json::Value = serde_json::from_str(body).ok()?;
        v["num_routes"].as_u64()
    };
    tokio::time::timeout(Duration::from_secs(5), fut)
        .await
        .ok()
        .flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_compose_cluster_forms_full_mesh() {
    if !run(Command::new("docker").arg("info")).is_some_and(|o| o.status.success()) {
        skip("no Docker engine answers `docker info`");
        return;
    }
    let Some(compose) = compose_cmd() else {
        skip("neither `docker-compose` nor `docker compose` is available");
        return;
    };
    let tag = format!("natrium:test-{}", std::process::id());
    let build = run(Command::new("bash")
        .arg(Path::new(ROOT).join("chaos/docker-build.sh"))
        .env("IMAGE", &tag)
        .env("NATRIUM_BIN", env!("CARGO_BIN_EXE_natrium")))
    .expect("run chaos/docker-build.sh");
    assert!(
        build.status.success(),
        "image build failed:\n{}\n{}",
        String::from_utf8_lossy(&build.stdout),
        String::from_utf8_lossy(&build.stderr)
    );

    let http: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut envs = vec![("NATRIUM_IMAGE".to_string(), tag.clone())];
    for (i, p) in http.iter().enumerate() {
        envs.push((format!("NODE{}_HTTP_PORT", i + 1), p.to_string()));
        envs.push((
            format!("NODE{}_CLIENT_PORT", i + 1),
            free_port().to_string(),
        ));
    }
    let down = Down {
        compose,
        args: vec![
            "-p".into(),
            format!("natrium-test-{}", std::process::id()),
            "-f".into(),
            "docker-compose.cluster.yml".into(),
        ],
        envs,
    };
    let up = run(&mut down.command(&["up", "-d"])).expect("run compose up");
    assert!(
        up.status.success(),
        "compose up failed:\n{}",
        String::from_utf8_lossy(&up.stderr)
    );

    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let mut counts = Vec::new();
        for p in &http {
            counts.push(num_routes(*p).await);
        }
        if counts.iter().all(|c| *c == Some(2)) {
            break;
        }
        if Instant::now() > deadline {
            let ps = run(&mut down.command(&["ps"]))
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
            panic!("nodes did not all report 2 routes: {counts:?}\n{ps:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    drop(down);
    let _ = run(Command::new("docker").args(["rmi", "-f", &tag]));
}
