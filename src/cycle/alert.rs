//! The service's alerts: a plan withheld by a guard, a user quarantined, cycles failing again and
//! again. Each is logged as one line starting `ALERT` and, with `[service] alert_webhook`, POSTed
//! as JSON `{"event", "text", "config", "details"}` (Teams and Slack show `text`). The webhook's
//! URL is a secret (it embeds a token): it is read through its reference, never logged, and
//! accepted only over https (plain http only to this machine). A POST that fails is logged and
//! the loop goes on: an alert never stops a cycle.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::config::ServiceSettings;
use crate::secret::Secret;

/// How long one alert may take before it is given up (logged as not sent).
const POST_TIMEOUT: Duration = Duration::from_secs(10);

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A guard withholds the plan (R11): nothing is written until someone looks.
    PlanWithheld,
    /// A user's writes failed three cycles in a row; it is retried with a growing wait.
    Quarantined,
    /// Cycles failed three times in a row.
    CyclesFailing,
}

impl Event {
    /// The `event` field of the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PlanWithheld => "plan-withheld",
            Self::Quarantined => "quarantined",
            Self::CyclesFailing => "cycles-failing",
        }
    }

    /// The words after `ALERT` in the log.
    fn label(self) -> &'static str {
        match self {
            Self::PlanWithheld => "plan withheld",
            Self::Quarantined => "quarantined",
            Self::CyclesFailing => "cycles failing",
        }
    }
}

/// Why `[service] alert_webhook` cannot be used; the loop runs on without the webhook.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("[service] alert_webhook: {0}; alerts are only logged")]
    Secret(#[source] crate::secret::SecretError),
    // The URL itself is never shown: it is the secret.
    #[error(
        "[service] alert_webhook: the URL it refers to is {0}; use an https URL (plain http is \
         accepted only for this machine, e.g. http://127.0.0.1); alerts are only logged"
    )]
    Url(&'static str),
}

/// Where alerts go.
pub struct Alerts {
    webhook: Option<(reqwest::Client, Secret)>,
    /// The config file the service runs with, so the one who reads an alert knows which adsync.
    config: String,
}

impl Alerts {
    /// Reads the webhook's URL (blocking: a keyring or file read). A reference that does not
    /// resolve, or a URL that is not https, is logged and leaves the alerts to the log.
    pub fn from_settings(settings: &ServiceSettings, config: &Path) -> Self {
        let config = config.display().to_string();
        let Some(reference) = &settings.alert_webhook else {
            return Self {
                webhook: None,
                config,
            };
        };
        let webhook = match reference
            .resolve()
            .map_err(WebhookError::Secret)
            .and_then(|url| {
                check_url(url.expose())?;
                Ok(url)
            }) {
            Ok(url) => Some((crate::http::client(), url)),
            Err(error) => {
                tracing::error!("{error}");
                None
            }
        };
        Self { webhook, config }
    }

    /// Logs the alert as one `ALERT …` line and POSTs it to the webhook, if there is one.
    pub async fn raise(&self, event: Event, text: &str, details: Value) {
        tracing::warn!(event = event.as_str(), "ALERT {}: {text}", event.label());
        let Some((client, url)) = &self.webhook else {
            return;
        };
        let body = json!({
            "event": event.as_str(),
            "text": format!("adsync: {text}"),
            "config": self.config,
            "details": details,
        });
        let post = client.post(url.expose()).timeout(POST_TIMEOUT).json(&body);
        match post.send().await {
            Ok(response) if response.status().is_success() => {}
            Ok(response) => tracing::warn!(
                "[service] alert_webhook: the {} alert was answered {}; it was not delivered",
                event.as_str(),
                response.status()
            ),
            Err(error) => tracing::warn!(
                "[service] alert_webhook: the {} alert could not be sent: {}",
                event.as_str(),
                error.without_url()
            ),
        }
    }
}

/// https, or plain http to this machine; the error names what is wrong, never the URL.
/// `adsync check` applies it too, so a webhook the service would ignore fails there first.
pub fn check_url(text: &str) -> Result<(), WebhookError> {
    let url = url::Url::parse(text).map_err(|_| WebhookError::Url("not a URL"))?;
    let host = url.host().ok_or(WebhookError::Url("without a host"))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if crate::config::is_loopback_host(&host) => Ok(()),
        "http" => Err(WebhookError::Url("plain http to another machine")),
        _ => Err(WebhookError::Url("not an http(s) URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_are_https_or_loopback_and_errors_never_show_them() {
        assert!(check_url("https://hooks.example.com/services/T0/B0/XyZsecret").is_ok());
        assert!(check_url("http://127.0.0.1:8080/hook").is_ok());
        assert!(check_url("http://localhost/hook").is_ok());
        for bad in [
            "http://hooks.example.com/services/T0/B0/XyZsecret",
            "ftp://hooks.example.com/XyZsecret",
            "XyZsecret",
        ] {
            let error = check_url(bad).unwrap_err().to_string();
            assert!(!error.contains("XyZsecret"), "{error}");
            assert!(error.contains("[service] alert_webhook"), "{error}");
        }
    }
}
