/* error.c -- filling and extending struct error. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

void
error_clear(struct error *err)
{
	err->ex = 0;
	err->msg[0] = '\0';
}

int
error_isset(const struct error *err)
{
	return err->ex != 0;
}

void
error_set(struct error *err, int ex, const char *fmt, ...)
{
	va_list	ap;

	if (err == NULL || err->ex != 0)
		return;
	err->ex = ex;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
}

void
error_prefix(struct error *err, const char *fmt, ...)
{
	char	 pfx[ERROR_MSG_MAX], tmp[ERROR_MSG_MAX];
	va_list	 ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(pfx, sizeof pfx, fmt, ap);
	va_end(ap);
	strlcpy(tmp, pfx, sizeof tmp);
	strlcat(tmp, ": ", sizeof tmp);
	strlcat(tmp, err->msg, sizeof tmp);
	memcpy(err->msg, tmp, sizeof err->msg);
}
