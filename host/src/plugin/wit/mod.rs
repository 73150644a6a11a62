//! The WIT contracts the host implements, one file per version of `livekit:analytics`.

pub mod since_v0_1;

/// The contract version new plugins are built against.
pub use since_v0_1 as current;
