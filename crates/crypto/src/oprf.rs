//! RFC 9497 OPRF (mode OPRF, suite ristretto255-SHA512), through the `voprf` crate: how the
//! platform takes part in unsealing the resident's app keys without learning the PIN.
//!
//! The app blinds its PIN and sends the blinded element; the platform evaluates it with a key it
//! holds for that device (and counts the attempt); the app unblinds the answer into a 64-byte
//! output that, with the PIN, derives the key that seals the device key. Without the platform's
//! key no PIN can be tested offline; the platform never sees the PIN nor the output.
use crate::rng::Rng;
use crate::CryptoError;
use voprf::{BlindedElement, EvaluationElement, OprfClient, OprfServer, Ristretto255};
use zeroize::Zeroizing;

/// Our random source as the `rand_core` 0.6 generator `voprf` asks for.
struct RngAdapter<'a>(&'a dyn Rng);

impl rand_core_06::RngCore for RngAdapter<'_> {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.0.fill(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.0.fill(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill(dest);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core_06::Error> {
        self.0.fill(dest);
        Ok(())
    }
}

impl rand_core_06::CryptoRng for RngAdapter<'_> {}

fn bad(why: &str) -> CryptoError {
    CryptoError::Malformed {
        what: "OPRF",
        why: why.into(),
    }
}

/// A new OPRF key for a device (its serialised scalar, 32 bytes; keep it sealed).
pub fn new_key(rng: &dyn Rng) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let server = OprfServer::<Ristretto255>::new(&mut RngAdapter(rng))
        .map_err(|_| CryptoError::Internal("OPRF key generation"))?;
    Ok(Zeroizing::new(server.serialize().to_vec()))
}

/// The platform's side: evaluate a blinded element with the device's key.
pub fn evaluate(key: &[u8], blinded: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let server = OprfServer::<Ristretto255>::new_with_key(key)
        .map_err(|_| CryptoError::Internal("stored OPRF key"))?;
    let blinded = BlindedElement::<Ristretto255>::deserialize(blinded)
        .map_err(|_| bad("not a blinded element"))?;
    Ok(server.blind_evaluate(&blinded).serialize().to_vec())
}

/// The app's side, between blinding and unblinding.
pub struct Blinded {
    state: OprfClient<Ristretto255>,
    /// The blinded element to send.
    pub message: Vec<u8>,
}

impl std::fmt::Debug for Blinded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Blinded { .. }")
    }
}

/// Blind `input` (the PIN) for the platform.
pub fn blind(input: &[u8], rng: &dyn Rng) -> Result<Blinded, CryptoError> {
    let r = OprfClient::<Ristretto255>::blind(input, &mut RngAdapter(rng))
        .map_err(|_| bad("the input cannot be blinded"))?;
    Ok(Blinded {
        state: r.state,
        message: r.message.serialize().to_vec(),
    })
}

/// Unblind the platform's answer into the OPRF output of `input` (64 bytes).
pub fn finalize(
    blinded: &Blinded,
    input: &[u8],
    evaluated: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let e = EvaluationElement::<Ristretto255>::deserialize(evaluated)
        .map_err(|_| bad("not an evaluated element"))?;
    let out = blinded
        .state
        .finalize(input, &e)
        .map_err(|_| bad("the answer does not unblind"))?;
    Ok(Zeroizing::new(out.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SystemRng;

    #[test]
    fn the_output_depends_on_the_key_and_the_input_and_not_on_the_blinding() {
        let key = new_key(&SystemRng).unwrap();
        let other = new_key(&SystemRng).unwrap();
        let run = |k: &[u8], input: &[u8]| {
            let b = blind(input, &SystemRng).unwrap();
            finalize(&b, input, &evaluate(k, &b.message).unwrap()).unwrap()
        };
        let a = run(&key, b"246813");
        assert_eq!(a.len(), 64);
        assert_eq!(
            a,
            run(&key, b"246813"),
            "blinding does not change the output"
        );
        assert_ne!(a, run(&key, b"246814"), "another PIN, another output");
        assert_ne!(a, run(&other, b"246813"), "another key, another output");
        // What travels says nothing of the PIN: two blindings of one PIN differ.
        let (b1, b2) = (
            blind(b"246813", &SystemRng).unwrap(),
            blind(b"246813", &SystemRng).unwrap(),
        );
        assert_ne!(b1.message, b2.message);
        assert!(evaluate(&key, b"not a point").is_err());
        assert!(finalize(&b1, b"246813", b"junk").is_err());
    }
}
