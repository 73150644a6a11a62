//! LiveKit analytics host.
