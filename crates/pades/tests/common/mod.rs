//! Shared by the integration tests: test PDFs made with lopdf, the fixtures of tests/data, and
//! the independent tools (openssl, pdfsig, certutil, pyHanko), found or reported missing.
#![allow(dead_code)]

pub mod pki;
pub mod update;

use std::path::{Path, PathBuf};
use std::process::Command;

use iamsmart_pades::{Prepared, SignOptions};
use lopdf::xref::XrefType;
use lopdf::{dictionary, Document, Object, Stream, StringFormat};

/// How to make a test PDF.
#[derive(Clone, Copy, Default)]
pub struct Gen {
    pub pages: usize,
    /// An AcroForm with a filled text field (its widget on page 1, the AcroForm an indirect
    /// object, /Fields a direct array).
    pub text_field: bool,
    pub annots: Annots,
    /// A cross-reference stream (else a classic table).
    pub xref_stream: bool,
    /// Object streams (implies a cross-reference stream).
    pub object_streams: bool,
    /// A Chinese /Title and /Author in /Info.
    pub chinese_info: bool,
}

/// Page 1's /Annots.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub enum Annots {
    #[default]
    None,
    /// A direct array with a link annotation.
    Direct,
    /// A reference to an array object with a link annotation.
    Indirect,
}

pub fn utf16(s: &str) -> Object {
    let mut b = vec![0xfe, 0xff];
    b.extend(s.encode_utf16().flat_map(u16::to_be_bytes));
    Object::String(b, StringFormat::Hexadecimal)
}

/// A PDF made with lopdf.
pub fn make_pdf(g: Gen) -> Vec<u8> {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let font = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let mut kids = Vec::new();
    for n in 1..=g.pages.max(1) {
        let text = format!("BT /F1 24 Tf 72 720 Td (Hello from page {n}) Tj ET");
        let content = doc.add_object(Stream::new(dictionary! {}, text.into_bytes()));
        let page = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), Object::Real(595.28), Object::Real(841.89)],
            "Contents" => content,
            "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
        });
        kids.push(Object::Reference(page));
    }
    let first_page = kids[0].as_reference().unwrap();
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Count" => kids.len() as i64, "Kids" => kids,
        }),
    );
    let mut catalog = dictionary! { "Type" => "Catalog", "Pages" => pages_id };
    let mut page1_annots: Vec<Object> = Vec::new();
    if g.annots != Annots::None {
        let link = doc.add_object(dictionary! {
            "Type" => "Annot", "Subtype" => "Link", "Rect" => vec![72.into(), 700.into(), 200.into(), 730.into()],
            "Border" => vec![0.into(), 0.into(), 0.into()],
        });
        page1_annots.push(link.into());
    }
    if g.text_field {
        let field = doc.add_object(dictionary! {
            "Type" => "Annot", "Subtype" => "Widget", "FT" => "Tx", "T" => Object::string_literal("Applicant"),
            "V" => Object::string_literal("Chan Tai Man"), "Rect" => vec![72.into(), 600.into(), 300.into(), 620.into()],
            "P" => first_page, "F" => 4,
        });
        page1_annots.push(field.into());
        let form = doc.add_object(dictionary! {
            "Fields" => vec![Object::Reference(field)],
            "DA" => Object::string_literal("/Helv 0 Tf 0 g"),
        });
        catalog.set("AcroForm", form);
    }
    if !page1_annots.is_empty() {
        let value = match g.annots {
            Annots::Indirect => Object::Reference(doc.add_object(page1_annots)),
            _ => Object::Array(page1_annots),
        };
        if let Ok(Object::Dictionary(p)) = doc.get_object_mut(first_page) {
            p.set("Annots", value);
        }
    }
    let catalog_id = doc.add_object(catalog);
    doc.trailer.set("Root", catalog_id);
    if g.chinese_info {
        let info = doc.add_object(dictionary! {
            "Title" => utf16("香港身份證申請表"), "Author" => utf16("陳大文"),
        });
        doc.trailer.set("Info", info);
    }
    doc.reference_table.cross_reference_type = if g.xref_stream || g.object_streams {
        XrefType::CrossReferenceStream
    } else {
        XrefType::CrossReferenceTable
    };
    let mut out = Vec::new();
    if g.object_streams {
        doc.save_modern(&mut out).unwrap();
    } else {
        doc.save_to(&mut out).unwrap();
    }
    out
}

pub fn one_page() -> Vec<u8> {
    make_pdf(Gen {
        pages: 1,
        ..Gen::default()
    })
}

/// A file of tests/data.
pub fn data(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name),
    )
    .unwrap()
}

pub fn opts(signer: &str) -> SignOptions {
    SignOptions {
        signer_name: signer.into(),
        reason: Some("Test".into()),
        location: Some("Hong Kong".into()),
        signing_time: 1_719_763_200,
        contents_capacity: 8192,
        ..SignOptions::default()
    }
}

/// A DER SEQUENCE standing in for a CMS where only the structure of the PDF is tested.
pub fn fake_cms(fill: u8) -> Vec<u8> {
    let mut v = vec![0x30, 0x81, 0x80];
    v.extend([fill; 0x80]);
    v
}

/// The signed bytes of a prepared document: the file but the /Contents gap.
pub fn signed_bytes(pdf: &[u8], br: [usize; 4]) -> Vec<u8> {
    let mut v = pdf[br[0]..br[0] + br[1]].to_vec();
    v.extend_from_slice(&pdf[br[2]..br[2] + br[3]]);
    v
}

/// The messageDigest signed attribute of a CMS (found by its DER encoding).
pub fn message_digest(cms: &[u8]) -> Option<[u8; 32]> {
    let oid = [
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04, 0x31, 0x22, 0x04, 0x20,
    ];
    let at = cms.windows(oid.len()).position(|w| w == oid)? + oid.len();
    cms.get(at..at + 32)?.try_into().ok()
}

pub fn skip(reason: &str) {
    println!("SKIPPED: {reason}");
}

/// A program on the PATH (or at one of `paths`).
pub fn tool(name: &str, paths: &[PathBuf]) -> Option<PathBuf> {
    paths.iter().find(|p| p.is_file()).cloned().or_else(|| {
        std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
    })
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs a command; returns (success, stdout + stderr).
pub fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Prepares, signs with `sign` and finishes.
pub fn sign_with(pdf: &[u8], o: &SignOptions, sign: impl FnOnce(&Prepared) -> Vec<u8>) -> Vec<u8> {
    let prepared = iamsmart_pades::prepare(pdf, o).unwrap();
    let cms = sign(&prepared);
    prepared.finish(&cms).unwrap()
}

/// A one-page PDF whose form has `n` signed signature fields, each with a signature dictionary
/// of its own or all pointing at one (`shared`), whose /Contents has `contents` bytes (the byte
/// ranges are not laid out as they must be: only counts and sizes matter here).
pub fn with_signature_fields(n: usize, shared: bool, contents: usize) -> Vec<u8> {
    let mut doc = Document::load_mem(&one_page()).unwrap();
    let mut sig = || {
        let mut der = vec![0x30, 0x84];
        der.extend_from_slice(
            &u32::try_from(contents.saturating_sub(6))
                .unwrap()
                .to_be_bytes(),
        );
        der.resize(contents.max(6), 0x5a);
        doc.add_object(dictionary! {
            "Type" => "Sig", "ByteRange" => vec![0.into(), 10.into(), 20.into(), 10.into()],
            "Contents" => Object::String(der, StringFormat::Hexadecimal),
        })
    };
    let sigs: Vec<_> = if shared {
        let one = sig();
        vec![one; n]
    } else {
        (0..n).map(|_| sig()).collect()
    };
    let fields: Vec<Object> = sigs
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            Object::Reference(doc.add_object(dictionary! {
                "FT" => "Sig", "T" => Object::string_literal(format!("S{i}")), "V" => v,
            }))
        })
        .collect();
    let form = doc.add_object(dictionary! { "Fields" => fields });
    let root = doc.trailer.get(b"Root").unwrap().as_reference().unwrap();
    doc.get_object_mut(root)
        .unwrap()
        .as_dict_mut()
        .unwrap()
        .set("AcroForm", form);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}
