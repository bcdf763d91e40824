//! The random source. Production uses the operating system; tests may use a seeded generator.

/// A cryptographically secure random source. Passed in explicitly (no global RNG).
pub trait Rng: Send + Sync {
    /// Fill `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);
}

/// The operating system's random source (through aws-lc-rs).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemRng;

impl Rng for SystemRng {
    fn fill(&self, buf: &mut [u8]) {
        aws_lc_rs::rand::fill(buf).expect("the operating system random source failed");
    }
}

/// A deterministic generator for tests: SHA-256 in counter mode over a seed. Never use in production.
#[derive(Debug)]
pub struct SeededRng {
    seed: [u8; 32],
    counter: std::sync::atomic::AtomicU64,
}

impl SeededRng {
    /// A generator whose output depends only on `seed`.
    pub fn new(seed: u64) -> Self {
        let d = crate::hash::sha256(&seed.to_be_bytes());
        Self {
            seed: d,
            counter: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl Rng for SeededRng {
    fn fill(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(32) {
            let n = self
                .counter
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut input = self.seed.to_vec();
            input.extend_from_slice(&n.to_be_bytes());
            let block = crate::hash::sha256(&input);
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
    }
}

/// `n` random bytes as unpadded base64url (for ids, tokens, nonces).
pub fn token(rng: &dyn Rng, n: usize) -> String {
    use base64::Engine;
    let mut b = vec![0u8; n];
    rng.fill(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}
