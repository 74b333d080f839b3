//! Work split over the machine's cores natively (rayon's persistent pool) and run in order in
//! the browser, where the engine has one thread: verification of image pairs, the per-point
//! blocks of bundle adjustment and dataset loading.

use std::ops::Range;

/// Below this many items a split costs more than it saves.
#[cfg(not(target_arch = "wasm32"))]
const MIN_ITEMS_PER_CHUNK: usize = 256;

/// Chunks worth making for `n` items.
fn chunks_for(n: usize) -> usize {
    #[cfg(not(target_arch = "wasm32"))]
    {
        rayon::current_num_threads()
            .min(n / MIN_ITEMS_PER_CHUNK)
            .max(1)
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
    let chunks = chunks_for(n);
    if chunks <= 1 {
        return vec![f(0..n)];
    }
    let size = n.div_ceil(chunks);
    let ranges: Vec<Range<usize>> = (0..chunks)
        .map(|t| (t * size).min(n)..((t + 1) * size).min(n))
        .collect();
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        ranges.into_par_iter().map(&f).collect()
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
        use std::sync::mpsc;
        let (tx, rx) = mpsc::channel::<(usize, T)>();
        let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
        std::thread::scope(|scope| {
            let f = &f;
            // The pool runs the items; this thread only collects them and reports progress.
            scope.spawn(move || {
                use rayon::prelude::*;
                (0..n)
                    .into_par_iter()
                    .with_max_len(1)
                    .for_each_with(tx, |tx, k| {
                        // The receiver outlives the senders; a failed send cannot happen.
                        let _ = tx.send((k, f(k)));
                    });
            });
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

/// [`map_items`] on `threads` threads of its own rather than the shared pool: for items that
/// block (a GPU readback) and would otherwise hold pool threads that CPU stages need.
#[cfg(not(target_arch = "wasm32"))]
pub fn map_items_on_threads<T: Send>(
    n: usize,
    threads: usize,
    progress: &mut dyn FnMut(usize),
    f: impl Fn(usize) -> T + Sync,
) -> Vec<T> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, T)>();
    let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, n.max(1)) {
            let (tx, next, f) = (tx.clone(), &next, &f);
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

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn items_on_own_threads_come_back_in_order_with_progress() {
        for threads in [1, 3, 300] {
            let mut seen = 0;
            let out = map_items_on_threads(101, threads, &mut |d| seen = seen.max(d), |k| k + 1);
            assert_eq!(out, (1..=101).collect::<Vec<_>>(), "{threads} threads");
            assert_eq!(seen, 101);
        }
        assert!(map_items_on_threads(0, 4, &mut |_| {}, |k| k).is_empty());
    }
}
