//! RFC 3161 time-stamp tokens over checkpoints: the request a client sends to a Time-Stamping
//! Authority (TSA), and the offline verification of the token it answers, against the TSA
//! certificate a judge supplies (`docs/receipt-format.md` section 15).
//!
//! Rules implemented:
//!
//! - **What is stamped**: the SHA-256 of the checkpoint note *text* (origin, size, root and
//!   extension lines, each ending in `\n`; no signature lines), as the message imprint.
//! - **Request** ([`request`]): `TimeStampReq` version 1, imprint `{sha256 (parameters absent),
//!   hash}`, no policy, the caller's nonce (a positive INTEGER, its bytes given big-endian),
//!   `certReq` TRUE, no extensions; DER.
//! - **Response** ([`token_from_response`]): `TimeStampResp`; status `granted` (0) or
//!   `grantedWithMods` (1), else [`Error::TsaStatus`] with its text; the token is the
//!   `timeStampToken` (a CMS `ContentInfo`), returned as its exact DER bytes.
//! - **Token** ([`verify_token`]), each check with its own error, in this order: the TSA
//!   certificate has exactly one extended-key-usage extension, critical, naming only
//!   id-kp-timeStamping (RFC 3161 section 2.3); `ContentInfo` is id-signedData; SignedData has
//!   one SignerInfo, encapsulated content type id-ct-TSTInfo with content present; the signer
//!   identifier names the TSA certificate (issuer and serial, or subject key identifier); the
//!   digest algorithm is SHA-256; signed attributes present, with exactly one content-type
//!   (= id-ct-TSTInfo), one message-digest (= SHA-256 of the TSTInfo bytes) and one
//!   signing-certificate attribute (ESSCertIDv2, RFC 5035, or ESSCertID, RFC 2634) whose first
//!   entry is the hash of the TSA certificate's DER (and whose issuerSerial, if present, names
//!   it); the signature over the DER of the signed attributes (as a SET OF) verifies under the
//!   certificate's key: RSA PKCS#1 v1.5 with SHA-256 (`rsaEncryption` or
//!   `sha256WithRSAEncryption`) or ECDSA P-256 with SHA-256; TSTInfo is version 1, its imprint
//!   algorithm SHA-256 and its hashed message the expected hash; the nonce equals the request's
//!   (when the caller gives one); genTime is a valid GeneralizedTime (RFC 3161 form:
//!   `YYYYMMDDhhmmss[.f]Z`, fraction without trailing zeros) within the certificate's validity.
//! - **Bounds**: a response or token is at most [`MAX_TOKEN_BYTES`], a certificate (PEM or DER)
//!   at most [`MAX_CERT_BYTES`]; all parsing is DER (`der` crate), strict, on bounded input; RSA
//!   keys are limited to 4,096 bits by the `rsa` crate.
//!
//! The TSA certificate is the trust anchor: whether it chains to a root the judge trusts is a
//! separate question (openssl checks it with `-CAfile`); this module checks the token against
//! the certificate itself. Certificates inside the token are ignored.

use const_oid::ObjectIdentifier;
use der::asn1::{Any, Int, OctetString, Uint};
use der::{Decode, DecodePem, Encode, Sequence, Tag, Tagged};
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::serial_number::SerialNumber;
use x509_cert::Certificate;

use crate::{Error, Result};

/// The largest `TimeStampResp` or `TimeStampToken` accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;
/// The largest TSA certificate file (PEM or DER) accepted, in bytes.
pub const MAX_CERT_BYTES: usize = 32 * 1024;
/// The largest nonce accepted in a request, in bytes.
pub const MAX_NONCE_BYTES: usize = 32;
/// The MIME type of a request body (RFC 3161 section 3.4).
pub const QUERY_CONTENT_TYPE: &str = "application/timestamp-query";
/// The MIME type of a response body (RFC 3161 section 3.4).
pub const REPLY_CONTENT_TYPE: &str = "application/timestamp-reply";

/// Object identifiers used here.
pub mod oid {
    use const_oid::ObjectIdentifier as Oid;
    /// id-sha256.
    pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
    /// id-sha1 (only to identify a certificate in ESSCertID).
    pub const SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
    /// id-signedData (CMS).
    pub const SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
    /// id-ct-TSTInfo.
    pub const TST_INFO: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.1.4");
    /// id-contentType (signed attribute).
    pub const CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
    /// id-messageDigest (signed attribute).
    pub const MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
    /// id-aa-signingCertificate (ESSCertID, SHA-1).
    pub const SIGNING_CERTIFICATE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.12");
    /// id-aa-signingCertificateV2 (ESSCertIDv2).
    pub const SIGNING_CERTIFICATE_V2: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.47");
    /// rsaEncryption.
    pub const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
    /// sha256WithRSAEncryption.
    pub const SHA256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
    /// ecdsa-with-SHA256.
    pub const ECDSA_WITH_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
    /// id-ecPublicKey.
    pub const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
    /// prime256v1 (P-256).
    pub const P256: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
    /// id-ce-extKeyUsage.
    pub const EXT_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.37");
    /// id-kp-timeStamping.
    pub const TIME_STAMPING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.8");
}

// ----- ASN.1 structures (RFC 3161 section 2.4, RFC 5035, RFC 2634) -----

#[derive(Clone, Debug, Sequence)]
struct MessageImprint {
    hash_algorithm: AlgorithmIdentifierOwned,
    hashed_message: OctetString,
}

#[derive(Clone, Debug, Sequence)]
struct TimeStampReq {
    version: u8,
    message_imprint: MessageImprint,
    #[asn1(optional = "true")]
    req_policy: Option<ObjectIdentifier>,
    #[asn1(optional = "true")]
    nonce: Option<Uint>,
    #[asn1(default = "default_false")]
    cert_req: bool,
}

fn default_false() -> bool {
    false
}

#[derive(Clone, Debug, Sequence)]
struct PkiStatusInfo {
    status: Int,
    #[asn1(optional = "true")]
    status_string: Option<Vec<String>>,
    #[asn1(optional = "true")]
    fail_info: Option<der::asn1::BitString>,
}

#[derive(Clone, Debug, Sequence)]
struct TimeStampResp {
    status: PkiStatusInfo,
    #[asn1(optional = "true")]
    time_stamp_token: Option<Any>,
}

#[derive(Clone, Debug, Sequence)]
struct AccuracyAsn1 {
    #[asn1(optional = "true")]
    seconds: Option<u64>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    millis: Option<u16>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    micros: Option<u16>,
}

#[derive(Clone, Debug, Sequence)]
struct TstInfo {
    version: u8,
    policy: ObjectIdentifier,
    message_imprint: MessageImprint,
    serial_number: Int,
    gen_time: Any,
    #[asn1(optional = "true")]
    accuracy: Option<AccuracyAsn1>,
    #[asn1(default = "default_false")]
    ordering: bool,
    #[asn1(optional = "true")]
    nonce: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    tsa: Option<GeneralName>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    extensions: Option<Vec<x509_cert::ext::Extension>>,
}

#[derive(Clone, Debug, Sequence)]
struct IssuerSerial {
    issuer: Vec<GeneralName>,
    serial_number: SerialNumber,
}

#[derive(Clone, Debug, Sequence)]
struct EssCertIdV2 {
    #[asn1(optional = "true")]
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<IssuerSerial>,
}

#[derive(Clone, Debug, Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    policies: Option<Any>,
}

#[derive(Clone, Debug, Sequence)]
struct EssCertId {
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<IssuerSerial>,
}

#[derive(Clone, Debug, Sequence)]
struct SigningCertificate {
    certs: Vec<EssCertId>,
    #[asn1(optional = "true")]
    policies: Option<Any>,
}

// ----- Public API -----

/// The SHA-256 message imprint of the stamped bytes (for a checkpoint: its note text).
pub fn imprint(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// The DER `TimeStampReq` for `hash` (a SHA-256 imprint) with `nonce` (big-endian bytes of a
/// positive integer, 1 to [`MAX_NONCE_BYTES`] bytes, not all zero) and `certReq` TRUE.
pub fn request(hash: &[u8; 32], nonce: &[u8]) -> Result<Vec<u8>> {
    if nonce.is_empty() || nonce.len() > MAX_NONCE_BYTES || nonce.iter().all(|&b| b == 0) {
        return Err(Error::TsaNonce("must be 1 to 32 bytes and not zero"));
    }
    let req = TimeStampReq {
        version: 1,
        message_imprint: MessageImprint {
            hash_algorithm: AlgorithmIdentifierOwned { oid: oid::SHA256, parameters: None },
            hashed_message: OctetString::new(hash.to_vec()).map_err(|e| der_err("imprint", e))?,
        },
        req_policy: None,
        nonce: Some(Uint::new(nonce).map_err(|e| der_err("nonce", e))?),
        cert_req: true,
    };
    req.to_der().map_err(|e| der_err("TimeStampReq", e))
}

/// A time-stamp request over some bytes, kept by the requester to check the answer
/// ([`accept_response`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StampRequest {
    /// The SHA-256 imprint of the stamped bytes.
    pub hash: [u8; 32],
    /// The nonce sent (big-endian bytes).
    pub nonce: Vec<u8>,
    /// The DER `TimeStampReq`, POSTed as [`QUERY_CONTENT_TYPE`].
    pub der: Vec<u8>,
}

impl StampRequest {
    /// The request over `data` (for a checkpoint: its note text, section 15.1) with `nonce`
    /// (the caller's fresh random bytes; rules of [`request`]).
    pub fn new(data: &[u8], nonce: &[u8]) -> Result<StampRequest> {
        let hash = imprint(data);
        let der = request(&hash, nonce)?;
        Ok(StampRequest { hash, nonce: nonce.to_vec(), der })
    }
}

/// Checks a TSA's answer to `req`: the response's status and token ([`token_from_response`]),
/// and, given the TSA certificate, the token verified over the request's imprint with its
/// nonce ([`verify_token`]). Returns the token's DER and what it states when verified.
pub fn accept_response(
    resp: &[u8],
    req: &StampRequest,
    tsa: Option<&TsaCertificate>,
) -> Result<(Vec<u8>, Option<Stamp>)> {
    let token = token_from_response(resp)?;
    let stamp = tsa.map(|cert| verify_token(&token, &req.hash, cert, Some(&req.nonce))).transpose()?;
    Ok((token, stamp))
}

/// What a token says, read **without** verifying its signature: its message imprint and
/// genTime. For a requester that has no TSA certificate to tell whether a token it was handed
/// is over the bytes it expects; never a substitute for [`verify_token`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenContent {
    /// The TSTInfo's hashed message (SHA-256 imprint).
    pub imprint: [u8; 32],
    /// Its genTime as stated.
    pub gen_time: GenTime,
}

/// Reads a `TimeStampToken`'s TSTInfo (size, CMS SignedData, id-ct-TSTInfo, SHA-256 imprint,
/// genTime syntax checked; the signature and certificate are **not**).
pub fn token_content(token: &[u8]) -> Result<TokenContent> {
    check_size(token)?;
    let ci = cms::content_info::ContentInfo::from_der(token).map_err(|e| der_err("TimeStampToken", e))?;
    if ci.content_type != oid::SIGNED_DATA {
        return Err(Error::TsaStructure("the token is not CMS SignedData"));
    }
    let sd: cms::signed_data::SignedData = ci.content.decode_as().map_err(|e| der_err("SignedData", e))?;
    if sd.encap_content_info.econtent_type != oid::TST_INFO {
        return Err(Error::TsaStructure("the encapsulated content is not id-ct-TSTInfo"));
    }
    let econtent =
        sd.encap_content_info.econtent.as_ref().ok_or(Error::TsaStructure("the encapsulated TSTInfo is absent"))?;
    let tst_der: OctetString = econtent.decode_as().map_err(|e| der_err("encapsulated content", e))?;
    let tst = TstInfo::from_der(tst_der.as_bytes()).map_err(|e| der_err("TSTInfo", e))?;
    let alg = &tst.message_imprint.hash_algorithm;
    if alg.oid != oid::SHA256 || !null_or_absent(&alg.parameters) {
        return Err(Error::TsaAlgorithm { what: "message imprint", oid: alg.oid.to_string() });
    }
    let imprint: [u8; 32] = tst
        .message_imprint
        .hashed_message
        .as_bytes()
        .try_into()
        .map_err(|_| Error::TsaStructure("the message imprint is not 32 bytes"))?;
    Ok(TokenContent { imprint, gen_time: parse_gen_time(&tst.gen_time)? })
}

/// Reads a `TimeStampResp`: checks its size and status and returns the DER bytes of its
/// `timeStampToken` exactly as received.
pub fn token_from_response(resp: &[u8]) -> Result<Vec<u8>> {
    check_size(resp)?;
    let r = TimeStampResp::from_der(resp).map_err(|e| der_err("TimeStampResp", e))?;
    let status = int_to_u64(&r.status.status).ok_or(Error::TsaStatus { status: u64::MAX, text: String::new() })?;
    let text = r.status.status_string.unwrap_or_default().join("; ");
    if status > 1 {
        return Err(Error::TsaStatus { status, text });
    }
    let token = r.time_stamp_token.ok_or(Error::TsaNoToken)?;
    token.to_der().map_err(|e| der_err("TimeStampToken", e))
}

/// Accepts either a `TimeStampResp` (as `openssl ts -reply` writes, `.tsr`) or a bare
/// `TimeStampToken` (a CMS `ContentInfo`) and returns the token's DER. A response's second
/// byte run starts with its status SEQUENCE; a token's with the content-type OID.
pub fn token_from_response_or_token(bytes: &[u8]) -> Result<Vec<u8>> {
    check_size(bytes)?;
    let outer = Any::from_der(bytes).map_err(|e| der_err("time stamp (response or token)", e))?;
    if outer.tag() != Tag::Sequence {
        return Err(Error::TsaDer { what: "time stamp (response or token)", reason: "not a SEQUENCE".into() });
    }
    let first = outer.value().first().copied();
    match first {
        Some(0x06) => Ok(bytes.to_vec()),
        Some(0x30) => token_from_response(bytes),
        _ => Err(Error::TsaDer {
            what: "time stamp (response or token)",
            reason: "neither a response nor a token".into(),
        }),
    }
}

/// A TSA certificate, the trust anchor a judge supplies.
#[derive(Clone, Debug)]
pub struct TsaCertificate {
    cert: Certificate,
    der: Vec<u8>,
}

impl TsaCertificate {
    /// Parses one certificate from PEM (`-----BEGIN CERTIFICATE-----`) or DER bytes. With
    /// several PEM blocks, the first is taken.
    pub fn parse(bytes: &[u8]) -> Result<TsaCertificate> {
        if bytes.len() > MAX_CERT_BYTES {
            return Err(Error::TsaTooLarge { what: "TSA certificate", len: bytes.len(), max: MAX_CERT_BYTES });
        }
        let cert = if bytes.starts_with(b"-----BEGIN") || bytes.windows(11).any(|w| w == b"-----BEGIN ") {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| Error::TsaDer { what: "TSA certificate", reason: "PEM is not UTF-8".into() })?;
            let start = text
                .find("-----BEGIN CERTIFICATE-----")
                .ok_or(Error::TsaDer { what: "TSA certificate", reason: "no CERTIFICATE PEM block".into() })?;
            let end_marker = "-----END CERTIFICATE-----";
            let end = text[start..]
                .find(end_marker)
                .ok_or(Error::TsaDer { what: "TSA certificate", reason: "PEM block has no end line".into() })?;
            Certificate::from_pem(&text[start..start + end + end_marker.len()])
                .map_err(|e| der_err("TSA certificate", e))?
        } else {
            Certificate::from_der(bytes).map_err(|e| der_err("TSA certificate", e))?
        };
        let der = cert.to_der().map_err(|e| der_err("TSA certificate", e))?;
        Ok(TsaCertificate { cert, der })
    }

    /// The certificate's DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The subject as an RFC 4514 string (for reports).
    pub fn subject(&self) -> String {
        self.cert.tbs_certificate.subject.to_string()
    }

    /// Checks RFC 3161 section 2.3: exactly one extended-key-usage extension, critical, whose
    /// only purpose is id-kp-timeStamping.
    pub fn check_time_stamping_usage(&self) -> Result<()> {
        let exts = self.cert.tbs_certificate.extensions.as_deref().unwrap_or(&[]);
        let mut ekus = exts.iter().filter(|e| e.extn_id == oid::EXT_KEY_USAGE);
        let eku = ekus.next().ok_or(Error::TsaKeyUsage("the TSA certificate has no extended key usage"))?;
        if ekus.next().is_some() {
            return Err(Error::TsaKeyUsage("the TSA certificate has two extended key usage extensions"));
        }
        if !eku.critical {
            return Err(Error::TsaKeyUsage("the TSA certificate's extended key usage is not critical"));
        }
        let purposes = x509_cert::ext::pkix::ExtendedKeyUsage::from_der(eku.extn_value.as_bytes())
            .map_err(|e| der_err("extended key usage", e))?;
        if purposes.0 != [oid::TIME_STAMPING] {
            return Err(Error::TsaKeyUsage("the TSA certificate's extended key usage is not timeStamping alone"));
        }
        Ok(())
    }
}

/// A genTime: seconds and nanoseconds since the Unix epoch, and the GeneralizedTime text.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GenTime {
    /// Whole seconds since 1970-01-01T00:00:00Z.
    pub unix_seconds: i64,
    /// The fraction, in nanoseconds (digits past the ninth are dropped).
    pub nanos: u32,
    /// The GeneralizedTime as in the token, e.g. `20261201001500.25Z`.
    pub text: String,
}

impl std::fmt::Display for GenTime {
    /// RFC 3339 in UTC, with the token's fraction digits, e.g. `2026-12-01T00:15:00.25Z`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = &self.text;
        let frac = &t[14..t.len() - 1];
        write!(f, "{}-{}-{}T{}:{}:{}{}Z", &t[0..4], &t[4..6], &t[6..8], &t[8..10], &t[10..12], &t[12..14], frac)
    }
}

/// The TSA's stated accuracy of genTime (RFC 3161 `Accuracy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accuracy {
    /// Seconds.
    pub seconds: u64,
    /// Milliseconds (0 to 999).
    pub millis: u16,
    /// Microseconds (0 to 999).
    pub micros: u16,
}

/// What a verified token states.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// When the TSA stamped the imprint.
    pub gen_time: GenTime,
    /// Its stated accuracy, if any.
    pub accuracy: Option<Accuracy>,
    /// The TSA policy OID.
    pub policy: String,
    /// The token's serial number (big-endian bytes as encoded).
    pub serial: Vec<u8>,
    /// The nonce, if the token carries one (INTEGER content bytes).
    pub nonce: Option<Vec<u8>>,
    /// The signature algorithm that verified: `"RSA PKCS#1 v1.5 SHA-256"` or `"ECDSA P-256 SHA-256"`.
    pub signature_algorithm: &'static str,
    /// Which signing-certificate attribute named the certificate: `"ESSCertIDv2"` or `"ESSCertID"`.
    pub cert_id: &'static str,
}

/// Verifies a `TimeStampToken` (DER of a CMS `ContentInfo`) over the imprint `expected` against
/// the TSA certificate `tsa`; with `nonce` (big-endian bytes as sent), the token must carry it.
/// Returns what the token states. The checks and their order are in the module documentation.
pub fn verify_token(token: &[u8], expected: &[u8; 32], tsa: &TsaCertificate, nonce: Option<&[u8]>) -> Result<Stamp> {
    check_size(token)?;
    tsa.check_time_stamping_usage()?;
    let ci = cms::content_info::ContentInfo::from_der(token).map_err(|e| der_err("TimeStampToken", e))?;
    if ci.content_type != oid::SIGNED_DATA {
        return Err(Error::TsaStructure("the token is not CMS SignedData"));
    }
    let sd: cms::signed_data::SignedData = ci.content.decode_as().map_err(|e| der_err("SignedData", e))?;
    if sd.signer_infos.0.len() != 1 {
        return Err(Error::TsaSignerCount(sd.signer_infos.0.len()));
    }
    if sd.encap_content_info.econtent_type != oid::TST_INFO {
        return Err(Error::TsaStructure("the encapsulated content is not id-ct-TSTInfo"));
    }
    let econtent =
        sd.encap_content_info.econtent.as_ref().ok_or(Error::TsaStructure("the encapsulated TSTInfo is absent"))?;
    let tst_der: OctetString = econtent.decode_as().map_err(|e| der_err("encapsulated content", e))?;
    let tst_bytes = tst_der.as_bytes();
    let si = &sd.signer_infos.0.as_slice()[0];

    check_signer_id(&si.sid, tsa)?;
    if si.digest_alg.oid != oid::SHA256 {
        return Err(Error::TsaAlgorithm { what: "signer digest", oid: si.digest_alg.oid.to_string() });
    }
    let attrs = si.signed_attrs.as_ref().ok_or(Error::TsaAttribute("the signer has no signed attributes"))?;
    let content_type = single_attribute(attrs, oid::CONTENT_TYPE, "content-type")?;
    let ct: ObjectIdentifier = content_type.decode_as().map_err(|e| der_err("content-type attribute", e))?;
    if ct != oid::TST_INFO {
        return Err(Error::TsaAttribute("the content-type attribute is not id-ct-TSTInfo"));
    }
    let md = single_attribute(attrs, oid::MESSAGE_DIGEST, "message-digest")?;
    let md: OctetString = md.decode_as().map_err(|e| der_err("message-digest attribute", e))?;
    if md.as_bytes() != Sha256::digest(tst_bytes).as_slice() {
        return Err(Error::TsaMessageDigest);
    }
    let cert_id = check_signing_certificate(attrs, tsa)?;

    let signed = attrs.to_der().map_err(|e| der_err("signed attributes", e))?;
    let signature_algorithm = verify_signature(tsa, &si.signature_algorithm, &signed, si.signature.as_bytes())?;

    let tst = TstInfo::from_der(tst_bytes).map_err(|e| der_err("TSTInfo", e))?;
    if tst.version != 1 {
        return Err(Error::TsaStructure("TSTInfo version is not 1"));
    }
    let alg = &tst.message_imprint.hash_algorithm;
    if alg.oid != oid::SHA256 || !null_or_absent(&alg.parameters) {
        return Err(Error::TsaAlgorithm { what: "message imprint", oid: alg.oid.to_string() });
    }
    if tst.message_imprint.hashed_message.as_bytes() != expected {
        return Err(Error::TsaImprintMismatch {
            expected: hex(expected),
            found: hex(tst.message_imprint.hashed_message.as_bytes()),
        });
    }
    if let Some(n) = nonce {
        let want = Uint::new(n).map_err(|e| der_err("nonce", e))?.to_der().map_err(|e| der_err("nonce", e))?;
        let got = tst.nonce.as_ref().map(|i| i.to_der()).transpose().map_err(|e| der_err("nonce", e))?;
        if got.as_deref() != Some(want.as_slice()) {
            return Err(Error::TsaNonce("the token's nonce is not the request's"));
        }
    }
    let gen_time = parse_gen_time(&tst.gen_time)?;
    let validity = &tsa.cert.tbs_certificate.validity;
    let not_before = validity.not_before.to_unix_duration().as_secs() as i64;
    let not_after = validity.not_after.to_unix_duration().as_secs() as i64;
    let after_end = gen_time.unix_seconds > not_after || (gen_time.unix_seconds == not_after && gen_time.nanos > 0);
    if gen_time.unix_seconds < not_before || after_end {
        return Err(Error::TsaCertValidity { gen_time: gen_time.to_string(), not_before, not_after });
    }
    let accuracy = tst.accuracy.map(|a| Accuracy {
        seconds: a.seconds.unwrap_or(0),
        millis: a.millis.unwrap_or(0),
        micros: a.micros.unwrap_or(0),
    });
    if let Some(a) = accuracy {
        if a.millis > 999 || a.micros > 999 {
            return Err(Error::TsaStructure("accuracy millis or micros is over 999"));
        }
    }
    Ok(Stamp {
        gen_time,
        accuracy,
        policy: tst.policy.to_string(),
        serial: tst.serial_number.as_bytes().to_vec(),
        nonce: tst.nonce.map(|n| n.as_bytes().to_vec()),
        signature_algorithm,
        cert_id,
    })
}

// ----- Checks -----

fn check_size(bytes: &[u8]) -> Result<()> {
    if bytes.len() > MAX_TOKEN_BYTES {
        return Err(Error::TsaTooLarge { what: "time stamp", len: bytes.len(), max: MAX_TOKEN_BYTES });
    }
    Ok(())
}

fn der_err(what: &'static str, e: der::Error) -> Error {
    Error::TsaDer { what, reason: e.to_string() }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn null_or_absent(p: &Option<Any>) -> bool {
    match p {
        None => true,
        Some(a) => a.tag() == Tag::Null && a.value().is_empty(),
    }
}

fn int_to_u64(i: &Int) -> Option<u64> {
    let b = i.as_bytes();
    if b.is_empty() || b[0] & 0x80 != 0 || b.len() > 9 || (b.len() == 9 && b[0] != 0) {
        return None;
    }
    Some(b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
}

/// The signer identifier names the TSA certificate.
fn check_signer_id(sid: &cms::signed_data::SignerIdentifier, tsa: &TsaCertificate) -> Result<()> {
    let tbs = &tsa.cert.tbs_certificate;
    let ok = match sid {
        cms::signed_data::SignerIdentifier::IssuerAndSerialNumber(is) => {
            is.issuer == tbs.issuer && is.serial_number == tbs.serial_number
        }
        cms::signed_data::SignerIdentifier::SubjectKeyIdentifier(ski) => {
            let exts = tbs.extensions.as_deref().unwrap_or(&[]);
            let id = const_oid::db::rfc5280::ID_CE_SUBJECT_KEY_IDENTIFIER;
            exts.iter().filter(|e| e.extn_id == id).any(|e| {
                x509_cert::ext::pkix::SubjectKeyIdentifier::from_der(e.extn_value.as_bytes())
                    .is_ok_and(|k| k.0 == ski.0)
            })
        }
    };
    if ok {
        Ok(())
    } else {
        Err(Error::TsaSignerId)
    }
}

/// The single value of the one attribute `id` among the signed attributes.
fn single_attribute<'a>(
    attrs: &'a x509_cert::attr::Attributes,
    id: ObjectIdentifier,
    name: &'static str,
) -> Result<&'a Any> {
    let mut found = attrs.iter().filter(|a| a.oid == id);
    let a = found.next().ok_or(Error::TsaMissingAttribute(name))?;
    if found.next().is_some() || a.values.len() != 1 {
        return Err(Error::TsaAttribute("a signed attribute occurs twice or has several values"));
    }
    Ok(&a.values.as_slice()[0])
}

/// The signing-certificate attribute (v2 preferred) names the TSA certificate.
fn check_signing_certificate(attrs: &x509_cert::attr::Attributes, tsa: &TsaCertificate) -> Result<&'static str> {
    let has = |id| attrs.iter().any(|a| a.oid == id);
    let (hash, serial, kind) = if has(oid::SIGNING_CERTIFICATE_V2) {
        let v = single_attribute(attrs, oid::SIGNING_CERTIFICATE_V2, "signingCertificateV2")?;
        let sc: SigningCertificateV2 = v.decode_as().map_err(|e| der_err("signingCertificateV2", e))?;
        let first = sc.certs.into_iter().next().ok_or(Error::TsaCertId("signingCertificateV2 lists no certificate"))?;
        let alg = first.hash_algorithm.as_ref().map(|a| a.oid).unwrap_or(oid::SHA256);
        if alg != oid::SHA256 {
            return Err(Error::TsaAlgorithm { what: "ESSCertIDv2 hash", oid: alg.to_string() });
        }
        let want = Sha256::digest(&tsa.der);
        (first.cert_hash.as_bytes() == want.as_slice(), first.issuer_serial, "ESSCertIDv2")
    } else if has(oid::SIGNING_CERTIFICATE) {
        let v = single_attribute(attrs, oid::SIGNING_CERTIFICATE, "signingCertificate")?;
        let sc: SigningCertificate = v.decode_as().map_err(|e| der_err("signingCertificate", e))?;
        let first = sc.certs.into_iter().next().ok_or(Error::TsaCertId("signingCertificate lists no certificate"))?;
        let want = sha1::Sha1::digest(&tsa.der);
        (first.cert_hash.as_bytes() == want.as_slice(), first.issuer_serial, "ESSCertID")
    } else {
        return Err(Error::TsaMissingAttribute("signingCertificate or signingCertificateV2"));
    };
    if !hash {
        return Err(Error::TsaCertId("the signing-certificate hash is not the TSA certificate's"));
    }
    if let Some(is) = serial {
        let tbs = &tsa.cert.tbs_certificate;
        let issuer_ok = is.issuer.iter().any(|g| matches!(g, GeneralName::DirectoryName(n) if *n == tbs.issuer));
        if !issuer_ok || is.serial_number != tbs.serial_number {
            return Err(Error::TsaCertId("the signing-certificate issuerSerial does not name the TSA certificate"));
        }
    }
    Ok(kind)
}

/// Verifies `sig` over `msg` under the certificate's key with the SignerInfo's algorithm.
fn verify_signature(
    tsa: &TsaCertificate,
    alg: &AlgorithmIdentifierOwned,
    msg: &[u8],
    sig: &[u8],
) -> Result<&'static str> {
    use rsa::signature::Verifier as _;
    let spki = &tsa.cert.tbs_certificate.subject_public_key_info;
    let spki_der = spki.to_der().map_err(|e| der_err("TSA public key", e))?;
    let key_alg = spki.algorithm.oid;
    if alg.oid == oid::RSA_ENCRYPTION || alg.oid == oid::SHA256_WITH_RSA {
        if key_alg != oid::RSA_ENCRYPTION {
            return Err(Error::TsaAlgorithm { what: "TSA key for an RSA signature", oid: key_alg.to_string() });
        }
        use rsa::pkcs8::DecodePublicKey as _;
        let pk = rsa::RsaPublicKey::from_public_key_der(&spki_der)
            .map_err(|e| Error::TsaDer { what: "TSA RSA public key", reason: e.to_string() })?;
        let vk = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(pk);
        let s = rsa::pkcs1v15::Signature::try_from(sig).map_err(|_| Error::TsaSignature)?;
        vk.verify(msg, &s).map_err(|_| Error::TsaSignature)?;
        Ok("RSA PKCS#1 v1.5 SHA-256")
    } else if alg.oid == oid::ECDSA_WITH_SHA256 {
        let curve: Option<ObjectIdentifier> = spki.algorithm.parameters.as_ref().and_then(|p| p.decode_as().ok());
        if key_alg != oid::EC_PUBLIC_KEY || curve != Some(oid::P256) {
            return Err(Error::TsaAlgorithm { what: "TSA key for an ECDSA P-256 signature", oid: key_alg.to_string() });
        }
        use p256::pkcs8::DecodePublicKey as _;
        let vk = p256::ecdsa::VerifyingKey::from_public_key_der(&spki_der)
            .map_err(|e| Error::TsaDer { what: "TSA P-256 public key", reason: e.to_string() })?;
        let s = p256::ecdsa::Signature::from_der(sig).map_err(|_| Error::TsaSignature)?;
        vk.verify(msg, &s).map_err(|_| Error::TsaSignature)?;
        Ok("ECDSA P-256 SHA-256")
    } else {
        Err(Error::TsaAlgorithm { what: "signature", oid: alg.oid.to_string() })
    }
}

/// Parses genTime: a GeneralizedTime `YYYYMMDDhhmmss[.f+]Z` (RFC 3161 section 2.4.2: UTC, no
/// trailing zeros in the fraction, no dot without digits), seconds 00-59.
pub fn parse_gen_time(any: &Any) -> Result<GenTime> {
    let e = Error::TsaGenTime;
    if any.tag() != Tag::GeneralizedTime {
        return Err(e("genTime is not a GeneralizedTime"));
    }
    let t = std::str::from_utf8(any.value()).map_err(|_| e("genTime is not ASCII"))?;
    parse_gen_time_text(t)
}

/// Parses the text of a genTime (see [`parse_gen_time`]).
pub fn parse_gen_time_text(t: &str) -> Result<GenTime> {
    let e = Error::TsaGenTime;
    let b = t.as_bytes();
    if b.len() < 15 || b.len() > 15 + 1 + 18 || !t.ends_with('Z') || !b[..14].iter().all(u8::is_ascii_digit) {
        return Err(e("genTime is not YYYYMMDDhhmmss[.fraction]Z"));
    }
    let frac = &t[14..t.len() - 1];
    let mut nanos = 0u32;
    if !frac.is_empty() {
        let digits = frac.strip_prefix('.').ok_or(e("genTime is not YYYYMMDDhhmmss[.fraction]Z"))?;
        if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return Err(e("genTime fraction is not digits"));
        }
        if digits.ends_with('0') {
            return Err(e("genTime fraction has trailing zeros"));
        }
        for (i, c) in digits.bytes().take(9).enumerate() {
            nanos += u32::from(c - b'0') * 10u32.pow(8 - i as u32);
        }
    }
    let n = |r: std::ops::Range<usize>| t[r].parse::<i64>().unwrap_or(-1);
    let (y, mo, d, h, mi, s) = (n(0..4), n(4..6), n(6..8), n(8..10), n(10..12), n(12..14));
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let dim = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&mo) || d < 1 || d > dim[(mo - 1) as usize] || h > 23 || mi > 59 || s > 59 {
        return Err(e("genTime is not a valid date and time"));
    }
    let unix_seconds = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s;
    Ok(GenTime { unix_seconds, nanos, text: t.to_string() })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gen_time_forms() {
        let g = parse_gen_time_text("20261201001500Z").unwrap();
        assert_eq!(g.unix_seconds, 1_796_084_100);
        assert_eq!(g.nanos, 0);
        assert_eq!(g.to_string(), "2026-12-01T00:15:00Z");
        let g = parse_gen_time_text("19700101000000.25Z").unwrap();
        assert_eq!((g.unix_seconds, g.nanos), (0, 250_000_000));
        assert_eq!(g.to_string(), "1970-01-01T00:00:00.25Z");
        assert_eq!(parse_gen_time_text("20240229235959Z").unwrap().unix_seconds, 1_709_251_199);
        for bad in [
            "20261201001500",
            "20261201001500.Z",
            "20261201001500.50Z",
            "20261301001500Z",
            "20230229000000Z",
            "20261201246000Z",
            "20261201001560Z",
            "2026120100150Z",
            "20261201001500+0100",
            "2026-2-01001500Z",
        ] {
            assert!(matches!(parse_gen_time_text(bad), Err(Error::TsaGenTime(_))), "{bad}");
        }
    }

    #[test]
    fn request_encoding() {
        let hash = [0xab; 32];
        let der = request(&hash, &[0x80, 1]).unwrap();
        let req = TimeStampReq::from_der(&der).unwrap();
        assert_eq!(req.version, 1);
        assert!(req.cert_req);
        assert_eq!(req.message_imprint.hash_algorithm.oid, oid::SHA256);
        assert!(req.message_imprint.hash_algorithm.parameters.is_none());
        assert_eq!(req.message_imprint.hashed_message.as_bytes(), &hash);
        // 0x80 needs a leading zero to stay positive.
        assert_eq!(&der[der.len() - 8..], &[0x02, 0x03, 0x00, 0x80, 0x01, 0x01, 0x01, 0xff]);
        assert!(matches!(request(&hash, &[]), Err(Error::TsaNonce(_))));
        assert!(matches!(request(&hash, &[0, 0]), Err(Error::TsaNonce(_))));
        assert!(matches!(request(&hash, &[1; 33]), Err(Error::TsaNonce(_))));
    }

    #[test]
    fn hostile_responses() {
        assert!(matches!(token_from_response(&[]), Err(Error::TsaDer { .. })));
        assert!(matches!(token_from_response(&vec![0x30; MAX_TOKEN_BYTES + 1]), Err(Error::TsaTooLarge { .. })));
        // A rejection: status 2, text "bad", no token.
        let resp = [0x30, 0x0c, 0x30, 0x0a, 0x02, 0x01, 0x02, 0x30, 0x05, 0x0c, 0x03, b'b', b'a', b'd'];
        assert_eq!(token_from_response(&resp), Err(Error::TsaStatus { status: 2, text: "bad".into() }));
        // Granted without a token.
        let resp = [0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x00];
        assert_eq!(token_from_response(&resp), Err(Error::TsaNoToken));
        assert_eq!(token_from_response_or_token(&resp), Err(Error::TsaNoToken));
        // Truncated.
        assert!(matches!(token_from_response(&resp[..6]), Err(Error::TsaDer { .. })));
        assert!(matches!(token_from_response_or_token(&[0x02, 0x01, 0x00]), Err(Error::TsaDer { .. })));
    }

    #[test]
    fn hostile_certificates() {
        assert!(matches!(TsaCertificate::parse(b"not a cert"), Err(Error::TsaDer { .. })));
        assert!(matches!(TsaCertificate::parse(b"-----BEGIN CERTIFICATE-----\nAAAA\n"), Err(Error::TsaDer { .. })));
        assert!(matches!(TsaCertificate::parse(&vec![b'a'; MAX_CERT_BYTES + 1]), Err(Error::TsaTooLarge { .. })));
    }
}
