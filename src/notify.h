/*
 * notify.h -- telling systemd how the daemon is doing (sd_notify(3)'s
 * protocol, without libsystemd): READY=1 once the configuration is loaded,
 * RELOADING=1 around a SIGHUP reload, STOPPING=1 on the way out, STATUS=
 * lines, and WATCHDOG=1 pings at half the WatchdogSec= interval.
 *
 * Everything is a no-op unless $NOTIFY_SOCKET is set (a path, or an
 * abstract socket written with a leading '@'); a failed send is ignored,
 * as systemd's own client does, and no send ever waits: a message the
 * socket has no room for is dropped.  The pings come from a SIGALRM timer
 * (never more often than every 100 ms, whatever WATCHDOG_USEC says), so
 * that a long fetch keeps the watchdog fed; the handler only calls
 * sendto(2), which is async-signal-safe.
 */
#ifndef POPFETCH_NOTIFY_H
#define POPFETCH_NOTIFY_H

/* Read $NOTIFY_SOCKET and $WATCHDOG_USEC; start the pings if asked for. */
void	notify_init(void);
/* Send one message ("READY=1\nSTATUS=..."); no-op without a socket. */
void	notify_send(const char *);
/* printf-style STATUS= line. */
void	notify_status(const char *, ...)
	    __attribute__((format(printf, 1, 2)));
/* Stop the pings (before exit, and in child processes). */
void	notify_stop(void);

#endif
