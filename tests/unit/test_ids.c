/*
 * test_ids.c - hex conversion, trace id parsing, random ids.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "ids.h"

static void
hex_round_trips(void **state)
{
	uint8_t in[8] = { 0, 1, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff }, out[8];
	char hex[17];
	(void)state;
	cm_hex_encode(in, 8, hex);
	assert_string_equal(hex, "00017f80abcdefff");
	assert_int_equal(cm_hex_decode(hex, 16, out, 8, true), CM_OK);
	assert_memory_equal(in, out, 8);
}

static void
hex_decode_rejects_bad_input(void **state)
{
	uint8_t out[2] = { 9, 9 };
	(void)state;
	assert_int_equal(cm_hex_decode("ABCD", 4, out, 2, true), CM_EINVAL);
	assert_int_equal(cm_hex_decode("ABCD", 4, out, 2, false), CM_OK);
	assert_int_equal(out[0], 0xab);
	assert_int_equal(cm_hex_decode("abc", 3, out, 2, false), CM_EINVAL);
	assert_int_equal(cm_hex_decode("abcg", 4, out, 2, false), CM_EINVAL);
	assert_int_equal(cm_hex_decode("ab d", 4, out, 2, false), CM_EINVAL);
	assert_int_equal(out[0], 0xab); /* untouched on failure */
}

static void
trace_ids_parse_padded_and_full(void **state)
{
	cm_trace_id id;
	char hex[33];
	(void)state;
	assert_int_equal(cm_trace_id_parse("4bf92f3577b34da6a3ce929d0e0e4736", 32, &id), CM_OK);
	cm_hex_encode(id.b, 16, hex);
	assert_string_equal(hex, "4bf92f3577b34da6a3ce929d0e0e4736");
	assert_int_equal(cm_trace_id_parse("A3CE929D0E0E4736", 16, &id), CM_OK);
	cm_hex_encode(id.b, 16, hex);
	assert_string_equal(hex, "0000000000000000a3ce929d0e0e4736");
	assert_int_equal(cm_trace_id_parse("", 0, &id), CM_EINVAL);
	assert_int_equal(cm_trace_id_parse("4bf92f3577b34da6a3ce929d0e0e47360", 33, &id), CM_EINVAL);
	assert_int_equal(cm_trace_id_parse("xyz", 3, &id), CM_EINVAL);
}

static void
random_ids_are_never_zero_and_differ(void **state)
{
	cm_trace_id a, b;
	cm_span_id s;
	(void)state;
	for (int i = 0; i < 10000; i++) {
		cm_trace_id_random(&a);
		cm_trace_id_random(&b);
		cm_span_id_random(&s);
		assert_false(cm_trace_id_is_zero(&a));
		assert_false(cm_span_id_is_zero(&s));
		assert_memory_not_equal(a.b, b.b, 16);
	}
}

static void
forked_child_gets_different_ids(void **state)
{
	int fds[2];
	uint64_t parent_next, child_next = 0;
	pid_t pid;
	(void)state;
	cm_rand64(); /* seed the parent */
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	if (pid == 0) {
		uint64_t v = cm_rand64();
		_exit(write(fds[1], &v, sizeof v) == sizeof v ? 0 : 1);
	}
	parent_next = cm_rand64();
	assert_int_equal(read(fds[0], &child_next, sizeof child_next), (int)sizeof child_next);
	waitpid(pid, NULL, 0);
	assert_true(parent_next != child_next);
	close(fds[0]);
	close(fds[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hex_round_trips),
		cmocka_unit_test(hex_decode_rejects_bad_input),
		cmocka_unit_test(trace_ids_parse_padded_and_full),
		cmocka_unit_test(random_ids_are_never_zero_and_differ),
		cmocka_unit_test(forked_child_gets_different_ids),
	};
	return cmocka_run_group_tests_name("ids", tests, NULL, NULL);
}
