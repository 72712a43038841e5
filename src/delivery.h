/*
 * delivery.h -- the kinds of delivery, shared by the configuration (which
 * names one per account) and the sinks (which implement them).
 */
#ifndef POPFETCH_DELIVERY_H
#define POPFETCH_DELIVERY_H

enum delivery_kind {
	DELIVERY_NONE = 0,
	DELIVERY_MAILDIR,
	DELIVERY_MBOX,
	DELIVERY_MDA,
	DELIVERY_LMTP,
	DELIVERY_SMTP,
	DELIVERY_IMAP,
	DELIVERY_GMAIL,
};

#endif
