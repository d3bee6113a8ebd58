//! Integration tests: the real `adsync` binary in a temporary directory.

mod common;
mod config_cli;
mod engine;
mod entra;
mod perms;
mod register;
mod scim;
mod secrets;
mod service;
