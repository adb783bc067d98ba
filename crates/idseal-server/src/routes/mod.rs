//! HTTP handlers, one module per area.

pub mod account;
pub mod admin;
pub mod health;
pub mod log;
pub mod oauth;
#[cfg(feature = "scal3")]
pub mod scal3;
pub mod trust;
pub mod wellknown;
pub mod x1280;
