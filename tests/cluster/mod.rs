//! Three natrium processes on loopback with generated configs: start, kill -9, restart,
//! and read their monitoring endpoints. Every process is killed when the guard drops.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const BIN: &str = env!("CARGO_BIN_EXE_natrium");
pub const ROUTE_USER: &str = "route";
pub const ROUTE_PASS: &str = "rpass";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// One node's ports, config and (when running) process.
pub struct Node {
    pub name: String,
    pub client_port: u16,
    pub http_port: u16,
    pub route_port: u16,
    pub conf: PathBuf,
    pub log: PathBuf,
    /// Extra environment for the process (test knobs such as Raft snapshot cadence).
    pub env: Vec<(String, String)>,
    child: Option<Child>,
}

impl Node {
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.client_port)
    }

    pub fn route_url(&self, user: &str, pass: &str) -> String {
        format!("nats://{user}:{pass}@127.0.0.1:{}", self.route_port)
    }

    pub fn start(&mut self) {
        assert!(self.child.is_none(), "{} already running", self.name);
        let child = Command::new(BIN)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .arg("-c")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn natrium");
        self.child = Some(child);
    }

    /// SIGSTOP / SIGCONT (a node that stops answering without closing its sockets).
    pub fn pause(&self, on: bool) {
        if let Some(c) = &self.child {
            let sig = if on { "-STOP" } else { "-CONT" };
            let _ = Command::new("kill")
                .arg(sig)
                .arg(c.id().to_string())
                .status();
        }
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Adds a `jetstream { store_dir }` block to the node's config.
    pub fn enable_jetstream(&self, store: &Path) {
        let mut text = std::fs::read_to_string(&self.conf).expect("read config");
        text.push_str(&format!(
            "jetstream {{\n  store_dir: \"{}\"\n}}\n",
            store.display()
        ));
        std::fs::write(&self.conf, text).expect("write config");
    }

    /// kill -9.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET a monitoring path; `None` while the node does not answer.
    pub async fn get(&self, path: &str) -> Option<serde_json::Value> {
        let fut = async {
            let mut s = TcpStream::connect(("127.0.0.1", self.http_port))
                .await
                .ok()?;
            let req = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
            s.write_all(req.as_bytes()).await.ok()?;
            let mut resp = Vec::new();
            s.read_to_end(&mut resp).await.ok()?;
            let text = String::from_utf8_lossy(&resp).into_owned();
            let (_, body) = text.split_once("\r\n\r\n")?;
            serde_json::from_str(body).ok()
        };
        tokio::time::timeout(Duration::from_secs(5), fut)
            .await
            .ok()
            .flatten()
    }

    pub async fn num_routes(&self) -> Option<u64> {
        self.get("/routez").await?["num_routes"].as_u64()
    }

    /// Names of the peers this node has routes to.
    pub async fn peers(&self) -> Vec<String> {
        let Some(v) = self.get("/routez").await else {
            return Vec::new();
        };
        let mut names: Vec<String> = v["routes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r["remote_name"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Number of routes over which this node knows of interest in `subject`
    /// (optionally in queue group `queue`).
    pub async fn routes_with_interest(&self, subject: &str, queue: Option<&str>) -> usize {
        let Some(v) = self.get("/routez?subs=1").await else {
            return 0;
        };
        let want = match queue {
            Some(q) => format!("$G {subject} {q}"),
            None => format!("$G {subject}"),
        };
        v["routes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|r| {
                        r["subscriptions_list"]
                            .as_array()
                            .is_some_and(|l| l.iter().any(|s| s.as_str() == Some(want.as_str())))
                    })
                    .count()
            })
            .unwrap_or(0)
    }

    /// Waits until `routes` routes carry interest in `subject`.
    pub async fn wait_interest(&self, subject: &str, queue: Option<&str>, routes: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let n = self.routes_with_interest(subject, queue).await;
            if n >= routes {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{}: interest in {subject} {queue:?} seen on {n} routes, want {routes}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Options for a generated node config.
pub struct NodeSpec<'a> {
    pub name: &'a str,
    pub cluster_name: &'a str,
    pub routes: Vec<String>,
    pub route_auth: Option<(&'a str, &'a str)>,
}

pub fn make_node(dir: &Path, spec: &NodeSpec<'_>, ports: Option<(u16, u16, u16)>) -> Node {
    let (client_port, http_port, route_port) =
        ports.unwrap_or_else(|| (free_port(), free_port(), free_port()));
    let log = dir.join(format!("{}.log", spec.name));
    let conf = dir.join(format!("{}.conf", spec.name));
    let routes: String = spec.routes.iter().map(|r| format!("    {r}\n")).collect();
    let auth = match spec.route_auth {
        Some((u, p)) => format!("  authorization {{ user: {u}, password: {p}, timeout: 2 }}\n"),
        None => String::new(),
    };
    let text = format!(
        "server_name: {name}\nlisten: 127.0.0.1:{client_port}\nhttp: 127.0.0.1:{http_port}\n\
         cluster {{\n  name: {cluster}\n  listen: 127.0.0.1:{route_port}\n{auth}  routes: [\n{routes}  ]\n}}\n\
         log_file: \"{log}\"\n",
        name = spec.name,
        cluster = spec.cluster_name,
        log = log.display(),
    );
    std::fs::write(&conf, text).expect("write config");
    Node {
        name: spec.name.to_string(),
        client_port,
        http_port,
        route_port,
        conf,
        log,
        env: Vec::new(),
        child: None,
    }
}

/// A set of nodes whose processes die with it.
pub struct Nodes {
    pub nodes: Vec<Node>,
    pub dir: tempfile::TempDir,
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            n.kill();
        }
        // A failing test shows the end of every node's log (or all of it, and the
        // directory is kept, with NATRIUM_KEEP_TEST_DIRS=1).
        if std::thread::panicking() {
            let keep = std::env::var_os("NATRIUM_KEEP_TEST_DIRS").is_some();
            for n in &self.nodes {
                let text = n.log_text();
                let lines: Vec<&str> = text.lines().collect();
                let from = if keep {
                    0
                } else {
                    lines.len().saturating_sub(40)
                };
                eprintln!("---- {} log ({}), last lines:", n.name, n.log.display());
                for l in &lines[from..] {
                    eprintln!("{l}");
                }
            }
            if keep {
                let path = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
                eprintln!("---- kept {}", path.keep().display());
            }
        }
    }
}

impl std::ops::Index<usize> for Nodes {
    type Output = Node;
    fn index(&self, i: usize) -> &Node {
        &self.nodes[i]
    }
}

impl std::ops::IndexMut<usize> for Nodes {
    fn index_mut(&mut self, i: usize) -> &mut Node {
        &mut self.nodes[i]
    }
}

impl Nodes {
    /// Three nodes chained by seed routes: n2 → n1, n3 → n2 (the mesh must complete
    /// itself through gossip), all started.
    pub fn chain() -> Nodes {
        let mut nodes = Nodes::chain_stopped();
        for n in &mut nodes.nodes {
            n.start();
        }
        nodes
    }

    /// The same three nodes, configured but not started.
    pub fn chain_stopped() -> Nodes {
        let dir = tempfile::tempdir().expect("tempdir");
        let auth = Some((ROUTE_USER, ROUTE_PASS));
        let n1 = make_node(
            dir.path(),
            &NodeSpec {
                name: "n1",
                cluster_name: "test",
                routes: vec![],
                route_auth: auth,
            },
            None,
        );
        let n2 = make_node(
            dir.path(),
            &NodeSpec {
                name: "n2",
                cluster_name: "test",
                routes: vec![n1.route_url(ROUTE_USER, ROUTE_PASS)],
                route_auth: auth,
            },
            None,
        );
        let n3 = make_node(
            dir.path(),
            &NodeSpec {
                name: "n3",
                cluster_name: "test",
                routes: vec![n2.route_url(ROUTE_USER, ROUTE_PASS)],
                route_auth: auth,
            },
            None,
        );
        Nodes::chain_stopped_from(dir, vec![n1, n2, n3])
    }

    /// Three JetStream nodes, each configured with routes to the other two (as
    /// cluster-configs/ does), all started.
    pub fn jetstream() -> Nodes {
        Nodes::jetstream_with_env(&[])
    }

    /// [`Nodes::jetstream`] with extra environment for every process.
    pub fn jetstream_with_env(env: &[(&str, &str)]) -> Nodes {
        let dir = tempfile::tempdir().expect("tempdir");
        let auth = Some((ROUTE_USER, ROUTE_PASS));
        let ports: Vec<(u16, u16, u16)> = (0..3)
            .map(|_| (free_port(), free_port(), free_port()))
            .collect();
        let url = |i: usize| format!("nats://{ROUTE_USER}:{ROUTE_PASS}@127.0.0.1:{}", ports[i].2);
        let mut nodes = Vec::new();
        for (i, port) in ports.iter().enumerate() {
            let name = format!("n{}", i + 1);
            let routes = (0..3).filter(|j| *j != i).map(url).collect();
            let n = make_node(
                dir.path(),
                &NodeSpec {
                    name: &name,
                    cluster_name: "test",
                    routes,
                    route_auth: auth,
                },
                Some(*port),
            );
            n.enable_jetstream(&dir.path().join(format!("store-{name}")));
            let mut n = n;
            n.env = env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            nodes.push(n);
        }
        let mut nodes = Nodes::chain_stopped_from(dir, nodes);
        for n in &mut nodes.nodes {
            n.start();
        }
        nodes
    }

    fn chain_stopped_from(dir: tempfile::TempDir, nodes: Vec<Node>) -> Nodes {
        Nodes { nodes, dir }
    }

    /// Waits until every running node listed in `which` has routes to exactly the other
    /// nodes listed.
    pub async fn wait_mesh(&self, which: &[usize]) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut ok = true;
            let mut seen = Vec::new();
            for &i in which {
                let mut want: Vec<String> = which
                    .iter()
                    .filter(|&&j| j != i)
                    .map(|&j| self.nodes[j].name.clone())
                    .collect();
                want.sort();
                let got = self.nodes[i].peers().await;
                ok &= got == want;
                seen.push((self.nodes[i].name.clone(), got));
            }
            if ok {
                return;
            }
            assert!(Instant::now() < deadline, "mesh did not form: {seen:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn client(&self, i: usize) -> async_nats::Client {
        async_nats::connect(self.nodes[i].url())
            .await
            .expect("async-nats connects")
    }
}

/// Receives the next message within 10 s.
pub async fn next(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    use futures::StreamExt;
    tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("message within 10s")
        .expect("subscription open")
}

/// Asserts that nothing more arrives within 300 ms.
pub async fn nothing_more(sub: &mut async_nats::Subscriber) {
    use futures::StreamExt;
    match tokio::time::timeout(Duration::from_millis(300), sub.next()).await {
        Ok(Some(m)) => panic!("unexpected extra message on {}", m.subject),
        Ok(None) => panic!("subscription closed: nothing would have arrived anyway"),
        Err(_) => {}
    }
}
