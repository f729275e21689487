//! Retries for requests to remote services (vector databases, model APIs): 429, 5xx and
//! transport failures are retried with exponential backoff and jitter (honouring
//! `Retry-After` when the server sends one); anything else fails at once, because
//! repeating a refused request cannot make it succeed.

use std::future::Future;
use std::time::Duration;

use rand::Rng;

/// What one attempt came to.
#[derive(Debug)]
pub enum Attempt<T, E> {
    /// Done.
    Ok(T),
    /// Worth repeating, after at least this long when the server said so.
    Retry(E, Option<Duration>),
    /// Repeating cannot help.
    Fail(E),
}

/// Runs `attempt` until it succeeds, fails for good, or `max_retries` retries are spent;
/// the last error is returned.
pub async fn with_retries<T, E, F, Fut>(max_retries: u32, mut attempt: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt<T, E>>,
{
    let mut tries = 0u32;
    loop {
        match attempt().await {
            Attempt::Ok(value) => return Ok(value),
            Attempt::Fail(err) => return Err(err),
            Attempt::Retry(err, after) => {
                if tries >= max_retries {
                    return Err(err);
                }
                tries += 1;
                tokio::time::sleep(after.unwrap_or_else(|| backoff(tries))).await;
            }
        }
    }
}

/// 100 ms doubled per retry up to 5 s, with up to half of it added at random so that
/// clients that failed together do not retry together.
pub fn backoff(retry: u32) -> Duration {
    let base = 100u64.saturating_mul(1 << retry.min(6)).min(5_000);
    let jitter = rand::thread_rng().gen_range(0..=base / 2);
    Duration::from_millis(base + jitter)
}

/// Whether an HTTP status is worth a retry.
pub fn retryable_status(status: u16) -> bool {
    status == 429 || (500..=599).contains(&status)
}

/// A `Retry-After` header's seconds, capped at 30 s so a server cannot park a job.
pub fn retry_after(value: Option<&str>) -> Option<Duration> {
    let secs: u64 = value?.trim().parse().ok()?;
    Some(Duration::from_secs(secs.min(30)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn retries_what_may_pass_and_stops_on_what_cannot() {
        let calls = AtomicU32::new(0);
        let got: Result<u32, &str> = with_retries(3, || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Attempt::Retry("busy", None),
                n => Attempt::Ok(n),
            }
        })
        .await;
        assert_eq!(got, Ok(2));

        let calls = AtomicU32::new(0);
        let got: Result<(), &str> = with_retries(2, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Attempt::Retry("down", Some(Duration::from_secs(1)))
        })
        .await;
        assert_eq!(got, Err("down"));
        assert_eq!(calls.load(Ordering::SeqCst), 3, "one try and two retries");

        let calls = AtomicU32::new(0);
        let got: Result<(), &str> = with_retries(5, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Attempt::Fail("refused")
        })
        .await;
        assert_eq!(got, Err("refused"));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(retryable_status(429) && retryable_status(503) && !retryable_status(400));
        assert_eq!(retry_after(Some("120")), Some(Duration::from_secs(30)));
    }
}
