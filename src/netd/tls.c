// SPDX-License-Identifier: Apache-2.0
/*
 * TLS interception and secrets: the engine of a TCP flow that is not
 * proxied as raw bytes.
 *
 * DOC: Intercepted flows
 *
 * When the configuration has "tls" (and --tls-fd gave the CA and the
 * secrets), open_flow() (tcp.c) marks a flow to a port of tls.ports, or
 * to any port when there are secrets, for sniffing: netd holds the
 * guest's first bytes (peeked in lwIP's queue, not acknowledged: at most
 * a ClientHello, MSB_TLS_HELLO_MAX) until tlshello or http1 classifies
 * them; a server that speaks first makes the flow raw. Then:
 * - a ClientHello whose server name holds a placeholder: deny (a TLS
 *   alert to the guest, a `deny https` event);
 * - a ClientHello on an intercepted port, not bypassed: two TLS legs
 *   (below);
 * - a plain HTTP request, when there are secrets: requests are parsed
 *   one at a time and a placeholder in one is a 403 (plain HTTP never
 *   substitutes); a CONNECT's 2xx makes the tunnel's first bytes
 *   sniffed again, so the TLS through an HTTPS proxy is intercepted too;
 * - anything else: raw, as tcp.c proxies every other flow.
 *
 * The two legs are SSL objects on memory BIOs: OpenSSL never owns a
 * descriptor; run() moves bytes between lwIP's queue, the guest leg, the
 * request and response filters, the upstream leg and the host socket,
 * each step bounded (TX_BIO_MAX in a BIO, TX_BUF_MAX in each plaintext
 * buffer), and counts what the flow holds in nd->buffered. The upstream
 * leg handshakes first (SNI = the guest's, ALPN http/1.1, verified
 * against the host's trust store and upstream_ca, for the SNI's name or,
 * without a server name, for the destination address); a failure is a
 * TLS alert to the guest and a `deny https` event with the reason. Then
 * the guest leg completes with a leaf of the sandbox CA for that name.
 *
 * Requests: each head goes through msb_http1_substitute() (the
 * destination counts as resolved when a pin of the flow's address is the
 * server name, or, in a CONNECT tunnel, when the CONNECT named it);
 * REWRITE forwards the new head, BLOCK answers 403 (after the answers to
 * the requests before it) and closes, PASS forwards it. Bodies are
 * counted or followed (chunked) and pass untouched, unless a secret of
 * that host opted in ("body": true): then the whole body is held (while
 * it fits the buffer), substituted and sent with a reframed head
 * (body_take()). Responses are read the same way (their heads, to know
 * where each ends: keep-alive, pipelining); a 101 or a CONNECT's 2xx
 * makes the rest raw. Endings cross over as they came: close_notify to
 * the guest only after the server's, a reset or a bad record resets.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "lwip/tcp.h"
#include "net/ca.h"
#include "net/http1.h"
#include "net/tlshello.h"
#include "netd/netd.h"
#include "util/util.h"

/* Bytes a BIO may hold before its producer waits. */
#define TX_BIO_MAX (64 * 1024)
/* Bytes of a plaintext buffer (a request or response head must fit). */
#define TX_BUF_MAX (MSB_HTTP1_HEAD_MAX + 16 * 1024)
/* Requests sent upstream whose response has not ended. */
#define TX_PEND_MAX 16
/* TLS handshakes in progress at once (each costs a mint and two SSLs). */
#define TX_HANDSHAKES_MAX 64
/* Leaves kept. */
#define TX_LEAVES 256
/* Bytes --tls-fd may hold. */
#define TX_INPUT_MAX (8 * 1024 * 1024)

/* TLS alert descriptions */
#define ALERT_HANDSHAKE_FAILURE 40
#define ALERT_ACCESS_DENIED 49

struct netd_tls {
	struct msb_ca *ca;
	struct msb_ca_cache *leaves;
	SSL_CTX *up, *guest;
	struct msb_secret secrets[MSB_SECRETS_MAX];
	bool body[MSB_SECRETS_MAX]; /* substituted in bodies too */
	size_t n_secrets;
	json_t *input; /* owns the strings the secrets point into */
	unsigned handshakes;
	/* `http` lines: their own bucket (a busy guest's requests must not
	 * crowd out its deny events), as large as the deny events' */
	struct ratelimit http_rl;
};

/* A plaintext buffer: at most TX_BUF_MAX bytes, its memory grown and
 * shrunk with what it holds, so that what a flow holds in nd->buffered
 * (its capacity, account()) is what it costs. */
struct buf {
	uint8_t *p;
	size_t len, cap;
};

/* The smallest capacity of a buffer. */
#define TX_BUF_MIN 4096

enum tx_mode {
	TX_SNIFF, /* holding the first bytes */
	TX_RAW,   /* tcp.c proxies it (set only before anything consumed) */
	TX_PLAIN, /* plain HTTP, followed */
	TX_TLS,   /* two legs */
};

enum rq_state { RQ_HEAD, RQ_LEN, RQ_CHUNKED, RQ_WAIT, RQ_RAW, RQ_DONE };
enum rs_state { RS_HEAD, RS_LEN, RS_CHUNKED, RS_CLOSE, RS_RAW };

struct pend {
	char method[MSB_HTTP1_METHOD_MAX + 1];
	char what[256]; /* host and path, for the event (escaped) */
	uint64_t used;  /* secrets substituted */
	bool tunnel;    /* CONNECT or Upgrade */
	bool blocked;   /* answer 403 with tflow_tls.why instead */
	int status;
	uint64_t bytes;
};

struct tflow_tls {
	enum tx_mode mode;
	bool tunnel; /* sniffing the TLS inside a CONNECT tunnel */
	char tunnel_host[256];
	struct buf pre; /* guest wire bytes taken before a tunnel sniff */
	SSL *g, *u;
	BIO *g_in, *g_out, *u_in, *u_out;
	bool u_done, g_done, counted; /* handshakes; counted in handshakes */
	bool u_shut, g_shut;          /* close_notify queued */
	bool u_clean;                 /* the server sent close_notify */
	bool g_eof, u_eof;            /* plaintext ended */
	bool closing;                 /* after a 403: close once it is sent */
	bool continued; /* a 100 Continue of ours for the request held */
	bool fatal;
	char why[200]; /* of the 403 (one a connection: it closes) */
	char sni[MSB_TLS_SNI_MAX + 1]; /* or the address, without SNI */
	struct buf req, up, resp, down;
	size_t rq_scan, rs_scan;
	enum rq_state rq;
	enum rs_state rs;
	uint64_t rq_left, rs_left;
	struct msb_http1_chunked rq_ch, rs_ch;
	unsigned nreq;
	struct pend pend[TX_PEND_MAX];
	unsigned phead, pn;
	size_t held;          /* counted in nd->buffered */
	uint64_t hs_deadline; /* µs: both handshakes done by then */
};

static uint8_t tmp[TX_BUF_MAX];
static uint8_t headbuf[TX_BUF_MAX];
/* body substitution: the decoded body, the substituted one, and the
 * reframed head followed by it */
static uint8_t bodyin[TX_BUF_MAX], bodyout[TX_BUF_MAX], joined[TX_BUF_MAX];
static struct msb_http1_req req2;
static struct msb_http1_req req_s;

/* --- setup ----------------------------------------------------------- */

static int alpn_select(SSL *s, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)s;
	(void)arg;
	for (unsigned i = 0; i < inlen;) {
		unsigned n = in[i];
		if (i + 1 + n > inlen)
			break;
		if (n == 8 && !memcmp(in + i + 1, "http/1.1", 8)) {
			*out = in + i + 1;
			*outlen = 8;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + n;
	}
	return SSL_TLSEXT_ERR_NOACK;
}

static int add_pem_certs(X509_STORE *st, const char *pem, size_t len)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	int n = 0;
	if (!b)
		return -1;
	STACK_OF(X509_INFO) *inf = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL);
	BIO_free(b);
	if (!inf)
		return -1;
	for (int i = 0; i < sk_X509_INFO_num(inf); i++) {
		X509_INFO *x = sk_X509_INFO_value(inf, i);
		if (x->x509 && X509_STORE_add_cert(st, x->x509) == 1)
			n++;
	}
	sk_X509_INFO_pop_free(inf, X509_INFO_free);
	ERR_clear_error();
	return n ? 0 : -1;
}

/* Where Debian keeps the certificates its bundle
 * (/etc/ssl/certs/ca-certificates.crt) is made of: the fallback when
 * the bundle is not visible (netd's jail shows /usr only). */
static const char *const cert_dirs[] = {"/usr/share/ca-certificates",
					"/usr/local/share/ca-certificates"};

/* Every *.crt under @dir (@depth levels of folders) into @st. */
static void load_cert_dir(X509_STORE *st, const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d))) {
		char p[4096];
		size_t n = strlen(e->d_name);
		if (e->d_name[0] == '.' ||
		    (size_t)snprintf(p, sizeof(p), "%s/%s", dir, e->d_name) >=
			    sizeof(p))
			continue;
		if (depth && (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN))
			load_cert_dir(st, p, depth - 1);
		if (n > 4 && !strcmp(e->d_name + n - 4, ".crt") &&
		    X509_STORE_load_file(st, p) != 1)
			ERR_clear_error();
	}
	closedir(d);
}

static const char *jstr(json_t *o, const char *k, size_t *len)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_string(v))
		return NULL;
	if (len)
		*len = json_string_length(v);
	return json_string_value(v);
}

static int load_secrets(struct netd_tls *t, json_t *arr, char *err,
			size_t errlen)
{
	size_t i;
	json_t *s;
	if (!arr)
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > MSB_SECRETS_MAX)
		return netd_errf(
			err, errlen,
			"--tls-fd: secrets: not an array of at most %d",
			MSB_SECRETS_MAX);
	json_array_foreach(arr, i, s)
	{
		struct msb_secret *m = &t->secrets[i];
		const char *k;
		json_t *v;
		if (!json_is_object(s))
			return netd_errf(
				err, errlen,
				"--tls-fd: secrets[%zu]: not an object", i);
		json_object_foreach(s, k, v)
		{
			if (strcmp(k, "name") && strcmp(k, "placeholder") &&
			    strcmp(k, "value") && strcmp(k, "hosts") &&
			    strcmp(k, "body"))
				return netd_errf(
					err, errlen,
					"--tls-fd: secrets[%zu]: unknown "
					"key \"%s\"",
					i, k);
		}
		size_t vlen = 0;
		m->name = jstr(s, "name", NULL);
		m->placeholder = jstr(s, "placeholder", NULL);
		m->value = (const uint8_t *)jstr(s, "value", &vlen);
		m->value_len = vlen;
		if (!m->name || !msb_secret_name_ok(m->name))
			return netd_errf(err, errlen,
					 "--tls-fd: secrets[%zu].name: not a "
					 "secret name",
					 i);
		if (!m->placeholder || strncmp(m->placeholder, "$MSB_", 5) ||
		    strlen(m->placeholder) >= MSB_SECRET_PLACEHOLDER_MAX)
			return netd_errf(
				err, errlen,
				"--tls-fd: secrets[%zu].placeholder: not a "
				"placeholder",
				i);
		if (!m->value || vlen > MSB_SECRET_VALUE_MAX)
			return netd_errf(
				err, errlen,
				"--tls-fd: secrets[%zu].value: missing or "
				"longer than %d bytes",
				i, MSB_SECRET_VALUE_MAX);
		json_t *h = json_object_get(s, "hosts");
		size_t nh = json_array_size(h);
		if (!json_is_array(h) || !nh || nh > 256)
			return netd_errf(err, errlen,
					 "--tls-fd: secrets[%zu].hosts: not an "
					 "array of 1 to 256 names",
					 i);
		const char **hosts = calloc(nh, sizeof(*hosts));
		if (!hosts)
			return netd_errf(err, errlen,
					 "--tls-fd: out of memory");
		for (size_t j = 0; j < nh; j++) {
			hosts[j] = json_string_value(json_array_get(h, j));
			if (!hosts[j] || !*hosts[j]) {
				free(hosts);
				return netd_errf(
					err, errlen,
					"--tls-fd: secrets[%zu].hosts[%zu]:"
					" not a name",
					i, j);
			}
		}
		m->hosts = hosts;
		m->n_hosts = nh;
		json_t *b = json_object_get(s, "body");
		if (b && !json_is_boolean(b))
			return netd_errf(
				err, errlen,
				"--tls-fd: secrets[%zu].body: not true or "
				"false",
				i);
		t->body[i] = json_is_true(b);
		t->n_secrets++;
	}
	return 0;
}

int netd_tls_init(struct netd *nd, int fd, char *err, size_t errlen)
{
	struct netd_tls *t = calloc(1, sizeof(*t));
	char *in = malloc(TX_INPUT_MAX + 1);
	size_t len = 0;
	if (!t || !in) {
		free(t);
		free(in);
		return netd_errf(err, errlen, "--tls-fd: out of memory");
	}
	nd->tls = t;
	t->http_rl = nd->event_rl;
	for (;;) {
		ssize_t n = read(fd, in + len, TX_INPUT_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(in);
			return netd_errf(err, errlen, "--tls-fd %d: %s", fd,
					 strerror(errno));
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > TX_INPUT_MAX) {
			free(in);
			return netd_errf(err, errlen,
					 "--tls-fd %d: more than 1 MiB", fd);
		}
	}
	close(fd);
	json_error_t je;
	t->input = json_loadb(in, len, JSON_REJECT_DUPLICATES, &je);
	explicit_bzero(in, len);
	free(in);
	if (!json_is_object(t->input))
		return netd_errf(err, errlen,
				 "--tls-fd: not a JSON object (%s)", je.text);
	const char *k;
	json_t *v;
	json_object_foreach(t->input, k, v)
	{
		if (strcmp(k, "ca_cert") && strcmp(k, "ca_key") &&
		    strcmp(k, "upstream_ca") && strcmp(k, "secrets") &&
		    strcmp(k, "system_ca"))
			return netd_errf(err, errlen,
					 "--tls-fd: unknown key \"%s\"", k);
	}
	size_t kl = 0, cl = 0, ul = 0;
	const char *key = jstr(t->input, "ca_key", &kl);
	const char *cert = jstr(t->input, "ca_cert", &cl);
	const char *upca = jstr(t->input, "upstream_ca", &ul);
	size_t sl = 0;
	const char *sysca = jstr(t->input, "system_ca", &sl);
	if (!key || !cert)
		return netd_errf(err, errlen,
				 "--tls-fd: ca_cert and ca_key are required");
	char why[256];
	if (msb_ca_load_pem(&t->ca, key, kl, cert, cl, why, sizeof(why)) < 0)
		return netd_errf(err, errlen, "--tls-fd: %s", why);
	t->leaves = msb_ca_cache_new(t->ca, TX_LEAVES);
	t->up = SSL_CTX_new(TLS_client_method());
	t->guest = SSL_CTX_new(TLS_server_method());
	if (!t->leaves || !t->up || !t->guest)
		return netd_errf(err, errlen, "--tls-fd: out of memory");
	if (load_secrets(t, json_object_get(t->input, "secrets"), err, errlen) <
	    0)
		return -1;
	/* the upstream leg: the host's trust store (the supervisor's copy
	 * of its bundle, system_ca; else read now, before the system call
	 * filter) and upstream_ca */
	SSL_CTX_set_min_proto_version(t->up, TLS1_2_VERSION);
	/* a server the guest chose cannot make netd redo handshakes */
	SSL_CTX_set_options(t->up, SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_verify(t->up, SSL_VERIFY_PEER, NULL);
	X509_STORE *st = SSL_CTX_get_cert_store(t->up);
	const char *deffile = getenv(X509_get_default_cert_file_env());
	if (!deffile)
		deffile = X509_get_default_cert_file();
	if (sysca) {
		if (add_pem_certs(st, sysca, sl) < 0)
			return netd_errf(
				err, errlen,
				"--tls-fd: system_ca: no PEM certificate");
	} else if (X509_STORE_load_file(st, deffile) != 1) {
		/* the jail shows /usr but not /etc: the certificates the
		 * bundle is made of */
		ERR_clear_error();
		for (size_t i = 0; i < sizeof(cert_dirs) / sizeof(*cert_dirs);
		     i++)
			load_cert_dir(st, cert_dirs[i], 1);
	}
	if (upca && add_pem_certs(st, upca, ul) < 0)
		return netd_errf(err, errlen,
				 "--tls-fd: upstream_ca: no PEM certificate");
	static const unsigned char alpn[] = "\x08http/1.1";
	SSL_CTX_set_alpn_protos(t->up, alpn, sizeof(alpn) - 1);
	SSL_CTX_set_session_cache_mode(t->up, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(t->up, SSL_MODE_ENABLE_PARTIAL_WRITE |
					SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
					SSL_MODE_RELEASE_BUFFERS);
	/* the guest leg */
	SSL_CTX_set_min_proto_version(t->guest, TLS1_2_VERSION);
	SSL_CTX_set_alpn_select_cb(t->guest, alpn_select, NULL);
	SSL_CTX_set_session_cache_mode(t->guest, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(t->guest,
			    SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_num_tickets(t->guest, 0);
	SSL_CTX_set_mode(t->guest, SSL_MODE_ENABLE_PARTIAL_WRITE |
					   SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
					   SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_PrivateKey(t->guest, msb_ca_leaf_key(t->ca)) != 1)
		return netd_errf(err, errlen, "--tls-fd: the leaf key");
	return 0;
}

void netd_tls_log_start(struct netd *nd)
{
	const struct netd_tls_config *c = &nd->cfg.tls;
	char ports[NETD_TLS_PORTS * 7 + 1] = "";
	size_t k = 0;
	for (unsigned i = 0; i < c->n_ports; i++)
		k += (size_t)snprintf(ports + k, sizeof(ports) - k, "%s%u",
				      i ? "," : "", c->ports[i]);
	X509_STORE *st = SSL_CTX_get_cert_store(nd->tls->up);
	netd_log(nd,
		 "tls: intercept %s, ports %s, %u bypassed, %zu secrets, "
		 "%d upstream CAs trusted",
		 c->intercept ? "on" : "secrets' hosts only", ports,
		 c->n_bypass, nd->tls->n_secrets,
		 sk_X509_OBJECT_num(X509_STORE_get0_objects(st)));
}

size_t netd_tls_secrets(const struct netd *nd)
{
	return nd->tls ? nd->tls->n_secrets : 0;
}

int netd_tls_placeholder_in(const struct netd *nd, const uint8_t *p, size_t n,
			    bool nocase)
{
	if (!nd->tls || !nd->tls->n_secrets)
		return -1;
	return msb_secret_find(p, n, nd->tls->secrets, nd->tls->n_secrets,
			       nocase);
}

/* --- events ---------------------------------------------------------- */

static void https_event(struct netd *nd, struct flow *fl, const char *what,
			const char *why)
{
	uint64_t suppressed = 0;
	char host[MSB_TLS_SNI_MAX * 4 + 4], sb[300], r[600];
	struct tflow_tls *tx = fl->tx;
	if (!ratelimit_allow(&nd->event_rl, nd->now, &suppressed))
		return;
	if (suppressed)
		netd_log(nd, "%llu events suppressed (rate limit)",
			 (unsigned long long)suppressed);
	if (tx && tx->sni[0])
		logfile_escape(host, sizeof(host), (const uint8_t *)tx->sni,
			       strlen(tx->sni), true);
	else
		snprintf(host, sizeof(host), "%u.%u.%u.%u", fl->dst[0],
			 fl->dst[1], fl->dst[2], fl->dst[3]);
	logfile_escape(sb, sizeof(sb), (const uint8_t *)nd->cfg.sandbox,
		       strlen(nd->cfg.sandbox), true);
	logfile_escape(r, sizeof(r), (const uint8_t *)why, strlen(why), true);
	netd_log(nd, "%s %s %s:%u sandbox=\"%s\" reason=\"%s\"", what,
		 tx && tx->mode == TX_PLAIN ? "http" : "https", host, fl->dport,
		 sb, r);
}

static void http_event(struct netd *nd, struct flow *fl, struct pend *p)
{
	uint64_t suppressed = 0;
	char sb[300], names[600];
	size_t n = 0;
	if (!ratelimit_allow(&nd->tls->http_rl, nd->now, &suppressed))
		return;
	if (suppressed)
		netd_log(nd, "%llu http events suppressed (rate limit)",
			 (unsigned long long)suppressed);
	names[0] = '\0';
	for (size_t i = 0; i < nd->tls->n_secrets && n < sizeof(names) - 80;
	     i++)
		if (p->used & (1ull << i))
			n += (size_t)snprintf(names + n, sizeof(names) - n,
					      "%s%s", n ? "," : "",
					      nd->tls->secrets[i].name);
	logfile_escape(sb, sizeof(sb), (const uint8_t *)nd->cfg.sandbox,
		       strlen(nd->cfg.sandbox), true);
	netd_log(nd,
		 "http %s %s status=%d bytes=%llu secrets=%s sandbox=\"%s\"",
		 p->method, p->what, p->status, (unsigned long long)p->bytes,
		 n ? names : "-", sb);
	(void)fl;
}

/* --- buffers --------------------------------------------------------- */

static size_t room(const struct buf *b)
{
	return TX_BUF_MAX - b->len;
}

/* @b's memory to @cap bytes (at least its length). */
static int resize(struct buf *b, size_t cap)
{
	uint8_t *q = realloc(b->p, cap);
	if (!q)
		return -1;
	b->p = q;
	b->cap = cap;
	return 0;
}

static int put(struct buf *b, const void *p, size_t n)
{
	if (!n)
		return 0;
	if (n > room(b))
		return -1;
	if (b->len + n > b->cap) {
		size_t c = b->cap ? b->cap * 2 : TX_BUF_MIN;
		while (c < b->len + n)
			c *= 2;
		if (resize(b, c < TX_BUF_MAX ? c : TX_BUF_MAX) < 0)
			return -1;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

static void take(struct buf *b, size_t n)
{
	b->len -= n;
	memmove(b->p, b->p + n, b->len);
	if (!b->len) {
		free(b->p);
		b->p = NULL;
		b->cap = 0;
	} else if (b->cap > TX_BUF_MIN && b->len < b->cap / 4) {
		size_t c = b->len * 2;
		resize(b, c > TX_BUF_MIN ? c : TX_BUF_MIN); /* or stays */
	}
}

static size_t pending(BIO *b)
{
	return b ? BIO_ctrl_pending(b) : 0;
}

/* --- life of a flow's engine --------------------------------------- */

static bool port_intercepted(const struct netd *nd, uint16_t port)
{
	for (unsigned i = 0; i < nd->cfg.tls.n_ports; i++)
		if (nd->cfg.tls.ports[i] == port)
			return true;
	return false;
}

void netd_tls_flow_open(struct netd *nd, struct flow *fl)
{
	if (!nd->tls || fl->dport == NETD_DNS_PORT)
		return;
	if (!port_intercepted(nd, fl->dport) && !nd->tls->n_secrets)
		return;
	fl->tx = calloc(1, sizeof(*fl->tx));
	/* no memory: the flow stays raw */
}

static void free_legs(struct netd *nd, struct tflow_tls *tx)
{
	if (tx->counted) {
		nd->tls->handshakes--;
		tx->counted = false;
	}
	SSL_free(tx->g);
	SSL_free(tx->u);
	tx->g = tx->u = NULL;
	tx->g_in = tx->g_out = tx->u_in = tx->u_out = NULL;
}

void netd_tls_flow_free(struct netd *nd, struct flow *fl)
{
	struct tflow_tls *tx = fl->tx;
	if (!tx)
		return;
	/* a response cut short still gets its event */
	if (tx->pn && !tx->pend[tx->phead].blocked &&
	    tx->pend[tx->phead].status)
		http_event(nd, fl, &tx->pend[tx->phead]);
	free_legs(nd, tx);
	nd->buffered -= tx->held;
	free(tx->pre.p);
	free(tx->req.p);
	free(tx->up.p);
	free(tx->resp.p);
	free(tx->down.p);
	free(tx);
	fl->tx = NULL;
}

bool netd_tls_expired(struct netd *nd, struct flow *fl)
{
	struct tflow_tls *tx = fl->tx;
	if (!tx || !tx->counted || nd->now < tx->hs_deadline)
		return false;
	nd->st.timeouts++;
	https_event(nd, fl, "refuse",
		    tx->u_done ? "the guest's TLS handshake did not complete "
				 "in time (timeouts.handshake)"
			       : "the server's TLS handshake did not complete "
				 "in time (timeouts.handshake)");
	return true;
}

bool netd_tls_active(const struct flow *fl)
{
	return fl->tx && fl->tx->mode != TX_RAW;
}

/* --- the guest's wire ----------------------------------------------- */

/* Guest wire bytes: those taken before a tunnel's sniff, then lwIP's. */
static size_t wire_peek(struct flow *fl, uint8_t *out, size_t cap)
{
	struct tflow_tls *tx = fl->tx;
	size_t n = tx->pre.len < cap ? tx->pre.len : cap;
	if (n)
		memcpy(out, tx->pre.p, n);
	return n + tflow_peek(fl, out + n, cap - n);
}

static void wire_take(struct netd *nd, struct flow *fl, size_t n)
{
	struct tflow_tls *tx = fl->tx;
	size_t k = tx->pre.len < n ? tx->pre.len : n;
	if (k)
		take(&tx->pre, k);
	if (n > k)
		tflow_consume(nd, fl, n - k);
}

/* A TLS alert to the guest, before any handshake of ours: a raw record. */
static void send_alert(struct netd *nd, struct flow *fl, uint8_t desc)
{
	uint8_t rec[7] = {21, 3, 3, 0, 2, 2, desc};
	tflow_to_guest(nd, fl, rec, sizeof(rec));
}

/* Refuse the flow: an alert to the guest (for a TLS one), an event, and
 * the connection closed both ways. */
static void deny(struct netd *nd, struct flow *fl, uint8_t alert,
		 const char *why)
{
	struct tflow_tls *tx = fl->tx;
	nd->st.denied++;
	https_event(nd, fl, "deny", why);
	if (alert)
		send_alert(nd, fl, alert);
	tx->fatal = true;
	tx->closing = true;
}

static bool bypassed(const struct netd *nd, const char *name)
{
	size_t n = strlen(name);
	for (unsigned i = 0; i < nd->cfg.tls.n_bypass; i++) {
		const char *b = nd->cfg.tls.bypass[i];
		if (b[0] == '*' && b[1] == '.') {
			size_t k = strlen(b + 1); /* ".suffix" */
			if (n > k && !strcmp(name + n - k, b + 1))
				return true;
		} else if (!strcmp(name, b)) {
			return true;
		}
	}
	return false;
}

static bool secret_host(const struct netd *nd, const char *name)
{
	for (size_t i = 0; i < nd->tls->n_secrets; i++)
		if (msb_secret_host_match(&nd->tls->secrets[i], name))
			return true;
	return false;
}

/* The pair of legs for @tx->sni; the upstream's handshake starts. */
static int start_legs(struct netd *nd, struct flow *fl, bool ip_only)
{
	struct tflow_tls *tx = fl->tx;
	struct netd_tls *t = nd->tls;
	char why[256];
	X509 *leaf = NULL;
	if (msb_ca_cache_get(&leaf, t->leaves, tx->sni, time(NULL), why,
			     sizeof(why)) < 0) {
		deny(nd, fl, ALERT_HANDSHAKE_FAILURE, why);
		return -1;
	}
	tx->u = SSL_new(t->up);
	tx->g = SSL_new(t->guest);
	tx->u_in = BIO_new(BIO_s_mem());
	tx->u_out = BIO_new(BIO_s_mem());
	tx->g_in = BIO_new(BIO_s_mem());
	tx->g_out = BIO_new(BIO_s_mem());
	if (!tx->u || !tx->g || !tx->u_in || !tx->u_out || !tx->g_in ||
	    !tx->g_out) {
		BIO_free(tx->u_in);
		BIO_free(tx->u_out);
		BIO_free(tx->g_in);
		BIO_free(tx->g_out);
		X509_free(leaf);
		tx->u_in = tx->u_out = tx->g_in = tx->g_out = NULL;
		return -1;
	}
	BIO_set_mem_eof_return(tx->u_in, -1);
	BIO_set_mem_eof_return(tx->g_in, -1);
	SSL_set_bio(tx->u, tx->u_in, tx->u_out);
	SSL_set_bio(tx->g, tx->g_in, tx->g_out);
	SSL_set_connect_state(tx->u);
	SSL_set_accept_state(tx->g);
	int rc = SSL_use_certificate(tx->g, leaf);
	X509_free(leaf);
	if (rc != 1)
		return -1;
	X509_VERIFY_PARAM *vp = SSL_get0_param(tx->u);
	if (ip_only) {
		X509_VERIFY_PARAM_set1_ip(vp, fl->dst, 4);
	} else {
		SSL_set_tlsext_host_name(tx->u, tx->sni);
		X509_VERIFY_PARAM_set_hostflags(
			vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		X509_VERIFY_PARAM_set1_host(vp, tx->sni, 0);
	}
	ERR_clear_error();
	t->handshakes++;
	tx->counted = true;
	tx->hs_deadline = nd->now + (uint64_t)nd->cfg.to.handshake * 1000000;
	tx->mode = TX_TLS;
	nd->st.tls_flows++;
	return 0;
}

/* Back to raw bytes inside the engine (a tunnel's bypassed TLS). */
static void engine_raw(struct flow *fl)
{
	struct tflow_tls *tx = fl->tx;
	tx->mode = TX_PLAIN;
	tx->rq = RQ_RAW;
	tx->rs = RS_RAW;
}

/* Classify the first bytes. Return: -1 fatal, 0 wait, 1 decided. */
static int sniff(struct netd *nd, struct flow *fl)
{
	struct tflow_tls *tx = fl->tx;
	struct msb_tls_hello h;
	uint8_t *b = tmp;
	if (tx->down.len)
		return 0; /* the tunnel's 2xx first */
	size_t n = wire_peek(fl, b, MSB_TLS_HELLO_MAX + 32 * 5 + 64);
	if (!n) {
		if (fl->guest_fin)
			goto raw;
		return 0;
	}
	enum msb_tls_hello_status st = msb_tls_hello_parse(&h, b, n);
	if (st == MSB_TLS_HELLO_NEED_MORE) {
		if (fl->guest_fin)
			goto raw;
		if (fl->qn >= NETD_TCP_QUEUE) {
			deny(nd, fl, 0, "a ClientHello in too many segments");
			return -1;
		}
		return 0;
	}
	if (st == MSB_TLS_HELLO_BAD) {
		deny(nd, fl, ALERT_HANDSHAKE_FAILURE, h.why);
		return -1;
	}
	if (st == MSB_TLS_HELLO_NOT_TLS) {
		if (!tx->tunnel && nd->tls->n_secrets) {
			struct msb_http1_req *r = &req_s;
			if (msb_http1_parse(r, b, n, NULL) != MSB_HTTP1_BAD) {
				tx->mode = TX_PLAIN;
				return 1;
			}
		}
		goto raw;
	}
	/* a ClientHello */
	if (h.has_sni &&
	    netd_tls_placeholder_in(nd, h.sni_raw, h.sni_raw_len, true) >= 0) {
		snprintf(tx->sni, sizeof(tx->sni), "%s",
			 h.sni_valid ? h.sni : "?");
		deny(nd, fl, ALERT_ACCESS_DENIED,
		     "a secret's placeholder in the TLS server name");
		return -1;
	}
	bool ip_only = !h.has_sni || !h.sni_valid;
	if (h.has_sni && !h.sni_valid) {
		/* an IP literal would be refused by clients; anything else
		 * is not a name we can mint for */
		char esc[MSB_TLS_SNI_MAX * 4 + 1];
		msb_escape(esc, sizeof(esc), h.sni_raw, h.sni_raw_len);
		snprintf(tx->sni, sizeof(tx->sni), "%.200s", esc);
		deny(nd, fl, ALERT_ACCESS_DENIED,
		     "the TLS server name is not a DNS name");
		return -1;
	}
	if (!ip_only && msb_net_policy_name_blocked(nd->cfg.policy, h.sni)) {
		snprintf(tx->sni, sizeof(tx->sni), "%s", h.sni);
		deny(nd, fl, ALERT_ACCESS_DENIED,
		     "blocked domain (the TLS server name)");
		return -1;
	}
	if (ip_only)
		snprintf(tx->sni, sizeof(tx->sni), "%u.%u.%u.%u", fl->dst[0],
			 fl->dst[1], fl->dst[2], fl->dst[3]);
	else
		snprintf(tx->sni, sizeof(tx->sni), "%s", h.sni);
	bool want = tx->tunnel || port_intercepted(nd, fl->dport);
	if (!nd->cfg.tls.intercept && !secret_host(nd, tx->sni))
		want = false;
	if (!want || bypassed(nd, tx->sni))
		goto raw;
	if (nd->tls->handshakes >= TX_HANDSHAKES_MAX) {
		nd->st.refused_cap++;
		https_event(nd, fl, "refuse",
			    "cap of TLS handshakes in progress reached");
		send_alert(nd, fl, ALERT_HANDSHAKE_FAILURE);
		tx->fatal = true;
		return -1;
	}
	if (start_legs(nd, fl, ip_only) < 0) {
		tx->fatal = true;
		return -1;
	}
	return 1;
raw:
	if (tx->tunnel)
		engine_raw(fl);
	else
		tx->mode = TX_RAW;
	return 1;
}

/* --- requests ----------------------------------------------------------*/

/* The authority and path of a request, without the query, for events. */
static void describe(char *out, size_t cap, const struct tflow_tls *tx,
		     const struct msb_http1_req *r, const uint8_t *b)
{
	char host[100] = "", path[150];
	const uint8_t *t = b + r->target.off;
	size_t tl = r->target.len, q = tl;
	for (size_t i = 0; i < tl; i++)
		if (t[i] == '?') {
			q = i;
			break;
		}
	if (r->host >= 0) {
		const struct msb_http1_span *v = &r->headers[r->host].value;
		logfile_escape(host, sizeof(host), b + v->off,
			       v->len > 100 ? 100 : v->len, true);
	} else if (tx->sni[0]) {
		logfile_escape(host, sizeof(host), (const uint8_t *)tx->sni,
			       strlen(tx->sni), true);
	}
	logfile_escape(path, sizeof(path), t, q > 120 ? 120 : q, true);
	/* origin form: host and path; absolute form and CONNECT's
	 * authority: the target as it is */
	snprintf(out, cap, "%s%s%s", tl && t[0] == '/' ? host : "", path,
		 q < tl ? "?..." : "");
}

static bool dest_resolved(struct netd *nd, struct flow *fl)
{
	struct tflow_tls *tx = fl->tx;
	if (tx->tunnel)
		return !strcasecmp(tx->tunnel_host, tx->sni);
	const char *names[MSB_PINS_PER_ADDR];
	struct msb_net_addr a = {.family = 4};
	memcpy(a.a, fl->dst, 4);
	size_t n = msb_pins_names(names, MSB_PINS_PER_ADDR, nd->pins, &a,
				  nd->now / 1000000);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], tx->sni))
			return true;
	return false;
}

static struct pend *pend_push(struct tflow_tls *tx)
{
	struct pend *p = &tx->pend[(tx->phead + tx->pn) % TX_PEND_MAX];
	memset(p, 0, sizeof(*p));
	tx->pn++;
	return p;
}

static void block(struct netd *nd, struct flow *fl, const char *why)
{
	struct tflow_tls *tx = fl->tx;
	struct pend *p = pend_push(tx);
	p->blocked = true;
	snprintf(tx->why, sizeof(tx->why), "%s", why);
	tx->rq = RQ_DONE;
	nd->st.http_blocked++;
	nd->st.denied++;
	https_event(nd, fl, "deny", why);
}

/* The host of a CONNECT's authority "host:port", lowercased. */
static void connect_host(char *out, size_t cap, const uint8_t *t, size_t n)
{
	size_t k = 0;
	if (n && t[0] == '[') { /* [v6]:port */
		out[0] = '\0';
		return;
	}
	for (; k < n && t[k] != ':' && k + 1 < cap; k++)
		out[k] = (char)(t[k] >= 'A' && t[k] <= 'Z' ? t[k] + 32 : t[k]);
	out[k] = '\0';
}

/*
 * The secrets of @r's body that may be substituted: those that opted in
 * ("body": true), for a request through intercepted TLS whose server
 * name is one of their hosts, whose Host is that name, to an address
 * resolved for it (the rules of msb_http1_substitute() for heads).
 */
static uint64_t body_allowed(struct netd *nd, struct flow *fl,
			     const struct msb_http1_req *r, const uint8_t *b,
			     bool resolved)
{
	struct tflow_tls *tx = fl->tx;
	uint64_t m = 0;
	if (tx->mode != TX_TLS || !resolved || r->host < 0 || r->is_connect ||
	    r->upgrade)
		return 0;
	if (!(r->body == MSB_HTTP1_BODY_LENGTH && r->content_length) &&
	    r->body != MSB_HTTP1_BODY_CHUNKED)
		return 0;
	const struct msb_http1_span *v = &r->headers[r->host].value;
	const uint8_t *h = b + v->off;
	size_t n = v->len;
	for (size_t i = 0; i < n; i++)
		if (h[i] == ':') {
			n = i;
			break;
		}
	if (n != strlen(tx->sni) || strncasecmp((const char *)h, tx->sni, n))
		return 0;
	for (size_t i = 0; i < nd->tls->n_secrets; i++)
		if (nd->tls->body[i] &&
		    msb_secret_host_match(&nd->tls->secrets[i], tx->sni))
			m |= 1ull << i;
	return m;
}

/*
 * Secrets into the body of @r, which follows its head in tx->req: the
 * whole body is needed (at most what the buffer holds while reading
 * goes on). *@head / *@hl: the head to send (the rewritten one, or the
 * request's); on 1 they become the reframed head with the new body
 * after it, *@raw the bytes of the body as sent, and *@used gains the
 * body's secrets.
 * Return: 1 ready, 0 wait for more, 2 send the body untouched (none in
 * it, or too long to hold), -1 block (@why).
 */
static int body_take(struct netd *nd, struct flow *fl,
		     const struct msb_http1_req *r, const uint8_t **head,
		     size_t *hl, uint64_t *used, size_t *raw, uint64_t allowed,
		     char *why, size_t whylen)
{
	struct tflow_tls *tx = fl->tx;
	const uint8_t *b = tx->req.p + r->head_len, *in = b;
	size_t have = tx->req.len - r->head_len, blen;
	size_t limit = TX_BUF_MAX - 17 * 1024 - r->head_len;
	if (r->head_len >= TX_BUF_MAX - 17 * 1024)
		return 2;
	if (r->body == MSB_HTTP1_BODY_LENGTH) {
		if (r->content_length > limit)
			return 2;
		if (have < r->content_length)
			return tx->g_eof ? 2 : 0;
		*raw = blen = (size_t)r->content_length;
	} else {
		struct msb_http1_chunked ch = {0};
		size_t u = 0, olen = 0;
		enum msb_http1_status s = msb_http1_chunked_decode(
			&ch, b, have, &u, bodyin, sizeof(bodyin), &olen);
		if (s == MSB_HTTP1_BAD) {
			snprintf(why, whylen, "a malformed chunked body");
			return -1;
		}
		if (s == MSB_HTTP1_NEED_MORE)
			return have >= limit || tx->g_eof ? 2 : 0;
		*raw = u;
		blen = olen;
		in = bodyin;
	}
	uint64_t bused = 0;
	size_t olen = 0;
	enum msb_http1_verdict v = msb_http1_body_substitute(
		bodyout, sizeof(bodyout), &olen, &bused, why, whylen, in, blen,
		nd->tls->secrets, nd->tls->n_secrets, allowed);
	explicit_bzero(bodyin, sizeof(bodyin) < blen ? sizeof(bodyin) : blen);
	if (v == MSB_HTTP1_BLOCK)
		return -1;
	if (v == MSB_HTTP1_PASS)
		return 2;
	size_t nl = 0;
	if (msb_http1_parse(&req2, *head, *hl, NULL) != MSB_HTTP1_OK ||
	    msb_http1_reframe(joined, sizeof(joined), &nl, &req2, *head, olen) <
		    0 ||
	    nl + olen > sizeof(joined)) {
		explicit_bzero(bodyout, olen);
		snprintf(why, whylen,
			 "a body that cannot be reframed after substitution");
		return -1;
	}
	memcpy(joined + nl, bodyout, olen);
	explicit_bzero(bodyout, olen);
	*head = joined;
	*hl = nl + olen;
	*used |= bused;
	return 1;
}

/* Judge and forward the guest's requests. Return: true on progress. */
static bool requests(struct netd *nd, struct flow *fl)
{
	struct tflow_tls *tx = fl->tx;
	bool prog = false;
	while (tx->req.len && !tx->closing) {
		size_t n;
		if (tx->rq == RQ_DONE) {
			take(&tx->req, tx->req.len); /* after a 403 */
			return true;
		}
		if (tx->rq == RQ_WAIT)
			break;
		if (tx->rq == RQ_RAW) {
			n = tx->req.len < room(&tx->up) ? tx->req.len
							: room(&tx->up);
			if (!n || put(&tx->up, tx->req.p, n) < 0)
				break;
			take(&tx->req, n);
			prog = true;
			continue;
		}
		if (tx->rq == RQ_LEN) {
			n = tx->req.len;
			if (n > tx->rq_left)
				n = (size_t)tx->rq_left;
			if (n > room(&tx->up))
				n = room(&tx->up);
			if (!n || put(&tx->up, tx->req.p, n) < 0)
				break;
			take(&tx->req, n);
			tx->rq_left -= n;
			if (!tx->rq_left)
				tx->rq = RQ_HEAD;
			prog = true;
			continue;
		}
		if (tx->rq == RQ_CHUNKED) {
			size_t used = 0;
			n = tx->req.len < room(&tx->up) ? tx->req.len
							: room(&tx->up);
			if (!n)
				break;
			enum msb_http1_status s = msb_http1_chunked_feed(
				&tx->rq_ch, tx->req.p, n, &used);
			if (s == MSB_HTTP1_BAD) {
				block(nd, fl, "a malformed chunked body");
				continue;
			}
			put(&tx->up, tx->req.p, used);
			take(&tx->req, used);
			if (s == MSB_HTTP1_OK)
				tx->rq = RQ_HEAD;
			prog = true;
			continue;
		}
		/* RQ_HEAD */
		if (tx->pn >= TX_PEND_MAX)
			break;
		struct msb_http1_req *r = &req_s;
		enum msb_http1_status s = msb_http1_parse(
			r, tx->req.p, tx->req.len, &tx->rq_scan);
		if (s == MSB_HTTP1_NEED_MORE) {
			if (tx->req.len >= MSB_HTTP1_HEAD_MAX)
				block(nd, fl, "a request head too long");
			else if (tx->g_eof)
				take(&tx->req, tx->req.len);
			break;
		}
		if (s == MSB_HTTP1_BAD) {
			if (tx->mode == TX_PLAIN && !tx->nreq &&
			    netd_tls_placeholder_in(nd, tx->req.p, tx->req.len,
						    false) < 0) {
				tx->rq = RQ_RAW; /* not HTTP after all */
				tx->rs = RS_RAW;
				continue;
			}
			char why[200];
			snprintf(why, sizeof(why), "a malformed request: %s",
				 r->why);
			block(nd, fl, why);
			continue;
		}
		struct msb_http1_ctx ctx = {
			.sni = tx->mode == TX_TLS ? tx->sni : NULL,
		};
		if (tx->mode == TX_TLS)
			ctx.dest_resolved = dest_resolved(nd, fl);
		size_t out_len = 0;
		uint64_t used = 0;
		char why[300];
		enum msb_http1_verdict v = MSB_HTTP1_PASS;
		if (nd->tls->n_secrets)
			v = msb_http1_substitute(
				headbuf, sizeof(headbuf), &out_len, &used, why,
				sizeof(why), r, tx->req.p, nd->tls->secrets,
				nd->tls->n_secrets, &ctx);
		if (v == MSB_HTTP1_BLOCK) {
			block(nd, fl, why);
			continue;
		}
		const uint8_t *head =
			v == MSB_HTTP1_REWRITE ? headbuf : tx->req.p;
		size_t hl = v == MSB_HTTP1_REWRITE ? out_len : r->head_len;
		size_t body_raw = 0; /* body bytes sent with the head */
		uint64_t allowed =
			body_allowed(nd, fl, r, tx->req.p, ctx.dest_resolved);
		if (allowed) {
			int b = body_take(nd, fl, r, &head, &hl, &used,
					  &body_raw, allowed, why, sizeof(why));
			if (b == 0) {
				if (out_len)
					explicit_bzero(headbuf, out_len);
				/* a client waiting for 100 Continue before
				 * its body: netd holds the head, so it
				 * answers (when no answer is on its way) */
				if (r->expect_continue && !tx->continued &&
				    !tx->pn && tx->rs == RS_HEAD &&
				    !tx->resp.len) {
					static const char c100[] =
						"HTTP/1.1 100 Continue\r\n\r\n";
					put(&tx->down, c100, sizeof(c100) - 1);
					tx->continued = true;
					prog = true;
				}
				break;
			}
			if (b < 0) {
				block(nd, fl, why);
				continue;
			}
			if (b == 2)
				body_raw = 0;
		}
		if (hl > room(&tx->up)) {
			if (hl > TX_BUF_MAX)
				block(nd, fl, "a rewritten head too long");
			break;
		}
		struct pend *p = pend_push(tx);
		size_t ml = r->method.len < MSB_HTTP1_METHOD_MAX
				    ? r->method.len
				    : MSB_HTTP1_METHOD_MAX;
		memcpy(p->method, tx->req.p + r->method.off, ml);
		p->method[ml] = '\0';
		describe(p->what, sizeof(p->what), tx, r, tx->req.p);
		p->used = used;
		p->tunnel = r->is_connect || r->upgrade;
		if (r->is_connect)
			connect_host(tx->tunnel_host, sizeof(tx->tunnel_host),
				     tx->req.p + r->target.off, r->target.len);
		put(&tx->up, head, hl);
		explicit_bzero(headbuf, out_len);
		if (head == joined)
			explicit_bzero(joined, hl);
		nd->st.http_requests++;
		if (used)
			nd->st.secrets_substituted++;
		tx->nreq++;
		enum msb_http1_body body = r->body;
		uint64_t cl = r->content_length;
		take(&tx->req, r->head_len + body_raw);
		tx->continued = false;
		tx->rq_scan = 0;
		prog = true;
		if (body_raw) {
			/* sent whole with its head */
		} else if (p->tunnel) {
			tx->rq = RQ_WAIT; /* its answer decides */
		} else if (body == MSB_HTTP1_BODY_LENGTH && cl) {
			tx->rq = RQ_LEN;
			tx->rq_left = cl;
		} else if (body == MSB_HTTP1_BODY_CHUNKED) {
			tx->rq = RQ_CHUNKED;
			memset(&tx->rq_ch, 0, sizeof(tx->rq_ch));
		}
	}
	return prog;
}

/* --- responses -------------------------------------------------------*/

static void pend_pop(struct tflow_tls *tx)
{
	tx->phead = (tx->phead + 1) % TX_PEND_MAX;
	tx->pn--;
}

static void response_done(struct netd *nd, struct flow *fl)
{
	struct tflow_tls *tx = fl->tx;
	if (tx->pn) {
		http_event(nd, fl, &tx->pend[tx->phead]);
		pend_pop(tx);
	}
	tx->rs = RS_HEAD;
}

/* The 403 of a blocked request, after the answers before it. */
static bool answer_blocked(struct flow *fl)
{
	struct tflow_tls *tx = fl->tx;
	char body[300], head[600];
	int bl = snprintf(body, sizeof(body), "msb: blocked: %s\n", tx->why);
	if (bl < 0 || (size_t)bl >= sizeof(body))
		bl = (int)strlen(body);
	int hl = snprintf(head, sizeof(head),
			  "HTTP/1.1 403 Forbidden\r\n"
			  "Content-Type: text/plain\r\n"
			  "Content-Length: %d\r\n"
			  "Connection: close\r\n\r\n",
			  bl);
	if (room(&tx->down) < (size_t)(hl + bl))
		return false;
	put(&tx->down, head, (size_t)hl);
	put(&tx->down, body, (size_t)bl);
	pend_pop(tx);
	tx->closing = true;
	tx->pn = 0;
	return true;
}

static bool responses(struct netd *nd, struct flow *fl)
{
	struct tflow_tls *tx = fl->tx;
	bool prog = false;
	for (;;) {
		size_t n;
		if (tx->rs == RS_HEAD && tx->pn &&
		    tx->pend[tx->phead].blocked) {
			if (answer_blocked(fl))
				prog = true;
			return prog;
		}
		if (!tx->resp.len)
			break;
		if (tx->closing) {
			take(&tx->resp, tx->resp.len);
			return true;
		}
		if (tx->rs == RS_RAW || tx->rs == RS_CLOSE) {
			n = tx->resp.len < room(&tx->down) ? tx->resp.len
							   : room(&tx->down);
			if (!n || put(&tx->down, tx->resp.p, n) < 0)
				break;
			if (tx->pn)
				tx->pend[tx->phead].bytes += n;
			take(&tx->resp, n);
			prog = true;
			continue;
		}
		if (tx->rs == RS_LEN) {
			n = tx->resp.len;
			if (n > tx->rs_left)
				n = (size_t)tx->rs_left;
			if (n > room(&tx->down))
				n = room(&tx->down);
			if (!n || put(&tx->down, tx->resp.p, n) < 0)
				break;
			take(&tx->resp, n);
			tx->rs_left -= n;
			if (tx->pn)
				tx->pend[tx->phead].bytes += n;
			if (!tx->rs_left)
				response_done(nd, fl);
			prog = true;
			continue;
		}
		if (tx->rs == RS_CHUNKED) {
			size_t used = 0;
			n = tx->resp.len < room(&tx->down) ? tx->resp.len
							   : room(&tx->down);
			if (!n)
				break;
			enum msb_http1_status s = msb_http1_chunked_feed(
				&tx->rs_ch, tx->resp.p, n, &used);
			if (s == MSB_HTTP1_BAD) {
				tx->rs = RS_RAW; /* its business */
				tx->rq = RQ_DONE;
				continue;
			}
			put(&tx->down, tx->resp.p, used);
			take(&tx->resp, used);
			if (tx->pn)
				tx->pend[tx->phead].bytes += used;
			if (s == MSB_HTTP1_OK)
				response_done(nd, fl);
			prog = true;
			continue;
		}
		/* RS_HEAD */
		if (!tx->pn) {
			/* unasked bytes: the server's business, but no more
			 * requests are read in step with it */
			tx->rs = RS_RAW;
			tx->rq = tx->rq == RQ_WAIT ? RQ_RAW : tx->rq;
			continue;
		}
		struct pend *p = &tx->pend[tx->phead];
		struct msb_http1_resp rr;
		enum msb_http1_status s = msb_http1_parse_response(
			&rr, tx->resp.p, tx->resp.len, &tx->rs_scan, p->method);
		if (s == MSB_HTTP1_NEED_MORE) {
			if (tx->resp.len >= MSB_HTTP1_HEAD_MAX)
				s = MSB_HTTP1_BAD;
			else
				break;
		}
		if (s == MSB_HTTP1_BAD) {
			/* pass it on untouched; requests no longer follow */
			tx->rs = RS_RAW;
			if (tx->rq != RQ_DONE)
				tx->rq = RQ_RAW;
			continue;
		}
		if (rr.head_len > room(&tx->down))
			break;
		put(&tx->down, tx->resp.p, rr.head_len);
		take(&tx->resp, rr.head_len);
		tx->rs_scan = 0;
		prog = true;
		if (rr.interim)
			continue;
		p->status = rr.status;
		if (rr.tunnel) {
			http_event(nd, fl, p);
			pend_pop(tx);
			if (tx->mode == TX_PLAIN &&
			    !strcasecmp(p->method, "CONNECT")) {
				/* follow the tunnel: its first bytes are
				 * sniffed as a new connection's */
				struct buf t = tx->req;
				tx->req = tx->pre;
				tx->pre = t;
				tx->tunnel = true;
				tx->mode = TX_SNIFF;
				tx->rq = RQ_HEAD;
				tx->rs = RS_HEAD;
				tx->rq_scan = tx->rs_scan = 0;
				return true;
			}
			tx->rs = RS_RAW;
			tx->rq = RQ_RAW;
			continue;
		}
		if (tx->rq == RQ_WAIT)
			tx->rq = RQ_HEAD; /* refused: requests go on */
		if (rr.body == MSB_HTTP1_BODY_LENGTH && rr.content_length) {
			tx->rs = RS_LEN;
			tx->rs_left = rr.content_length;
		} else if (rr.body == MSB_HTTP1_BODY_CHUNKED) {
			tx->rs = RS_CHUNKED;
			memset(&tx->rs_ch, 0, sizeof(tx->rs_ch));
		} else if (rr.body == MSB_HTTP1_BODY_CLOSE) {
			tx->rs = RS_CLOSE;
		} else {
			response_done(nd, fl);
		}
	}
	if (tx->u_eof && !tx->resp.len && tx->rs == RS_CLOSE)
		response_done(nd, fl);
	return prog;
}

/* --- the legs ---------------------------------------------------------*/

static const char *ssl_reason(SSL *s)
{
	static char why[300];
	long vr = SSL_get_verify_result(s);
	unsigned long e = ERR_peek_last_error();
	if (vr != X509_V_OK)
		snprintf(why, sizeof(why),
			 "the server's certificate does not verify: %s",
			 X509_verify_cert_error_string(vr));
	else if (e)
		snprintf(why, sizeof(why), "TLS with the server failed: %s",
			 ERR_reason_error_string(e) ? ERR_reason_error_string(e)
						    : "error");
	else
		snprintf(why, sizeof(why),
			 "TLS with the server failed: the connection ended");
	ERR_clear_error();
	return why;
}

static void handshake_done(struct netd *nd, struct tflow_tls *tx)
{
	if (tx->u_done && tx->g_done && tx->counted) {
		nd->tls->handshakes--;
		tx->counted = false;
	}
}

/* Move bytes through the legs. Return: true on progress. */
static bool legs(struct netd *nd, struct flow *fl)
{
	struct tflow_tls *tx = fl->tx;
	bool prog = false;
	int r;
	/* upstream */
	if (!tx->u_done) {
		r = SSL_do_handshake(tx->u);
		if (r == 1) {
			tx->u_done = true;
			prog = true;
		} else {
			int e = SSL_get_error(tx->u, r);
			if (e != SSL_ERROR_WANT_READ ||
			    (fl->host_eof && !pending(tx->u_in))) {
				deny(nd, fl, ALERT_ACCESS_DENIED,
				     ssl_reason(tx->u));
				return false;
			}
		}
	}
	if (tx->u_done) {
		while (!tx->u_eof && room(&tx->resp) >= 16384 + 1024) {
			r = SSL_read(tx->u, tmp, (int)room(&tx->resp));
			if (r > 0) {
				if (put(&tx->resp, tmp, (size_t)r) < 0) {
					tx->fatal = true; /* no memory */
					return false;
				}
				prog = true;
				continue;
			}
			int e = SSL_get_error(tx->u, r);
			bool at_end = fl->host_eof && !pending(tx->u_in);
			if (e == SSL_ERROR_ZERO_RETURN) {
				tx->u_eof = tx->u_clean = true;
			} else if (e == SSL_ERROR_WANT_READ) {
				tx->u_eof = at_end;
			} else if (at_end) {
				tx->u_eof = true; /* no close_notify */
			} else {
				tx->fatal = true; /* a bad record */
				return false;
			}
			prog |= tx->u_eof;
			ERR_clear_error();
			break;
		}
		while (tx->up.len && pending(tx->u_out) < TX_BIO_MAX) {
			size_t n = tx->up.len > 16384 ? 16384 : tx->up.len;
			r = SSL_write(tx->u, tx->up.p, (int)n);
			if (r <= 0) {
				tx->fatal = true;
				return false;
			}
			take(&tx->up, (size_t)r);
			prog = true;
		}
		if (tx->g_eof && !tx->up.len && !tx->req.len && !tx->u_shut) {
			SSL_shutdown(tx->u);
			tx->u_shut = true;
			prog = true;
		}
	}
	/* guest */
	if (tx->u_done && !tx->g_done) {
		/* the held hello, and what followed, into the guest leg */
		while (pending(tx->g_in) < TX_BIO_MAX) {
			size_t n = wire_peek(fl, tmp, sizeof(tmp));
			if (!n)
				break;
			BIO_write(tx->g_in, tmp, (int)n);
			wire_take(nd, fl, n);
		}
		r = SSL_do_handshake(tx->g);
		if (r == 1) {
			tx->g_done = true;
			handshake_done(nd, tx);
			prog = true;
		} else if (SSL_get_error(tx->g, r) != SSL_ERROR_WANT_READ) {
			unsigned long e = ERR_peek_last_error();
			char why[300];
			snprintf(why, sizeof(why),
				 "TLS with the guest failed: %s",
				 e && ERR_reason_error_string(e)
					 ? ERR_reason_error_string(e)
					 : "error");
			ERR_clear_error();
			https_event(nd, fl, "refuse", why);
			tx->fatal = true;
			tx->closing = true;
			return prog;
		} else if (fl->guest_fin && !fl->qn && !tx->pre.len) {
			tx->fatal = true;
			return prog;
		}
		prog |= pending(tx->g_out) > 0;
	}
	if (tx->g_done) {
		while (pending(tx->g_in) < TX_BIO_MAX) {
			size_t n = wire_peek(fl, tmp, TX_BIO_MAX);
			if (!n)
				break;
			BIO_write(tx->g_in, tmp, (int)n);
			wire_take(nd, fl, n);
			prog = true;
		}
		while (!tx->g_eof && room(&tx->req) >= 16384 + 1024) {
			r = SSL_read(tx->g, tmp, (int)room(&tx->req));
			if (r > 0) {
				if (put(&tx->req, tmp, (size_t)r) < 0) {
					tx->fatal = true; /* no memory */
					return false;
				}
				prog = true;
				continue;
			}
			int e = SSL_get_error(tx->g, r);
			bool at_end = fl->guest_fin && !fl->qn &&
				      !tx->pre.len && !pending(tx->g_in);
			if (e == SSL_ERROR_ZERO_RETURN ||
			    (e == SSL_ERROR_WANT_READ ? at_end : false)) {
				tx->g_eof = true;
			} else if (e != SSL_ERROR_WANT_READ) {
				if (!at_end) {
					tx->fatal = true; /* a bad record */
					return false;
				}
				tx->g_eof = true; /* no close_notify */
			}
			prog |= tx->g_eof;
			ERR_clear_error();
			break;
		}
		while (tx->down.len && pending(tx->g_out) < TX_BIO_MAX) {
			size_t n = tx->down.len > 16384 ? 16384 : tx->down.len;
			r = SSL_write(tx->g, tx->down.p, (int)n);
			if (r <= 0) {
				tx->fatal = true;
				return false;
			}
			take(&tx->down, (size_t)r);
			prog = true;
		}
	}
	return prog;
}

/* Plain mode: the guest's wire is the request stream. */
static bool plain_in(struct netd *nd, struct flow *fl)
{
	struct tflow_tls *tx = fl->tx;
	bool prog = false;
	while (room(&tx->req) && !tx->g_eof) {
		size_t n = wire_peek(fl, tmp, room(&tx->req));
		if (!n)
			break;
		if (put(&tx->req, tmp, n) < 0)
			break;
		wire_take(nd, fl, n);
		prog = true;
	}
	if (fl->guest_fin && !fl->qn && !tx->pre.len && !tx->g_eof) {
		tx->g_eof = true;
		prog = true;
	}
	return prog;
}

/* --- the host socket ------------------------------------------------*/

/* Bytes for the host socket: the upstream leg's, or plain requests. */
static bool sock_out(struct netd *nd, struct flow *fl, bool *blocked)
{
	struct tflow_tls *tx = fl->tx;
	bool prog = false;
	*blocked = false;
	if (fl->fd < 0 || fl->host_shut) {
		/* closed after a 403: nothing more goes */
		if (tx->mode == TX_TLS && pending(tx->u_out))
			BIO_reset(tx->u_out);
		else if (tx->mode != TX_TLS && tx->up.len)
			take(&tx->up, tx->up.len);
		return false;
	}
	for (;;) {
		const char *p;
		size_t n;
		if (tx->mode == TX_TLS) {
			char *mp;
			long k = BIO_get_mem_data(tx->u_out, &mp);
			p = mp;
			n = k > 0 ? (size_t)k : 0;
		} else {
			p = (const char *)tx->up.p;
			n = tx->up.len;
		}
		if (!n)
			break;
		ssize_t w = send(fl->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				*blocked = true;
				break;
			}
			tx->fatal = true;
			return false;
		}
		if (tx->mode == TX_TLS) {
			BIO_read(tx->u_out, tmp, (int)w);
		} else {
			take(&tx->up, (size_t)w);
		}
		fl->last = nd->now;
		prog = true;
	}
	/* the guest is done and everything went: FIN upstream */
	bool drained = tx->mode == TX_TLS
			       ? tx->u_shut && !pending(tx->u_out)
			       : tx->g_eof && !tx->up.len && !tx->req.len;
	if (drained && !fl->host_shut && tx->mode != TX_SNIFF) {
		shutdown(fl->fd, SHUT_WR);
		fl->host_shut = true;
		prog = true;
	}
	return prog;
}

static bool sock_in(struct netd *nd, struct flow *fl)
{
	struct tflow_tls *tx = fl->tx;
	if (fl->fd < 0 || fl->host_eof ||
	    nd->buffered >= nd->cfg.caps.total_buffer)
		return false;
	size_t cap;
	if (tx->mode == TX_TLS)
		cap = pending(tx->u_in) < TX_BIO_MAX
			      ? TX_BIO_MAX - pending(tx->u_in)
			      : 0;
	else
		cap = room(&tx->resp);
	if (cap > sizeof(tmp))
		cap = sizeof(tmp);
	if (!cap)
		return false;
	ssize_t n = recv(fl->fd, tmp, cap, MSG_DONTWAIT);
	if (n > 0) {
		fl->last = nd->now;
		if (tx->mode == TX_TLS)
			BIO_write(tx->u_in, tmp, (int)n);
		else
			put(&tx->resp, tmp, (size_t)n);
		return true;
	}
	if (n == 0) {
		fl->host_eof = true;
		if (tx->mode != TX_TLS)
			tx->u_eof = true;
		return true;
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		tx->fatal = true;
	return false;
}

/* --- to the guest -------------------------------------------------------*/

static bool guest_out(struct netd *nd, struct flow *fl)
{
	struct tflow_tls *tx = fl->tx;
	bool prog = false;
	if (!fl->pcb)
		return false;
	for (;;) {
		const uint8_t *p;
		size_t n;
		if (tx->mode == TX_TLS && tx->g) {
			char *mp;
			long k = BIO_get_mem_data(tx->g_out, &mp);
			p = (const uint8_t *)mp;
			n = k > 0 ? (size_t)k : 0;
		} else {
			p = tx->down.p;
			n = tx->down.len;
		}
		if (!n)
			break;
		size_t w = tflow_to_guest(nd, fl, p, n);
		if (!w)
			break;
		if (tx->mode == TX_TLS && tx->g)
			BIO_read(tx->g_out, tmp, (int)w);
		else
			take(&tx->down, w);
		prog = true;
	}
	return prog;
}

/* Everything for the guest sent: its close_notify and FIN. */
static bool guest_finish(struct netd *nd, struct flow *fl)
{
	struct tflow_tls *tx = fl->tx;
	bool done_in = tx->closing ? (!tx->pn || tx->fatal)
				   : tx->u_eof && !tx->resp.len;
	if (fl->fin_sent || !done_in || tx->down.len)
		return false;
	if (tx->mode == TX_TLS && tx->g && tx->g_done && !tx->g_shut) {
		/* close_notify only for a server's, or our 403: a response
		 * cut short upstream stays visibly cut short */
		if (tx->u_clean || tx->closing)
			SSL_shutdown(tx->g);
		tx->g_shut = true;
		return true;
	}
	if (tx->mode == TX_TLS && tx->g && pending(tx->g_out))
		return false;
	if (tx->closing && fl->fd >= 0 && !fl->host_shut) {
		shutdown(fl->fd, SHUT_RDWR);
		fl->host_shut = true;
	}
	if (tx->closing) {
		fl->host_eof = true;
		fl->guest_fin = true;
	}
	tflow_send_fin(nd, fl);
	return fl->fin_sent;
}

/* --- the loop ----------------------------------------------------------*/

/* The bytes of memory behind the memory BIO @b. */
static size_t bio_cap(BIO *b)
{
	BUF_MEM *m = NULL;
	if (!b || BIO_get_mem_ptr(b, &m) <= 0 || !m)
		return 0;
	return m->max;
}

/* An empty memory BIO keeps the memory it grew to: a new one takes its
 * place (@in: the SSL's read BIO, else its write BIO), so an idle flow
 * holds none. */
static void bio_trim(SSL *s, BIO **b, bool in)
{
	if (!s || !*b || pending(*b) || !bio_cap(*b))
		return;
	BIO *n = BIO_new(BIO_s_mem());
	if (!n)
		return;
	if (in) {
		BIO_set_mem_eof_return(n, -1);
		SSL_set0_rbio(s, n);
	} else {
		SSL_set0_wbio(s, n);
	}
	*b = n;
}

/*
 * What the flow's engine holds, in nd->buffered: the memory of its
 * buffers and BIOs, not only their bytes (a guest holding one byte of a
 * head in each of many flows is charged what that costs). The SSL
 * objects themselves (a few KiB a leg) are a cost per flow, bounded by
 * caps.max_flows like lwIP's.
 */
static void account(struct netd *nd, struct flow *fl)
{
	struct tflow_tls *tx = fl->tx;
	bio_trim(tx->g, &tx->g_in, true);
	bio_trim(tx->g, &tx->g_out, false);
	bio_trim(tx->u, &tx->u_in, true);
	bio_trim(tx->u, &tx->u_out, false);
	size_t h = tx->pre.cap + tx->req.cap + tx->up.cap + tx->resp.cap +
		   tx->down.cap + bio_cap(tx->g_in) + bio_cap(tx->g_out) +
		   bio_cap(tx->u_in) + bio_cap(tx->u_out);
	nd->buffered = nd->buffered - tx->held + h;
	tx->held = h;
}

uint32_t netd_tls_events(struct netd *nd, struct flow *fl)
{
	struct tflow_tls *tx = fl->tx;
	uint32_t ev = 0;
	if (tx->mode == TX_SNIFF && !tx->tunnel)
		return EPOLLIN; /* a server that speaks first: raw */
	if (!fl->host_eof && nd->buffered < nd->cfg.caps.total_buffer) {
		size_t cap =
			tx->mode == TX_TLS
				? TX_BIO_MAX - (pending(tx->u_in) < TX_BIO_MAX
							? pending(tx->u_in)
							: TX_BIO_MAX)
				: room(&tx->resp);
		if (cap)
			ev |= EPOLLIN;
	} else if (!fl->host_eof) {
		nd->budget_blocked = true;
	}
	if (tx->mode == TX_TLS ? pending(tx->u_out) > 0 : tx->up.len > 0)
		ev |= EPOLLOUT;
	return ev;
}

/* Run the engine of @fl until nothing moves. Return: -1 if the flow
 * must be reset, else 0. */
int netd_tls_run(struct netd *nd, struct flow *fl, uint32_t events)
{
	struct tflow_tls *tx = fl->tx;
	if (tx->mode == TX_SNIFF && !tx->tunnel && (events & EPOLLIN)) {
		/* the server spoke first: not TLS nor HTTP from the guest */
		if (!tx->pre.len) {
			tx->mode = TX_RAW;
			return 0;
		}
	}
	if (tx->fatal) {
		/* refused: only what was said to the guest is left */
		return fl->fin_sent ? 0 : -1;
	}
	for (int round = 0; round < 64; round++) {
		bool prog = false, blocked;
		if (tx->mode == TX_SNIFF) {
			int s = sniff(nd, fl);
			if (s < 0 || tx->mode == TX_RAW)
				break;
			if (s == 0) {
				/* a tunnel's 2xx may still be on its way */
				guest_out(nd, fl);
				sock_out(nd, fl, &blocked);
				break;
			}
			prog = true;
		}
		if (tx->mode == TX_PLAIN)
			prog |= plain_in(nd, fl);
		if (tx->mode == TX_TLS)
			prog |= legs(nd, fl);
		if (tx->fatal)
			break;
		if (tx->mode == TX_TLS ? tx->g_done : true)
			prog |= requests(nd, fl);
		if (tx->mode == TX_TLS)
			prog |= legs(nd, fl);
		prog |= sock_out(nd, fl, &blocked);
		prog |= sock_in(nd, fl);
		if (tx->mode == TX_TLS)
			prog |= legs(nd, fl);
		if (tx->fatal)
			break;
		prog |= responses(nd, fl);
		if (tx->mode == TX_TLS)
			prog |= legs(nd, fl);
		prog |= guest_out(nd, fl);
		prog |= guest_finish(nd, fl);
		prog |= guest_out(nd, fl);
		if (tx->fatal || !prog)
			break;
	}
	account(nd, fl);
	if (tx->mode == TX_RAW)
		return 0;
	if (tx->fatal) {
		/* what could be said was given to lwIP (an alert, a 403) */
		guest_out(nd, fl);
		if (fl->pcb && tx->closing && !fl->fin_sent) {
			fl->host_eof = true;
			fl->guest_fin = true;
			if (fl->fd >= 0 && !fl->host_shut) {
				shutdown(fl->fd, SHUT_RDWR);
				fl->host_shut = true;
			}
			tflow_send_fin(nd, fl);
			if (fl->fin_sent)
				return 0;
		}
		return -1;
	}
	return 0;
}
