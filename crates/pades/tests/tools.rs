//! Signed documents judged by independent tools: openssl (CMS), poppler's pdfsig and pyHanko.
//! Each test skips, saying why, only when a tool is missing.
mod common;

use common::pki::{pdfsig_blocks, python, Pki};
use common::{data, make_pdf, message_digest, one_page, opts, sign_with, signed_bytes, skip, Gen};
use iamsmart_pades::{add_dss, has_dss, prepare, signatures, DssData, SignOptions, SubFilter};

fn pki() -> Option<Pki> {
    match Pki::new() {
        Ok(p) => Some(p),
        Err(why) => {
            skip(&why);
            None
        }
    }
}

/// pdfsig says every signature is valid, the certificate trusted when an NSS database could be
/// made, and only the last one covers the whole document (none if `appended`: something was
/// added after the last signature).
fn assert_pdfsig_valid(pki: &Pki, pdf: &[u8], count: usize) {
    assert_pdfsig(pki, pdf, count, false);
}

fn assert_pdfsig(pki: &Pki, pdf: &[u8], count: usize, appended: bool) {
    let report = match pki.pdfsig(pdf) {
        Ok(r) => r,
        Err(why) => return skip(&why),
    };
    let blocks = pdfsig_blocks(&report);
    assert_eq!(blocks.len(), count, "{report}");
    for (i, block) in blocks.iter().enumerate() {
        assert!(
            block.contains("Signature is Valid"),
            "signature {}: {report}",
            i + 1
        );
        if pki.nssdir.is_some() {
            assert!(
                block.contains("Certificate is Trusted"),
                "signature {}: {report}",
                i + 1
            );
        } else {
            skip("certutil (libnss3-tools) is missing: pdfsig judged the signature, not the trust");
        }
        assert_eq!(
            block.contains("Total document signed"),
            i + 1 == count && !appended,
            "signature {}: {report}",
            i + 1
        );
    }
}

/// pyHanko validates every signature as intact, valid and trusted.
fn assert_pyhanko_valid(pki: &Pki, pdf: &[u8], count: usize) {
    let (ok, out) = match pki.pyhanko(pdf, &[]) {
        Ok(r) => r,
        Err(why) => return skip(&why),
    };
    assert!(ok, "pyhanko sign validate failed:\n{out}");
    assert_eq!(
        out.matches("The signature is judged VALID").count(),
        count,
        "{out}"
    );
    assert_eq!(
        out.matches("is cryptographically sound").count(),
        count,
        "{out}"
    );
    assert_eq!(
        out.matches("The signer's certificate is trusted.").count(),
        count,
        "{out}"
    );
    assert!(!out.contains("INVALID"), "{out}");
}

/// qpdf finds no syntax or stream error (it also checks every cross-reference offset).
fn assert_qpdf_clean(pki: &Pki, pdf: &[u8]) {
    match pki.qpdf_check(pdf) {
        Ok((ok, out)) => assert!(
            ok && out.contains("No syntax or stream encoding errors"),
            "{out}"
        ),
        Err(why) => skip(&why),
    }
}

fn sign(pki: &Pki, pdf: &[u8], o: &SignOptions) -> Vec<u8> {
    sign_with(pdf, o, |p| pki.sign(p))
}

#[test]
fn one_signature_is_valid_in_pdfsig_pyhanko_and_openssl() {
    let Some(pki) = pki() else { return };
    let pdf = one_page();
    let prepared = prepare(&pdf, &opts("Chan Tai Man")).unwrap();
    let br = prepared.byte_range();
    let cms = pki.sign(&prepared);
    // openssl computed the message digest from the bytes: it is the one prepare() announced.
    assert_eq!(message_digest(&cms), Some(prepared.digest()));
    let signed = prepared.finish(&cms).unwrap();
    assert!(signed.starts_with(&pdf), "the original bytes are kept");
    let (ok, out) = pki.verify(&cms, &signed_bytes(&signed, br));
    assert!(ok, "{out}");

    let sigs = signatures(&signed).unwrap();
    assert_eq!(sigs.len(), 1);
    let s = &sigs[0];
    assert_eq!(s.field_name, "Signature1");
    assert_eq!(s.sub_filter, "ETSI.CAdES.detached");
    assert_eq!(s.byte_range, br);
    assert_eq!(s.cms_der, cms);
    assert_eq!(Some(s.digest), message_digest(&cms));
    assert!(s.covers_revision && s.covers_whole_file);
    assert_eq!(s.signing_time_m.as_deref(), Some("D:20240630160000+00'00'"));

    assert_pdfsig_valid(&pki, &signed, 1);
    assert_pyhanko_valid(&pki, &signed, 1);
}

#[test]
fn two_signatures_are_both_valid_and_the_first_covers_its_revision() {
    let Some(pki) = pki() else { return };
    let once = sign(&pki, &one_page(), &opts("Chan Tai Man"));
    let twice = sign(&pki, &once, &opts("陳大文"));
    assert!(twice.starts_with(&once));
    let sigs = signatures(&twice).unwrap();
    assert_eq!(sigs.len(), 2);
    assert_eq!(sigs[0].field_name, "Signature1");
    assert_eq!(sigs[1].field_name, "Signature2");
    assert!(sigs[0].covers_revision && !sigs[0].covers_whole_file);
    assert_eq!(sigs[0].byte_range[2] + sigs[0].byte_range[3], once.len());
    assert!(sigs[1].covers_revision && sigs[1].covers_whole_file);
    for s in &sigs {
        assert_eq!(Some(s.digest), message_digest(&s.cms_der));
    }
    assert_pdfsig_valid(&pki, &twice, 2);
    assert_pyhanko_valid(&pki, &twice, 2);
}

#[test]
fn documents_of_other_writers_sign_valid() {
    let Some(pki) = pki() else { return };
    let cases = [
        ("hand-written, classic table", data("classic.pdf")),
        ("qpdf, object streams", data("xref-stream.pdf")),
        (
            "lopdf, xref stream",
            make_pdf(Gen {
                pages: 3,
                xref_stream: true,
                ..Gen::default()
            }),
        ),
        (
            "lopdf, object streams",
            make_pdf(Gen {
                pages: 2,
                object_streams: true,
                chinese_info: true,
                ..Gen::default()
            }),
        ),
        (
            "lopdf, text field",
            make_pdf(Gen {
                pages: 2,
                text_field: true,
                ..Gen::default()
            }),
        ),
        (
            "lopdf, indirect /Annots",
            make_pdf(Gen {
                pages: 1,
                text_field: true,
                annots: common::Annots::Indirect,
                ..Gen::default()
            }),
        ),
    ];
    for (what, pdf) in cases {
        println!("{what}");
        let signed = sign(&pki, &pdf, &opts("Chan Tai Man"));
        assert_pdfsig_valid(&pki, &signed, 1);
        assert_pyhanko_valid(&pki, &signed, 1);
        let again = sign(&pki, &signed, &opts("Chan Siu Ming"));
        assert_qpdf_clean(&pki, &again);
        assert_pdfsig_valid(&pki, &again, 2);
        assert_pyhanko_valid(&pki, &again, 2);
    }
}

#[test]
fn a_pyhanko_signature_stays_valid_under_ours() {
    let Some(pki) = pki() else { return };
    let theirs = data("pyhanko-signed.pdf");
    let ours = sign(&pki, &theirs, &opts("Chan Tai Man"));
    let sigs = signatures(&ours).unwrap();
    assert_eq!(sigs.len(), 2);
    assert_eq!(sigs[0].field_name, "Sig1");
    assert!(sigs[0].covers_revision && !sigs[0].covers_whole_file);
    assert_eq!(Some(sigs[0].digest), message_digest(&sigs[0].cms_der));
    // pdfsig: both intact (the fixture's self-signed certificate is not trusted).
    if let Ok(report) = pki.pdfsig(&ours) {
        let blocks = pdfsig_blocks(&report);
        assert_eq!(blocks.len(), 2, "{report}");
        assert!(
            blocks.iter().all(|b| b.contains("Signature is Valid")),
            "{report}"
        );
        assert!(blocks[1].contains("Total document signed"), "{report}");
    }
}

#[test]
fn adbe_pkcs7_detached_is_valid_too() {
    let Some(pki) = pki() else { return };
    let o = SignOptions {
        sub_filter: SubFilter::AdbePkcs7Detached,
        ..opts("Chan Tai Man")
    };
    let signed = sign(&pki, &one_page(), &o);
    assert_eq!(
        signatures(&signed).unwrap()[0].sub_filter,
        "adbe.pkcs7.detached"
    );
    assert_pdfsig_valid(&pki, &signed, 1);
    assert_pyhanko_valid(&pki, &signed, 1);
}

#[test]
fn dss_keeps_signatures_valid_and_pyhanko_reads_it() {
    let Some(pki) = pki() else { return };
    for base in [one_page(), data("xref-stream.pdf")] {
        let signed = sign(&pki, &base, &opts("Chan Tai Man"));
        assert!(!has_dss(&signed).unwrap());
        let (ocsp, crl) = pki.ocsp_and_crl();
        let dss = DssData {
            certs: vec![pki.der("signer.der"), pki.der("root.der")],
            ocsps: vec![ocsp],
            crls: vec![crl],
        };
        let lt = add_dss(&signed, &dss).unwrap();
        assert!(lt.starts_with(&signed));
        assert!(has_dss(&lt).unwrap());
        // Adding the same again changes nothing; a new certificate is merged in.
        assert_eq!(add_dss(&lt, &dss).unwrap(), lt);
        let more = DssData {
            certs: vec![pki.der("root.der"), pki.der("other.der")],
            ..DssData::default()
        };
        let lt2 = add_dss(&lt, &more).unwrap();
        assert!(lt2.starts_with(&lt));

        let sigs = signatures(&lt2).unwrap();
        assert!(sigs[0].covers_revision && !sigs[0].covers_whole_file);
        assert_qpdf_clean(&pki, &lt2);
        assert_pdfsig(&pki, &lt2, 1, true);
        let (ok, out) = match pki.pyhanko(&lt2, &[]) {
            Ok(r) => r,
            Err(why) => return skip(&why),
        };
        assert!(ok && out.contains("The signature is judged VALID"), "{out}");
        assert!(out.contains("is cryptographically sound"), "{out}");
        // pyHanko's own reading of the DSS: certificates, OCSP responses, CRLs (parsed).
        let Some(python) = python() else {
            return skip("no pyHanko venv");
        };
        std::fs::write(pki.path("lt.pdf"), &lt2).unwrap();
        let (ok, out) = common::run(
            std::process::Command::new(python)
                .arg("-c")
                .arg(DSS_SCRIPT)
                .arg(pki.path("lt.pdf")),
        );
        assert!(ok, "{out}");
        assert_eq!(out.trim(), "certs=3 ocsps=1 crls=1 esic=1", "{out}");
    }
}

const DSS_SCRIPT: &str = r#"
import sys
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.dss import DocumentSecurityStore
with open(sys.argv[1], 'rb') as f:
    r = PdfFileReader(f)
    dss = DocumentSecurityStore.read_dss(r)
    ext = r.root['/Extensions']['/ESIC']
    print(f"certs={len(dss.certs)} ocsps={len(dss.ocsps)} crls={len(dss.crls)} esic={ext['/ExtensionLevel']}")
"#;

#[test]
fn tampering_is_seen_by_pdfsig_openssl_and_signatures() {
    let Some(pki) = pki() else { return };
    let signed = sign(&pki, &one_page(), &opts("Chan Tai Man"));
    let good = signatures(&signed).unwrap().remove(0);
    // "Hello" in the page content becomes "Jello": same length, same structure.
    let at = signed.windows(5).position(|w| w == b"Hello").unwrap();
    let mut tampered = signed.clone();
    tampered[at] = b'J';
    let bad = signatures(&tampered).unwrap().remove(0);
    assert_eq!(bad.cms_der, good.cms_der);
    assert_ne!(Some(bad.digest), message_digest(&bad.cms_der));
    assert_eq!(Some(good.digest), message_digest(&good.cms_der));
    assert!(
        bad.covers_whole_file,
        "the layout is intact; only the digest tells"
    );
    let (ok, out) = pki.verify(&bad.cms_der, &signed_bytes(&tampered, bad.byte_range));
    assert!(!ok, "openssl accepted a tampered range: {out}");
    assert!(
        pki.verify(&good.cms_der, &signed_bytes(&signed, good.byte_range))
            .0
    );
    if let Ok(report) = pki.pdfsig(&tampered) {
        assert!(report.contains("Digest Mismatch"), "{report}");
        assert!(!report.contains("Signature is Valid"), "{report}");
    }
    if let Ok((ok, out)) = pki.pyhanko(&tampered, &[]) {
        assert!(!ok, "pyHanko accepted a tampered file: {out}");
    }

    // Bytes after the %%EOF: still a well-formed signature of its revision, no longer of the
    // whole file.
    let mut appended = signed.clone();
    appended.extend_from_slice(b"\ngarbage after the end\n");
    let s = signatures(&appended).unwrap().remove(0);
    assert!(s.covers_revision && !s.covers_whole_file);
    assert_eq!(s.digest, good.digest);
    if let Ok(report) = pki.pdfsig(&appended) {
        assert!(!report.contains("Total document signed"), "{report}");
    }
}

#[test]
fn chinese_texts_reach_the_signature_dictionary() {
    let Some(pki) = pki() else { return };
    let o = SignOptions {
        field_name: Some("簽署".into()),
        reason: Some("同意條款".into()),
        location: Some("香港".into()),
        contact_info: Some("chan@example.hk".into()),
        ..opts("陳大文")
    };
    let signed = sign(
        &pki,
        &make_pdf(Gen {
            pages: 2,
            chinese_info: true,
            ..Gen::default()
        }),
        &o,
    );
    assert_eq!(signatures(&signed).unwrap()[0].field_name, "簽署");
    if let Ok(report) = pki.pdfsig(&signed) {
        assert!(report.contains("Signature Field Name: 簽署"), "{report}");
        assert!(report.contains("Signature is Valid"), "{report}");
    }
    assert_pyhanko_valid(&pki, &signed, 1);
}

/// Issue 16, finding 1: a page redefined after a real signature. The byte range is intact, so
/// the signature's cryptography still verifies; pyHanko's difference analysis and ours both
/// say the document was modified after it. A DSS added after it is not a modification for
/// either.
#[test]
fn a_page_redefined_after_signing_is_modified_for_pyhanko_and_for_us() {
    use common::update::{append_update, content_of_page_one, stream, Def, EVIL};
    let Some(pki) = pki() else { return };
    let signed = sign(&pki, &one_page(), &opts("Chan Tai Man"));
    let attacked = append_update(
        &signed,
        &[(content_of_page_one(&signed), Def::Body(stream(EVIL)))],
    );
    let ours = &signatures(&attacked).unwrap()[0];
    assert!(ours.covers_revision);
    assert!(ours.modified_after.is_some(), "we call it modified");
    let (ok, out) = match pki.pyhanko(&attacked, &[]) {
        Ok(r) => r,
        Err(why) => return skip(&why),
    };
    assert!(
        !ok && out.contains("INVALID") && !out.contains("The signature is judged VALID"),
        "pyHanko calls it modified too:\n{out}"
    );
    let (ocsp, crl) = pki.ocsp_and_crl();
    let with_dss = add_dss(
        &signed,
        &DssData {
            certs: vec![pki.der("signer.der")],
            ocsps: vec![ocsp],
            crls: vec![crl],
        },
    )
    .unwrap();
    assert_eq!(signatures(&with_dss).unwrap()[0].modified_after, None);
    assert_pyhanko_valid(&pki, &with_dss, 1);
}
