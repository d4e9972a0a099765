/* libFuzzer harness for the retry-hint parsers of csrc/hints.c: code in
 * kombo.core that reads bytes chosen by a server before any decision.
 *
 * Build and run (`make fuzz` does this for every harness; the Lua library
 * only satisfies the linker, the parsers do not call into Lua):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I/usr/include/lua5.4 \
 *     fuzz/fuzz_hints.c csrc/hints.c -llua5.4 -o build/fuzz/fuzz_hints
 *   build/fuzz/fuzz_hints fuzz/corpus/fuzz_hints -max_total_time=30
 *
 * Beyond "no crash", it checks what callers rely on: results are finite and
 * never negative (dates aside), and a parsed date printed back as an
 * IMF-fixdate parses to the same instant. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "../csrc/hints.h"

/* Inverse of the parser's days_from_civil (H. Hinnant's civil_from_days). */
static void civil_from_days(long z, long *y, int *m, int *d)
{
	long era, doe, yoe, doy, mp;
	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static void check_ms(int ok, double v)
{
	if (ok && !(v >= 0 && v <= 1e20))
		abort();
}

static void check_date_roundtrip(double epoch)
{
	static const char *const DAYS[] = { "Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed" };
	static const char *const MONTHS[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	long secs = (long)epoch, days, y;
	int m, d, rem;
	char buf[64];
	double again;
	int n;
	/* Years 0000..9999 only: four digits. */
	if ((double)secs != epoch || epoch < -62167219200.0 || epoch > 253402300799.0)
		abort();
	days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	rem = (int)(secs - days * 86400);
	civil_from_days(days, &y, &m, &d);
	n = snprintf(buf, sizeof buf, "%s, %02d %s %04ld %02d:%02d:%02d GMT",
		     DAYS[((days % 7) + 7) % 7], d, MONTHS[m - 1], y, rem / 3600, rem / 60 % 60,
		     rem % 60);
	if (n <= 0 || !kombo_parse_http_date(buf, (size_t)n, &again) || again != epoch)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	double v, now = 784111777000.0;
	check_ms(kombo_parse_delay_ms(s, size, &v), v);
	check_ms(kombo_parse_retry_after(s, size, now, &v), v);
	check_ms(kombo_parse_retry_after(s, size, -1, &v), v);
	check_ms(kombo_parse_ratelimit_reset(s, size, now, &v), v);
	if (kombo_parse_decimal(s, size, &v) && !(v >= 0 && v <= KOMBO_HINTS_HUGE))
		abort();
	if (kombo_parse_http_date(s, size, &v))
		check_date_roundtrip(v);
	return 0;
}
