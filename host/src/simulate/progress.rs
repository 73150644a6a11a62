//! The progress bar of `simulate`.

use super::*;

/// The progress bar on stderr, updated by a ticker task.
pub(super) struct Progress {
    bar: Option<indicatif::ProgressBar>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    pub(super) fn start(
        options: &SimulateOptions,
        emitted: Arc<AtomicU64>,
        tally: Arc<Mutex<Tally>>,
        started: Instant,
    ) -> Progress {
        use std::io::IsTerminal;
        if !options.progress || !std::io::stderr().is_terminal() {
            return Progress {
                bar: None,
                ticker: None,
            };
        }
        let (len, by_items) = match options.limit {
            Limit::Items(n) => (n, true),
            Limit::Duration(d) => (d.as_millis() as u64, false),
        };
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(len),
            indicatif::ProgressDrawTarget::stderr(),
        );
        let template = if by_items {
            "{elapsed_precise} [{bar:25}] {pos}/{len} sent  {msg}"
        } else {
            "{elapsed_precise} [{bar:25}] {percent}%  {msg}"
        };
        if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        let ticking = bar.clone();
        let ticker = tokio::spawn(async move {
            loop {
                let sent = emitted.load(Ordering::Relaxed);
                let (accepted, failed) = {
                    let tally = tally.lock().expect("tally lock");
                    (tally.accepted(), tally.failed())
                };
                let secs = started.elapsed().as_secs_f64().max(1e-3);
                let position = if by_items {
                    sent
                } else {
                    started.elapsed().as_millis() as u64
                };
                ticking.set_position(position.min(len));
                ticking.set_message(format!(
                    "accepted {accepted}, failed {failed}, {:.0}/s",
                    accepted as f64 / secs
                ));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Progress {
            bar: Some(bar),
            ticker: Some(ticker),
        }
    }

    pub(super) fn finish(self) {
        if let Some(ticker) = self.ticker {
            ticker.abort();
        }
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
