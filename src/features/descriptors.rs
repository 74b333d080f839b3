//! [`Descriptors`]: 128-byte SIFT descriptors quantized to u8 and packed four to a u32 word for
//! the GPU matcher.

/// Bytes in one descriptor (SIFT's 4×4×8 histogram).
pub const DESCRIPTOR_BYTES: usize = 128;
/// Descriptor size in u32 words as the GPU sees it (4 bytes packed little-endian per word).
pub const DESCRIPTOR_WORDS: usize = DESCRIPTOR_BYTES / 4;

/// A set of 128-byte descriptors, quantized to u8 as SIFT implementations store them, packed
/// four to a u32 word for the GPU.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Descriptors {
    words: Vec<u32>,
}

impl Descriptors {
    /// Packs raw 128-byte descriptors.
    pub fn from_bytes(descriptors: &[[u8; DESCRIPTOR_BYTES]]) -> Self {
        let words = descriptors
            .iter()
            .flat_map(|d| {
                d.chunks_exact(4)
                    .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            })
            .collect();
        Self { words }
    }

    /// Quantizes unit-length float descriptors (SIFT or RootSIFT) the usual way:
    /// `min(255, round(512 · v))`, negatives clamped to 0.
    pub fn quantize(descriptors: &[[f32; DESCRIPTOR_BYTES]]) -> Self {
        let bytes: Vec<[u8; DESCRIPTOR_BYTES]> = descriptors
            .iter()
            .map(|d| d.map(|v| (v * 512.0).round().clamp(0.0, 255.0) as u8))
            .collect();
        Self::from_bytes(&bytes)
    }

    pub fn len(&self) -> usize {
        self.words.len() / DESCRIPTOR_WORDS
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The packed words (32 per descriptor).
    pub fn words(&self) -> &[u32] {
        &self.words
    }

    /// Descriptor `i` as 128 bytes.
    pub fn bytes(&self, i: usize) -> [u8; DESCRIPTOR_BYTES] {
        let mut out = [0u8; DESCRIPTOR_BYTES];
        for (w, chunk) in self.words[i * DESCRIPTOR_WORDS..(i + 1) * DESCRIPTOR_WORDS]
            .iter()
            .zip(out.chunks_exact_mut(4))
        {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        out
    }
}
