/* The parsers of servers' retry hints (hints.c): plain C on byte ranges,
 * no Lua, so fuzz/fuzz_hints.c and policy.c can call them directly.
 *
 * Every parser accepts arbitrary bytes (not NUL-terminated, any length),
 * trims optional whitespace around the value, returns 1 and writes its
 * result only when the whole value parsed, and returns 0 otherwise. */
#ifndef KOMBO_HINTS_H
#define KOMBO_HINTS_H

#include <stddef.h>

/* A non-negative decimal "12" or "1.5" (no sign, no exponent). Values
 * saturate at KOMBO_HINTS_HUGE so a thousand digits cannot make inf. */
#define KOMBO_HINTS_HUGE 1e15
int kombo_parse_decimal(const char *s, size_t len, double *out);

/* retry-after-ms: a decimal number of milliseconds. */
int kombo_parse_delay_ms(const char *s, size_t len, double *delay_ms);

/* HTTP-date in any of the three forms of RFC 9110 section 5.6.7:
 * IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", RFC 850
 * "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37 1994".
 * Writes seconds since the Unix epoch. */
int kombo_parse_http_date(const char *s, size_t len, double *epoch_s);

/* Retry-After: delay-seconds (integer, decimals accepted) or an HTTP-date,
 * resolved against now_ms (epoch milliseconds) and floored at 0. A date
 * needs a clock: when now_ms is negative or NaN only seconds parse.
 * Returns which form the value had: 0 none, 1 delay-seconds, 2 a date. */
int kombo_parse_retry_after(const char *s, size_t len, double now_ms, double *delay_ms);

/* ratelimit-reset: seconds until the window resets, or, when the value is
 * above 1e9, an epoch timestamp in seconds (some servers send that),
 * resolved against now_ms like a date. */
int kombo_parse_ratelimit_reset(const char *s, size_t len, double now_ms, double *delay_ms);

#endif
