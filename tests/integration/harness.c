/*
 * harness.c - process, port and directory helpers for integration tests.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "httpc.h"

const char *
hx_tmpdir(void)
{
	static char path[512];
	const char *base = getenv("TMPDIR");
	snprintf(path, sizeof path, "%s/weft-test-XXXXXX", base && *base ? base : "/tmp");
	if (mkdtemp(path) == NULL) {
		perror("mkdtemp");
		abort();
	}
	return path;
}

static int
rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

void
hx_rmrf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int
hx_free_port(void)
{
	/* The kernel may hand out a port again once it is closed: a test's
	 * daemons would then race for it. Never return one twice. */
	static uint8_t given[65536 / 8];
	for (;;) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t len = sizeof a;
		int fd = socket(AF_INET, SOCK_STREAM, 0), port;

		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
		    getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
			perror("free port");
			abort();
		}
		port = ntohs(a.sin_port);
		close(fd);
		if (!(given[port / 8] & (1u << (port % 8)))) {
			given[port / 8] |= (uint8_t)(1u << (port % 8));
			return port;
		}
	}
}

const char *
hx_bin(const char *name)
{
	static char slots[32][512];
	static int next;
	const char *dir = getenv("WEFT_BIN");
	char *p = slots[next++ % 32];
	snprintf(p, 512, "%s/%s", dir && *dir ? dir : "bin", name);
	return p;
}

bool
hx_start(hx_daemon *d, const char *log, const char *const argv[])
{
	/*
	 * posix_spawn, not fork: tests start daemons while their own threads
	 * run (libweft exporters, load), and a forked child of a process under
	 * ThreadSanitizer can deadlock on a runtime lock another thread held
	 * before it reaches exec (a restarted collector then never started).
	 */
	posix_spawn_file_actions_t fa;
	int rv;

	snprintf(d->log, sizeof d->log, "%s", log);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	rv = posix_spawn(&d->pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rv != 0) {
		d->pid = 0;
		return false;
	}
	return true;
}

static int
wait_exit(pid_t pid, int timeout_ms)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	int status;
	for (int waited = 0; waited < timeout_ms; waited += 10) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		nanosleep(&pause, NULL);
	}
	return -2;
}

int
hx_stop(hx_daemon *d)
{
	int rv;
	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	rv = wait_exit(d->pid, 10000);
	if (rv == -2) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
		rv = -1;
	}
	d->pid = 0;
	return rv;
}

int
hx_stop_all(hx_daemon *const *ds, size_t n, const char *dir)
{
	bool ok = true;
	for (size_t i = 0; i < n; i++)
		if (ds[i]->pid > 0 && hx_stop(ds[i]) != 0)
			ok = false;
	for (size_t i = 0; i < n && !ok; i++)
		hx_dump_log(ds[i]);
	if (dir != NULL)
		hx_rmrf(dir);
	return ok ? 0 : -1;
}

void
hx_kill(hx_daemon *d)
{
	if (d->pid <= 0)
		return;
	kill(d->pid, SIGKILL);
	waitpid(d->pid, NULL, 0);
	d->pid = 0;
}

bool
hx_wait_http(const char *base_url, const char *path, int timeout_ms)
{
	uint64_t deadline = cm_mono_ns() + (uint64_t)timeout_ms * 1000000u;
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	char err[256];

	while (cm_mono_ns() < deadline) {
		qry_http_response r;
		if (qry_http_request(base_url, "GET", path, NULL, NULL, 0, 1000, &r, err, sizeof err) == CM_OK) {
			int status = r.status;
			cm_buf_fini(&r.body);
			if (status == 200)
				return true;
		}
		nanosleep(&pause, NULL);
	}
	return false;
}

bool
hx_wait_written(const char *admin_url, int timeout_ms)
{
	uint64_t deadline = cm_mono_ns() + (uint64_t)timeout_ms * 1000000u;
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	char err[256];

	while (cm_mono_ns() < deadline) {
		qry_http_response r;
		if (qry_http_request(admin_url, "GET", "/metrics", NULL, NULL, 0, 1000, &r, err, sizeof err) == CM_OK) {
			bool done;
			cm_buf_append(&r.body, "", 1);
			done = r.status == 200 && !r.body.failed && strstr(r.body.data, "\nweft_staged_batches 0\n") != NULL;
			cm_buf_fini(&r.body);
			if (done)
				return true;
		}
		nanosleep(&pause, NULL);
	}
	return false;
}

bool
hx_start_query(hx_daemon *d, const char *dir, const char *data_dir, const char *http)
{
	char log[700], url[128];
	const char *argv[] = { hx_bin("weft-query"), "--data-dir", data_dir, "--http", http, NULL };
	snprintf(log, sizeof log, "%s/query.log", dir);
	snprintf(url, sizeof url, "http://%s", http);
	return hx_start(d, log, argv) && hx_wait_http(url, "/api/services", 10000);
}

void
hx_dump_log(const hx_daemon *d)
{
	char line[1024];
	FILE *f = fopen(d->log, "r");
	if (f == NULL)
		return;
	fprintf(stderr, "---- %s\n", d->log);
	while (fgets(line, sizeof line, f) != NULL)
		fputs(line, stderr);
	fclose(f);
}

int
hx_run(const char *const argv[], const char *const env[], cm_buf *out)
{
	int fds[2], status;
	pid_t pid;

	if (pipe(fds) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		for (int i = 0; env != NULL && env[i] != NULL; i++)
			putenv((char *)env[i]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		char buf[4096];
		ssize_t n = read(fds[0], buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		cm_buf_append(out, buf, (size_t)n);
	}
	close(fds[0]);
	if (out->data == NULL)
		cm_buf_append(out, "", 0);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

int
hx_http_raw(int port, const void *request, size_t len, cm_buf *body, int *retry_after)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { 10, 0 };
	cm_buf raw;
	const char *p = request, *hdr_end, *ra;
	int fd = socket(AF_INET, SOCK_STREAM, 0), status = 0;

	if (retry_after != NULL)
		*retry_after = 0;
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	while (len > 0) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
		if (w <= 0)
			break; /* the server may answer early (413) and close */
		p += w;
		len -= (size_t)w;
	}
	cm_buf_init(&raw);
	for (;;) {
		char buf[65536];
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n <= 0)
			break;
		cm_buf_append(&raw, buf, (size_t)n);
	}
	close(fd);
	if (raw.len > 12 && strncmp(raw.data, "HTTP/1.", 7) == 0)
		status = atoi(raw.data + 9);
	if (raw.data != NULL && (hdr_end = strstr(raw.data, "\r\n\r\n")) != NULL) {
		cm_buf_append(body, hdr_end + 4, raw.len - (size_t)(hdr_end + 4 - raw.data));
		if (retry_after != NULL && (ra = strcasestr(raw.data, "\r\nRetry-After:")) != NULL && ra < hdr_end)
			*retry_after = atoi(ra + 14);
	}
	if (body->data == NULL)
		cm_buf_append(body, "", 0);
	cm_buf_fini(&raw);
	return status;
}

