/*
 * env.h - configuration from the environment, for the daemons' flags.
 */
#ifndef WEFT_COMMON_ENV_H
#define WEFT_COMMON_ENV_H

/* The value of environment variable name, or dflt when it is unset or empty. */
const char *cm_env_or(const char *name, const char *dflt);

#endif
