/*
 * err.h - error codes shared by every weft component.
 *
 * 0 is success; the numbers never change once released (the SDK's public
 * weft_err mirrors them value for value). Functions return one of these and
 * write results through out-pointers only on success.
 */
#ifndef WEFT_COMMON_ERR_H
#define WEFT_COMMON_ERR_H

typedef enum cm_err {
	CM_OK = 0,
	CM_ENOMEM = 1,      /* allocation failed */
	CM_EINVAL = 2,      /* invalid argument or value */
	CM_EPROTO = 3,      /* malformed message */
	CM_ETOOBIG = 4,     /* over a configured size limit */
	CM_EIO = 5,         /* storage or file I/O failed */
	CM_ENOENT = 6,      /* not found */
	CM_ECLOSED = 7,     /* object closed or shutting down */
	CM_ETIMEDOUT = 8,   /* deadline passed */
	CM_EAGAIN = 9,      /* try again later (backpressure) */
	CM_EVERSION = 10,   /* unsupported format version */
	CM_EUNREACHABLE = 11, /* peer could not be reached */
	CM_EREJECTED = 12,  /* peer rejected the request for good */
	CM_ERR_COUNT
} cm_err;

/* Returns a static, human-readable description; never NULL. */
const char *cm_strerror(int err);

#endif
