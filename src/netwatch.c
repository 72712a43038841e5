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
#include <netinet/in.h>
#include <ifaddrs.h>
#endif

#include "mono.h"
#include "netwatch.h"
#include "transport.h"

#define QUIET_MS	2000	/* debounce: changes quiet this long */
#define SETTLE_MAX_MS	10000	/* ... but never wait longer than this */
#define SLICE_MS	1000	/* look for a resume this often */
#define RESUME_MS	5000	/* a jump this big was a suspend */

static int	nl = -1;
static int	wl = -1;	/* the fetch's watch (netwatch_fetch_begin) */

static int	open_nl(void);
static int	gone(int);
#ifdef __linux__
static int	is_local(int, int, const void *, size_t);
static int	still_up(int);
static int	addr_gone(int, struct nlmsghdr *);
#endif

/* A netlink socket subscribed to links, addresses and routes, or -1. */
static int
open_nl(void)
{
#ifdef __linux__
	struct sockaddr_nl	sa;
	int			fd;

	if ((fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    NETLINK_ROUTE)) == -1)
		return -1;
	memset(&sa, 0, sizeof sa);
	sa.nl_family = AF_NETLINK;
	sa.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
	    RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1) {
		close(fd);
		return -1;
	}
	return fd;
#else
	return -1;
#endif
}

int
netwatch_open(void)
{
	if (nl != -1)
		return 0;
	return (nl = open_nl()) == -1 ? -1 : 0;
}

void
netwatch_fetch_begin(void)
{
	if (wl == -1 && (wl = open_nl()) != -1)
		transport_watch(wl, gone);
}

void
netwatch_fetch_end(void)
{
	transport_watch(-1, NULL);
	if (wl != -1)
		close(wl);
	wl = -1;
}

#ifdef __linux__
/* Whether addr (len bytes, family fam) is sock's local address. */
static int
is_local(int sock, int fam, const void *addr, size_t len)
{
	struct sockaddr_storage	ss;
	socklen_t		sl = sizeof ss;

	if (getsockname(sock, (struct sockaddr *)&ss, &sl) == -1 ||
	    ss.ss_family != fam)
		return 0;
	if (fam == AF_INET && len == 4)
		return memcmp(&((struct sockaddr_in *)&ss)->sin_addr, addr,
		    4) == 0;
	if (fam == AF_INET6 && len == 16)
		return memcmp(&((struct sockaddr_in6 *)&ss)->sin6_addr, addr,
		    16) == 0;
	return 0;
}

/* Whether sock's local address is still on a running interface. */
static int
still_up(int sock)
{
	struct ifaddrs	*ifa, *i;
	const void	*a;
	int		 up = 0;

	if (getifaddrs(&ifa) == -1)
		return 1;	/* cannot tell: keep the connection */
	for (i = ifa; i != NULL && !up; i = i->ifa_next) {
		if (i->ifa_addr == NULL || !(i->ifa_flags & IFF_RUNNING))
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			a = &((struct sockaddr_in *)i->ifa_addr)->sin_addr;
		else if (i->ifa_addr->sa_family == AF_INET6)
			a = &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
		else
			continue;
		up = is_local(sock, i->ifa_addr->sa_family, a,
		    i->ifa_addr->sa_family == AF_INET ? 4 : 16);
	}
	freeifaddrs(ifa);
	return up;
}

/* An RTM_DELADDR: whether it takes sock's address away. */
static int
addr_gone(int sock, struct nlmsghdr *h)
{
	struct ifaddrmsg	*ifa = NLMSG_DATA(h);
	struct rtattr		*rta;
	int			 len;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof *ifa))
		return 0;
	len = (int)IFA_PAYLOAD(h);
	for (rta = IFA_RTA(ifa); RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
		if ((rta->rta_type == IFA_LOCAL || rta->rta_type ==
		    IFA_ADDRESS) && is_local(sock, ifa->ifa_family,
		    RTA_DATA(rta), RTA_PAYLOAD(rta)))
			return 1;
	return 0;
}
#endif

/*
 * transport_gone_fn: read what the watch has queued; 1 when sock's
 * address went away, a new default route came (a new network), or a link
 * went down taking sock's address with it.
 */
static int
gone(int sock)
{
#ifdef __linux__
	char		 buf[8192];
	struct nlmsghdr	*h;
	struct rtmsg	*rt;
	ssize_t		 n;
	int		 lost = 0, link = 0;

	while ((n = recv(wl, buf, sizeof buf, 0)) > 0)
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		    h = NLMSG_NEXT(h, n)) {
			rt = NLMSG_DATA(h);
			if (h->nlmsg_type == RTM_DELADDR)
				lost |= addr_gone(sock, h);
			else if (h->nlmsg_type == RTM_NEWROUTE &&
			    h->nlmsg_len >= NLMSG_LENGTH(sizeof *rt) &&
			    rt->rtm_dst_len == 0 &&
			    rt->rtm_table == RT_TABLE_MAIN)
				lost = 1;
			else if (h->nlmsg_type == RTM_NEWLINK ||
			    h->nlmsg_type == RTM_DELLINK)
				link = 1;
		}
	return lost || (link && !still_up(sock));
#else
	(void)sock;
	return 0;
#endif
}

void
netwatch_close(void)
{
	if (nl != -1)
		close(nl);
	nl = -1;
}

/* How far CLOCK_BOOTTIME is ahead of CLOCK_MONOTONIC: the time slept. */
static long long
slept_ms(void)
{
#ifdef CLOCK_BOOTTIME
	return mono_clock_ms(CLOCK_BOOTTIME) - mono_now_ms();
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

	end = mono_now_ms() + secs * 1000;
	slept = slept_ms();
	for (;;) {
		if (*stop || *wake)
			return NET_SIGNAL;
		now = mono_now_ms();
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
			last = mono_now_ms();
			if (first == 0)
				first = last;
		}
	}
}
