// SPDX-License-Identifier: Apache-2.0
/*
 * A token server for the test registry (Docker registry token
 * authentication): GET /token?service=S&scope=repository:NAME:ACTIONS...
 * answers {"token", "access_token", "expires_in", "issued_at"} with an RS256
 * JWT that the registry checks against the certificate in its
 * rootcertbundle; the header's "kid" is the libtrust key id of the signing
 * key (base32 of the first 240 bits of the sha256 of the DER
 * SubjectPublicKeyInfo, in groups of 4 characters joined by ':').
 *
 * Basic credentials are checked against -u/-p: wrong ones get 401; no
 * credentials get a token that grants nothing (the registry then refuses
 * with 401); right ones get the actions asked for (pull, push).
 *
 *   token_server -k KEY.pem -u USER -p PASS -i ISSUER -P PORTFILE -l LOG
 *                [-e EXPIRES_IN]
 *
 * Listens on 127.0.0.1 on a free port, written to PORTFILE once ready.
 * Each request appends one line to LOG: "STATUS ACCOUNT SCOPE...". One
 * request per connection, served in turn; runs until killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#define REQ_MAX 16384
#define MAX_SCOPES 8

static const char *opt_user = "", *opt_pass = "", *opt_issuer = "test-issuer";
static const char *opt_log;
static long opt_expires = 300;
static EVP_PKEY *key;
static char kid[64];

static void die(const char *what)
{
	fprintf(stderr, "token_server: %s: %s\n", what, strerror(errno));
	exit(1);
}

static char *b64url(const unsigned char *p, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char *out = malloc(n / 3 * 4 + 5), *o = out;
	size_t i;

	if (!out)
		die("malloc");
	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = p[i] << 16 | p[i + 1] << 8 | p[i + 2];
		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		*o++ = tab[v >> 6 & 63];
		*o++ = tab[v & 63];
	}
	if (n - i == 1) {
		*o++ = tab[p[i] >> 2];
		*o++ = tab[(p[i] & 3) << 4];
	} else if (n - i == 2) {
		*o++ = tab[p[i] >> 2];
		*o++ = tab[(p[i] & 3) << 4 | p[i + 1] >> 4];
		*o++ = tab[(p[i + 1] & 15) << 2];
	}
	*o = '\0';
	return out;
}

/* libtrust key id of the public half of @k. */
static void make_kid(EVP_PKEY *k)
{
	static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	unsigned char *der = NULL, md[32];
	char s[49];
	int n = i2d_PUBKEY(k, &der);
	size_t bit, j = 0, o = 0;

	if (n <= 0 || !EVP_Digest(der, n, md, NULL, EVP_sha256(), NULL))
		die("key id");
	OPENSSL_free(der);
	/* 30 bytes = 240 bits = 48 base32 digits, no padding */
	for (bit = 0; bit < 240; bit += 5) {
		unsigned v = 0;
		for (int b = 0; b < 5; b++) {
			size_t at = bit + b;
			v = v << 1 | (md[at / 8] >> (7 - at % 8) & 1);
		}
		s[j++] = b32[v];
	}
	s[j] = '\0';
	for (j = 0; j < 48; j += 4) {
		if (j)
			kid[o++] = ':';
		memcpy(kid + o, s + j, 4);
		o += 4;
	}
	kid[o] = '\0';
}

static char *sign_jwt(json_t *claims)
{
	json_t *hdr = json_pack("{s:s, s:s, s:s}", "typ", "JWT", "alg", "RS256",
				"kid", kid);
	char *h = json_dumps(hdr, JSON_COMPACT);
	char *c = json_dumps(claims, JSON_COMPACT);
	char *h64 = b64url((unsigned char *)h, strlen(h));
	char *c64 = b64url((unsigned char *)c, strlen(c));
	size_t inlen = strlen(h64) + 1 + strlen(c64);
	char *input = malloc(inlen + 1);
	unsigned char sig[1024];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	if (!input || !md)
		die("malloc");
	sprintf(input, "%s.%s", h64, c64);
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, (unsigned char *)input, inlen) !=
		    1)
		die("sign");
	char *s64 = b64url(sig, siglen);
	char *jwt = malloc(inlen + 2 + strlen(s64));
	if (!jwt)
		die("malloc");
	sprintf(jwt, "%s.%s", input, s64);
	EVP_MD_CTX_free(md);
	free(s64);
	free(input);
	free(c64);
	free(h64);
	free(c);
	free(h);
	json_decref(hdr);
	return jwt;
}

static int unhex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode @s[0..n) into a new string. */
static char *urldecode(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;

	if (!out)
		die("malloc");
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && unhex(s[i + 1]) >= 0 &&
		    unhex(s[i + 2]) >= 0) {
			*o++ = (char)(unhex(s[i + 1]) << 4 | unhex(s[i + 2]));
			i += 2;
		} else {
			*o++ = s[i] == '+' ? ' ' : s[i];
		}
	}
	*o = '\0';
	return out;
}

static bool b64_basic_ok(const char *b64)
{
	unsigned char dec[512];
	char want[512];
	size_t n = strcspn(b64, "\r\n ");
	int m;

	if (n >= sizeof(dec) / 4 * 3)
		return false;
	m = EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)n);
	if (m < 0)
		return false;
	while (n && b64[n - 1] == '=') {
		m--;
		n--;
	}
	snprintf(want, sizeof(want), "%s:%s", opt_user, opt_pass);
	return (size_t)m == strlen(want) && !memcmp(dec, want, m);
}

static void reply(int fd, int status, const char *ctype, const char *body)
{
	char head[512];
	const char *reason = status == 200   ? "OK"
			     : status == 401 ? "Unauthorized"
					     : "Not Found";
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n%s\r\n",
			 status, reason, ctype, strlen(body),
			 status == 401
				 ? "WWW-Authenticate: Basic realm=\"token\"\r\n"
				 : "");
	if (write(fd, head, n) < 0 || write(fd, body, strlen(body)) < 0)
		return;
}

static void log_line(int status, const char *account, char **scopes,
		     int nscopes)
{
	FILE *f = fopen(opt_log, "a");

	if (!f)
		return;
	fprintf(f, "%d %s", status, account);
	for (int i = 0; i < nscopes; i++)
		fprintf(f, " %s", scopes[i]);
	fputc('\n', f);
	fclose(f);
}

/* "repository:NAME:a,b" → an access entry with the actions we grant. */
static json_t *access_entry(const char *scope, bool authed)
{
	const char *c1 = strchr(scope, ':'), *c2 = strrchr(scope, ':');
	json_t *actions = json_array();

	if (!c1 || c1 == c2)
		return NULL;
	char *copy = strdup(c2 + 1);
	for (char *save, *a = strtok_r(copy, ",", &save); a;
	     a = strtok_r(NULL, ",", &save))
		if (authed && (!strcmp(a, "pull") || !strcmp(a, "push")))
			json_array_append_new(actions, json_string(a));
	free(copy);
	return json_pack("{s:s#, s:s#, s:o}", "type", scope, (int)(c1 - scope),
			 "name", c1 + 1, (int)(c2 - c1 - 1), "actions",
			 actions);
}

static void handle(int fd)
{
	char req[REQ_MAX + 1], *scopes[MAX_SCOPES], *service = NULL;
	size_t got = 0;
	int nscopes = 0;

	/* read the head, at most REQ_MAX bytes, 5 s */
	while (got < REQ_MAX) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 5000) <= 0)
			return;
		ssize_t r = read(fd, req + got, REQ_MAX - got);
		if (r <= 0)
			return;
		got += r;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	req[got] = '\0';
	if (strncmp(req, "GET /token", 10)) {
		reply(fd, 404, "text/plain", "not found\n");
		return;
	}
	const char *q = strchr(req, '?');
	const char *end = strchr(req + 4, ' ');
	if (q && end && q < end) {
		for (const char *p = q + 1; p < end;) {
			size_t n = strcspn(p, "& ");
			if (!strncmp(p, "scope=", 6) && nscopes < MAX_SCOPES)
				scopes[nscopes++] = urldecode(p + 6, n - 6);
			else if (!strncmp(p, "service=", 8) && !service)
				service = urldecode(p + 8, n - 8);
			p += n + (p[n] == '&');
		}
	}

	const char *auth = strcasestr(req, "\r\nAuthorization: Basic ");
	bool authed = false;
	if (auth) {
		if (!b64_basic_ok(auth + 23)) {
			log_line(401, "-", scopes, nscopes);
			reply(fd, 401, "application/json",
			      "{\"details\":\"incorrect username or password\"}");
			goto out;
		}
		authed = true;
	}

	time_t now = time(NULL);
	unsigned char jti[12];
	RAND_bytes(jti, sizeof(jti));
	char *jtis = b64url(jti, sizeof(jti));
	json_t *access = json_array();
	for (int i = 0; i < nscopes; i++) {
		json_t *e = access_entry(scopes[i], authed);
		if (e)
			json_array_append_new(access, e);
	}
	json_t *claims = json_pack(
		"{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:o}", "iss", opt_issuer,
		"sub", authed ? opt_user : "", "aud", service ? service : "",
		"exp", (json_int_t)(now + opt_expires), "nbf",
		(json_int_t)(now - 10), "iat", (json_int_t)now, "jti", jtis,
		"access", access);
	char *jwt = sign_jwt(claims);
	json_t *resp =
		json_pack("{s:s, s:s, s:I, s:s}", "token", jwt, "access_token",
			  jwt, "expires_in", (json_int_t)opt_expires,
			  "issued_at", "2024-01-01T00:00:00Z");
	char *body = json_dumps(resp, JSON_COMPACT);
	log_line(200, authed ? opt_user : "-", scopes, nscopes);
	reply(fd, 200, "application/json", body);
	free(body);
	json_decref(resp);
	json_decref(claims);
	free(jwt);
	free(jtis);
out:
	for (int i = 0; i < nscopes; i++)
		free(scopes[i]);
	free(service);
}

int main(int argc, char **argv)
{
	const char *keyfile = NULL, *portfile = NULL;
	int c;

	while ((c = getopt(argc, argv, "k:u:p:i:P:l:e:")) != -1) {
		switch (c) {
		case 'k':
			keyfile = optarg;
			break;
		case 'u':
			opt_user = optarg;
			break;
		case 'p':
			opt_pass = optarg;
			break;
		case 'i':
			opt_issuer = optarg;
			break;
		case 'P':
			portfile = optarg;
			break;
		case 'l':
			opt_log = optarg;
			break;
		case 'e':
			opt_expires = strtol(optarg, NULL, 10);
			break;
		default:
			return 2;
		}
	}
	if (!keyfile || !portfile || !opt_log) {
		fprintf(stderr, "usage: token_server -k KEY -u USER -p PASS "
				"-i ISSUER -P PORTFILE -l LOG [-e SECONDS]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	FILE *kf = fopen(keyfile, "re");
	if (!kf)
		die(keyfile);
	key = PEM_read_PrivateKey(kf, NULL, NULL, NULL);
	fclose(kf);
	if (!key)
		die("read key");
	make_kid(key);

	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(ls, 64) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &alen) < 0)
		die("listen");

	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
	FILE *pf = fopen(tmp, "we");
	if (!pf || fprintf(pf, "%d\n", ntohs(a.sin_port)) < 0 ||
	    fclose(pf) != 0 || rename(tmp, portfile) < 0)
		die(portfile);

	for (;;) {
		int fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept");
		}
		handle(fd);
		close(fd);
	}
}
