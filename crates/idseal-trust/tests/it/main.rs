//! The one integration-test binary of idseal-trust: XML-DSig, the lists and the chain walk.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

mod chain;
mod interop_xmlsec1;
mod lists;
mod timestamp;
mod xmldsig;
