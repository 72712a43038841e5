/* sighold.c -- hold back the stopping signals; see sighold.h. */
#include "config.h"

#include <signal.h>

#include "sighold.h"

void
sig_hold(sigset_t *old)
{
	sigset_t	set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, old);
}

void
sig_release(const sigset_t *old)
{
	sigprocmask(SIG_SETMASK, old, NULL);
}
