//! Passwordless login endpoints (docs/passwordless.md): enrollment and revocation
//! (`enroll`), initiate and verify (`auth`), the browser's and the phone's WebSockets (`ws`),
//! and the admin API for services, enrollments and login sessions (`admin`).

pub mod admin;
pub mod auth;
pub mod enroll;
pub mod ws;
