/*
 * netwatch.h -- noticing that the network may be back, for --daemon: a
 * Linux rtnetlink socket subscribed to address and route changes
 * (RTM_NEWADDR, RTM_NEWROUTE, a link coming up), and a resume from
 * suspend (CLOCK_BOOTTIME running ahead of CLOCK_MONOTONIC).  Elsewhere,
 * or when the socket cannot be opened, only the timer wakes the daemon.
 */
#ifndef POPFETCH_NETWATCH_H
#define POPFETCH_NETWATCH_H

#include <signal.h>

enum net_event {
	NET_TIMEOUT,		/* the time was up */
	NET_UP,			/* an address, route or link came up */
	NET_RESUMED,		/* the machine slept (suspend) */
	NET_SIGNAL,		/* *stop or *wake was set */
};

/*
 * During one fetch under --daemon: a second netlink socket that the
 * transport's waits also watch (transport_watch), so that the moment the
 * connection's local address goes away, a new default route appears (a
 * new network), or a link goes down taking the address with it, the
 * connection is dropped (EX_TEMPFAIL) instead of waiting out the
 * timeout: what was delivered stays recorded, nothing more is deleted,
 * and the daemon polls the account again once the network settles.
 * Without rtnetlink, nothing.
 */
void		netwatch_fetch_begin(void);
void		netwatch_fetch_end(void);

/* Open the netlink socket (if this system has one); 0, or -1 quietly. */
int		netwatch_open(void);
void		netwatch_close(void);

/*
 * Wait up to secs seconds for an event.  A network event is debounced:
 * after the first one, the wait goes on until the changes have been
 * quiet for 2 seconds (at most 10), so one reconnection, which brings
 * several addresses and routes, is one event.  Ends early with NET_SIGNAL
 * once *stop or *wake is set.
 */
enum net_event	netwatch_wait(long secs, volatile sig_atomic_t *stop,
		    volatile sig_atomic_t *wake);

#endif
