/*
 * shop.c - weft-demo-shop: four instrumented processes that make one trace.
 *
 *   api-gateway --> order --> inventory
 *                        \--> payment
 *
 * The driver (no --role) is api-gateway: it starts order, payment and
 * inventory as child processes (this same binary with --role), sends
 * --requests checkout requests, prints "trace <id>" for each, then stops the
 * children, which flush their spans as they exit. Services talk NNG REQ/REP
 * over ipc:// sockets in a temporary directory; each request message is
 * "<traceparent>\n<body>", each reply "ok" or "error: <reason>".
 *
 * Uses only weft.h and NNG's public API, as an application would.
 */
#include <errno.h>
#include <getopt.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "weft.h"

enum { NROLES = 3, REPLY_MAX = 256 };

static const char *const roles[NROLES] = { "order", "payment", "inventory" };
static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static weft_tracer *
tracer_for(const char *service, const char *endpoint)
{
	weft_tracer_config cfg = { .service_name = service, .endpoint = endpoint, .schedule_delay_ms = 200 };
	weft_tracer *t = NULL;
	int rv = weft_tracer_create(&cfg, &t);
	if (rv != WEFT_OK)
		fprintf(stderr, "%s: cannot create tracer: %s\n", service, weft_strerror(rv));
	return t;
}

/*
 * Calls `service` at url inside a CLIENT span named op: sends the span's
 * traceparent and body, waits for the reply. Returns 0 for "ok".
 */
static int
call(weft_tracer *t, const char *url, const char *op, const char *body, char *reply, size_t cap)
{
	weft_span *span = weft_span_start(t, op, &(weft_span_options){ .kind = WEFT_KIND_CLIENT });
	weft_span_context ctx = weft_span_get_context(span);
	char tp[WEFT_TRACEPARENT_SIZE] = "", msg[512];
	nng_socket sock;
	char *buf = NULL;
	size_t len = 0;
	int rv;

	weft_traceparent_format(&ctx, tp, sizeof tp);
	weft_span_set_str(span, "rpc.system", "nng");
	weft_span_set_str(span, "server.address", url);
	snprintf(msg, sizeof msg, "%s\n%s", tp, body);
	snprintf(reply, cap, "error: unreachable");
	if ((rv = nng_req0_open(&sock)) == 0) {
		nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 5000);
		if ((rv = nng_dial(sock, url, NULL, NNG_FLAG_NONBLOCK)) == 0 &&
		    (rv = nng_send(sock, msg, strlen(msg), 0)) == 0 &&
		    (rv = nng_recv(sock, &buf, &len, NNG_FLAG_ALLOC)) == 0) {
			snprintf(reply, cap, "%.*s", (int)len, buf);
			nng_free(buf, len);
		}
		nng_close(sock);
	}
	if (rv != 0)
		weft_span_set_status(span, WEFT_STATUS_ERROR, nng_strerror(rv));
	else if (strncmp(reply, "ok", 2) != 0)
		weft_span_set_status(span, WEFT_STATUS_ERROR,
		    strncmp(reply, "error: ", 7) == 0 ? reply + 7 : reply);
	weft_span_end(span);
	return rv != 0 || strncmp(reply, "ok", 2) != 0;
}

typedef struct service_ctx {
	weft_tracer *t;
	const char *dir;
	bool fail;
} service_ctx;

static void
handle_order(service_ctx *c, weft_span *server, char *reply, size_t cap)
{
	char url[512], sub[REPLY_MAX];
	weft_span *v = weft_span_start(c->t, "validate cart", NULL);

	weft_span_set_int(v, "cart.items", 3);
	sleep_ms(1);
	weft_span_end(v);
	snprintf(url, sizeof url, "ipc://%s/inventory.ipc", c->dir);
	if (call(c->t, url, "inventory.reserve", "sku=WF-1,qty=3", sub, sizeof sub) != 0) {
		weft_span_set_status(server, WEFT_STATUS_ERROR, "inventory failed");
		snprintf(reply, cap, "error: inventory failed: %.200s", strncmp(sub, "error: ", 7) == 0 ? sub + 7 : sub);
		return;
	}
	snprintf(url, sizeof url, "ipc://%s/payment.ipc", c->dir);
	if (call(c->t, url, "payment.charge", "amount=42.50", sub, sizeof sub) != 0) {
		weft_span_set_status(server, WEFT_STATUS_ERROR, "payment failed");
		snprintf(reply, cap, "error: payment failed: %.200s", strncmp(sub, "error: ", 7) == 0 ? sub + 7 : sub);
		return;
	}
	snprintf(reply, cap, "ok");
}

static void
handle_payment(service_ctx *c, weft_span *server, char *reply, size_t cap)
{
	weft_span_set_double(server, "payment.amount", 42.5);
	weft_span_set_str(server, "payment.currency", "EUR");
	sleep_ms(3);
	if (c->fail) {
		weft_attr ev[] = { WEFT_STR("exception.type", "CardDeclined"),
			WEFT_STR("exception.message", "card declined by issuer") };
		weft_span_add_event(server, "exception", ev, 2);
		weft_span_set_status(server, WEFT_STATUS_ERROR, "card declined");
		snprintf(reply, cap, "error: card declined");
		return;
	}
	snprintf(reply, cap, "ok");
}

static void
handle_inventory(service_ctx *c, weft_span *server, char *reply, size_t cap)
{
	weft_span *q = weft_span_start(c->t, "SELECT stock", &(weft_span_options){ .kind = WEFT_KIND_CLIENT });
	(void)server;
	weft_span_set_str(q, "db.system", "sqlite");
	weft_span_set_str(q, "db.statement", "SELECT qty FROM stock WHERE sku = ?");
	sleep_ms(2);
	weft_span_end(q);
	snprintf(reply, cap, "ok");
}

/* A child process: serve requests until SIGTERM, then flush and exit. */
static int
run_service(const char *role, const char *dir, const char *endpoint, bool fail)
{
	service_ctx c = { .dir = dir, .fail = fail };
	char url[512];
	nng_socket sock;
	int rv;

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if ((c.t = tracer_for(role, endpoint)) == NULL)
		return 1;
	snprintf(url, sizeof url, "ipc://%s/%s.ipc", dir, role);
	if ((rv = nng_rep0_open(&sock)) != 0 || (rv = nng_listen(sock, url, NULL, 0)) != 0) {
		fprintf(stderr, "%s: listen %s: %s\n", role, url, nng_strerror(rv));
		weft_tracer_destroy(c.t);
		return 1;
	}
	nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 100);
	while (!stop_requested) {
		char *buf = NULL, *nl, reply[REPLY_MAX], name[64];
		size_t len = 0;
		weft_span_context parent;
		weft_span *server;

		if ((rv = nng_recv(sock, &buf, &len, NNG_FLAG_ALLOC)) != 0) {
			if (rv == NNG_ETIMEDOUT)
				continue;
			break;
		}
		buf = realloc(buf, len + 1); /* NNG_FLAG_ALLOC memory is nng_free()d; copy to own it */
		if (buf == NULL)
			break;
		buf[len] = '\0';
		nl = strchr(buf, '\n');
		if (nl != NULL)
			*nl = '\0';
		snprintf(name, sizeof name, "%s.%s", role, strcmp(role, "order") == 0 ? "place" :
		    strcmp(role, "payment") == 0 ? "charge" : "reserve");
		server = weft_span_start(c.t, name, &(weft_span_options){
		    .kind = WEFT_KIND_SERVER,
		    .parent = weft_traceparent_parse(buf, &parent) == WEFT_OK ? &parent : NULL,
		});
		weft_span_make_current(server);
		if (strcmp(role, "order") == 0)
			handle_order(&c, server, reply, sizeof reply);
		else if (strcmp(role, "payment") == 0)
			handle_payment(&c, server, reply, sizeof reply);
		else
			handle_inventory(&c, server, reply, sizeof reply);
		weft_span_end(server);
		free(buf);
		nng_send(sock, reply, strlen(reply), 0);
	}
	nng_close(sock);
	weft_tracer_destroy(c.t);
	return 0;
}

static pid_t
spawn(const char *role, const char *dir, const char *endpoint, bool fail)
{
	pid_t pid = fork();
	if (pid == 0) {
		const char *argv[] = { "weft-demo-shop", "--role", role, "--dir", dir,
			"--collector", endpoint, fail ? "--fail-payment" : NULL, NULL };
		execv("/proc/self/exe", (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* Waits until something listens at url (a child that is still starting), at most 5 s. */
static void
wait_listening(const char *url)
{
	nng_socket s;
	if (nng_req0_open(&s) != 0)
		return;
	for (int i = 0; i < 500 && nng_dial(s, url, NULL, 0) != 0; i++)
		sleep_ms(10);
	nng_close(s);
}

static int
run_gateway(const char *dir, const char *endpoint, int requests, bool fail)
{
	pid_t pids[NROLES];
	weft_tracer *t;
	weft_stats st;
	int failures = 0;
	char url[512];

	for (int i = 0; i < NROLES; i++)
		pids[i] = spawn(roles[i], dir, endpoint, fail && strcmp(roles[i], "payment") == 0);
	if ((t = tracer_for("api-gateway", endpoint)) == NULL)
		return 1;
	for (int i = 0; i < NROLES; i++) {
		snprintf(url, sizeof url, "ipc://%s/%s.ipc", dir, roles[i]);
		wait_listening(url);
	}
	snprintf(url, sizeof url, "ipc://%s/order.ipc", dir);
	for (int i = 0; i < requests; i++) {
		weft_span *root = weft_span_start(t, "GET /checkout",
		    &(weft_span_options){ .kind = WEFT_KIND_SERVER, .root = true });
		weft_span_context ctx = weft_span_get_context(root);
		char reply[REPLY_MAX], hex[33];
		bool ok;

		weft_span_make_current(root);
		weft_span_set_str(root, "http.request.method", "GET");
		weft_span_set_str(root, "url.path", "/checkout");
		weft_span_set_str(root, "user.id", "u-1042");
		ok = call(t, url, "order.place", "cart=3 items", reply, sizeof reply) == 0;
		weft_span_set_int(root, "http.response.status_code", ok ? 200 : 502);
		if (!ok)
			weft_span_set_status(root, WEFT_STATUS_ERROR,
			    strncmp(reply, "error: ", 7) == 0 ? reply + 7 : reply);
		weft_span_end(root);
		for (int b = 0; b < 16; b++)
			snprintf(hex + 2 * b, 3, "%02x", ctx.trace_id.b[b]);
		printf("trace %s %s\n", hex, ok ? "ok" : reply);
		fflush(stdout);
		failures += !ok;
	}
	for (int i = 0; i < NROLES; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	for (int i = 0; i < NROLES; i++) {
		int status;
		if (pids[i] > 0 && waitpid(pids[i], &status, 0) == pids[i] &&
		    !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
			fprintf(stderr, "weft-demo-shop: %s exited abnormally\n", roles[i]);
	}
	weft_tracer_flush(t, 5000);
	weft_tracer_stats(t, &st);
	weft_tracer_destroy(t);
	fprintf(stderr, "api-gateway: %llu spans exported, %llu dropped\n",
	    (unsigned long long)st.spans_exported, (unsigned long long)st.spans_dropped);
	return failures == requests && !fail ? 1 : 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "collector", required_argument, NULL, 'c' },
		{ "requests", required_argument, NULL, 'n' },
		{ "fail-payment", no_argument, NULL, 'f' },
		{ "role", required_argument, NULL, 'r' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *endpoint = getenv("WEFT_ENDPOINT"), *role = NULL, *dir = NULL;
	char tmpdir[] = "/tmp/weft-demo-XXXXXX";
	int requests = 1, ch, rv;
	bool fail = false;

	if (endpoint == NULL || *endpoint == '\0')
		endpoint = "tcp://127.0.0.1:4319";
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': endpoint = optarg; break;
		case 'n': requests = atoi(optarg); break;
		case 'f': fail = true; break;
		case 'r': role = optarg; break;
		case 'd': dir = optarg; break;
		case 'h':
			puts("usage: weft-demo-shop [--collector URL] [--requests N] [--fail-payment]\n"
			     "Runs api-gateway -> order -> payment, inventory as four processes and\n"
			     "prints 'trace <id> ok|<error>' for each checkout request.");
			return 0;
		default:
			return 2;
		}
	}
	if (requests < 1) {
		fprintf(stderr, "weft-demo-shop: --requests must be at least 1\n");
		return 2;
	}
	if (role != NULL)
		return dir ? run_service(role, dir, endpoint, fail) : 2;
	if (mkdtemp(tmpdir) == NULL) {
		fprintf(stderr, "weft-demo-shop: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	rv = run_gateway(tmpdir, endpoint, requests, fail);
	for (int i = 0; i < NROLES; i++) {
		char p[600];
		snprintf(p, sizeof p, "%s/%s.ipc", tmpdir, roles[i]);
		unlink(p);
	}
	rmdir(tmpdir);
	return rv;
}
