//! The one error type of the device simulator. Messages never carry the code, the key or a
//! signature.

use std::path::PathBuf;

/// Why a device operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// The code the user typed (read from the browser) differs from the one the phone received.
    /// Nothing was sent to the server.
    #[error("the code does not match the one shown in the browser")]
    CodeMismatch,
    /// The user tried to grant a scope the login did not request. Nothing was sent.
    #[error("granted scopes were not requested: {0}")]
    ScopesNotRequested(String),
    /// A login request (push data or channel message) is malformed.
    #[error("malformed login request: {0}")]
    BadLoginRequest(String),
    /// The login request names another token id than this device's enrollment.
    #[error("the login request is for another enrollment")]
    NotForThisDevice,
    /// The device has no enrollment yet (no token id in its state).
    #[error("the device is not enrolled")]
    NotEnrolled,
    /// The server answered with an error (`{error, error_description}` and the HTTP status).
    #[error("server refused ({status} {error}): {description}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The server's `error` code (`unexpected_response` when the body was not a JSON error).
        error: String,
        /// The server's `error_description`.
        description: String,
    },
    /// The server's answer could not be understood.
    #[error("unexpected server response: {0}")]
    BadResponse(String),
    /// The HTTP request failed (connection, TLS, timeout).
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    /// The device channel closed with 4001: the server refused the challenge signature.
    #[error("device channel refused the signature: {0}")]
    BadSignature(String),
    /// The device channel closed with 4004: no usable enrollment (absent, revoked, or its seal
    /// expired), also when it is revoked while connected.
    #[error("device channel closed, enrollment not usable: {0}")]
    Revoked(String),
    /// The device channel closed with 4009: a newer channel of the same token replaced it.
    #[error("device channel replaced by a newer one")]
    Replaced,
    /// The device channel closed with another code.
    #[error("device channel closed ({code}): {reason}")]
    ChannelClosed {
        /// The WebSocket close code.
        code: u16,
        /// The close reason.
        reason: String,
    },
    /// The device channel failed (connection, TLS, WebSocket protocol, handshake timeout).
    #[error("device channel: {0}")]
    Channel(String),
    /// The state file is readable by its group or others (like ssh, the key is not used then).
    #[error("{} is accessible by group or others (mode {mode:o}); run chmod 600", path.display())]
    StatePermissions {
        /// The state file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The state file is malformed.
    #[error("bad device state: {0}")]
    BadState(String),
    /// Reading or writing the state file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// SCAL3: the server's canonical instruction text, or its hash, is not the instruction the
    /// user asked to sign. Nothing was signed or sent.
    #[error("the server changed the instruction: {0}")]
    InstructionMismatch(String),
    /// SCAL3: the server refused the PIN (HTTP 403 `pin_mismatch`); the description says how
    /// many attempts are left.
    #[error("wrong PIN: {0}")]
    PinMismatch(String),
    /// SCAL3: the credential is locked after too many wrong PINs (HTTP 423).
    #[error("the SCAL3 credential is locked: {0}")]
    Locked(String),
    /// SCAL3: this device has no SCAL3 credential yet (run the SCAL3 enrolment first).
    #[error("the device has no SCAL3 credential")]
    NoScal3Credential,
    /// SCAL3: the pure core refused, or the record the server returned does not verify.
    #[error("SCAL3: {0}")]
    Scal3(String),
    /// The X.1280 core refused (key generation, key parsing, signing).
    #[error(transparent)]
    Core(#[from] idseal_x1280::X1280Error),
}

/// Results of this crate.
pub type Result<T, E = DeviceError> = std::result::Result<T, E>;
