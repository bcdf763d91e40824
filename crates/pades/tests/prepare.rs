//! The structure that `prepare`, `finish` and `add_dss` write, read back with lopdf and with
//! the crate's own `signatures`; no external tool needed.
mod common;

use common::{data, fake_cms, make_pdf, one_page, opts, signed_bytes, utf16, Annots, Gen};
use iamsmart_pades::{
    add_dss, has_dss, prepare, signatures, DssData, PdfError, SignOptions, SubFilter,
};
use lopdf::{dictionary, Dictionary, Document, Object};
use sha2::{Digest, Sha256};

fn sign_fake(pdf: &[u8], o: &SignOptions) -> Vec<u8> {
    prepare(pdf, o).unwrap().finish(&fake_cms(7)).unwrap()
}

fn dict<'a>(doc: &'a Document, obj: &'a Object) -> &'a Dictionary {
    match obj {
        Object::Reference(id) => doc.get_dictionary(*id).unwrap(),
        Object::Dictionary(d) => d,
        other => panic!("not a dictionary: {other:?}"),
    }
}

fn text(obj: &Object) -> String {
    let b = obj.as_str().unwrap();
    match b.strip_prefix(&[0xfe, 0xff]) {
        Some(rest) => String::from_utf16(
            &rest
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect::<Vec<_>>(),
        )
        .unwrap(),
        None => String::from_utf8(b.to_vec()).unwrap(),
    }
}

/// The numbers of the objects written after `from` (`N G obj` at the start of a line).
fn objects_after(pdf: &[u8], from: usize) -> Vec<u32> {
    let tail = String::from_utf8_lossy(&pdf[from..]);
    tail.lines()
        .filter_map(|l| l.strip_suffix(" 0 obj"))
        .filter_map(|n| n.parse().ok())
        .collect()
}

#[test]
fn the_signature_field_is_an_invisible_locked_widget_on_page_1() {
    let pdf = make_pdf(Gen {
        pages: 3,
        ..Gen::default()
    });
    let prepared = prepare(&pdf, &opts("陳大文")).unwrap();
    let br = prepared.byte_range();
    let out = prepared.pdf().to_vec();
    assert!(
        out.starts_with(&pdf),
        "the original bytes are kept as they were"
    );
    assert_eq!(br[0], 0);
    assert_eq!(out[br[1]], b'<');
    assert_eq!(out[br[2] - 1], b'>');
    assert_eq!(br[2] - br[1], 2 * 8192 + 2);
    assert_eq!(br[2] + br[3], out.len());
    let digest: [u8; 32] = Sha256::digest(signed_bytes(&out, br)).into();
    assert_eq!(prepared.digest(), digest);

    let signed = prepared.finish(&fake_cms(1)).unwrap();
    assert_eq!(signed.len(), out.len());
    let doc = Document::load_mem(&signed).unwrap();
    let pages = doc.get_pages();
    let page1 = pages[&1];
    let annots = doc
        .get_dictionary(page1)
        .unwrap()
        .get(b"Annots")
        .unwrap()
        .as_array()
        .unwrap();
    assert_eq!(annots.len(), 1);
    let widget = dict(&doc, &annots[0]);
    assert_eq!(
        widget.get(b"Subtype").unwrap().as_name().unwrap(),
        b"Widget"
    );
    assert_eq!(widget.get(b"FT").unwrap().as_name().unwrap(), b"Sig");
    assert_eq!(widget.get(b"F").unwrap().as_i64().unwrap(), 132);
    assert_eq!(widget.get(b"P").unwrap().as_reference().unwrap(), page1);
    let rect: Vec<i64> = widget
        .get(b"Rect")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_i64().unwrap())
        .collect();
    assert_eq!(rect, [0, 0, 0, 0]);
    assert_eq!(text(widget.get(b"T").unwrap()), "Signature1");
    for p in [pages[&2], pages[&3]] {
        assert!(doc.get_dictionary(p).unwrap().get(b"Annots").is_err());
    }

    let sig = dict(&doc, widget.get(b"V").unwrap());
    assert_eq!(sig.get(b"Type").unwrap().as_name().unwrap(), b"Sig");
    assert_eq!(
        sig.get(b"Filter").unwrap().as_name().unwrap(),
        b"Adobe.PPKLite"
    );
    assert_eq!(
        sig.get(b"SubFilter").unwrap().as_name().unwrap(),
        b"ETSI.CAdES.detached"
    );
    assert_eq!(text(sig.get(b"Name").unwrap()), "陳大文");
    assert_eq!(text(sig.get(b"Reason").unwrap()), "Test");
    assert_eq!(text(sig.get(b"Location").unwrap()), "Hong Kong");
    assert!(sig.get(b"ContactInfo").is_err());
    assert_eq!(text(sig.get(b"M").unwrap()), "D:20240630160000+00'00'");
    let read_br: Vec<usize> = sig
        .get(b"ByteRange")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|o| usize::try_from(o.as_i64().unwrap()).unwrap())
        .collect();
    assert_eq!(read_br, br);
    let contents = sig.get(b"Contents").unwrap().as_str().unwrap();
    assert_eq!(contents.len(), 8192);
    assert!(
        contents.starts_with(&fake_cms(1)) && contents[fake_cms(1).len()..].iter().all(|&b| b == 0)
    );

    let catalog = doc.catalog().unwrap();
    let form = dict(&doc, catalog.get(b"AcroForm").unwrap());
    assert_eq!(form.get(b"SigFlags").unwrap().as_i64().unwrap(), 3);
    assert_eq!(form.get(b"Fields").unwrap().as_array().unwrap(), annots);
}

#[test]
fn the_update_has_the_cross_reference_kind_of_the_last_section() {
    let classic = one_page();
    let out = sign_fake(&classic, &opts("A"));
    let tail = String::from_utf8_lossy(&out[classic.len()..]);
    assert!(
        tail.contains("\nxref\n") && tail.contains("trailer\n<<"),
        "{tail}"
    );
    assert!(!tail.contains("/XRef"));
    let prev = Document::load_mem(&classic).unwrap().xref_start;
    assert!(tail.contains(&format!("/Prev {prev}")), "{tail}");

    for pdf in [
        data("xref-stream.pdf"),
        make_pdf(Gen {
            pages: 2,
            object_streams: true,
            ..Gen::default()
        }),
    ] {
        let out = sign_fake(&pdf, &opts("A"));
        let tail = String::from_utf8_lossy(&out[pdf.len()..]);
        assert!(tail.contains("/Type /XRef"), "{tail}");
        assert!(!tail.contains("\nxref\n") && !tail.contains("trailer"));
        let prev = Document::load_mem(&pdf).unwrap().xref_start;
        assert!(tail.contains(&format!("/Prev {prev}")), "{tail}");
        // lopdf reads the result, every object of the original included.
        let before = Document::load_mem(&pdf).unwrap();
        let after = Document::load_mem(&out).unwrap();
        for id in before.objects.keys() {
            assert!(after.objects.contains_key(id), "object {id:?} lost");
        }
        assert_eq!(after.get_pages().len(), before.get_pages().len());
    }
}

#[test]
fn an_existing_form_keeps_its_fields() {
    let pdf = make_pdf(Gen {
        pages: 1,
        text_field: true,
        annots: Annots::Direct,
        ..Gen::default()
    });
    let before = Document::load_mem(&pdf).unwrap();
    let form_id = before
        .catalog()
        .unwrap()
        .get(b"AcroForm")
        .unwrap()
        .as_reference()
        .unwrap();
    let out = sign_fake(&pdf, &opts("A"));
    let doc = Document::load_mem(&out).unwrap();
    let catalog = doc.catalog().unwrap();
    assert_eq!(
        catalog.get(b"AcroForm").unwrap().as_reference().unwrap(),
        form_id,
        "the form is changed in place"
    );
    let form = doc.get_dictionary(form_id).unwrap();
    let fields = form.get(b"Fields").unwrap().as_array().unwrap();
    assert_eq!(fields.len(), 2);
    let applicant = dict(&doc, &fields[0]);
    assert_eq!(text(applicant.get(b"T").unwrap()), "Applicant");
    assert_eq!(text(applicant.get(b"V").unwrap()), "Chan Tai Man");
    assert!(
        form.get(b"DA").is_ok(),
        "other entries of the form are kept"
    );
    assert_eq!(form.get(b"SigFlags").unwrap().as_i64().unwrap(), 3);
    let page1 = doc.get_pages()[&1];
    let annots = doc
        .get_dictionary(page1)
        .unwrap()
        .get(b"Annots")
        .unwrap()
        .as_array()
        .unwrap();
    assert_eq!(annots.len(), 3, "link, text field, signature");
    // The catalog did not change: no new version of it.
    let catalog_id = doc.trailer.get(b"Root").unwrap().as_reference().unwrap();
    assert!(!objects_after(&out, pdf.len()).contains(&catalog_id.0));
}

#[test]
fn annots_by_reference_are_changed_where_they_are() {
    let pdf = make_pdf(Gen {
        pages: 2,
        annots: Annots::Indirect,
        ..Gen::default()
    });
    let before = Document::load_mem(&pdf).unwrap();
    let page1 = before.get_pages()[&1];
    let annots_id = before
        .get_dictionary(page1)
        .unwrap()
        .get(b"Annots")
        .unwrap()
        .as_reference()
        .unwrap();
    let out = sign_fake(&pdf, &opts("A"));
    let written = objects_after(&out, pdf.len());
    assert!(written.contains(&annots_id.0));
    assert!(
        !written.contains(&page1.0),
        "the page itself is not rewritten"
    );
    let doc = Document::load_mem(&out).unwrap();
    let annots = doc.get_object(annots_id).unwrap().as_array().unwrap();
    assert_eq!(annots.len(), 2);
}

#[test]
fn field_names_are_unique_and_checked() {
    let once = sign_fake(&one_page(), &opts("A"));
    let twice = sign_fake(&once, &opts("B"));
    let names: Vec<String> = signatures(&twice)
        .unwrap()
        .into_iter()
        .map(|s| s.field_name)
        .collect();
    assert_eq!(names, ["Signature1", "Signature2"]);
    let named = SignOptions {
        field_name: Some("Signature1".into()),
        ..opts("C")
    };
    assert_eq!(
        prepare(&twice, &named).unwrap_err(),
        PdfError::FieldExists("Signature1".into())
    );
    let text_field = make_pdf(Gen {
        pages: 1,
        text_field: true,
        ..Gen::default()
    });
    let named = SignOptions {
        field_name: Some("Applicant".into()),
        ..opts("C")
    };
    assert!(matches!(
        prepare(&text_field, &named),
        Err(PdfError::FieldExists(_))
    ));
    for bad in ["", "a.b"] {
        let o = SignOptions {
            field_name: Some(bad.into()),
            ..opts("C")
        };
        assert!(
            matches!(prepare(&once, &o), Err(PdfError::InvalidOption(_))),
            "{bad:?}"
        );
    }
    let o = SignOptions {
        signing_time: 253_402_300_800,
        ..opts("C")
    };
    assert!(matches!(
        prepare(&once, &o),
        Err(PdfError::InvalidOption(_))
    ));
    let o = SignOptions {
        signing_time: 253_402_300_799,
        ..opts("C")
    };
    assert!(prepare(&once, &o).is_ok());
    for capacity in [0, iamsmart_pades::MAX_CONTENTS_CAPACITY + 1] {
        let o = SignOptions {
            contents_capacity: capacity,
            ..opts("C")
        };
        assert!(matches!(
            prepare(&once, &o),
            Err(PdfError::InvalidOption(_))
        ));
    }
}

#[test]
fn the_cms_must_fit_and_be_der() {
    let o = SignOptions {
        contents_capacity: 131,
        ..opts("A")
    };
    let prepared = prepare(&one_page(), &o).unwrap();
    // 131 bytes fit exactly; 132 do not.
    let fits = fake_cms(1);
    assert_eq!(fits.len(), 131);
    let signed = prepared.clone().finish(&fits).unwrap();
    assert_eq!(signatures(&signed).unwrap()[0].cms_der, fits);
    let big: Vec<u8> = [vec![0x30, 0x81, 0x81], vec![1; 0x81]].concat();
    assert_eq!(
        prepared.clone().finish(&big).unwrap_err(),
        PdfError::ContentsTooSmall {
            needed: 132,
            capacity: 131
        }
    );
    assert!(matches!(
        prepared.clone().finish(&fits[..130]),
        Err(PdfError::BadCms(_))
    ));
    for bad in [&b""[..], b"\x31\x00", b"\x30\x05\x00", b"\x30\x00\x00"] {
        assert!(
            matches!(prepared.clone().finish(bad), Err(PdfError::BadCms(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn legacy_sub_filter_and_optional_texts() {
    let o = SignOptions {
        sub_filter: SubFilter::AdbePkcs7Detached,
        reason: None,
        location: None,
        contact_info: Some("陳大文 <chan@example.hk>".into()),
        ..opts("")
    };
    let out = sign_fake(&one_page(), &o);
    let doc = Document::load_mem(&out).unwrap();
    let sig = doc
        .objects
        .values()
        .find_map(|o| o.as_dict().ok().filter(|d| d.has(b"ByteRange")))
        .unwrap();
    assert_eq!(
        sig.get(b"SubFilter").unwrap().as_name().unwrap(),
        b"adbe.pkcs7.detached"
    );
    assert!(
        sig.get(b"Name").is_err() && sig.get(b"Reason").is_err() && sig.get(b"Location").is_err()
    );
    assert_eq!(
        text(sig.get(b"ContactInfo").unwrap()),
        "陳大文 <chan@example.hk>"
    );
}

#[test]
fn chinese_metadata_documents_sign() {
    let pdf = make_pdf(Gen {
        pages: 1,
        chinese_info: true,
        ..Gen::default()
    });
    let out = sign_fake(&pdf, &opts("陳大文"));
    let doc = Document::load_mem(&out).unwrap();
    let info = dict(&doc, doc.trailer.get(b"Info").unwrap());
    assert_eq!(info.get(b"Title").unwrap(), &utf16("香港身份證申請表"));
    let s = signatures(&out).unwrap();
    assert!(s[0].covers_whole_file);
}

#[test]
fn dss_is_created_merged_and_deduplicated() {
    let signed = sign_fake(&one_page(), &opts("A"));
    assert!(!has_dss(&signed).unwrap());
    let first = DssData {
        certs: vec![
            b"cert one".to_vec(),
            b"cert two".to_vec(),
            b"cert one".to_vec(),
        ],
        ocsps: vec![b"ocsp".to_vec()],
        crls: vec![],
    };
    let lt = add_dss(&signed, &first).unwrap();
    assert!(lt.starts_with(&signed) && has_dss(&lt).unwrap());
    let second = DssData {
        certs: vec![b"cert two".to_vec(), b"cert three".to_vec()],
        ocsps: vec![],
        crls: vec![b"crl".to_vec()],
    };
    let lt2 = add_dss(&lt, &second).unwrap();
    assert!(lt2.starts_with(&lt));
    assert_eq!(
        add_dss(&lt2, &second).unwrap(),
        lt2,
        "nothing new: no new revision"
    );
    let doc = Document::load_mem(&lt2).unwrap();
    let catalog = doc.catalog().unwrap();
    let dss = dict(&doc, catalog.get(b"DSS").unwrap());
    let contents = |key: &[u8]| -> Vec<Vec<u8>> {
        dss.get(key)
            .map(|a| {
                a.as_array()
                    .unwrap()
                    .iter()
                    .map(|r| {
                        doc.get_object(r.as_reference().unwrap())
                            .unwrap()
                            .as_stream()
                            .unwrap()
                            .content
                            .clone()
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        contents(b"Certs"),
        [&b"cert one"[..], b"cert two", b"cert three"]
    );
    assert_eq!(contents(b"OCSPs"), [b"ocsp"]);
    assert_eq!(contents(b"CRLs"), [b"crl"]);
    let esic = dict(&doc, catalog.get(b"Extensions").unwrap())
        .get(b"ESIC")
        .unwrap()
        .as_dict()
        .unwrap();
    assert_eq!(esic.get(b"ExtensionLevel").unwrap().as_i64().unwrap(), 1);
    let s = signatures(&lt2).unwrap();
    assert!(s[0].covers_revision && !s[0].covers_whole_file);
    assert_eq!(s[0].byte_range[2] + s[0].byte_range[3], signed.len());
    // A PDF 1.4 header is raised to 1.7 in the catalog, as the DSS needs.
    let mut old = signed.clone();
    old[5..8].copy_from_slice(b"1.4");
    let lt_old = add_dss(&old, &first).unwrap();
    let v = Document::load_mem(&lt_old)
        .unwrap()
        .catalog()
        .unwrap()
        .get(b"Version")
        .unwrap()
        .as_name()
        .unwrap()
        .to_vec();
    assert_eq!(v, b"1.7");
    assert!(add_dss(
        &signed,
        &DssData {
            certs: vec![vec![]],
            ..DssData::default()
        }
    )
    .is_err());
}

#[test]
fn certified_no_changes_refuses_a_new_signature() {
    let mut doc = Document::load_mem(&one_page()).unwrap();
    let sig = doc.add_object(dictionary! {
        "Type" => "Sig",
        "Reference" => vec![Object::Dictionary(dictionary! {
            "Type" => "SigRef", "TransformMethod" => "DocMDP",
            "TransformParams" => dictionary! { "Type" => "TransformParams", "P" => 1, "V" => "1.2" },
        })],
    });
    let root = doc.trailer.get(b"Root").unwrap().as_reference().unwrap();
    doc.get_dictionary_mut(root)
        .unwrap()
        .set("Perms", dictionary! { "DocMDP" => sig });
    let mut pdf = Vec::new();
    doc.save_to(&mut pdf).unwrap();
    assert_eq!(
        prepare(&pdf, &opts("A")).unwrap_err(),
        PdfError::ChangesNotAllowed
    );
    // P 2 (form filling and signing allowed) is fine.
    let at = pdf.windows(4).position(|w| w == b"/P 1").unwrap();
    let mut p2 = pdf.clone();
    p2[at + 3] = b'2';
    assert!(prepare(&p2, &opts("A")).is_ok());
}

#[test]
fn a_document_timestamp_after_the_validation_data_leaves_the_signature_covering_its_revision() {
    let signed = sign_fake(&one_page(), &opts("陳大文"));
    let with_dss = add_dss(
        &signed,
        &DssData {
            certs: vec![fake_cms(3)],
            ..DssData::default()
        },
    )
    .unwrap();
    let o = SignOptions {
        sub_filter: SubFilter::EtsiRfc3161,
        ..opts("not written")
    };
    let prepared = prepare(&with_dss, &o).unwrap();
    assert!(prepared.pdf().starts_with(&with_dss));
    let digest: [u8; 32] =
        Sha256::digest(signed_bytes(prepared.pdf(), prepared.byte_range())).into();
    assert_eq!(prepared.digest(), digest);
    let stamped = prepared.finish(&fake_cms(9)).unwrap();

    let doc = Document::load_mem(&stamped).unwrap();
    let ts = doc
        .objects
        .values()
        .find_map(|o| {
            o.as_dict()
                .ok()
                .filter(|d| d.get(b"Type").and_then(|t| t.as_name()).ok() == Some(b"DocTimeStamp"))
        })
        .expect("a /DocTimeStamp dictionary");
    assert_eq!(
        ts.get(b"SubFilter").unwrap().as_name().unwrap(),
        b"ETSI.RFC3161"
    );
    for absent in [&b"M"[..], b"Name", b"Reason", b"Location", b"ContactInfo"] {
        assert!(
            ts.get(absent).is_err(),
            "{}",
            String::from_utf8_lossy(absent)
        );
    }

    let sigs = signatures(&stamped).unwrap();
    assert_eq!(sigs.len(), 2);
    assert_eq!(sigs[0].sub_filter, "ETSI.CAdES.detached");
    assert!(sigs[0].covers_revision && !sigs[0].covers_whole_file);
    assert_eq!(sigs[1].sub_filter, "ETSI.RFC3161");
    assert_eq!(sigs[1].field_name, "Signature2");
    assert!(sigs[1].covers_revision && sigs[1].covers_whole_file);
    assert_eq!(sigs[1].cms_der, fake_cms(9));
    assert_eq!(sigs[1].digest, digest);
    assert_eq!(sigs[1].signing_time_m, None);
    // A later signature may still follow.
    assert!(prepare(&stamped, &opts("李小明")).is_ok());
}
