/*
 * test_duration.c - Go duration strings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "duration.h"
#include "err.h"

static void
go_durations_parse(void **state)
{
	static const struct {
		const char *s;
		uint64_t ns;
	} ok[] = { { "0", 0 }, { "1s", 1000000000 }, { "1.2s", 1200000000 }, { "500us", 500000 },
		{ "500\xc2\xb5s", 500000 }, { "100ms", 100000000 }, { "2h45m", 9900000000000 },
		{ "1m30s", 90000000000 }, { "15ns", 15 }, { ".5s", 500000000 }, { "+3ms", 3000000 } };
	static const char *const bad[] = { "", "s", "1", "1x", "-1s", "1.s.", "ms", "1s2", "1e3s" };
	uint64_t ns = 77;
	(void)state;
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		assert_int_equal(cm_duration_parse(ok[i].s, &ns), CM_OK);
		assert_true(ns == ok[i].ns);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(cm_duration_parse(bad[i], &ns), CM_EINVAL);
}

static void
durations_format_like_go(void **state)
{
	char b[32];
	(void)state;
	cm_duration_format(-110, b, sizeof b);
	assert_string_equal(b, "-110ns");
	cm_duration_format(1500000, b, sizeof b);
	assert_string_equal(b, "1.5ms");
	cm_duration_format(2000000000, b, sizeof b);
	assert_string_equal(b, "2s");
	cm_duration_format(250000, b, sizeof b);
	assert_string_equal(b, "250\xc2\xb5s");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(go_durations_parse),
		cmocka_unit_test(durations_format_like_go),
	};
	return cmocka_run_group_tests_name("duration", tests, NULL, NULL);
}
