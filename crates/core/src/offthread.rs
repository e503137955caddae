//! Running a blocking job (fsyncs, status commits) on a thread of its own and awaiting it.
//!
//! Why: the engine runs on a single-threaded runtime and syncs several folders at once
//! ("lanes" that interleave at their awaits). A job that blocked the runtime while it waits for
//! the disk would stop every other lane's downloads and writes with it, so the disk and the
//! network would take turns instead of working at the same time. Awaiting the job lets them
//! overlap. Written against `std` only, so stores do not tie themselves to one async runtime.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

/// What the job and the awaiting task share.
struct Slot<T> {
    /// `Some` once the job returned (`Some(None)` if it panicked).
    outcome: Option<Option<T>>,
    waker: Option<Waker>,
}

/// The future of [`run`]: ready with the job's result, or `None` if the job panicked.
pub struct OffThread<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

/// Starts `job` on a new thread named `name`; if no thread can be started, runs it here and
/// now.
pub fn run<T, F>(name: &str, job: F) -> OffThread<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let slot = Arc::new(Mutex::new(Slot {
        outcome: None,
        waker: None,
    }));
    let shared = Arc::clone(&slot);
    // The job is handed over through an Option so that it is still here if spawning fails.
    let job = Arc::new(Mutex::new(Some(job)));
    let job_for_thread = Arc::clone(&job);
    let body = move || {
        let taken = job_for_thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let outcome = taken.and_then(|job| catch_unwind(AssertUnwindSafe(job)).ok());
        let mut slot = shared.lock().unwrap_or_else(PoisonError::into_inner);
        slot.outcome = Some(outcome);
        if let Some(waker) = slot.waker.take() {
            waker.wake();
        }
    };
    if std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(body)
        .is_err()
    {
        let taken = job.lock().unwrap_or_else(PoisonError::into_inner).take();
        let outcome = taken.and_then(|job| catch_unwind(AssertUnwindSafe(job)).ok());
        slot.lock().unwrap_or_else(PoisonError::into_inner).outcome = Some(outcome);
    }
    OffThread { slot }
}

impl<T> Future for OffThread<T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        match slot.outcome.take() {
            Some(outcome) => Poll::Ready(outcome),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_job_result_arrives() {
        assert_eq!(run("test", || 6 * 7).await, Some(42));
    }

    #[tokio::test]
    async fn a_panicking_job_gives_none() {
        let result: Option<u8> = run("test", || panic!("job failed")).await;
        assert_eq!(result, None);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_runtime_goes_on_while_the_job_blocks() {
        // The job waits for a message the runtime's other task sends: were the job run on this
        // single thread, that message could not be sent before the job gave up waiting (the
        // timeout only keeps a broken version from hanging; it measures nothing).
        let (send, receive) = std::sync::mpsc::channel::<u8>();
        let job = run("test", move || {
            receive
                .recv_timeout(std::time::Duration::from_secs(60))
                .ok()
        });
        let other = async move {
            tokio::task::yield_now().await;
            send.send(7).ok();
        };
        let (result, ()) = tokio::join!(job, other);
        assert_eq!(result, Some(Some(7)));
    }
}
