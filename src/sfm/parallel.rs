//! Work split over the machine's cores natively (scoped threads) and run in order in the
//! browser, where the engine has one thread: verification of image pairs and the per-point
//! blocks of bundle adjustment.

use std::ops::Range;

/// Below this many items a split costs more than it saves.
#[cfg(not(target_arch = "wasm32"))]
const MIN_ITEMS_PER_THREAD: usize = 512;

/// Threads worth using for `n` items.
fn threads_for(n: usize) -> usize {
    #[cfg(not(target_arch = "wasm32"))]
    {
        let cores = std::thread::available_parallelism().map_or(1, |t| t.get());
        cores.min(n / MIN_ITEMS_PER_THREAD).max(1)
    }
    #[cfg(target_arch = "wasm32")]
    {
        let _ = n;
        1
    }
}

/// `f` on contiguous chunks covering `0..n`, in chunk order; one chunk (on the calling thread)
/// when `n` is small or there is one core.
pub fn map_chunks<T: Send>(n: usize, f: impl Fn(Range<usize>) -> T + Sync) -> Vec<T> {
    let threads = threads_for(n);
    if threads <= 1 {
        return vec![f(0..n)];
    }
    let chunk = n.div_ceil(threads);
    let ranges: Vec<Range<usize>> = (0..threads)
        .map(|t| (t * chunk).min(n)..((t + 1) * chunk).min(n))
        .collect();
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::thread::scope(|scope| {
            let f = &f;
            let handles: Vec<_> = ranges
                .into_iter()
                .map(|r| scope.spawn(move || f(r)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    }
    #[cfg(target_arch = "wasm32")]
    {
        ranges.into_iter().map(f).collect()
    }
}

/// `f(0..n)` in order, items taken one at a time by every core (uneven item costs, e.g.
/// RANSAC per image pair); `progress(done)` on the calling thread.
pub fn map_items<T: Send>(
    n: usize,
    progress: &mut dyn FnMut(usize),
    f: impl Fn(usize) -> T + Sync,
) -> Vec<T> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::mpsc;
        let threads = std::thread::available_parallelism()
            .map_or(1, |t| t.get())
            .min(n.max(1));
        let next = AtomicUsize::new(0);
        let (tx, rx) = mpsc::channel::<(usize, T)>();
        let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
        std::thread::scope(|scope| {
            for _ in 0..threads {
                let tx = tx.clone();
                let (next, f) = (&next, &f);
                scope.spawn(move || loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= n || tx.send((k, f(k))).is_err() {
                        break;
                    }
                });
            }
            drop(tx);
            for (done, (k, v)) in rx.iter().enumerate() {
                out[k] = Some(v);
                progress(done + 1);
            }
        });
        out.into_iter().flatten().collect()
    }
    #[cfg(target_arch = "wasm32")]
    {
        (0..n)
            .map(|k| {
                let v = f(k);
                progress(k + 1);
                v
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_item_once_in_order() {
        for n in [0usize, 1, 511, 4096, 100_003] {
            let chunks = map_chunks(n, |r| r);
            let flat: Vec<usize> = chunks.into_iter().flatten().collect();
            assert_eq!(flat, (0..n).collect::<Vec<_>>(), "n = {n}");
        }
    }

    #[test]
    fn items_come_back_in_order_with_progress() {
        let mut seen = 0;
        let out = map_items(257, &mut |d| seen = seen.max(d), |k| k * k);
        assert_eq!(out, (0..257).map(|k| k * k).collect::<Vec<_>>());
        assert_eq!(seen, 257);
    }
}
