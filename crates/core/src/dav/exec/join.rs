//! Running futures together without an async runtime.

/// Runs `futures` concurrently on the current task and returns their outputs in order. (The
/// engine depends on no async runtime; the storages' own clients bound how many requests are
/// really in flight.)
pub(super) async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    use std::task::Poll;
    let mut futures: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    // Every slot was filled before poll_fn returned Ready.
    outputs.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    pub(super) async fn join_all_runs_futures_together_and_keeps_their_order() {
        // Each future waits at a barrier that opens only when all three are there: run one
        // after the other they would wait forever. The first then finishes last, so the order
        // of the results is that of the futures, not of their completion.
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(3));
        let futures: Vec<_> = [30u8, 10, 20]
            .into_iter()
            .enumerate()
            .map(|(index, value)| {
                let barrier = barrier.clone();
                async move {
                    barrier.wait().await;
                    if index == 0 {
                        for _ in 0..3 {
                            tokio::task::yield_now().await;
                        }
                    }
                    value
                }
            })
            .collect();
        // Not a speed limit: only turns a deadlock (futures run one by one) into a failure.
        let joined = tokio::time::timeout(std::time::Duration::from_secs(60), join_all(futures))
            .await
            .expect("join_all polls its futures together");
        assert_eq!(joined, [30, 10, 20]);
        assert!(
            join_all(Vec::<std::future::Ready<u8>>::new())
                .await
                .is_empty()
        );
    }
}
