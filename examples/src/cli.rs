//! What every long-running example binary does the same way: logs through `tracing` to
//! stderr with the level from `RUST_LOG`, and stops on Ctrl-C, SIGTERM or after a set time.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::time::Duration;
//! examples::cli::init_logging("warn");
//! // Returns after 10 ms here; without a duration it waits for Ctrl-C or SIGTERM.
//! examples::cli::stop_requested(Some(Duration::from_millis(10))).await;
//! # }
//! ```

use std::time::Duration;

use tracing_subscriber::EnvFilter;

/// Log to stderr, filtered by `RUST_LOG` when it is set and valid, else by `default` (an
/// `EnvFilter` directive such as `"warn"` or `"warn,examples=info"`). A second call is
/// ignored.
pub fn init_logging(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Resolves when the process is asked to stop: Ctrl-C (SIGINT), SIGTERM, or `run_for` after
/// the call when given. A signal that cannot be listened to is logged and only the others
/// count.
pub async fn stop_requested(run_for: Option<Duration>) {
    let timer = async {
        match run_for {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = timer => {}
        () = ctrl_c => {}
        () = sigterm() => {}
    }
}

#[cfg(unix)]
async fn sigterm() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(e) => {
            tracing::warn!("cannot listen for SIGTERM: {e}");
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(not(unix))]
async fn sigterm() {
    std::future::pending().await
}
