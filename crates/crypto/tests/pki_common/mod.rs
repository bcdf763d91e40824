//! Shared by the PKI tests: a CA hierarchy built in process (root, issuing CA, a natural
//! person, an OCSP responder, a TSA), written as PEM to a temporary directory, and a way to run
//! `openssl` on it.
#![allow(dead_code)]
use iamsmart_crypto::pki::cert::{self, CertTemplate, DistinguishedName, Profile};
use iamsmart_crypto::pki::{CaSigner, SoftSigner};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const DAY: u64 = 86_400;
pub const POLICY: &str = "1.3.6.1.4.1.99999.1.1";
pub const TSA_POLICY: &str = "1.3.6.1.4.1.99999.2.1";

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// 16 random bytes, top bit clear (what the platform passes).
pub fn serial() -> Vec<u8> {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).unwrap();
    b[0] &= 0x7f;
    b[0] |= 0x01;
    b.to_vec()
}

pub fn dn(cn: &str) -> DistinguishedName {
    DistinguishedName {
        common_name: cn.into(),
        organization: Some("iAM Smart test".into()),
        country: Some("HK".into()),
        ..Default::default()
    }
}

pub fn template(subject: DistinguishedName, spki: Vec<u8>, profile: Profile) -> CertTemplate {
    let t = now();
    let (nb, na) = match profile {
        Profile::RootCa => (t - DAY, t + 20 * 365 * DAY),
        Profile::IssuingCa => (t - DAY / 2, t + 10 * 365 * DAY),
        _ => (t - 3600, t + 2 * 365 * DAY),
    };
    CertTemplate {
        serial: serial(),
        subject,
        subject_spki_der: spki,
        not_before: nb,
        not_after: na,
        profile,
        policy_oid: None,
        crl_url: None,
        ocsp_url: None,
        ca_issuers_url: None,
    }
}

/// A key and its certificate.
pub struct Party {
    pub key: SoftSigner,
    pub der: Vec<u8>,
}

pub struct Chain {
    pub root: Party,
    pub issuing: Party,
    pub person: Party,
    pub ocsp: Party,
    pub tsa: Party,
    pub dir: tempfile::TempDir,
}

pub fn person_template(spki: Vec<u8>) -> CertTemplate {
    let subject = DistinguishedName {
        common_name: "CHAN Tai Man".into(),
        country: Some("HK".into()),
        given_name: Some("Tai Man".into()),
        surname: Some("CHAN".into()),
        serial_number: Some("IDCHK-A1234563".into()),
        ..Default::default()
    };
    let mut t = template(subject, spki, Profile::NaturalPersonSigning);
    t.policy_oid = Some(POLICY.into());
    t.crl_url = Some("http://pki.iamsmart.test/issuing.crl".into());
    t.ocsp_url = Some("http://pki.iamsmart.test/ocsp".into());
    t.ca_issuers_url = Some("http://pki.iamsmart.test/issuing.cer".into());
    t
}

pub fn issue_under(issuer: &Party, t: &CertTemplate) -> Vec<u8> {
    cert::issue(t, Some(&issuer.der), &issuer.key).unwrap()
}

pub fn party(issuer: Option<&Party>, f: impl FnOnce(Vec<u8>) -> CertTemplate) -> Party {
    let key = SoftSigner::generate().unwrap();
    let t = f(key.spki_der());
    let der = match issuer {
        Some(i) => issue_under(i, &t),
        None => cert::issue(&t, None, &key).unwrap(),
    };
    Party { key, der }
}

pub fn chain() -> Chain {
    let root = party(None, |k| {
        template(dn("iAM Smart Test Root CA"), k, Profile::RootCa)
    });
    let issuing = party(Some(&root), |k| {
        template(dn("iAM Smart Test Issuing CA"), k, Profile::IssuingCa)
    });
    let person = party(Some(&issuing), person_template);
    let ocsp = party(Some(&issuing), |k| {
        template(dn("iAM Smart Test OCSP"), k, Profile::OcspResponder)
    });
    let tsa = party(Some(&issuing), |k| {
        template(dn("iAM Smart Test TSA"), k, Profile::TimeStamping)
    });
    let dir = tempfile::tempdir().unwrap();
    let c = Chain {
        root,
        issuing,
        person,
        ocsp,
        tsa,
        dir,
    };
    for (name, p) in [
        ("root", &c.root),
        ("issuing", &c.issuing),
        ("person", &c.person),
        ("ocsp", &c.ocsp),
        ("tsa", &c.tsa),
    ] {
        c.write(&format!("{name}.pem"), cert::to_pem(&p.der).as_bytes());
    }
    c
}

impl Chain {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// Run openssl in the directory: (success, stdout + stderr).
    pub fn openssl(&self, args: &[&str]) -> (bool, String) {
        openssl_in(self.dir.path(), args)
    }

    /// Run openssl and require success.
    pub fn openssl_ok(&self, args: &[&str]) -> String {
        let (ok, out) = self.openssl(args);
        assert!(ok, "openssl {} failed:\n{out}", args.join(" "));
        out
    }
}

pub fn openssl_in(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Whether openssl is on PATH; says why a test is skipped when it is not.
pub fn have_openssl(test: &str) -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("{test}: openssl is not on PATH: the openssl checks of this test are skipped");
    }
    ok
}
