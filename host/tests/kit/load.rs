//! Load with a fault: `simulate` against a [`TestHost`] while something breaks, and
//! waiting for the stores to settle afterwards.

use crate::kit::host::TestHost;
use crate::kit::{wait_until, KEY, SECRET};
use analytics_host::simulate::{self, DoorChoice, Limit, SimulateOptions, Summary};
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::task::block_in_place;

/// Runs `simulate` against `host` at `rate` items/s for `run`, runs `fault` after `at`,
/// and checks that every item sent was accepted. Returns the summary and what `fault`
/// returned.
pub async fn load_with_fault<T, Fut>(
    host: &TestHost,
    rate: f64,
    run: Duration,
    at: Duration,
    fault: impl FnOnce() -> Fut,
) -> (Summary, T)
where
    Fut: Future<Output = T>,
{
    let options = SimulateOptions {
        webhook_url: host.webhook_url(),
        grpc_url: host.grpc_url(),
        api_key: Some(KEY.into()),
        api_secret: Some(SECRET.into()),
        doors: DoorChoice::Both,
        rooms: 20,
        rate,
        limit: Limit::Duration(run),
        batch: 50,
        concurrency: 4,
        node_id: "ND_ha".into(),
        ..Default::default()
    };
    let load = tokio::spawn(simulate::run(options));
    tokio::time::sleep(at).await;
    let outcome = fault().await;
    let summary = load.await.unwrap().expect("the simulation runs");
    assert_eq!(
        summary.refused() + summary.transport_errors(),
        0,
        "{}",
        summary.table()
    );
    assert_eq!(summary.accepted(), summary.sent(), "{}", summary.table());
    (summary, outcome)
}

/// Polls `count` (blocking calls are fine) until it equals `want`, `limit` at most, and
/// returns the last count.
pub async fn settle<T: PartialEq>(want: T, limit: Duration, count: impl Fn() -> T) -> T {
    let start = Instant::now();
    loop {
        let got = block_in_place(&count);
        if got == want || start.elapsed() > limit {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the host has nothing queued, 30 s at most.
pub async fn drained(host: &TestHost) {
    wait_until("the queues to drain", Duration::from_secs(30), || async {
        host.host.pipeline.queued() == 0
    })
    .await;
}
