/* netwatch.c -- network-up and resume events for --daemon; see netwatch.h. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#endif

#include "netwatch.h"

#define QUIET_MS	2000	/* debounce: changes quiet this long */
#define SETTLE_MAX_MS	10000	/* ... but never wait longer than this */
#define SLICE_MS	1000	/* look for a resume this often */
#define RESUME_MS	5000	/* a jump this big was a suspend */

static int	nl = -1;

int
netwatch_open(void)
{
#ifdef __linux__
	struct sockaddr_nl	sa;

	if (nl != -1)
		return 0;
	if ((nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    NETLINK_ROUTE)) == -1)
		return -1;
	memset(&sa, 0, sizeof sa);
	sa.nl_family = AF_NETLINK;
	sa.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
	    RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
	if (bind(nl, (struct sockaddr *)&sa, sizeof sa) == -1) {
		close(nl);
		nl = -1;
		return -1;
	}
	return 0;
#else
	return -1;
#endif
}

void
netwatch_close(void)
{
	if (nl != -1)
		close(nl);
	nl = -1;
}

static long long
clock_ms(clockid_t id)
{
	struct timespec	ts;

	clock_gettime(id, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* How far CLOCK_BOOTTIME is ahead of CLOCK_MONOTONIC: the time slept. */
static long long
slept_ms(void)
{
#ifdef CLOCK_BOOTTIME
	return clock_ms(CLOCK_BOOTTIME) - clock_ms(CLOCK_MONOTONIC);
#else
	return 0;
#endif
}

/* Read what is queued; 1 if any of it says something came up. */
static int
drain(void)
{
#ifdef __linux__
	char			 buf[8192];
	struct nlmsghdr		*h;
	struct ifinfomsg	*ifi;
	ssize_t			 n;
	int			 up = 0;

	while ((n = recv(nl, buf, sizeof buf, 0)) > 0) {
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		    h = NLMSG_NEXT(h, n)) {
			switch (h->nlmsg_type) {
			case RTM_NEWADDR:
			case RTM_NEWROUTE:
				up = 1;
				break;
			case RTM_NEWLINK:
				ifi = NLMSG_DATA(h);
				if (h->nlmsg_len >= NLMSG_LENGTH(sizeof *ifi) &&
				    (ifi->ifi_flags & IFF_UP))
					up = 1;
				break;
			}
		}
	}
	return up;
#else
	return 0;
#endif
}

enum net_event
netwatch_wait(long secs, volatile sig_atomic_t *stop,
    volatile sig_atomic_t *wake)
{
	struct pollfd	pfd;
	long long	now, end, first = 0, last = 0, slept;
	int		timeout, r;

	end = clock_ms(CLOCK_MONOTONIC) + secs * 1000;
	slept = slept_ms();
	for (;;) {
		if (*stop || *wake)
			return NET_SIGNAL;
		now = clock_ms(CLOCK_MONOTONIC);
		if (first != 0 && (now - last >= QUIET_MS ||
		    now - first >= SETTLE_MAX_MS))
			return NET_UP;
		if (slept_ms() - slept >= RESUME_MS)
			return NET_RESUMED;
		if (first == 0 && now >= end)
			return NET_TIMEOUT;
		timeout = SLICE_MS;
		if (first == 0 && end - now < timeout)
			timeout = (int)(end - now);
		if (first != 0 && last + QUIET_MS - now < timeout)
			timeout = (int)(last + QUIET_MS - now);
		if (timeout < 1)
			timeout = 1;
		pfd.fd = nl;
		pfd.events = POLLIN;
		r = poll(&pfd, nl != -1 ? 1 : 0, timeout);
		if (r == -1 && errno != EINTR)
			return NET_TIMEOUT;
		if (r > 0 && drain()) {
			last = clock_ms(CLOCK_MONOTONIC);
			if (first == 0)
				first = last;
		}
	}
}
