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
            private_log_files(dir)?;
            let appender = tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix("adsync.log")
                .max_log_files(30)
                .build(dir)
                .map_err(std::io::Error::other)?;
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let layer = tracing_subscriber::fmt::layer()
                .json()
                .with_writer(move || ScrubWriter(writer.clone()))
                .with_filter(filter());
            (Some(layer), Some(guard))
        }
        None => (None, None),
    };
    let stderr_text = (format == LogFormat::Text).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(|| ScrubWriter(std::io::stderr()))
            // Colours only for a person at a terminal: the journal and pipes got escape codes.
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_target(false)
            .with_filter(filter())
    });
    let stderr_json = (format == LogFormat::Json).then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(|| ScrubWriter(std::io::stderr()))
            .with_filter(filter())
    });
    let _ = tracing_subscriber::registry()
        .with(stderr_text)
        .with(stderr_json)
        .with(file_layer)
        .try_init();
    Ok(LogGuard { _worker: guard })
}

/// Log lines name people (who was created, moved, disabled): the files are their owner's alone.
/// The appender opens each day's file itself, with no say in its mode, so the process's umask
/// is narrowed to owner-only (the service writes nothing others should read: its state store
/// and exported plans are 0600 too), and files an earlier version left readable are narrowed.
fn private_log_files(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // SAFETY: umask only swaps the process's file-creation mask; it cannot fail.
        unsafe {
            let old = libc::umask(0o077);
            libc::umask(old | 0o077);
        }
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            if !name.to_string_lossy().starts_with("adsync.log") {
                continue;
            }
            let meta = entry.metadata()?;
            if meta.is_file() && meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

use tracing_subscriber::Layer;

use crate::secret::scrub::ScrubWriter;

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use crate::secret::{Secret, SecretRef};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// With a log directory, lines land in a dated file there as JSON.
    #[test]
    fn writes_a_dated_json_file_in_the_log_dir() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        // A file an earlier version left world-readable.
        std::fs::create_dir(&logs).unwrap();
        let old = logs.join("adsync.log.2020-01-01");
        std::fs::write(&old, "{}\n").unwrap();
        let guard = super::init(super::LogFormat::Text, "info", Some(&logs)).unwrap();
        tracing::info!(cycle = 7, "cycle finished");
        drop(guard); // flushes the background writer
        let files: Vec<_> = std::fs::read_dir(&logs)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        let files: Vec<_> = files
            .into_iter()
            .filter(|f| !f.ends_with("2020-01-01"))
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        let today = httpdate::fmt_http_date(std::time::SystemTime::now());
        assert!(files[0].starts_with("adsync.log."), "{files:?} ({today})");
        // Owner-only, both the new file and the one left readable before.
        #[cfg(unix)]
        for file in [logs.join(&files[0]), old] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
        }
        let text = std::fs::read_to_string(logs.join(&files[0])).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(line["fields"]["message"], "cycle finished");
        assert_eq!(line["fields"]["cycle"], 7);
    }

    /// Logs a secret every way a careless call might, in both formats; the value never appears.
    #[test]
    fn secrets_never_reach_a_log_line() {
        let value = "very-secret-token-value";
        for json in [false, true] {
            let buffer = Buffer::default();
            let writer = {
                let buffer = buffer.clone();
                move || buffer.clone()
            };
            let builder = tracing_subscriber::fmt().with_writer(writer);
            let dispatch: tracing::Dispatch = if json {
                builder.json().finish().into()
            } else {
                builder.finish().into()
            };
            tracing::dispatcher::with_default(&dispatch, || {
                let secret = Secret::new(value);
                tracing::warn!(token = %secret, debug = ?secret, "using {secret} and {secret:?}");
                let reference: SecretRef = "env:ADSYNC_LOG_TEST_UNSET".parse().unwrap();
                let error = reference.resolve().unwrap_err();
                tracing::error!(%error, "resolving failed");
            });
            let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
            assert!(text.contains("[redacted]"), "{text}");
            assert!(text.contains("env:ADSYNC_LOG_TEST_UNSET"), "{text}");
            assert!(!text.contains(value), "leaked in {text}");
        }
    }
}
