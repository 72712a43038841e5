/*
 * sighold.h -- holding back the signals that stop a run (SIGINT, SIGTERM,
 * SIGHUP) while a step must not be cut in half: a message handed over to
 * its destination, say.  A signal that comes meanwhile takes effect when
 * released.
 */
#ifndef POPFETCH_SIGHOLD_H
#define POPFETCH_SIGHOLD_H

#include <signal.h>

/* Block them; *old gets the mask to give sig_release(). */
void	sig_hold(sigset_t *old);
void	sig_release(const sigset_t *old);

#endif
