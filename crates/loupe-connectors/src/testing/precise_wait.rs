//! A wait that ends within tens of microseconds after its deadline and never before it.
//!
//! tokio's timer wheel ticks in whole milliseconds, rounds every deadline up to the next
//! tick and fires only when a worker looks at it: a 20 ms `sleep` took 21.5 ms alone
//! and about 23 ms with 32 in flight. The pipeline benchmark promises a server with a
//! fixed 20 ms latency, so those extra milliseconds would be charged to the pipeline.
//! One OS thread sleeping on the kernel's high-resolution timer wakes the waiters.

use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::time::Instant;

use tokio::sync::oneshot;

struct Timer {
    due: Mutex<Vec<(Instant, oneshot::Sender<()>)>>,
    changed: Condvar,
}

fn timer() -> &'static Timer {
    static TIMER: OnceLock<&'static Timer> = OnceLock::new();
    TIMER.get_or_init(|| {
        let timer: &'static Timer = Box::leak(Box::new(Timer {
            due: Mutex::new(Vec::new()),
            changed: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("test-server-timer".into())
            .spawn(move || timer.run())
            .expect("a timer thread");
        timer
    })
}

impl Timer {
    fn run(&self) {
        let mut due = self.due.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let now = Instant::now();
            // Waiters whose deadline has passed are woken; a dropped waiter is forgotten.
            due.retain_mut(|(deadline, _)| *deadline > now);
            let next = due.iter().map(|(deadline, _)| *deadline).min();
            due = match next {
                None => self
                    .changed
                    .wait(due)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    self.changed
                        .wait_timeout(due, deadline - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
    }
}

/// Returns at `deadline` or shortly after, never before.
pub(super) async fn wait_until(deadline: Instant) {
    if Instant::now() >= deadline {
        return;
    }
    let (wake, woken) = oneshot::channel();
    let timer = timer();
    timer
        .due
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push((deadline, wake));
    timer.changed.notify_one();
    // The sender is dropped (not sent) when the deadline passes: either ends the wait.
    let _ = woken.await;
    debug_assert!(Instant::now() >= deadline);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waits_never_end_before_their_deadline() {
        let start = Instant::now();
        // Deadlines out of order and some already past, from many tasks at once.
        let waits: Vec<_> = (0..64_u64)
            .map(|n| {
                let deadline = start + Duration::from_micros((n * 7_919) % 15_000);
                tokio::spawn(async move {
                    wait_until(deadline).await;
                    Instant::now() >= deadline
                })
            })
            .collect();
        for wait in waits {
            assert!(wait.await.unwrap(), "a wait ended before its deadline");
        }
    }
}
