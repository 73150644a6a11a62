//! The MongoDB wire-protocol servers every MongoDB test runs against, one after another:
//! SecantusDB and FerretDB, with its SQLite and with its PostgreSQL backend. What each lacks is written down here
//! ([`Wire::has`]), as measured; a test that meets a difference says which server and
//! which feature, and asserts the server's answer both ways, so a server that changes
//! fails the test instead of being skipped silently.
//!
//! `LKA_WIRE_SERVERS` (comma-separated [`Wire::key`]s, e.g. `ferretdb-sqlite`) restricts the
//! matrix; by default it is every server.

use super::ferretdb::{FerretPostgresServer, FerretServer};
use super::mongo::MongoServer;
use super::process::ServerProcess;

/// One kind of server of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// SecantusDB (WiredTiger, MongoDB's own engine), a one-node replica set.
    Secantus,
    /// FerretDB 1.24.2 with its SQLite backend.
    FerretSqlite,
    /// FerretDB 1.24.2 with its PostgreSQL backend (Debian's PostgreSQL, a cluster of its
    /// own), the backend most production deployments use.
    FerretPostgres,
}

/// A feature some server of the matrix lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// TTL indexes (`expireAfterSeconds`): FerretDB answers 238 NotImplemented.
    TtlIndex,
    /// `$min` / `$max` in `$group`: FerretDB implements only `$sum` and `$count` (238).
    GroupMinMax,
    /// More than one accumulator in one `$group`: FerretDB 1.24 computes the first and
    /// answers 0 for the others (no error).
    GroupManyAccumulators,
    /// Multi-document transactions: FerretDB answers 9 FailedToParse (`startTransaction`).
    Transactions,
    /// `configureFailPoint` (`failCommand`), for exact faults: SecantusDB only.
    FailPoints,
    /// SCRAM users (`createUser`, `--auth`): SecantusDB only here (FerretDB, on either
    /// backend, has no `createUser` without its `--test-enable-new-auth`: 59).
    ScramUsers,
    /// Database names beyond ASCII letters, digits, `_` and `-` (e.g. `Ünï`): FerretDB
    /// answers 73 InvalidNamespace.
    NonAsciiDatabaseNames,
    /// Keys with a `.` or a leading `$` inside documents (MongoDB 5.0+ stores them; a
    /// LiveKit agent's attribute `lk.agent.state`): FerretDB answers 2 BadValue.
    DottedKeys,
    /// Strings holding U+0000 (valid in BSON and in LiveKit's protobuf strings, e.g. a
    /// participant's metadata): FerretDB's PostgreSQL backend answers 1 InternalError
    /// (SQLSTATE 22P05, `jsonb` cannot hold it) for the whole insert, having stored the
    /// documents before that one and none after it.
    NulInStrings,
    /// Concurrent updates of one document all applied (`$addToSet` from two writers at
    /// once): FerretDB reads, changes and writes the whole document back, and now and then
    /// one writer's change is lost (a race: measured, not asserted when missing).
    ConcurrentUpdates,
}

impl Wire {
    /// Every server, in the order tests run them.
    pub const ALL: [Wire; 3] = [Wire::Secantus, Wire::FerretSqlite, Wire::FerretPostgres];

    /// The name tests print: `SecantusDB`, `FerretDB-SQLite`, `FerretDB-PostgreSQL`.
    pub fn name(self) -> &'static str {
        match self {
            Wire::Secantus => "SecantusDB",
            Wire::FerretSqlite => "FerretDB-SQLite",
            Wire::FerretPostgres => "FerretDB-PostgreSQL",
        }
    }

    /// The key of `LKA_WIRE_SERVERS`: `secantus`, `ferretdb-sqlite`, `ferretdb-postgresql`.
    pub fn key(self) -> &'static str {
        match self {
            Wire::Secantus => "secantus",
            Wire::FerretSqlite => "ferretdb-sqlite",
            Wire::FerretPostgres => "ferretdb-postgresql",
        }
    }

    /// The servers of the matrix this run (see the module's doc).
    pub fn matrix() -> Vec<Wire> {
        let chosen = std::env::var("LKA_WIRE_SERVERS").unwrap_or_default();
        let chosen: Vec<&str> = chosen
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        for key in &chosen {
            assert!(
                Wire::ALL.iter().any(|w| w.key() == *key),
                "LKA_WIRE_SERVERS: unknown server `{key}`"
            );
        }
        Wire::ALL
            .into_iter()
            .filter(|w| chosen.is_empty() || chosen.contains(&w.key()))
            .collect()
    }

    /// Whether this server has `feature`, as measured.
    pub fn has(self, feature: Feature) -> bool {
        match (self, feature) {
            (Wire::Secantus, _) => true,
            (
                Wire::FerretSqlite | Wire::FerretPostgres,
                Feature::TtlIndex
                | Feature::GroupMinMax
                | Feature::GroupManyAccumulators
                | Feature::Transactions
                | Feature::FailPoints
                | Feature::ScramUsers
                | Feature::NonAsciiDatabaseNames
                | Feature::DottedKeys
                | Feature::ConcurrentUpdates,
            ) => false,
            (Wire::FerretSqlite, Feature::NulInStrings) => true,
            (Wire::FerretPostgres, Feature::NulInStrings) => false,
        }
    }

    /// Starts a server of this kind on a free loopback port, with fresh storage.
    pub fn start(self) -> WireServer {
        eprintln!("--- against {}", self.name());
        match self {
            Wire::Secantus => WireServer::Secantus(MongoServer::start()),
            Wire::FerretSqlite => WireServer::Ferret(FerretServer::start()),
            Wire::FerretPostgres => WireServer::FerretPostgres(FerretPostgresServer::start()),
        }
    }
}

/// A running server of the matrix.
pub enum WireServer {
    /// See [`Wire::Secantus`].
    Secantus(MongoServer),
    /// See [`Wire::FerretSqlite`].
    Ferret(FerretServer),
    /// See [`Wire::FerretPostgres`].
    FerretPostgres(FerretPostgresServer),
}

impl WireServer {
    /// Its kind.
    pub fn wire(&self) -> Wire {
        match self {
            WireServer::Secantus(_) => Wire::Secantus,
            WireServer::Ferret(_) => Wire::FerretSqlite,
            WireServer::FerretPostgres(_) => Wire::FerretPostgres,
        }
    }

    /// Its name, for messages.
    pub fn name(&self) -> &'static str {
        self.wire().name()
    }

    /// A connection string for the official driver (a direct connection).
    pub fn url(&self) -> String {
        match self {
            WireServer::Secantus(s) => s.url(),
            WireServer::Ferret(s) => s.url(),
            WireServer::FerretPostgres(s) => s.url(),
        }
    }
}

impl std::ops::Deref for WireServer {
    type Target = ServerProcess;
    fn deref(&self) -> &ServerProcess {
        match self {
            WireServer::Secantus(s) => s,
            WireServer::Ferret(s) => s,
            WireServer::FerretPostgres(s) => s,
        }
    }
}

impl std::ops::DerefMut for WireServer {
    fn deref_mut(&mut self) -> &mut ServerProcess {
        match self {
            WireServer::Secantus(s) => s,
            WireServer::Ferret(s) => s,
            WireServer::FerretPostgres(s) => s,
        }
    }
}
