//! The simulated phone of idseal's passwordless login (ITU-T X.1280): it holds a P-256 key (the
//! real phone's is hardware-bound) and the user's identity seal, enrolls with the server,
//! receives login requests, makes the user compare the code with the browser's and choose which
//! requested scopes to grant, and signs the answer. Used by end-to-end tests, `idseal demo`,
//! benchmarks and the `idseal device …` commands.
//!
//! ```text
//! DeviceState::new(server, vds) ──save/load (0600)──▶ Device::new(state, clock)
//!   enroll(fcm)            POST /enroll                  → tokenId (kept in the state)
//!   connect() → Channel    GET /ws/device/{tokenId}      challenge → signed auth → ready
//!   Channel::next()        login_request messages        → LoginRequest
//!   LoginRequest::from_data(push data map)               → LoginRequest (FCM path)
//!   approve(req, code, granted)  code check (constant time), granted ⊆ requested,
//!                          POST /auth/verify with approve_message(sessionId, otp, now, granted)
//!   reject(req)            POST /auth/verify with reject_message(sessionId, otp, now)
//!   revoke()               POST /enroll/revoke with revoke_message(tokenId, now)
//!   scal3_enrol(pin)       GET /scal3/provider-key, POST /scal3/enrol   (feature `scal3`)
//!   scal3_authorize(pin, instruction)  POST /scal3/challenge, POST /scal3/prove → record
//! ```
//!
//! Every signed message comes from [`idseal_x1280::device`]; this crate formats none itself.
//! Time comes from the [`idseal_types::Clock`] given to [`Device::new`]. For tests of bad
//! paths, [`Device::verify_call`] + [`Device::send_verify`] send any field as the test sets it
//! (wrong code, stale timestamp, scopes beyond the request, another key's signature), and
//! [`Device::connect_with`] answers the channel challenge with another key.

mod channel;
mod client;
pub mod error;
mod request;
#[cfg(feature = "scal3")]
pub mod scal3;
mod state;

pub use channel::Channel;
pub use client::{Approval, Decision, Device, EnrollResult, VerifyCall};
pub use error::{DeviceError, Result};
pub use request::LoginRequest;
pub use state::DeviceState;
