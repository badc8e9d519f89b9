/*
 * env.c - configuration from the environment.
 */
#include "env.h"

#include <stdlib.h>

const char *
cm_env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v && *v ? v : dflt;
}
