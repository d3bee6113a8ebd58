//! Wizard tests with egui_kittest, driven through the accessibility tree (clicks and typing), with
//! no display or GPU; this module holds the shared helpers, the files beside it the tests by topic.

mod contrast;
mod dialogs;
mod edit;
mod fields;
mod flow;
mod lost_store;
mod results;
mod same_run;
mod shell;

pub(super) use std::path::Path;
use std::time::{Duration, Instant};

pub(super) use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

pub(super) use super::*;
pub(super) use crate::config;
pub(super) use crate::secret::SecretRef;

const DEFAULT_PASSWORD: &str = "Welcome-2026-Tailspin!";

pub(super) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub(super) fn harness(wizard: Wizard) -> Harness<'static, Wizard> {
    Harness::builder()
        .with_size(egui::vec2(1024.0, 768.0))
        .with_max_steps(1000)
        .build_ui_state(|ui, wizard: &mut Wizard| wizard.ui(ui), wizard)
}

/// Steps frames until every background job has reported back (spinners keep asking for frames,
/// so `run()` cannot be used while a job runs).
pub(super) fn settle(h: &mut Harness<'_, Wizard>) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        h.step();
        if h.state().jobs_running() == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "background jobs did not finish");
        std::thread::sleep(Duration::from_millis(10));
    }
    h.run_steps(3);
}

pub(super) fn type_into(h: &mut Harness<'_, Wizard>, label: &str, text: &str) {
    h.get_by_label(label).scroll_to_me();
    h.run_steps(2);
    h.get_by_label(label).focus();
    h.run_steps(1);
    h.get_by_label(label).type_text(text);
    h.run_steps(2);
}

pub(super) fn replace_in(h: &mut Harness<'_, Wizard>, label: &str, text: &str) {
    h.get_by_label(label).focus();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.run_steps(1);
    h.get_by_label(label).type_text(text);
    h.run_steps(2);
}

/// Is a text with this fragment on screen (beside its field, and perhaps also beside Next)?
pub(super) fn shown(h: &Harness<'_, Wizard>, fragment: &str) -> bool {
    h.query_all_by_label_contains(fragment).next().is_some()
}

pub(super) fn click(h: &mut Harness<'_, Wizard>, label: &str) {
    h.get_by_label(label).scroll_to_me();
    h.run_steps(6);
    h.get_by_label(label).click();
    h.run_steps(2);
}

pub(super) fn demo_wizard(dir: &Path, runtime: &tokio::runtime::Runtime) -> Wizard {
    Wizard::new(
        WizardOptions {
            demo: true,
            demo_dir: Some(dir.join("demo")),
            ..Default::default()
        },
        runtime.handle().clone(),
    )
}

pub(super) fn new_wizard(dir: &Path, runtime: &tokio::runtime::Runtime) -> Wizard {
    Wizard::new(
        WizardOptions {
            config_path: Some(dir.join("config.toml")),
            ..Default::default()
        },
        runtime.handle().clone(),
    )
}

/// The demo with its groups paired, opened at `step`.
pub(super) fn demo_at(dir: &Path, runtime: &tokio::runtime::Runtime, step: Step) -> Wizard {
    Wizard::new(
        WizardOptions {
            demo: true,
            demo_dir: Some(dir.join("demo")),
            open_step: Some(step),
            ..Default::default()
        },
        runtime.handle().clone(),
    )
}
