//! `[target] ca_file` through the binary: the simulated application behind HTTPS with a
//! certificate from a private CA is refused without the CA (naming the certificate problem) and
//! trusted with it; a CA file that cannot be used is a config error at its key and line.

use std::sync::Arc;

use tokio_rustls::rustls;

use super::*;

/// A private CA and a server certificate it issued for 127.0.0.1 and localhost.
struct PrivateCa {
    ca_pem: String,
    server_chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    server_key: rustls::pki_types::PrivateKeyDer<'static>,
}

fn private_ca() -> PrivateCa {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "adsync test private CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();
    PrivateCa {
        ca_pem: ca_cert.pem(),
        server_chain: vec![server_cert.der().clone()],
        server_key: rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
    }
}

/// An HTTPS endpoint on loopback that forwards every connection to `backend` (the simulator's
/// plain-HTTP address); returns its `https://127.0.0.1:PORT`.
fn tls_proxy(w: &World, ca: &PrivateCa, backend: String) -> String {
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(ca.server_chain.clone(), ca.server_key.clone_key())
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener =
        w.rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
    let address = listener.local_addr().unwrap();
    w.rt.spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let backend = backend.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: not an error here.
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(&backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    format!("https://{address}")
}

#[test]
fn a_target_behind_a_private_ca_is_trusted_only_with_its_ca_file() {
    let w = World::new("");
    let ca = private_ca();
    let plain = w.scim.url();
    let origin = plain
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    let https = tls_proxy(&w, &ca, origin.clone());
    let config = std::fs::read_to_string(&w.config).unwrap();
    let behind_tls = config.replace(&format!("http://{origin}"), &https);
    assert_ne!(behind_tls, config, "the target URL was replaced");
    std::fs::write(&w.config, &behind_tls).unwrap();

    // Without the CA: the certificate is not trusted, and `check` says so.
    let run = w.run(&["check"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stdout
            .contains("invalid peer certificate: UnknownIssuer"),
        "no certificate problem named: {}",
        run.all()
    );
    assert!(
        run.stdout
            .contains("name that CA's PEM in `[target] ca_file`"),
        "{}",
        run.all()
    );
    assert_eq!(w.scim.log().total(), 0, "nothing reached the application");

    // With it: everything passes, over HTTPS.
    let ca_file = w.env.write("private-ca.pem", &ca.ca_pem);
    let with_ca = behind_tls.replace(
        "[target]\n",
        &format!("[target]\nca_file = \"{}\"\n", ca_file.display()),
    );
    std::fs::write(&w.config, &with_ca).unwrap();
    let run = w.run(&["check"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("all "), "{}", run.all());
    assert!(w.scim.log().total() > 0, "the application was reached");
}

#[test]
fn a_ca_file_that_cannot_be_used_is_a_config_error_at_its_line() {
    let env = Env::new();
    let ca = private_ca();
    let cases: Vec<(&str, Option<&str>, &str)> = vec![
        ("missing.pem", None, "cannot read"),
        (
            "empty.pem",
            Some("just some text\n"),
            "holds no certificate",
        ),
        (
            "broken.pem",
            Some("-----BEGIN CERTIFICATE-----\n%%%not base64%%%\n-----END CERTIFICATE-----\n"),
            "is not well-formed PEM",
        ),
        (
            "garbage.pem",
            Some("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
            "certificate 1 is not a valid X.509 certificate",
        ),
        (
            "shared.pem",
            Some(&ca.ca_pem),
            "is writable by everyone (mode 666)",
        ),
        ("good.pem", Some(&ca.ca_pem), ""),
    ];
    for (name, text, expected) in cases {
        if name == "shared.pem" && !cfg!(unix) {
            continue;
        }
        let path = env.path(name);
        if let Some(text) = text {
            std::fs::write(&path, text).unwrap();
        }
        #[cfg(unix)]
        if name == "shared.pem" {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        }
        let config = crate::common::config_text("env:ADSYNC_TEST_TOKEN").replace(
            "[target]\n",
            &format!("[target]\nca_file = \"{}\"\n", path.display()),
        );
        let config_path = env.write("config.toml", &config);
        let run = env.run(&[
            "--config",
            config_path.to_str().unwrap(),
            "config",
            "validate",
        ]);
        if expected.is_empty() {
            assert_eq!(run.code, 0, "{name}: {}", run.all());
            continue;
        }
        assert_eq!(run.code, 2, "{name}: {}", run.all());
        let out = run.all();
        assert!(out.contains("line 7: target.ca_file:"), "{name}: {out}");
        assert!(out.contains(&path.display().to_string()), "{name}: {out}");
        assert!(out.contains(expected), "{name}: {out}");
    }
}
