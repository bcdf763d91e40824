//! Temporary: PDF signing lands with the pades crate.
use super::requests::SignRequest;
use crate::error::{DomainError, Result};
use crate::platform::Platform;

pub(crate) fn prepare(
    _p: &Platform,
    _id: &str,
    _req: &SignRequest,
    _pdf_b64: &str,
) -> Result<([u8; 32], Vec<u8>)> {
    Err(DomainError::FeatureUnavailable("PDF signing"))
}

pub(crate) async fn finish(_p: &Platform, _id: &str, _cms: &[u8], _cert: &[u8]) -> Result<Vec<u8>> {
    Err(DomainError::FeatureUnavailable("PDF signing"))
}

pub(crate) fn last_cms(_pdf: &[u8]) -> Result<Vec<u8>> {
    Err(DomainError::FeatureUnavailable("PDF signing"))
}

pub(crate) struct Sig {
    pub cms_der: Vec<u8>,
    pub digest: [u8; 32],
    pub covers_whole_file: bool,
    pub covers_revision: bool,
}

pub(crate) fn signatures(_pdf: &[u8]) -> Result<Vec<Sig>> {
    Err(DomainError::FeatureUnavailable("PDF signing"))
}
