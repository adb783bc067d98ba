//! Integration tests of idseal-server (one test binary for the crate).
//!
//! The router is driven in-process with `tower::ServiceExt::oneshot` on a `FixedClock`, against
//! SQLite in a temporary directory and, when `IDSEAL_TEST_DATABASE_URL` is set, PostgreSQL (a
//! fresh database per test). When that variable is set and the server is unreachable the
//! PostgreSQL tests fail; when it is unset they print "skipped" and pass.

#![allow(
    missing_docs,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

/// For each suite function `name(db: &TestDb)` of the calling module, generate the tests
/// `sqlite::name` and `postgres::name`.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                $crate::support::run($crate::support::Backend::Sqlite, |db| async move { super::$name(&db).await })
                    .await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                $crate::support::run($crate::support::Backend::Postgres, |db| async move { super::$name(&db).await })
                    .await;
            })*
        }
    };
}

mod accounts;
mod admin;
mod bad_input;
mod config;
mod keys;
mod log_http;
mod oauth_flow;
mod oauth_support;
mod openapi;
mod passwordless;
mod passwordless_cluster;
mod passwordless_oidc;
mod passwordless_support;
mod plumbing;
mod push;
mod ratelimit;
#[cfg(feature = "scal3")]
mod scal3;
mod support;
mod tlog;
mod trust;
