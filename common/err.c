/*
 * err.c - descriptions of cm_err codes.
 */
#include "err.h"

#include <stddef.h>

static const char *const messages[CM_ERR_COUNT] = {
	[CM_OK] = "success",
	[CM_ENOMEM] = "out of memory",
	[CM_EINVAL] = "invalid argument",
	[CM_EPROTO] = "malformed message",
	[CM_ETOOBIG] = "over size limit",
	[CM_EIO] = "I/O error",
	[CM_ENOENT] = "not found",
	[CM_ECLOSED] = "closed",
	[CM_ETIMEDOUT] = "timed out",
	[CM_EAGAIN] = "try again later",
	[CM_EVERSION] = "unsupported version",
	[CM_EUNREACHABLE] = "peer unreachable",
	[CM_EREJECTED] = "rejected by peer",
};

const char *
cm_strerror(int err)
{
	if (err < 0 || err >= CM_ERR_COUNT || messages[err] == NULL)
		return "unknown error";
	return messages[err];
}
