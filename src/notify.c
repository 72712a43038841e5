/* notify.c -- systemd's notification protocol; see notify.h. */
#include "config.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "notify.h"

/*
 * The shortest ping interval: WATCHDOG_USEC=1 asked for a SIGALRM every
 * microsecond, which is a core spent in the handler and no poll done.  No
 * process that waits on a network meets a watchdog under a second anyway
 * (systemd's WatchdogSec= is in seconds in practice), and 100 ms pings are
 * ten datagrams a second.
 */
#define PING_MIN_USEC	100000ULL
/* The longest: a day.  Larger values only make setitimer(2) refuse. */
#define PING_MAX_USEC	(86400ULL * 1000000)

static int			sock = -1;
static struct sockaddr_un	addr;
static socklen_t		addrlen;
static int			pinging;

static void
on_alarm(int sig)
{
	static const char	ping[] = "WATCHDOG=1";
	int			saved = errno;

	(void)sig;
	if (sock != -1)
		(void)sendto(sock, ping, sizeof ping - 1,
		    MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&addr,
		    addrlen);
	errno = saved;
}

/* $WATCHDOG_USEC, if it is meant for this process; 0 if not. */
static unsigned long long
watchdog_usec(void)
{
	const char		*s = getenv("WATCHDOG_USEC"), *pid;
	char			*end;
	unsigned long long	 v;

	if (s == NULL)
		return 0;
	if ((pid = getenv("WATCHDOG_PID")) != NULL &&
	    strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return 0;
	return v;
}

void
notify_init(void)
{
	const char		*path = getenv("NOTIFY_SOCKET");
	struct sigaction	 sa;
	struct itimerval	 it;
	unsigned long long	 usec;
	size_t			 len;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    (len = strlen(path)) >= sizeof addr.sun_path)
		return;
	memset(&addr, 0, sizeof addr);
	addr.sun_family = AF_UNIX;
	memcpy(addr.sun_path, path, len);
	if (path[0] == '@')
		addr.sun_path[0] = '\0';	/* abstract namespace */
	addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
	    (path[0] == '@' ? 0 : 1));
	/*
	 * Non-blocking: a NOTIFY_SOCKET nobody reads fills up after a few
	 * messages, and a blocking send would then hold the daemon (and its
	 * SIGTERM) for ever.  A message that does not fit is dropped.
	 */
	if ((sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		return;
	if ((usec = watchdog_usec()) == 0)
		return;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	/* Half the interval, as sd_watchdog_enabled(3) advises. */
	usec /= 2;
	if (usec < PING_MIN_USEC)
		usec = PING_MIN_USEC;
	if (usec > PING_MAX_USEC)
		usec = PING_MAX_USEC;
	memset(&it, 0, sizeof it);
	it.it_interval.tv_sec = (time_t)(usec / 1000000);
	it.it_interval.tv_usec = (suseconds_t)(usec % 1000000);
	it.it_value = it.it_interval;
	if (setitimer(ITIMER_REAL, &it, NULL) == 0)
		pinging = 1;
}

void
notify_send(const char *msg)
{
	if (sock != -1)
		(void)sendto(sock, msg, strlen(msg), MSG_NOSIGNAL |
		    MSG_DONTWAIT, (struct sockaddr *)&addr, addrlen);
}

void
notify_status(const char *fmt, ...)
{
	char	buf[512];
	va_list	ap;
	int	n;

	if (sock == -1)
		return;
	n = snprintf(buf, sizeof buf, "STATUS=");
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
	va_end(ap);
	notify_send(buf);
}

void
notify_stop(void)
{
	struct itimerval	it;

	if (pinging) {
		memset(&it, 0, sizeof it);
		(void)setitimer(ITIMER_REAL, &it, NULL);
		pinging = 0;
	}
	if (sock != -1) {
		close(sock);
		sock = -1;
	}
}
