//! A throwaway P-256 CA and signer made with openssl, CMS signatures over a byte range, and the
//! verdicts of pdfsig (poppler, with an NSS database trusting the test root when certutil is
//! there) and pyHanko.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use iamsmart_pades::Prepared;
use tempfile::TempDir;

use super::{run, signed_bytes, tool, workspace_root};

pub struct Pki {
    pub dir: TempDir,
    pub openssl: PathBuf,
    /// An NSS database that trusts the root, for pdfsig.
    pub nssdir: Option<PathBuf>,
}

impl Pki {
    /// A CA and a signer, or `None` (with the reason) without openssl.
    pub fn new() -> Result<Pki, String> {
        let openssl = tool("openssl", &[]).ok_or_else(|| "openssl is not installed".to_string())?;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let sh = |script: &str| {
            let (ok, out) = run(Command::new("sh").arg("-ec").arg(script).current_dir(d));
            assert!(ok, "{script}\n{out}");
        };
        let o = openssl.display();
        std::fs::write(
            d.join("ext.cnf"),
            "[ca]\nbasicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n\
             subjectKeyIdentifier=hash\n\
             [signer]\nbasicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature,nonRepudiation\n\
             subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
        )
        .unwrap();
        sh(&format!(
            "{o} ecparam -name prime256v1 -genkey -noout -out root.key
             {o} req -new -key root.key -out root.csr -subj '/CN=iamsmart-pades Test Root/O=Test'
             {o} x509 -req -in root.csr -signkey root.key -out root.pem -days 3650 -extfile ext.cnf -extensions ca 2>/dev/null
             {o} ecparam -name prime256v1 -genkey -noout -out signer.key
             {o} req -new -key signer.key -out signer.csr -subj '/CN=Chan Tai Man/O=Test'
             {o} x509 -req -in signer.csr -CA root.pem -CAkey root.key -CAcreateserial -out signer.pem \
               -days 365 -extfile ext.cnf -extensions signer 2>/dev/null
             {o} x509 -in root.pem -outform DER -out root.der
             {o} x509 -in signer.pem -outform DER -out signer.der
             {o} req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key -out other.pem \
               -days 30 -subj '/CN=Another certificate' 2>/dev/null
             {o} x509 -in other.pem -outform DER -out other.der"
        ));
        let nssdir = tool("certutil", &[]).map(|certutil| {
            let nss = d.join("nss");
            std::fs::create_dir(&nss).unwrap();
            let db = format!("sql:{}", nss.display());
            let (ok, out) =
                run(Command::new(&certutil).args(["-N", "-d", &db, "--empty-password"]));
            assert!(ok, "certutil -N: {out}");
            let (ok, out) = run(Command::new(&certutil)
                .args(["-A", "-d", &db, "-n", "test-root", "-t", "CT,C,C", "-i"])
                .arg(d.join("root.pem")));
            assert!(ok, "certutil -A: {out}");
            nss
        });
        Ok(Pki {
            dir,
            openssl,
            nssdir,
        })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn der(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }

    /// A detached CAdES CMS (ESS signing-certificate-v2) over `content`, by openssl.
    pub fn cms(&self, content: &[u8]) -> Vec<u8> {
        std::fs::write(self.path("content.bin"), content).unwrap();
        let (ok, out) = run(Command::new(&self.openssl)
            .args([
                "cms",
                "-sign",
                "-binary",
                "-outform",
                "DER",
                "-md",
                "sha256",
                "-nosmimecap",
                "-cades",
            ])
            .arg("-in")
            .arg(self.path("content.bin"))
            .arg("-signer")
            .arg(self.path("signer.pem"))
            .arg("-inkey")
            .arg(self.path("signer.key"))
            .arg("-certfile")
            .arg(self.path("root.pem"))
            .arg("-out")
            .arg(self.path("cms.der")));
        assert!(ok, "openssl cms -sign: {out}");
        self.der("cms.der")
    }

    /// An OCSP response (by the root, "good") for the signer, and a CRL of the root, DER.
    pub fn ocsp_and_crl(&self) -> (Vec<u8>, Vec<u8>) {
        let d = self.dir.path();
        let (_, serial) = run(Command::new(&self.openssl)
            .args(["x509", "-noout", "-serial", "-in"])
            .arg(d.join("signer.pem")));
        let serial = serial.trim().trim_start_matches("serial=").to_owned();
        std::fs::write(
            d.join("index.txt"),
            format!("V\t351231000000Z\t\t{serial}\tunknown\t/O=Test/CN=Chan Tai Man\n"),
        )
        .unwrap();
        std::fs::write(d.join("crlnumber"), "01\n").unwrap();
        std::fs::write(
            d.join("ca.cnf"),
            "[ca]\ndefault_ca=test\n[test]\ndatabase=index.txt\ncertificate=root.pem\n\
             private_key=root.key\ndefault_md=sha256\ndefault_crl_days=30\ncrlnumber=crlnumber\n",
        )
        .unwrap();
        let o = self.openssl.display();
        let script = format!(
            "{o} ocsp -issuer root.pem -cert signer.pem -no_nonce -reqout req.der
             {o} ocsp -index index.txt -CA root.pem -rsigner root.pem -rkey root.key -reqin req.der \
               -respout ocsp.der -ndays 1 >/dev/null
             {o} ca -config ca.cnf -gencrl -out crl.pem 2>/dev/null
             {o} crl -in crl.pem -outform DER -out crl.der"
        );
        let (ok, out) = run(Command::new("sh").arg("-ec").arg(script).current_dir(d));
        assert!(ok, "{out}");
        (self.der("ocsp.der"), self.der("crl.der"))
    }

    /// The CMS for a prepared document.
    pub fn sign(&self, prepared: &Prepared) -> Vec<u8> {
        self.cms(&signed_bytes(prepared.pdf(), prepared.byte_range()))
    }

    /// Whether openssl verifies `cms` over `content` under the test root.
    pub fn verify(&self, cms: &[u8], content: &[u8]) -> (bool, String) {
        std::fs::write(self.path("v.der"), cms).unwrap();
        std::fs::write(self.path("v.bin"), content).unwrap();
        run(Command::new(&self.openssl)
            .args([
                "cms",
                "-verify",
                "-binary",
                "-inform",
                "DER",
                "-purpose",
                "any",
                "-out",
                "/dev/null",
            ])
            .arg("-in")
            .arg(self.path("v.der"))
            .arg("-content")
            .arg(self.path("v.bin"))
            .arg("-CAfile")
            .arg(self.path("root.pem")))
    }

    /// pdfsig's report on `pdf`, or the reason it cannot be had.
    pub fn pdfsig(&self, pdf: &[u8]) -> Result<String, String> {
        let pdfsig = tool("pdfsig", &[])
            .ok_or_else(|| "pdfsig (poppler-utils) is not installed".to_string())?;
        let file = self.path("pdfsig.pdf");
        std::fs::write(&file, pdf).unwrap();
        let mut cmd = Command::new(pdfsig);
        if let Some(nss) = &self.nssdir {
            cmd.arg("-nssdir").arg(format!("sql:{}", nss.display()));
        }
        let (_, out) = run(cmd.arg(&file));
        Ok(out)
    }

    /// qpdf's structure check (cross-reference offsets, streams): passes, or the reason it
    /// cannot be had.
    pub fn qpdf_check(&self, pdf: &[u8]) -> Result<(bool, String), String> {
        let qpdf = tool("qpdf", &[]).ok_or_else(|| "qpdf is not installed".to_string())?;
        let file = self.path("qpdf.pdf");
        std::fs::write(&file, pdf).unwrap();
        Ok(run(Command::new(qpdf).arg("--check").arg(&file)))
    }

    /// pyHanko's `sign validate` on `pdf` with the test root as the only trust anchor:
    /// (exit status success, output), or the reason it cannot be had.
    pub fn pyhanko(&self, pdf: &[u8], extra: &[&str]) -> Result<(bool, String), String> {
        let pyhanko = pyhanko()
            .ok_or_else(|| "pyHanko is not installed (scripts/pades-tools)".to_string())?;
        let file = self.path("pyhanko.pdf");
        std::fs::write(&file, pdf).unwrap();
        Ok(run(Command::new(pyhanko)
            .args([
                "sign",
                "validate",
                "--pretty-print",
                "--no-revocation-check",
                "--trust-replace",
                "--trust",
            ])
            .arg(self.path("root.pem"))
            .args(extra)
            .arg(&file)))
    }
}

pub fn pyhanko() -> Option<PathBuf> {
    tool(
        "pyhanko",
        &[workspace_root().join("target/pyvenv/bin/pyhanko")],
    )
}

pub fn python() -> Option<PathBuf> {
    let p = workspace_root().join("target/pyvenv/bin/python3");
    p.is_file().then_some(p)
}

/// pdfsig's report split into one block per signature.
pub fn pdfsig_blocks(report: &str) -> Vec<String> {
    report
        .split("Signature #")
        .skip(1)
        .map(str::to_owned)
        .collect()
}
