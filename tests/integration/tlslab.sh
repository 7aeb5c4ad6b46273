# SPDX-License-Identifier: Apache-2.0
# Certificates for the TLS tests (test_tls.sh, bench/tls.sh; sourced):
# the test's own upstream CAs and server certificates, made with the
# host's `openssl` (EC P-256). Nothing here is trusted by anything but the
# test: msb gets the CA through --tls-ca.
#
#   tlslab_ca DIR NAME            DIR/NAME.key, DIR/NAME.pem: a CA
#                                 (CA:TRUE, keyCertSign), 30 days
#   tlslab_cert DIR CA OUT NAME...  DIR/OUT.key, DIR/OUT.pem: a server
#                                 certificate signed by DIR/CA for the
#                                 NAMEs (DNS names, or IPv4/IPv6
#                                 literals as IP entries), serverAuth;
#                                 DIR/OUT.chain.pem: it and the CA's
#   tlslab_standard DIR NAME...   the usual set: CA "ca" and "other"
#                                 (a CA nobody trusts), "good" for the
#                                 NAMEs signed by ca, "alien" for the
#                                 same NAMEs signed by other, "wrong"
#                                 for wrong.invalid signed by ca,
#                                 "expired" for the NAMEs, signed by ca,
#                                 valid only in the past
# Each prints nothing and returns non-zero (with openssl's error on
# stderr) when openssl fails.
tlslab_ca() {
	local dir=$1 name=$2
	mkdir -p "$dir"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$dir/$name.key" -out "$dir/$name.pem" -days 30 \
		-subj "/CN=msb test upstream CA $name" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash" 2>"$dir/$name.err" || {
		cat "$dir/$name.err" >&2
		return 1
	}
}

# tlslab_ca_sign DIR CA OUT VALIDITY: (internal) DIR/OUT.csr signed by
# DIR/CA with the extensions of DIR/OUT.ext; VALIDITY "days N" or
# "past" (a month of 2020). `openssl ca`, as `openssl x509 -req` of
# OpenSSL 3.0 cannot set the start date.
tlslab_ca_sign() {
	local dir=$1 ca=$2 out=$3 validity=$4 db=$1/$3.db
	rm -rf "$db"
	mkdir -p "$db"
	: >"$db/index.txt"
	openssl rand -hex 12 >"$db/serial"
	cat >"$db/cnf" <<EOT
[ca]
default_ca = d
[d]
database = $db/index.txt
new_certs_dir = $db
serial = $db/serial
default_md = sha256
policy = p
unique_subject = no
[p]
commonName = supplied
EOT
	# from an hour back: a guest clock a little behind still accepts it
	set -- -startdate "$(date -u -d '-1 hour' +%Y%m%d%H%M%SZ)" \
		-enddate "$(date -u -d '+30 days' +%Y%m%d%H%M%SZ)"
	[ "$validity" = past ] &&
		set -- -startdate 20200101000000Z -enddate 20200201000000Z
	openssl ca -batch -notext -config "$db/cnf" -cert "$dir/$ca.pem" \
		-keyfile "$dir/$ca.key" -in "$dir/$out.csr" -out "$dir/$out.pem" \
		-extfile "$dir/$out.ext" "$@" 2>>"$dir/$out.err" >/dev/null &&
		rm -rf "$db"
}

# tlslab_sign DIR CA OUT VALIDITY NAME...: (internal) the leaf
tlslab_sign() {
	local dir=$1 ca=$2 out=$3 validity=$4
	shift 4
	local n san=
	for n in "$@"; do
		case $n in
		*:* | [0-9]*.[0-9]*.[0-9]*.[0-9]*) san="${san:+$san,}IP:$n" ;;
		*) san="${san:+$san,}DNS:$n" ;;
		esac
	done
	cat >"$dir/$out.ext" <<EOT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$san
authorityKeyIdentifier=keyid
subjectKeyIdentifier=hash
EOT
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$dir/$out.key" -out "$dir/$out.csr" -subj "/CN=$1" \
		2>"$dir/$out.err" &&
		tlslab_ca_sign "$dir" "$ca" "$out" "$validity" || {
		cat "$dir/$out.err" >&2
		return 1
	}
	cat "$dir/$out.pem" "$dir/$ca.pem" >"$dir/$out.chain.pem"
}

tlslab_cert() {
	local dir=$1 ca=$2 out=$3
	shift 3
	tlslab_sign "$dir" "$ca" "$out" days "$@"
}

tlslab_standard() {
	local dir=$1
	shift
	tlslab_ca "$dir" ca && tlslab_ca "$dir" other &&
		tlslab_cert "$dir" ca good "$@" &&
		tlslab_cert "$dir" other alien "$@" &&
		tlslab_cert "$dir" ca wrong wrong.invalid &&
		tlslab_sign "$dir" ca expired past "$@"
}
