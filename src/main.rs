//! The `natrium` binary: flags, logging, config, runtime, signals. Nothing else.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use natrium::cli::{normalize_args, Cli, Command};
use natrium::config::{self, Config};

/// The allocator: mimalloc's per-thread free lists cost less per message than glibc's
/// arenas on the publish and delivery paths (measured in benches/README.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse_from(normalize_args(std::env::args()));
    if cli.server.version {
        println!("natrium: v{}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("natrium: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(Command::Bench(args)) = cli.command {
        return runtime.block_on(async move {
            match natrium::bench::run(args).await {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("natrium bench: {e}");
                    ExitCode::FAILURE
                }
            }
        });
    }

    let mut cfg = Config::default();
    if let Some(path) = &cli.server.config {
        match config::load_file(path) {
            Ok(loaded) => {
                for w in &loaded.warnings {
                    eprintln!("natrium: warning: {w}");
                }
                cfg = loaded.config;
            }
            Err(e) => {
                eprintln!("natrium: configuration error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if let Err(e) = cli.server.apply(&mut cfg) {
        eprintln!("natrium: {e}");
        return ExitCode::FAILURE;
    }
    if let Some(t) = &cfg.tls {
        // The certificates are loaded now, so `-t` and a start report a bad file alike.
        if let Err(e) = natrium::tls::server_config(t) {
            eprintln!("natrium: tls: {e}");
            return ExitCode::FAILURE;
        }
    }
    if cli.server.test_config {
        match &cli.server.config {
            Some(p) => println!(
                "natrium: configuration file {} test is successful",
                p.display()
            ),
            None => println!("natrium: no configuration file given; flags are valid"),
        }
        return ExitCode::SUCCESS;
    }
    if let Err(e) = init_logging(&cfg) {
        eprintln!("natrium: cannot open log file: {e}");
        return ExitCode::FAILURE;
    }
    runtime.block_on(run(cfg))
}

fn init_logging(cfg: &Config) -> std::io::Result<()> {
    use tracing_subscriber::EnvFilter;
    let level = if cfg.trace {
        "trace"
    } else if cfg.debug {
        "debug"
    } else {
        "info"
    };
    let filter = EnvFilter::try_from_env("NATRIUM_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match &cfg.log_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .init();
        }
        None => builder.with_writer(std::io::stderr).init(),
    }
    Ok(())
}

async fn run(cfg: Config) -> ExitCode {
    let pid_file = cfg.pid_file.clone();
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "Starting natrium");
    let server = match natrium::server::start(cfg).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("natrium: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(p) = &pid_file {
        if let Err(e) = std::fs::write(p, std::process::id().to_string()) {
            tracing::error!(path = %p.display(), error = %e, "cannot write pid file");
        }
    }
    wait_for_signal().await;
    let t0 = Instant::now();
    tracing::info!("Initiating Shutdown...");
    server.shutdown();
    if tokio::time::timeout(Duration::from_secs(10), server.wait())
        .await
        .is_err()
    {
        tracing::warn!("shutdown did not finish within 10s");
    }
    if let Some(p) = &pid_file {
        let _ = std::fs::remove_file(p);
    }
    tracing::info!(
        took_ms = t0.elapsed().as_millis() as u64,
        "Server Exiting.."
    );
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (mut int, mut term) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(i), Ok(t)) => (i, t),
        _ => {
            // Without signal handlers, ctrl-c is the only way out.
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = int.recv() => tracing::info!("Trapped \"interrupt\" signal"),
        _ = term.recv() => tracing::info!("Trapped \"terminated\" signal"),
    }
}
