# tests/lib/certs.bash -- a throw-away certificate authority for TLS tests.
#
#   make_test_ca DIR    creates, once (a later call finds DIR/ca.pem and does
#                       nothing), with ECDSA P-256 keys:
#     ca.pem, ca-key.pem                  the test CA
#     server.pem, server-key.pem          CN=localhost, DNS:localhost,
#                                         IP:127.0.0.1, signed by the CA
#     wronghost.pem, wronghost-key.pem    DNS:wrong.example only, signed by the CA
#     expired.pem, expired-key.pem        localhost, signed by the CA, valid
#                                         2000-01-01 .. 2001-01-01 only
#     selfsigned.pem, selfsigned-key.pem  localhost, self-signed (not the CA)
#   cert_sha256 PEMFILE  prints the SHA-256 fingerprint of the first
#                        certificate in PEMFILE as AA:BB:...
#
# Needs certtool (gnutls-bin). Safe to call from parallel tests: creation is
# serialised with flock on DIR/.lock.

# _certs_key OUT -- a new ECDSA P-256 private key.
_certs_key() {
	certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 \
		--outfile "$1" >/dev/null 2>&1
}

# _certs_issue NAME TEMPLATE-TEXT [self] -- NAME.pem and NAME-key.pem in the
# current directory, signed by ca.pem unless "self" is given.
_certs_issue() {
	local name=$1 tmpl=$2 how=${3:-ca}
	printf '%s\n' "$tmpl" >"$name.tmpl"
	_certs_key "$name-key.pem" || return 1
	if [[ $how == self ]]; then
		certtool --generate-self-signed --load-privkey "$name-key.pem" \
			--template "$name.tmpl" --outfile "$name.pem" >/dev/null 2>&1
	else
		certtool --generate-certificate --load-privkey "$name-key.pem" \
			--load-ca-certificate ca.pem --load-ca-privkey ca-key.pem \
			--template "$name.tmpl" --outfile "$name.pem" >/dev/null 2>&1
	fi || { echo "certtool failed for $name" >&2; return 1; }
	rm -f "$name.tmpl"
}

_certs_server_tmpl() {
	printf '%s\n' \
		"organization = \"popfetch tests\"" \
		"tls_www_server" \
		"signing_key" \
		"encryption_key" \
		"$@"
}

make_test_ca() {
	local dir=${1:?make_test_ca DIR}
	[[ -f $dir/ca.pem ]] && return 0
	mkdir -p "$dir" || return 1
	(
		flock -w 30 9 || { echo "make_test_ca: cannot lock $dir" >&2; exit 1; }
		[[ -f $dir/ca.pem ]] && exit 0
		work=$(mktemp -d "$dir/.work.XXXXXX") || exit 1
		trap 'rm -rf "$work"' EXIT
		cd "$work" || exit 1
		_certs_issue ca "$(printf '%s\n' \
			'cn = "popfetch test CA"' \
			'organization = "popfetch tests"' \
			'serial = 1' \
			'ca' \
			'cert_signing_key' \
			'crl_signing_key' \
			'expiration_days = 3650')" self || exit 1
		_certs_issue server "$(_certs_server_tmpl \
			'cn = "localhost"' 'serial = 2' \
			'dns_name = "localhost"' 'ip_address = "127.0.0.1"' \
			'expiration_days = 3650')" || exit 1
		_certs_issue wronghost "$(_certs_server_tmpl \
			'cn = "wrong.example"' 'serial = 3' \
			'dns_name = "wrong.example"' \
			'expiration_days = 3650')" || exit 1
		# certtool 3.7 takes explicit dates; a validity wholly in the past
		# makes the certificate expired without touching the clock.
		_certs_issue expired "$(_certs_server_tmpl \
			'cn = "localhost"' 'serial = 4' \
			'dns_name = "localhost"' 'ip_address = "127.0.0.1"' \
			'activation_date = "2000-01-01 00:00:00 UTC"' \
			'expiration_date = "2001-01-01 00:00:00 UTC"')" || exit 1
		_certs_issue selfsigned "$(_certs_server_tmpl \
			'cn = "localhost"' 'serial = 5' \
			'dns_name = "localhost"' 'ip_address = "127.0.0.1"' \
			'expiration_days = 3650')" self || exit 1
		chmod 0644 ./*.pem && chmod 0600 ./*-key.pem
		# ca.pem last: its presence means the set is complete.
		for f in *.pem; do
			[[ $f == ca.pem ]] || mv -f "$f" "$dir/$f" || exit 1
		done
		mv -f ca.pem "$dir/ca.pem"
	) 9>"$dir/.lock"
}

cert_sha256() {
	local pem=${1:?cert_sha256 PEMFILE}
	"${PYTHON3:-python3}" - "$pem" <<'PY'
import base64, hashlib, re, sys
text = open(sys.argv[1], encoding="ascii").read()
m = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----",
              text, re.S)
if not m:
    sys.exit("cert_sha256: no certificate in %s" % sys.argv[1])
der = base64.b64decode("".join(m.group(1).split()))
print(":".join("%02X" % b for b in hashlib.sha256(der).digest()))
PY
}
