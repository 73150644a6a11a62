//! What a sink says of its own state beyond the standard counters: notes for people
//! (`/health`, `/ready`, `/api/health`) and gauges (`analytics_sink_state{sink, name}`),
//! read when asked. The MongoDB sink reports its indexes this way (which ones the server
//! refused, and that the host expires documents itself where a TTL index is missing).

pub use crate::counters::{SinkState, SinkStateFn, SinkStateSource};
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

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
