//! adsync keeps an application's user directory in step with Microsoft Entra ID: it reads users
//! and groups through Microsoft Graph and creates, updates, moves and disables them in any SCIM 2.0
//! application. This library holds all of it; the `adsync` and `adsync-setup` binaries are thin.

pub mod cli;
pub mod config;
pub mod cycle;
pub mod entra;
pub mod fsutil;
pub mod health;
pub mod http;
pub mod links;
pub mod logging;
pub mod paths;
pub mod render;
pub mod scim;
pub mod secret;
pub mod service;
pub mod sim;
pub mod state;
pub mod sync;
pub mod time;
pub mod wizard;
