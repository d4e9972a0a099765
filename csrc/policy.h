/* The policy object shared by retries.c, which builds it from the
 * `retries` option, and policy.c, whose decide and timeout read it. */
#ifndef KOMBO_POLICY_H
#define KOMBO_POLICY_H

#include "compat.h"

#define KOMBO_POLICY_MT "kombo.retry_policy"
#define KOMBO_MIN_CODE 100
#define KOMBO_MAX_CODE 599
/* attempt counts beyond 2^53 are not integers any more in a double. */
#define KOMBO_MAX_ATTEMPT 9007199254740992.0

typedef struct {
	int backoff; /* 0 when strategy is "none" */
	double initial_ms, max_interval_ms, exponent, max_elapsed_ms, max_attempts;
	int retry_connection_errors, retry_writes;
	unsigned char codes[KOMBO_MAX_CODE + 1]; /* codes[s]: status s is retryable */
} kb_policy;

/* __tostring of a policy: its settings in one line. */
int kombo_policy_tostring(lua_State *L);

#endif
