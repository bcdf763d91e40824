//! A signed PDF changed after signing (issue 16, finding 1): the incremental-update attack and
//! the "shadow" hide and replace attacks, each built here, are reported as modifications of the
//! signature they follow; the changes PAdES allows after a signature (validation data, a
//! document timestamp, another signature) are not. The signatures are stand-ins (the structure
//! is what is judged); `tools.rs` has pyHanko's verdict on the same attacks with real ones.
mod common;

use common::update;

use common::*;
use iamsmart_pades::{add_dss, prepare, signatures, DssData, SubFilter};
use lopdf::{dictionary, Document, Object, Stream};
use update::*;

fn sign_fake(pdf: &[u8], signer: &str) -> Vec<u8> {
    sign_with(pdf, &opts(signer), |_| fake_cms(7))
}

fn modified(pdf: &[u8]) -> Vec<Option<String>> {
    signatures(pdf)
        .unwrap()
        .into_iter()
        .map(|s| {
            assert!(s.covers_revision, "the byte range itself is intact");
            s.modified_after
        })
        .collect()
}

#[test]
fn an_incremental_update_that_redefines_the_page_is_a_modification() {
    let signed = sign_fake(&one_page(), "Chan Tai Man");
    assert_eq!(modified(&signed), vec![None]);
    let content = content_of_page_one(&signed);
    let attacked = append_update(&signed, &[(content, Def::Body(stream(EVIL)))]);
    assert!(Document::load_mem(&attacked).is_ok(), "readers open it");
    let why = modified(&attacked).remove(0).expect("reported as modified");
    assert!(why.contains(&format!("object {content}")), "{why}");
}

/// A page whose content is two streams: the first says what the attacker wants, the second
/// covers it with a white box and says what the signer expects to sign.
fn page_with_an_overlay() -> (Vec<u8>, u32, u32) {
    let mut doc = Document::with_version("1.7");
    let pages = doc.new_object_id();
    let font = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let hidden = doc.add_object(Stream::new(dictionary! {}, EVIL.as_bytes().to_vec()));
    let cover = doc.add_object(Stream::new(
        dictionary! {},
        b"1 g 60 700 500 50 re f 0 g BT /F1 24 Tf 72 720 Td (Pay HK$100 to the Transport Department) Tj ET"
            .to_vec(),
    ));
    let page = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        "Contents" => vec![Object::Reference(hidden), Object::Reference(cover)],
        "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
    });
    doc.objects.insert(
        pages,
        Object::Dictionary(
            dictionary! { "Type" => "Pages", "Count" => 1, "Kids" => vec![page.into()] },
        ),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    (out, hidden.0, cover.0)
}

#[test]
fn a_shadow_hide_attack_that_frees_the_cover_is_a_modification() {
    let (pdf, _, cover) = page_with_an_overlay();
    let signed = sign_fake(&pdf, "Chan Tai Man");
    assert_eq!(modified(&signed), vec![None]);
    // The update holds no object at all: its cross-reference section frees the cover.
    let attacked = append_update(&signed, &[(cover, Def::Free)]);
    let why = modified(&attacked).remove(0).expect("reported as modified");
    assert!(why.contains("deleted"), "{why}");
    // Or it points the cover at an empty stream.
    let attacked = append_update(&signed, &[(cover, Def::Body(stream("")))]);
    assert!(modified(&attacked)[0].is_some());
}

#[test]
fn a_shadow_replace_attack_that_points_an_object_at_signed_bytes_is_a_modification() {
    // Before signing, the file carries a second definition of the page's content object,
    // hidden inside the data of a stream nothing refers to: signed bytes, never shown.
    let mut doc = Document::load_mem(&one_page()).unwrap();
    let content = content_of_page_one(&one_page());
    let shadow = format!(
        "{content} 0 obj\n<< /Length {} >>\nstream\n{EVIL}\nendstream\nendobj\n",
        EVIL.len()
    );
    doc.add_object(Stream::new(dictionary! {}, shadow.clone().into_bytes()));
    let mut pdf = Vec::new();
    doc.save_to(&mut pdf).unwrap();
    let signed = sign_fake(&pdf, "Chan Tai Man");
    assert_eq!(modified(&signed), vec![None]);
    let at = signed
        .windows(shadow.len())
        .position(|w| w == shadow.as_bytes())
        .unwrap();
    assert!(
        at < signatures(&signed).unwrap()[0].byte_range[1],
        "inside the signed bytes"
    );
    // The update is a cross-reference section alone, pointing the content at the shadow.
    let attacked = append_update(&signed, &[(content, Def::At(at))]);
    let why = modified(&attacked).remove(0).expect("reported as modified");
    assert!(why.contains(&format!("object {content}")), "{why}");
}

#[test]
fn filling_in_a_form_or_adding_a_note_or_an_unsigned_signature_box_is_a_modification() {
    // A form field's value changed after signing.
    let pdf = make_pdf(Gen {
        pages: 1,
        text_field: true,
        ..Gen::default()
    });
    let signed = sign_fake(&pdf, "Chan Tai Man");
    let doc = Document::load_mem(&signed).unwrap();
    let (field, mut value) = doc
        .objects
        .iter()
        .find_map(|(id, o)| {
            let d = o.as_dict().ok()?;
            (d.get(b"FT").ok()?.as_name().ok()? == b"Tx").then(|| (id.0, d.clone()))
        })
        .unwrap();
    value.set("V", Object::string_literal("Mallory"));
    let written = pdf_text(&Object::Dictionary(value));
    let attacked = append_update(&signed, &[(field, Def::Body(written.into_bytes()))]);
    assert!(modified(&attacked)[0].is_some(), "a form value changed");

    // A note (FreeText annotation) added to the page.
    let signed = sign_fake(&one_page(), "Chan Tai Man");
    let doc = Document::load_mem(&signed).unwrap();
    let page = *doc.get_pages().get(&1).unwrap();
    let size = doc.trailer.get(b"Size").unwrap().as_i64().unwrap();
    let size = u32::try_from(size).unwrap();
    let page_text = serialise_dict(&doc, page.0);
    let note = "<< /Type /Annot /Subtype /FreeText /Rect [50 650 550 760] /Contents (Pay HK$1,000,000) /DA (/Helv 20 Tf 0 g) >>";
    let with_note = add_annot(&page_text, size);
    let attacked = append_update(
        &signed,
        &[
            (size, Def::Body(note.as_bytes().to_vec())),
            (page.0, Def::Body(with_note.into_bytes())),
        ],
    );
    let why = modified(&attacked)
        .remove(0)
        .expect("a note is a modification");
    assert!(why.contains("annotation"), "{why}");

    // An unsigned signature box, visible, painted over the page ("sneaky signature").
    let box_ = format!(
        "<< /Type /Annot /Subtype /Widget /FT /Sig /T (Approval) /Rect [50 650 550 760] /P {} 0 R >>",
        page.0
    );
    let with_box = add_annot(&page_text, size);
    let attacked = append_update(
        &signed,
        &[
            (size, Def::Body(box_.into_bytes())),
            (page.0, Def::Body(with_box.into_bytes())),
        ],
    );
    let why = modified(&attacked)
        .remove(0)
        .expect("an unsigned visible box is a modification");
    assert!(why.contains("annotation"), "{why}");
}

/// The dictionary of object `n` as PDF text.
fn serialise_dict(doc: &Document, n: u32) -> String {
    pdf_text(doc.get_object((n, 0)).unwrap())
}

fn pdf_text(o: &Object) -> String {
    match o {
        Object::Null => "null".into(),
        Object::Boolean(b) => b.to_string(),
        Object::Integer(i) => i.to_string(),
        Object::Real(r) => format!("{r}"),
        Object::Name(n) => format!("/{}", String::from_utf8_lossy(n)),
        Object::String(s, _) => format!(
            "<{}>",
            s.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ),
        Object::Array(a) => format!("[{}]", a.iter().map(pdf_text).collect::<Vec<_>>().join(" ")),
        Object::Dictionary(d) => format!(
            "<<{} >>",
            d.iter()
                .map(|(k, v)| format!(" /{} {}", String::from_utf8_lossy(k), pdf_text(v)))
                .collect::<String>()
        ),
        Object::Reference(r) => format!("{} {} R", r.0, r.1),
        Object::Stream(_) => panic!("a stream inside a dictionary"),
    }
}

/// A page dictionary's text with annotation `n` added to its (direct or absent) /Annots.
fn add_annot(page: &str, n: u32) -> String {
    match page.find("/Annots [") {
        Some(i) => format!("{}/Annots [{n} 0 R {}", &page[..i], &page[i + 9..]),
        None => format!("{} /Annots [{n} 0 R] >>", page.trim_end_matches(" >>")),
    }
}

#[test]
fn validation_data_a_document_timestamp_and_a_second_signature_are_allowed() {
    let signed = sign_fake(&one_page(), "Chan Tai Man");
    let with_dss = add_dss(
        &signed,
        &DssData {
            certs: vec![fake_cms(1)],
            ocsps: vec![fake_cms(2)],
            crls: vec![fake_cms(3)],
        },
    )
    .unwrap();
    assert_eq!(modified(&with_dss), vec![None]);
    let stamped = sign_with(
        &with_dss,
        &iamsmart_pades::SignOptions {
            sub_filter: SubFilter::EtsiRfc3161,
            ..opts("")
        },
        |_| fake_cms(9),
    );
    assert_eq!(modified(&stamped), vec![None, None]);
    let twice = sign_fake(&stamped, "陳大文");
    assert_eq!(modified(&twice), vec![None, None, None]);
    // Validation data added again, after everything: still allowed.
    let more = add_dss(
        &twice,
        &DssData {
            certs: vec![fake_cms(4)],
            ..DssData::default()
        },
    )
    .unwrap();
    assert_eq!(modified(&more), vec![None, None, None]);
    // And the same holds for a document with a form, link annotations and object streams.
    for g in [
        Gen {
            pages: 2,
            text_field: true,
            annots: Annots::Indirect,
            ..Gen::default()
        },
        Gen {
            pages: 1,
            annots: Annots::Direct,
            object_streams: true,
            ..Gen::default()
        },
    ] {
        let once = sign_fake(&make_pdf(g), "Chan Tai Man");
        let twice = sign_fake(&once, "陳大文");
        assert_eq!(modified(&twice), vec![None, None]);
    }
    // prepare() itself leaves earlier signatures unmodified (and accepts a modified one: the
    // verifier, not the signer, reports it).
    let attacked = append_update(
        &signed,
        &[(content_of_page_one(&signed), Def::Body(stream(EVIL)))],
    );
    assert!(prepare(&attacked, &opts("x")).is_ok());
}

#[test]
fn a_document_with_more_signatures_than_the_cap_is_refused() {
    let cap = iamsmart_pades::MAX_SIGNATURES;
    assert_eq!(
        signatures(&with_signature_fields(cap, false, 2))
            .unwrap()
            .len(),
        cap
    );
    assert!(matches!(
        signatures(&with_signature_fields(cap + 1, false, 2)),
        Err(iamsmart_pades::PdfError::LimitExceeded(_))
    ));
}
