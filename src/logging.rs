//! Logging: human-readable lines (or JSON with `--log-format json`) on stderr, and for the service
//! a daily-rotated file in `service.log_dir`. Secrets cannot reach a log line: they are held in
//! [`crate::secret::Secret`], which prints as `[redacted]`.

use std::path::Path;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The format of log lines on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Keeps the file writer flushing; drop it only at exit.
pub struct LogGuard {
    _worker: Option<tracing_appender::non_blocking::WorkerGuard>,
}

/// Installs the global subscriber. `verbosity` is the default level (`warn`, `info`, `debug`), and
/// `RUST_LOG` overrides it. With `log_dir`, lines also go to `adsync.log.YYYY-MM-DD` there.
pub fn init(
    format: LogFormat,
    verbosity: &str,
    log_dir: Option<&Path>,
) -> std::io::Result<LogGuard> {
    let filter = || {
        EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new(format!("adsync={verbosity},warn")))
    };
    let (file_layer, guard) = match log_dir {
        Some(dir) => {
            crate::fsutil::create_private_dir(dir)?;
            let appender = tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix("adsync.log")
                .max_log_files(30)
                .build(dir)
                .map_err(std::io::Error::other)?;
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let layer = tracing_subscriber::fmt::layer()
                .json()
                .with_writer(writer)
                .with_filter(filter());
            (Some(layer), Some(guard))
        }
        None => (None, None),
    };
    let stderr_text = (format == LogFormat::Text).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_filter(filter())
    });
    let stderr_json = (format == LogFormat::Json).then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_filter(filter())
    });
    let _ = tracing_subscriber::registry()
        .with(stderr_text)
        .with(stderr_json)
        .with(file_layer)
        .try_init();
    Ok(LogGuard { _worker: guard })
}

use tracing_subscriber::Layer;
