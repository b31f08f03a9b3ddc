//! A private test CA made with the `openssl` command: a CA certificate, a
//! server certificate for `localhost` and `127.0.0.1`, and a client
//! certificate (for mutual TLS), all ECDSA P-256 and valid two days.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result, bail};
use tempfile::TempDir;

/// A CA and the certificates it signed, in a temp directory removed on drop.
#[derive(Debug)]
pub struct TestCa {
    dir: TempDir,
}

impl TestCa {
    /// Makes a CA, a server certificate and a client certificate.
    ///
    /// # Errors
    /// When `openssl` is missing or fails.
    pub fn new() -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("herald-ca-").tempdir()?;
        make_certificates(dir.path())?;
        make_client_certificate(dir.path())?;
        Ok(Self { dir })
    }

    /// The CA certificate (PEM): what a client trusts.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The server certificate (PEM), for `localhost` and `127.0.0.1`.
    pub fn server_cert(&self) -> PathBuf {
        self.dir.path().join("server.pem")
    }

    /// The server certificate's private key (PEM).
    pub fn server_key(&self) -> PathBuf {
        self.dir.path().join("server.key")
    }

    /// A client certificate (PEM) signed by the CA, for mutual TLS.
    pub fn client_cert(&self) -> PathBuf {
        self.dir.path().join("client.pem")
    }

    /// The client certificate's private key (PEM).
    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("client.key")
    }
}

fn openssl(dir: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .context("running openssl (install it with `apt-get install -y openssl`)")?;
    if !out.status.success() {
        bail!(
            "openssl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// A key and a certificate request for `cn`.
fn request(dir: &Path, name: &str, cn: &str) -> Result<()> {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={cn}"),
        ],
    )
}

/// Signs `<name>.csr` with the CA, with the extensions in `ext`.
fn sign(dir: &Path, name: &str, ext: &str) -> Result<()> {
    std::fs::write(dir.join(format!("{name}.ext")), ext)?;
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
        ],
    )
}

/// A test CA (`ca.pem`) and a server certificate for `localhost` and
/// `127.0.0.1` signed by it (`server.pem`, `server.key`), ECDSA P-256.
pub(crate) fn make_certificates(dir: &Path) -> Result<()> {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Herald Test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    )?;
    request(dir, "server", "localhost")?;
    sign(
        dir,
        "server",
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
}

/// A client certificate (`client.pem`, `client.key`) signed by the CA.
fn make_client_certificate(dir: &Path) -> Result<()> {
    request(dir, "client", "herald-test-client")?;
    sign(
        dir,
        "client",
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
    )
}
