//! A prepared document kept while the signer decides (minutes, by another process perhaps): its
//! bytes and placeholder position in one self-describing byte string, checked when read back.
use crate::{PdfError, Prepared};

const MAGIC: &[u8; 8] = b"PADESPR1";

impl Prepared {
    /// The prepared document and the position of its placeholder, to keep until the CMS
    /// arrives ([`Prepared::from_stored`] reads it back).
    pub fn to_stored(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.pdf.len() + 48);
        out.extend_from_slice(MAGIC);
        for n in self.byte_range.iter().chain([&self.capacity]) {
            out.extend_from_slice(&(*n as u64).to_be_bytes());
        }
        out.extend_from_slice(&self.pdf);
        out
    }

    /// Read back what [`Prepared::to_stored`] wrote. The byte range must fit the document and
    /// leave out exactly a zeroed `<...>` placeholder; the digest is computed again.
    pub fn from_stored(stored: &[u8]) -> Result<Prepared, PdfError> {
        let bad = || PdfError::Malformed("the stored prepared document is damaged".into());
        if stored.len() < 48 || &stored[..8] != MAGIC {
            return Err(bad());
        }
        let mut n = [0usize; 5];
        for (i, v) in n.iter_mut().enumerate() {
            let b: [u8; 8] = stored[8 + i * 8..16 + i * 8]
                .try_into()
                .map_err(|_| bad())?;
            *v = usize::try_from(u64::from_be_bytes(b)).map_err(|_| bad())?;
        }
        let pdf = stored[48..].to_vec();
        let [a, b, c, d, capacity] = n;
        let fits = a == 0
            && b < c
            && c.checked_add(d) == Some(pdf.len())
            && pdf.get(b) == Some(&b'<')
            && pdf.get(c - 1) == Some(&b'>')
            && pdf[b + 1..c - 1].iter().all(|x| *x == b'0')
            && (c - b - 2) == capacity * 2;
        if !fits {
            return Err(bad());
        }
        Ok(Prepared {
            byte_range: [a, b, c, d],
            digest: crate::sigs::digest(&pdf, [a, b, c, d]),
            capacity,
            pdf,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::{prepare, Prepared, SignOptions};

    fn tiny_pdf() -> Vec<u8> {
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        ];
        let mut out = b"%PDF-1.7\n".to_vec();
        let mut offsets = Vec::new();
        for (i, o) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
        }
        let xref = out.len();
        out.extend_from_slice(b"xref\n0 4\n0000000000 65535 f \n");
        for o in offsets {
            out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!("trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n").as_bytes(),
        );
        out
    }

    #[test]
    fn a_stored_prepared_document_reads_back_the_same_and_damage_is_refused() {
        let p = prepare(&tiny_pdf(), &SignOptions::default()).unwrap();
        let stored = p.to_stored();
        let back = Prepared::from_stored(&stored).unwrap();
        assert_eq!(back.digest(), p.digest());
        assert_eq!(back.byte_range(), p.byte_range());
        assert_eq!(back.pdf(), p.pdf());
        let mut flipped = stored.clone();
        let at = 48 + p.byte_range()[1] + 3;
        flipped[at] = b'1';
        assert!(
            Prepared::from_stored(&flipped).is_err(),
            "placeholder no longer zero"
        );
        assert!(Prepared::from_stored(&stored[..stored.len() - 1]).is_err());
        assert!(Prepared::from_stored(b"PADESPR1").is_err());
        let mut changed = stored;
        changed[60] ^= 1;
        let other = Prepared::from_stored(&changed).unwrap();
        assert_ne!(other.digest(), p.digest(), "the digest is computed again");
    }
}
