/* tls.c -- the GnuTLS client session under the transport; see tls.h. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "error.h"
#include "tls.h"
#include "xmalloc.h"

#define FP_LEN		32			/* SHA-256 */
#define FP_HEX_SIZE	(FP_LEN * 3)		/* "XX:" each, NUL last */

struct tls {
	gnutls_session_t			 session;
	gnutls_certificate_credentials_t	 cred;
	char					*host;
	int					 certcheck;
	int					 pinned;
	unsigned char				 pin[FP_LEN];
	char					*desc;	/* gnutls_malloc'ed */
};

static int	 load_trust(struct tls *, const char *, struct error *);
static int	 load_options(struct tls *, const struct tls_params *,
		    struct error *);
static int	 new_session(struct tls *, const struct tls_params *,
		    struct error *);
static int	 is_ip_literal(const char *);
static void	 handshake_error(struct tls *, int, struct error *);
static int	 verify_peer(struct tls *, struct error *);
static void	 fingerprint_hex(const unsigned char *, char *);
static char	*dn_string(int (*)(gnutls_x509_crt_t, gnutls_datum_t *,
		    unsigned), gnutls_x509_crt_t);
static void	 io_error(const char *, int, int, struct error *);

struct tls *
tls_new(int fd, const struct tls_params *tp, struct error *err)
{
	struct tls	*tls;
	int		 r;

	/*
	 * A NULL host would silently turn the name check off; callers
	 * always know the name they connected to.
	 */
	if (tp->host == NULL)
		fatalx("tls_new: no host name");

	/*
	 * No gnutls_global_init(): since GnuTLS 3.3 the library
	 * initialises itself when it is loaded.
	 */
	tls = xcalloc(1, sizeof *tls);
	tls->host = xstrdup(tp->host);
	tls->certcheck = tp->certcheck;
	if (tp->fingerprint != NULL) {
		tls->pinned = 1;
		memcpy(tls->pin, tp->fingerprint, FP_LEN);
	}

	if ((r = gnutls_certificate_allocate_credentials(&tls->cred)) < 0) {
		tls->cred = NULL;
		error_set(err, EX_SOFTWARE, "cannot set up TLS: %s",
		    gnutls_strerror(r));
		goto fail;
	}
	/* Only the CA check needs trust anchors; a pin replaces it. */
	if (tls->certcheck && !tls->pinned &&
	    load_trust(tls, tp->trust_file, err) == -1)
		goto fail;
	if (load_options(tls, tp, err) == -1)
		goto fail;

	if (new_session(tls, tp, err) == -1)
		goto fail;
	gnutls_transport_set_int(tls->session, fd);
	return tls;

fail:
	tls_free(tls);
	return NULL;
}

/* The GnuTLS session: priorities, credentials, SNI. */
static int
new_session(struct tls *tls, const struct tls_params *tp, struct error *err)
{
	int	r;

	/*
	 * GNUTLS_NO_SIGNAL makes GnuTLS send with MSG_NOSIGNAL; without it
	 * GnuTLS 3.7 sends with plain flags, and a server that closed the
	 * connection would kill popfetch with SIGPIPE.
	 */
	if ((r = gnutls_init(&tls->session, GNUTLS_CLIENT | GNUTLS_NONBLOCK |
	    GNUTLS_NO_SIGNAL)) < 0) {
		tls->session = NULL;
		error_set(err, EX_SOFTWARE, "cannot set up TLS: %s",
		    gnutls_strerror(r));
		return -1;
	}
	/* The system's policy decides versions and ciphers, unless told. */
	if (tp->priorities != NULL) {
		const char	*where = NULL;

		if ((r = gnutls_priority_set_direct(tls->session,
		    tp->priorities, &where)) < 0) {
			error_set(err, EX_CONFIG, "tls_priorities: %s at "
			    "\"%.40s\" (see gnutls_priority_init(3))",
			    gnutls_strerror(r), where != NULL ? where : "");
			return -1;
		}
	} else if ((r = gnutls_set_default_priority(tls->session)) < 0) {
		error_set(err, EX_SOFTWARE, "cannot set up TLS: %s",
		    gnutls_strerror(r));
		return -1;
	}
	if ((r = gnutls_credentials_set(tls->session, GNUTLS_CRD_CERTIFICATE,
	    tls->cred)) < 0) {
		error_set(err, EX_SOFTWARE, "cannot set up TLS: %s",
		    gnutls_strerror(r));
		return -1;
	}
	/* RFC 6066 forbids IP addresses in SNI. */
	if (!is_ip_literal(tls->host) && (r = gnutls_server_name_set(
	    tls->session, GNUTLS_NAME_DNS, tls->host, strlen(tls->host))) < 0) {
		error_set(err, EX_SOFTWARE, "cannot set TLS server name %s: %s",
		    tls->host, gnutls_strerror(r));
		return -1;
	}
	/*
	 * The transport bounds every wait itself; GnuTLS's own overall
	 * handshake timer would only add a second, differently worded limit.
	 */
	gnutls_handshake_set_timeout(tls->session, 0);
	return 0;
}

/* The client certificate and the CRLs; both are the user's files. */
static int
load_options(struct tls *tls, const struct tls_params *tp, struct error *err)
{
	int	r;

	if (tp->cert_file != NULL && (r =
	    gnutls_certificate_set_x509_key_file(tls->cred, tp->cert_file,
	    tp->key_file, GNUTLS_X509_FMT_PEM)) < 0) {
		error_set(err, EX_CONFIG, "tls_cert_file %s / tls_key_file "
		    "%s: %s", tp->cert_file, tp->key_file, gnutls_strerror(r));
		return -1;
	}
	if (tp->crl_file != NULL && (r =
	    gnutls_certificate_set_x509_crl_file(tls->cred, tp->crl_file,
	    GNUTLS_X509_FMT_PEM)) < 0) {
		error_set(err, EX_CONFIG, "tls_crl_file %s: %s", tp->crl_file,
		    gnutls_strerror(r));
		return -1;
	}
	return 0;
}

int
tls_channel_binding(struct tls *tls, unsigned char **data, size_t *len,
    int *exporter, struct error *err)
{
	gnutls_datum_t	cb = { NULL, 0 };
	int		r;

	/* tls-unique is unsafe under TLS 1.3 and undefined there (RFC 9266). */
	*exporter = gnutls_protocol_get_version(tls->session) == GNUTLS_TLS1_3;
	r = gnutls_session_channel_binding(tls->session, *exporter ?
	    GNUTLS_CB_TLS_EXPORTER : GNUTLS_CB_TLS_UNIQUE, &cb);
	if (r < 0) {
		error_set(err, EX_SOFTWARE, "no TLS channel binding data "
		    "(%s)", gnutls_strerror(r));
		return -1;
	}
	*data = xmalloc(cb.size);
	memcpy(*data, cb.data, cb.size);
	*len = cb.size;
	gnutls_free(cb.data);
	return 0;
}

int
tls_handshake(struct tls *tls, struct error *err)
{
	int	r;

	/* Interruptions and warning alerts are not fatal: go on. */
	do {
		r = gnutls_handshake(tls->session);
	} while (r < 0 && r != GNUTLS_E_AGAIN && !gnutls_error_is_fatal(r));
	if (r == GNUTLS_E_AGAIN)
		return TLS_AGAIN;
	if (r < 0) {
		handshake_error(tls, r, err);
		return -1;
	}

	/*
	 * Checked after the handshake but before the caller can send a
	 * byte (the password) over the session.
	 */
	if (verify_peer(tls, err) == -1)
		return -1;
	tls->desc = gnutls_session_get_desc(tls->session);
	return 0;
}

ssize_t
tls_recv(struct tls *tls, void *buf, size_t len, struct error *err)
{
	ssize_t	n;

	for (;;) {
		errno = 0;
		n = gnutls_record_recv(tls->session, buf, len);
		if (n >= 0)
			return n;
		switch (n) {
		case GNUTLS_E_AGAIN:
			return TLS_AGAIN;
		case GNUTLS_E_INTERRUPTED:
		case GNUTLS_E_REHANDSHAKE:
			/* A client may ignore a renegotiation request. */
			continue;
		case GNUTLS_E_PREMATURE_TERMINATION:
			/*
			 * Many servers close without close_notify.  A
			 * truncation attack gains nothing: POP3 ends every
			 * reply itself, and msg.c rejects a cut-off one.
			 */
			return 0;
		case GNUTLS_E_PULL_ERROR:
			io_error("read from", errno, (int)n, err);
			return -1;
		default:
			if (!gnutls_error_is_fatal((int)n))
				continue;
			error_set(err, EX_PROTOCOL,
			    "TLS error while reading from the server: %s",
			    gnutls_strerror((int)n));
			return -1;
		}
	}
}

ssize_t
tls_send(struct tls *tls, const void *buf, size_t len, struct error *err)
{
	ssize_t	n;

	for (;;) {
		errno = 0;
		n = gnutls_record_send(tls->session, buf, len);
		if (n >= 0)
			return n;
		switch (n) {
		case GNUTLS_E_AGAIN:
			return TLS_AGAIN;
		case GNUTLS_E_INTERRUPTED:
			continue;
		case GNUTLS_E_PUSH_ERROR:
			io_error("write to", errno, (int)n, err);
			return -1;
		default:
			error_set(err, EX_PROTOCOL,
			    "TLS error while writing to the server: %s",
			    gnutls_strerror((int)n));
			return -1;
		}
	}
}

short
tls_events(struct tls *tls)
{
	return gnutls_record_get_direction(tls->session) ? POLLOUT : POLLIN;
}

const char *
tls_desc(const struct tls *tls)
{
	return tls->desc;
}

void
tls_free(struct tls *tls)
{
	if (tls == NULL)
		return;
	if (tls->session != NULL)
		gnutls_deinit(tls->session);
	if (tls->cred != NULL)
		gnutls_certificate_free_credentials(tls->cred);
	gnutls_free(tls->desc);
	free(tls->host);
	free(tls);
}

/* Trust anchors: the configured PEM file, or the system's store. */
static int
load_trust(struct tls *tls, const char *file, struct error *err)
{
	const char	*why;
	int		 r, fd;

	if (file == NULL) {
		r = gnutls_certificate_set_x509_system_trust(tls->cred);
		if (r > 0)
			return 0;
		error_set(err, EX_CONFIG, "cannot load the system's trusted "
		    "certificates: %s; set tls_trust_file",
		    r < 0 ? gnutls_strerror(r) : "none found");
		return -1;
	}

	r = gnutls_certificate_set_x509_trust_file(tls->cred, file,
	    GNUTLS_X509_FMT_PEM);
	if (r > 0)
		return 0;
	why = r == 0 ? "no PEM certificate in it" : gnutls_strerror(r);
	/* GnuTLS only says "Error while reading file"; say why. */
	if (r == GNUTLS_E_FILE_ERROR) {
		if ((fd = open(file, O_RDONLY | O_CLOEXEC)) == -1)
			why = strerror(errno);
		else
			close(fd);
	}
	error_set(err, EX_CONFIG, "cannot load tls_trust_file %s: %s", file,
	    why);
	return -1;
}

static int
is_ip_literal(const char *host)
{
	struct in6_addr	a6;
	struct in_addr	a4;

	/* Any ':' also catches scoped IPv6 addresses ("fe80::1%eth0"). */
	return inet_pton(AF_INET, host, &a4) == 1 ||
	    inet_pton(AF_INET6, host, &a6) == 1 || strchr(host, ':') != NULL;
}

static void
handshake_error(struct tls *tls, int r, struct error *err)
{
	switch (r) {
	case GNUTLS_E_PUSH_ERROR:
	case GNUTLS_E_PULL_ERROR:
		io_error("talk to", errno, r, err);
		break;
	case GNUTLS_E_PREMATURE_TERMINATION:
		error_set(err, EX_TEMPFAIL, "connection closed by the server "
		    "during the TLS handshake");
		break;
	case GNUTLS_E_FATAL_ALERT_RECEIVED:
		error_set(err, EX_PROTOCOL, "TLS handshake with %s failed: "
		    "the server sent the alert \"%s\"", tls->host,
		    gnutls_alert_get_name(gnutls_alert_get(tls->session)));
		break;
	case GNUTLS_E_UNEXPECTED_PACKET:
	case GNUTLS_E_UNEXPECTED_PACKET_LENGTH:
	case GNUTLS_E_UNSUPPORTED_VERSION_PACKET:
		/* What GnuTLS makes of a plain "+OK" greeting. */
		error_set(err, EX_PROTOCOL, "TLS handshake with %s failed: %s "
		    "(does this port speak TLS? implicit TLS is usually on "
		    "port 995)", tls->host, gnutls_strerror(r));
		break;
	default:
		error_set(err, EX_PROTOCOL, "TLS handshake with %s failed: %s",
		    tls->host, gnutls_strerror(r));
		break;
	}
}

/*
 * A pin replaces the CA and name checks (and is honoured even with
 * certcheck off, being the stricter wish); otherwise certcheck asks for the
 * chain and the host name (RFC 6125, done by GnuTLS, which also refuses
 * names with embedded NUL bytes).  The messages carry the fingerprint so
 * the user can check it and pin it.
 */
static int
verify_peer(struct tls *tls, struct error *err)
{
	const gnutls_datum_t	*certs;
	gnutls_datum_t		 out;
	unsigned int		 ncerts, status;
	unsigned char		 fp[FP_LEN];
	size_t			 fplen = sizeof fp, i;
	char			 got[FP_HEX_SIZE], want[FP_HEX_SIZE];
	const char		*hint;
	int			 r;

	if (!tls->pinned && !tls->certcheck)
		return 0;

	certs = gnutls_certificate_get_peers(tls->session, &ncerts);
	if (certs == NULL || ncerts == 0) {
		error_set(err, EX_PROTOCOL, "the server %s sent no certificate",
		    tls->host);
		return -1;
	}
	if ((r = gnutls_fingerprint(GNUTLS_DIG_SHA256, &certs[0], fp,
	    &fplen)) < 0 || fplen != sizeof fp) {
		error_set(err, EX_PROTOCOL, "cannot compute the fingerprint of "
		    "the server certificate: %s", gnutls_strerror(r));
		return -1;
	}
	fingerprint_hex(fp, got);

	if (tls->pinned) {
		if (memcmp(fp, tls->pin, sizeof fp) == 0)
			return 0;
		fingerprint_hex(tls->pin, want);
		error_set(err, EX_PROTOCOL, "certificate fingerprint mismatch: "
		    "server presented %s; expected %s", got, want);
		return -1;
	}

	if ((r = gnutls_certificate_verify_peers3(tls->session, tls->host,
	    &status)) < 0) {
		error_set(err, EX_PROTOCOL, "cannot verify the certificate of "
		    "%s: %s", tls->host, gnutls_strerror(r));
		return -1;
	}
	if (status == 0)
		return 0;

	if (gnutls_certificate_verification_status_print(status,
	    GNUTLS_CRT_X509, &out, 0) < 0) {
		out.data = NULL;
		out.size = 0;
	}
	/* One line, without the trailing ". " GnuTLS leaves. */
	for (i = 0; i < out.size; i++)
		if (out.data[i] == '\n' || out.data[i] == '\r')
			out.data[i] = ' ';
	while (out.size > 0 && (out.data[out.size - 1] == ' ' ||
	    out.data[out.size - 1] == '.'))
		out.size--;
	if ((status & ~(unsigned int)(GNUTLS_CERT_INVALID |
	    GNUTLS_CERT_UNEXPECTED_OWNER)) == 0)
		hint = "connect to a name the certificate was issued for";
	else
		hint = "set tls_trust_file";
	error_set(err, EX_PROTOCOL, "cannot verify the certificate of %s: "
	    "%.*s; %s, or check the certificate and pin it with "
	    "tls_fingerprint %s", tls->host, (int)out.size,
	    out.data != NULL ? (const char *)out.data : "", hint, got);
	gnutls_free(out.data);
	return -1;
}

/* "AB:CD:...", the form tls_fingerprint takes. */
static void
fingerprint_hex(const unsigned char *fp, char *out)
{
	static const char	 digits[] = "0123456789ABCDEF";
	size_t			 i;

	for (i = 0; i < FP_LEN; i++) {
		out[i * 3] = digits[fp[i] >> 4];
		out[i * 3 + 1] = digits[fp[i] & 0xf];
		out[i * 3 + 2] = i + 1 < FP_LEN ? ':' : '\0';
	}
}

int
tls_peer_certinfo(struct tls *tls, struct tls_certinfo *ci,
    struct error *err)
{
	const gnutls_datum_t	*certs;
	gnutls_x509_crt_t	 crt = NULL;
	unsigned char		 fp[FP_LEN];
	size_t			 fplen = sizeof fp;
	unsigned int		 ncerts;
	int			 r, rc = -1;

	memset(ci, 0, sizeof *ci);
	certs = gnutls_certificate_get_peers(tls->session, &ncerts);
	if (certs == NULL || ncerts == 0) {
		error_set(err, EX_PROTOCOL, "the server %s sent no certificate",
		    tls->host);
		return -1;
	}
	if ((r = gnutls_x509_crt_init(&crt)) < 0 ||
	    (r = gnutls_x509_crt_import(crt, &certs[0],
	    GNUTLS_X509_FMT_DER)) < 0 ||
	    (r = gnutls_fingerprint(GNUTLS_DIG_SHA256, &certs[0], fp,
	    &fplen)) < 0 || fplen != sizeof fp) {
		error_set(err, EX_PROTOCOL, "cannot decode the certificate of "
		    "%s: %s", tls->host, gnutls_strerror(r));
		goto out;
	}
	fingerprint_hex(fp, ci->sha256);
	ci->subject = dn_string(gnutls_x509_crt_get_dn3, crt);
	ci->issuer = dn_string(gnutls_x509_crt_get_issuer_dn3, crt);
	ci->not_before = gnutls_x509_crt_get_activation_time(crt);
	ci->not_after = gnutls_x509_crt_get_expiration_time(crt);
	rc = 0;
out:
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	return rc;
}

/* A DN as RFC 4514 text, or "(unreadable)": it is only shown. */
static char *
dn_string(int (*get)(gnutls_x509_crt_t, gnutls_datum_t *, unsigned),
    gnutls_x509_crt_t crt)
{
	gnutls_datum_t	 d = { NULL, 0 };
	char		*s;

	if (get(crt, &d, 0) < 0)
		return xstrdup("(unreadable)");
	s = xstrndup((const char *)d.data, d.size);
	gnutls_free(d.data);
	return s;
}

void
tls_certinfo_free(struct tls_certinfo *ci)
{
	free(ci->subject);
	free(ci->issuer);
	ci->subject = ci->issuer = NULL;
}

/*
 * A failure of the socket under GnuTLS.  GnuTLS keeps the errno of the
 * failed send(2)/recv(2); r is the fallback when it did not.
 */
static void
io_error(const char *what, int errnum, int r, struct error *err)
{
	if (errnum == EPIPE)
		error_set(err, EX_TEMPFAIL, "connection closed by the server");
	else if (errnum == ECONNRESET)
		error_set(err, EX_TEMPFAIL, "connection reset by the server");
	else if (errnum != 0)
		error_set(err, EX_TEMPFAIL, "cannot %s the server: %s", what,
		    strerror(errnum));
	else
		error_set(err, EX_TEMPFAIL, "cannot %s the server: %s", what,
		    gnutls_strerror(r));
}
