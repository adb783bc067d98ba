//! OAuth 2.1 / OpenID Connect protocol core for idseal.
//!
//! What it does: validates authorization requests, PKCE (S256 only), client registration and
//! authentication, builds ID token and access token claims, signs and verifies JWTs over
//! `idseal_keys::jws`, adds the hybrid `pq_sig` over RFC 8785 canonical claims, hashes passwords
//! (argon2id), and issues session cookies and CSRF tokens.
//!
//! What it does not do: no I/O, no HTTP, no SQL, no async runtime. Time (`UnixTime`) and
//! randomness (byte arrays) are parameters; storage and transport are the business of
//! `idseal-store` and `idseal-server`. Mapping [`OAuthError`] to HTTP responses happens in the
//! server.

pub mod authorize;
pub mod claims;
pub mod client;
pub mod csrf;
pub mod discovery;
pub mod error;
pub mod jwt;
pub mod password;
pub mod pkce;
pub mod pqsig;
pub mod scope;
pub mod session;
pub mod subject;
pub mod token;

pub use error::OAuthError;
