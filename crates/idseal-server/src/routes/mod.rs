//! HTTP handlers, one module per area.

pub mod admin;
pub mod health;
pub mod log;
pub mod wellknown;
