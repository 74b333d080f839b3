//! Choosing a video's frames: the clip is split into equal time windows and the sharpest
//! candidate of each window is kept, so the frames cover the whole walk-around evenly and a
//! shaky moment costs at most its own window. Shared by the PWA (which seeks a `<video>`) and
//! the server (which decodes with ffmpeg), so both keep the same frames.

/// Most frames one video may yield (the high preset keeps 100).
pub const MAX_VIDEO_FRAMES: u32 = 300;

/// The window (0-based) of candidate `index` when `total` candidates, evenly spaced in time,
/// are split into `windows` equal windows. `windows` and `total` of 0 give window 0.
pub fn window_of(index: usize, total: usize, windows: usize) -> usize {
    if total == 0 || windows == 0 {
        return 0;
    }
    // u128 keeps index * windows exact for any usize inputs.
    let w = (index as u128 * windows as u128 / total as u128) as usize;
    w.min(windows - 1)
}

/// The index of the sharpest candidate in each window that has one, in time order. `scores`
/// are the candidates' sharpness (higher is sharper), evenly spaced in time; a NaN score never
/// wins; ties keep the earlier candidate.
pub fn sharpest_per_window(scores: &[f32], windows: usize) -> Vec<usize> {
    let mut best: Vec<Option<(usize, f32)>> = vec![None; windows];
    for (i, &s) in scores.iter().enumerate() {
        if windows == 0 {
            break;
        }
        let slot = &mut best[window_of(i, scores.len(), windows)];
        let score = if s.is_nan() { f32::NEG_INFINITY } else { s };
        match slot {
            Some((_, b)) if *b >= score => {}
            _ => *slot = Some((i, score)),
        }
    }
    best.into_iter().flatten().map(|(i, _)| i).collect()
}

/// The times (seconds) at which to sample `per_window` candidates in each of `windows` equal
/// windows of a `duration_s` clip: the centres of equal sub-windows, so no time is sampled
/// twice and the clip's very first and last instants (often black or still moving) are
/// avoided. Empty for a non-finite or non-positive duration.
pub fn candidate_times(duration_s: f64, windows: u32, per_window: u32) -> Vec<f64> {
    if !duration_s.is_finite() || duration_s <= 0.0 || windows == 0 || per_window == 0 {
        return Vec::new();
    }
    let n = windows as u64 * per_window as u64;
    let step = duration_s / n as f64;
    (0..n).map(|i| (i as f64 + 0.5) * step).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_split_evenly() {
        let w: Vec<usize> = (0..12).map(|i| window_of(i, 12, 4)).collect();
        assert_eq!(w, [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]);
        assert_eq!(window_of(5, 3, 10), 9, "clamped to the last window");
        assert_eq!(window_of(0, 0, 4), 0);
        assert_eq!(window_of(usize::MAX - 1, usize::MAX, 7), 6);
    }

    #[test]
    fn keeps_the_sharpest_of_each_window() {
        let scores = [0.1, 0.9, 0.2, 0.5, 0.4, f32::NAN, 0.3, 0.3, 0.0];
        assert_eq!(sharpest_per_window(&scores, 3), [1, 3, 6]);
        // More windows than candidates: one per candidate, in order.
        assert_eq!(sharpest_per_window(&[1.0, 2.0], 5), [0, 1]);
        assert!(sharpest_per_window(&[], 3).is_empty());
        assert!(sharpest_per_window(&[1.0], 0).is_empty());
        // An all-NaN window still yields its first candidate.
        assert_eq!(sharpest_per_window(&[f32::NAN, f32::NAN], 1), [0]);
    }

    #[test]
    fn candidate_times_are_centred_and_inside() {
        let t = candidate_times(4.0, 2, 2);
        assert_eq!(t, [0.5, 1.5, 2.5, 3.5]);
        assert!(candidate_times(f64::NAN, 2, 2).is_empty());
        assert!(candidate_times(0.0, 2, 2).is_empty());
        assert!(candidate_times(1.0, 0, 2).is_empty());
        let t = candidate_times(10.0, 100, 3);
        assert_eq!(t.len(), 300);
        assert!(t.iter().all(|&x| x > 0.0 && x < 10.0));
        assert!(t.windows(2).all(|p| p[0] < p[1]));
    }
}
