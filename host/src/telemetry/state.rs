//! What a sink says of its own state beyond the standard counters: notes for people
//! (`/health`, `/ready`, `/api/health`) and gauges (`analytics_sink_state{sink, name}`),
//! read when asked. The MongoDB sink reports its indexes this way (which ones the server
//! refused, and that the host expires documents itself where a TTL index is missing).

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use std::sync::{Arc, Mutex};

/// A sink's own state, as it reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkState {
    /// One line each, for people: e.g. `indexes: 15/19, missing: events.openvidu_expire_at_1
    /// TTL (NotImplemented)`. Empty when there is nothing to say.
    pub notes: Vec<String>,
    /// Gauges by name (e.g. `indexes_missing`), exported as
    /// `analytics_sink_state{sink, name}`.
    pub gauges: Vec<(&'static str, i64)>,
}

/// Reads a sink's [`SinkState`] (see [`crate::sinks::Sink::state`]).
pub type SinkStateFn = Arc<dyn Fn() -> SinkState + Send + Sync>;

/// Where a sink's [`SinkStateFn`] is kept: set by its worker, replaced with the sink on a
/// configuration reload.
#[derive(Default)]
pub struct SinkStateSource(Mutex<Option<SinkStateFn>>);

impl std::fmt::Debug for SinkStateSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.read().fmt(f)
    }
}

impl SinkStateSource {
    /// Reads the state from `source` from now on (`None`: the sink reports none).
    pub fn set(&self, source: Option<SinkStateFn>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = source;
    }

    /// The sink's state now (empty when it reports none).
    pub fn read(&self) -> SinkState {
        let source = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        source.map(|read| read()).unwrap_or_default()
    }
}

/// Writes `analytics_sink_state{sink, name}` for every gauge of every sink in `states`.
pub fn encode(
    encoder: &mut DescriptorEncoder,
    states: &[(String, SinkState)],
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(
        "analytics_sink_state",
        "What a sink reports of its own state, by name: for MongoDB indexes_present, \
         indexes_missing (refused by the server, retried on a slow schedule) and \
         host_expiry (1 while the host deletes expired documents itself because a TTL \
         index is missing).",
        None,
        MetricType::Gauge,
    )?;
    for (sink, state) in states {
        for (name, value) in &state.gauges {
            ConstGauge::new(*value)
                .encode(family.encode_family(&[("sink", sink.as_str()), ("name", name)])?)?;
        }
    }
    Ok(())
}
