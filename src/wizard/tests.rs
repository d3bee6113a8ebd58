//! Wizard tests (egui_kittest): filled in below.
