//! `openvidu.analytics.api`: the read API on the telemetry listener.

use serde::{Deserialize, Serialize};

/// The read API's settings.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Serve `/api/*` on the telemetry listener (default `true`).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// When set, every request needs `Authorization: Bearer <token>`. Required when the
    /// telemetry listener is not on loopback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Where the API reads (default `auto`: MongoDB when `mongo_url` is set, else the file
    /// store's index).
    #[serde(default)]
    pub store: ApiStore,
}

/// `openvidu.analytics.api.store`: which stored copy the read API and the dashboard read.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ApiStore {
    /// MongoDB when `mongo_url` is set, else the file store's index.
    #[default]
    Auto,
    /// The MongoDB sink's database (`mongo_url` required).
    Mongodb,
    /// The file store's index, even when MongoDB is configured too (the file store and its
    /// index required): milliseconds at any size, whatever the MongoDB server answers
    /// queries with (FerretDB 1.24 scans a collection for every query).
    Embedded,
}

impl ApiConfig {
    /// Checks `store` against what is configured: MongoDB (`mongo_url` set) and the file
    /// store with its index.
    pub fn validate(
        &self,
        mongo: bool,
        file_index: bool,
        key: impl Fn(&str) -> String,
    ) -> anyhow::Result<()> {
        match self.store {
            ApiStore::Mongodb if self.enabled && !mongo => anyhow::bail!(
                "{}: `mongodb` needs openvidu.analytics.mongo_url",
                key("api.store")
            ),
            ApiStore::Embedded if self.enabled && !file_index => anyhow::bail!(
                "{}: `embedded` needs the file store with its index (file.enabled: true, \
                 file.index: true)",
                key("api.store")
            ),
            _ => Ok(()),
        }
    }
}

fn default_true() -> bool {
    true
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            enabled: true,
            token: None,
            store: ApiStore::Auto,
        }
    }
}
