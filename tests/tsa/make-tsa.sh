#!/usr/bin/env bash
# Makes a throw-away RFC 3161 test PKI in DIR with openssl, for the time-stamp tests (Rust,
# Python) and tests/tsa/tsa_server.py:
#   ca.pem/ca.key              a test root CA (RSA 2048)
#   tsa-rsa.pem/.key           a TSA with an RSA 2048 key; its tokens name it by ESSCertID (SHA-1)
#   tsa-ec.pem/.key            a TSA with an ECDSA P-256 key; ESSCertIDv2 (SHA-256), genTime with
#                              millisecond fractions
#   tsa-expired.pem/.key       a TSA (RSA) whose certificate was valid only in 2000
#   tsa-rsa-noncrit.pem        tsa-rsa's key, issuer and serial, extended key usage not critical
#   tsa-rsa-server.pem         the same, extended key usage serverAuth instead of timeStamping
#   ts.cnf                     `openssl ts -reply` sections tsa_rsa, tsa_ec and tsa_expired
# Every TSA certificate has extendedKeyUsage=critical,timeStamping (RFC 3161 section 2.3)
# unless its name says otherwise. Valid for 100 years from today except tsa-expired.
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
dir=$(pwd)
q() { openssl "$@" 2>/dev/null >/dev/null || { echo "make-tsa.sh: openssl $1 failed" >&2; openssl "$@"; exit 1; }; }
cat > ext.cnf <<'X'
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[tsa]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[noncrit]
basicConstraints = critical,CA:FALSE
extendedKeyUsage = timeStamping
[server]
basicConstraints = critical,CA:FALSE
extendedKeyUsage = critical,serverAuth
X
q genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out ca.key
q req -x509 -new -key ca.key -subj "/O=Curia Test/CN=Curia Test Time Root" -days 36500 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem
q genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out tsa-rsa.key
q genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out tsa-ec.key
q genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out tsa-expired.key
cert() { # name key serial extensions
  q req -new -key "$2" -subj "/O=Curia Test/CN=$1" -out "$5.csr"
  q x509 -req -in "$5.csr" -CA ca.pem -CAkey ca.key -set_serial "$3" -days 36500 \
    -extfile ext.cnf -extensions "$4" -out "$5"
}
cert "Curia Test TSA RSA" tsa-rsa.key 4097 tsa tsa-rsa.pem
cert "Curia Test TSA EC" tsa-ec.key 4098 tsa tsa-ec.pem
cert "Curia Test TSA RSA" tsa-rsa.key 4097 noncrit tsa-rsa-noncrit.pem
cert "Curia Test TSA RSA" tsa-rsa.key 4097 server tsa-rsa-server.pem
# A certificate valid only in 2000 (openssl x509 has no start date option; `openssl ca` has).
: > index.txt
echo 1001 > ca.srl
cat > ca.cnf <<X
[ca]
default_ca = test
[test]
database = $dir/index.txt
new_certs_dir = $dir
serial = $dir/ca.srl
default_md = sha256
policy = anything
unique_subject = no
[anything]
commonName = supplied
organizationName = optional
X
q req -new -key tsa-expired.key -subj "/O=Curia Test/CN=Curia Test TSA Expired" -out tsa-expired.csr
q ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in tsa-expired.csr -out tsa-expired.pem \
  -startdate 20000101000000Z -enddate 20001231000000Z -extfile ext.cnf -extensions tsa -notext
for s in rsa ec expired; do echo 01 > "serial-$s"; done
section() { # name cert key ess_alg precision
  cat <<X
[ tsa_$1 ]
dir = $dir
serial = \$dir/serial-$1
crypto_device = builtin
signer_cert = \$dir/$2
certs = \$dir/ca.pem
signer_key = \$dir/$3
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
other_policies = 1.3.6.1.4.1.99999.2
digests = sha256, sha384, sha512
accuracy = secs:1, millisecs:500, microsecs:100
clock_precision_digits = $5
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = $4

X
}
{
  printf '[ tsa ]\ndefault_tsa = tsa_rsa\n\n'
  section rsa tsa-rsa.pem tsa-rsa.key sha1 0
  section ec tsa-ec.pem tsa-ec.key sha256 3
  section expired tsa-expired.pem tsa-expired.key sha256 0
} > ts.cnf
