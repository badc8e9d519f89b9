/*
 * test_tokens.c - token files (common/auth.h): parsing, refusals, and the
 * Authorization header check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "err.h"

static char path[] = "/tmp/weft-tokens-XXXXXX";

static int
load(const char *text, cm_auth *a, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return cm_auth_load(path, a, err, errlen);
}

static void
files_are_read_and_refused_with_reasons(void **state)
{
	static cm_auth a;
	char err[256], many[2048] = "", big[400];
	(void)state;
	close(mkstemp(path));
	assert_int_equal(load("# c\n\n  abc \t\r\nDEF\n", &a, err, sizeof err), CM_OK);
	assert_int_equal(a.n, 2);
	assert_true(cm_auth_token_ok(&a, "abc", 3));
	assert_true(cm_auth_token_ok(&a, "DEF", 3));
	assert_false(cm_auth_token_ok(&a, "ab", 2));
	assert_false(cm_auth_token_ok(&a, "abcd", 4));
	assert_int_equal(load("# only a comment\n", &a, err, sizeof err), CM_EINVAL);
	assert_non_null(strstr(err, "no token"));
	assert_int_equal(load("has space\n", &a, err, sizeof err), CM_EINVAL);
	memset(big, 'x', 300);
	big[300] = '\0';
	assert_int_equal(load(big, &a, err, sizeof err), CM_EINVAL);
	for (int i = 0; i < 17; i++)
		snprintf(many + strlen(many), sizeof many - strlen(many), "t%d\n", i);
	assert_int_equal(load(many, &a, err, sizeof err), CM_EINVAL);
	assert_non_null(strstr(err, "more than 16"));
	unlink(path);
	assert_int_equal(cm_auth_load(path, &a, err, sizeof err), CM_EIO);
	assert_null(strstr(err, "abc")); /* reasons name the file, never a token */
}

static void
authorization_headers(void **state)
{
	static cm_auth a;
	char err[256];
	(void)state;
	close(mkstemp(path));
	assert_int_equal(load("s3cr3t\n", &a, err, sizeof err), CM_OK);
	unlink(path);
	assert_true(cm_auth_header_ok(&a, "Bearer s3cr3t"));
	assert_true(cm_auth_header_ok(&a, "bearer   s3cr3t  "));
	assert_false(cm_auth_header_ok(&a, NULL));
	assert_false(cm_auth_header_ok(&a, "Bearer"));
	assert_false(cm_auth_header_ok(&a, "Bearer "));
	assert_false(cm_auth_header_ok(&a, "Basic s3cr3t"));
	assert_false(cm_auth_header_ok(&a, "Bearer s3cr3t extra"));
	assert_false(cm_auth_header_ok(&a, "Bearer s3cr3"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(files_are_read_and_refused_with_reasons),
		cmocka_unit_test(authorization_headers),
	};
	return cmocka_run_group_tests_name("tokens", tests, NULL, NULL);
}
