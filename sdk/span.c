/*
 * span.c - the span API on the application's thread.
 *
 * Start takes a span object from the thread's pool, end pushes it on the
 * thread's ring of ended spans (sdk_int.h): no lock shared with other
 * threads and, with a warm pool, no allocation. Counters are the thread's
 * own. The thread's current span is a thread-local pointer; each current
 * span remembers the one it replaced.
 */
#include <string.h>

#include "clock.h"
#include "hot.h"
#include "ids.h"
#include "sdk_int.h"
#include "strcopy.h"
#include "tsc.h"

static _Thread_local weft_span *tls_current SDK_TLS;

/* The setters' fast paths are inlined whole (CM_HOT), their slow paths kept out of line (see SHORT_TEXT). */
#define COLD static __attribute__((noinline, cold))

enum { FIRST_EVENT_CAP = 2 };

bool
weft_span_context_is_valid(const weft_span_context *c)
{
	return c != NULL && !cm_trace_id_is_zero((const cm_trace_id *)&c->trace_id) &&
	    !cm_span_id_is_zero((const cm_span_id *)&c->span_id);
}

/* span_strdup() past the span's own text: the arena; "" when out of memory. */
static cm_str
span_strdup_arena(weft_span *s, const char *p, size_t n)
{
	const char *d = cm_arena_strndup(&s->arena, p, n);
	return d ? (cm_str){ d, (uint32_t)n } : CM_STR("");
}

/* Copies the short p[0..n) (n <= SDK_COPY_SHORT_MAX) and a NUL to d. */
CM_HOT void
text_copy(char *d, const char *p, size_t n)
{
	sdk_copy_short(d, p, n);
	d[n] = '\0';
}

/* Copies p[0..n) and a NUL into the span's text, else its arena; "" on failure. */
static inline cm_str
span_strdup(weft_span *s, const char *p, size_t n)
{
	char *d;

	if (n == 0)
		return CM_STR("");
	if (n >= SDK_SPAN_TEXT - s->text_used)
		return span_strdup_arena(s, p, n);
	d = s->text + s->text_used;
	s->text_used += (uint32_t)n + 1;
	if (n <= SDK_COPY_SHORT_MAX) {
		text_copy(d, p, n);
	} else {
		memcpy(d, p, n);
		d[n] = '\0';
	}
	return (cm_str){ d, (uint32_t)n };
}

/* strlen(p): inline as far as the span's text has room, where short strings end. */
static inline size_t
span_strlen(const weft_span *s, const char *p)
{
	size_t room = SDK_SPAN_TEXT - s->text_used;
	size_t n = sdk_strnlen(p, room);
	return n < room ? n : room + strlen(p + room);
}

/*
 * Clears what a recording span fills in, field by field: a memset of the
 * whole struct compiles to `rep stos`, whose start-up cost was a tenth of
 * an unsampled span here. weft_span_start() sets the ids, flags and
 * tracestate. The assertion catches a field added to cm_span without a
 * line here.
 */
_Static_assert(sizeof(cm_span) == 168, "rec_reset() must clear every field of cm_span");
static void
rec_reset(cm_span *r)
{
	/* Two statements: `a = b = CM_STR("")` stored one and reloaded it as 16 bytes, a stalled store forward. */
	r->name = CM_STR("");
	r->status_message = CM_STR("");
	r->kind = r->status = 0;
	r->start_ns = r->end_ns = 0;
	r->attrs = (cm_attrs){ NULL, 0, 0 };
	r->events = NULL;
	r->nevents = r->dropped_events = 0;
	r->links = NULL;
	r->nlinks = r->dropped_links = 0;
	r->resource = r->scope = 0;
}

/*
 * An unsampled span makes its ids only when something asks for its context
 * (a child, an inject): most never do, and random ids are a fifth of its cost.
 */
enum { PENDING_TRACE_ID = 1, PENDING_SPAN_ID = 2 };

static inline void
ensure_ids(weft_span *s)
{
	cm_ids_random(s->ids_pending & PENDING_TRACE_ID ? &s->rec.trace_id : NULL,
	    s->ids_pending & PENDING_SPAN_ID ? &s->rec.span_id : NULL);
	s->ids_pending = 0;
}

/*
 * s's context written in place: find_lineage() used to take it by value,
 * and copying the 26-byte result back read across the stores that had
 * just built it, a stalled store forward on every child span.
 */
static void
context_into(const weft_span *s, weft_span_context *c)
{
	if (s->ids_pending)
		ensure_ids((weft_span *)s); /* the span belongs to the calling thread */
	memcpy(c->trace_id.b, s->rec.trace_id.b, 16);
	memcpy(c->span_id.b, s->rec.span_id.b, 8);
	c->flags = (uint8_t)s->rec.flags;
	c->remote = false;
}

/* Where a new span's parent and inherited strings come from. */
typedef struct lineage {
	const weft_span_context *parent; /* NULL: a root */
	weft_span_context current_ctx;
	const char *tracestate;
	size_t tracestate_len;
	const char *baggage;
	size_t baggage_len;
} lineage;

static void
find_lineage(const weft_span_options *o, lineage *l)
{
	weft_span *cur = tls_current;

	l->parent = NULL;
	l->tracestate = l->baggage = "";
	l->tracestate_len = l->baggage_len = 0;
	if (o->context != NULL) {
		if (weft_span_context_is_valid(&o->context->span)) {
			l->parent = &o->context->span;
			l->tracestate = o->context->tracestate;
			l->tracestate_len = strnlen(o->context->tracestate, WEFT_TRACESTATE_MAX - 1);
		}
		l->baggage = o->context->baggage;
		l->baggage_len = strnlen(o->context->baggage, WEFT_BAGGAGE_MAX - 1);
		return; /* a request that carried no parent starts a trace */
	}
	if (o->parent != NULL && weft_span_context_is_valid(o->parent)) {
		l->parent = o->parent;
		return;
	}
	if (o->root || cur == NULL)
		return;
	context_into(cur, &l->current_ctx);
	l->parent = &l->current_ctx;
	l->tracestate = cur->rec.trace_state.p;
	l->tracestate_len = cur->rec.trace_state.len;
	l->baggage = cur->baggage.p;
	l->baggage_len = cur->baggage.len;
}

/* Now, in the unit of s's times: TSC ticks when its start was one, else unix nanoseconds. */
static inline uint64_t
span_now(const weft_span *s)
{
	uint64_t t;
	return s->ticks && sdk_tsc_ticks(&t) ? t : sdk_tsc_now();
}

/* A given length, or p's measured one (WEFT_LEN_UNKNOWN). */
static inline size_t
known_len(const weft_span *s, const char *p, size_t len)
{
	return len != WEFT_LEN_UNKNOWN ? len : span_strlen(s, p);
}

/* Sets s's attribute slot capacity, and the fast path's bound that derives from it. */
static void
set_attr_cap(weft_span *s, uint32_t cap)
{
	uint32_t limit = s->tracer->limits.attributes;
	s->attr_cap = cap;
	s->attr_fast = cap < limit ? cap : limit;
}

/* The rest of a recording span's start: a tail call, so the unsampled path saves fewer registers. */
static __attribute__((noinline)) weft_span *
start_recording(sdk_thread *ts, weft_span *s, const char *name, size_t name_len, const weft_span_options *opts)
{
	sdk_thread_prefetch_next(ts);
	sdk_count(&ts->c.started, 1);
	rec_reset(&s->rec);
	s->rec.attrs.v = s->attr_inline;
	set_attr_cap(s, SDK_INLINE_ATTRS);
	s->event_cap = 0;
	s->rec.kind = (uint8_t)(opts->kind >= WEFT_KIND_INTERNAL && opts->kind <= WEFT_KIND_CONSUMER
	        ? opts->kind
	        : WEFT_KIND_INTERNAL);
	s->ticks = opts->start_ns == 0 && sdk_tsc_ticks(&s->rec.start_ns);
	if (!s->ticks)
		s->rec.start_ns = opts->start_ns ? opts->start_ns : sdk_tsc_now();
	s->rec.name = name ? span_strdup(s, name, known_len(s, name, name_len)) : CM_STR("");
	return s;
}

static const weft_span_options default_options = { 0 };

/* The rest of a span's start once its parent (NULL: a root) is known: ids and the sampling decision. */
CM_HOT weft_span *
start_decided(sdk_thread *ts, weft_span *s, const weft_span_context *parent, const char *name, size_t name_len,
    const weft_span_options *opts)
{
	weft_tracer *t = s->tracer;

	if (parent != NULL) {
		memcpy(s->rec.trace_id.b, parent->trace_id.b, 16);
		memcpy(s->rec.parent_span_id.b, parent->span_id.b, 8);
	} else {
		memset(s->rec.parent_span_id.b, 0, 8);
		if (sdk_sampler_reads_id(&t->sampler, NULL))
			cm_trace_id_random(&s->rec.trace_id);
		else
			s->ids_pending |= PENDING_TRACE_ID;
	}
	s->recording = sdk_sampler_decide(&t->sampler, parent, &s->rec.trace_id);
	s->rec.flags = s->recording ? WEFT_FLAG_SAMPLED : 0;
	s->ids_pending |= PENDING_SPAN_ID;
	if (!s->recording) {
		sdk_count(&ts->c.unsampled, 1);
		return s;
	}
	ensure_ids(s);
	return start_recording(ts, s, name, name_len, opts);
}

/*
 * A start with options or under a current span: the parent and inherited
 * strings are looked up. Out of line, so a root span without options (the
 * common unsampled case) keeps no lineage on its stack and saves no
 * registers.
 */
static __attribute__((noinline)) weft_span *
start_in_lineage(sdk_thread *ts, weft_span *s, const char *name, size_t name_len, const weft_span_options *opts)
{
	lineage l;

	if (opts == NULL)
		opts = &default_options;
	find_lineage(opts, &l);
	s->rec.trace_state = span_strdup(s, l.tracestate, l.tracestate_len);
	s->baggage = span_strdup(s, l.baggage, l.baggage_len);
	return start_decided(ts, s, l.parent, name, name_len, opts);
}

/* What every start sets first. */
CM_HOT void
span_init(weft_tracer *t, weft_span *s)
{
	s->tracer = t;
	s->prev_current = NULL;
	s->gen = atomic_load_explicit(&t->gen, memory_order_relaxed);
	s->bytes = 0;
	s->current = false;
	s->ids_pending = 0;
	s->text_used = 0;
}

/* A root span without options inherits no strings. */
CM_HOT void
root_strings(weft_span *s)
{
	s->rec.trace_state = CM_STR(""); /* two statements: see rec_reset() */
	s->baggage = CM_STR("");
}

/* A start once the thread's state ts and a span s are in hand. */
static __attribute__((noinline)) weft_span *
span_begin(weft_tracer *t, sdk_thread *ts, weft_span *s, const char *name, size_t name_len,
    const weft_span_options *opts)
{
	span_init(t, s);
	if (opts != NULL || tls_current != NULL)
		return start_in_lineage(ts, s, name, name_len, opts);
	root_strings(s);
	return start_decided(ts, s, NULL, name, name_len, &default_options);
}

/* A start whose thread state is not cached or whose pool is empty. */
static __attribute__((noinline)) weft_span *
span_start_slow(weft_tracer *t, const char *name, size_t name_len, const weft_span_options *opts)
{
	sdk_thread *ts;
	weft_span *s;

	if ((ts = sdk_thread_get(t)) == NULL || (s = sdk_thread_take(ts)) == NULL)
		return NULL;
	return span_begin(t, ts, s, name, name_len, opts);
}

/*
 * A root span without options under always_off (tracing switched off):
 * what span_begin() and start_decided() would do, inline. It calls
 * nothing, so it saves no registers. With weft_span_end()'s fast path,
 * an unsampled span's start and end went from 127 to 68 instructions.
 */
CM_HOT weft_span *
start_off(weft_tracer *t, sdk_thread *ts, weft_span *s)
{
	span_init(t, s);
	root_strings(s);
	memset(s->rec.parent_span_id.b, 0, 8);
	s->ids_pending = PENDING_TRACE_ID | PENDING_SPAN_ID;
	s->recording = false;
	s->rec.flags = 0;
	sdk_count(&ts->c.unsampled, 1);
	return s;
}

CM_HOT weft_span *
span_start(weft_tracer *t, const char *name, size_t name_len, const weft_span_options *opts)
{
	sdk_thread *ts;
	weft_span *s;

	if (t == NULL)
		return NULL;
	if ((ts = sdk_thread_cached(t)) == NULL || ts->npool == 0)
		return span_start_slow(t, name, name_len, opts);
	s = ts->pool[--ts->npool];
	if (opts == NULL && tls_current == NULL && t->sampler.root == SAMPLER_ALWAYS_OFF)
		return start_off(t, ts, s);
	return span_begin(t, ts, s, name, name_len, opts);
}

/* The name in parentheses: weft.h's macro of the same name is not expanded. */
weft_span *
(weft_span_start)(weft_tracer *t, const char *name, const weft_span_options *opts)
{
	return span_start(t, name, WEFT_LEN_UNKNOWN, opts);
}

weft_span *
weft_span_start_n(weft_tracer *t, const char *name, size_t name_len, const weft_span_options *opts)
{
	return span_start(t, name, name_len, opts);
}

/*
 * Gives up a span that will not be exported (s->bytes == 0): back to the
 * pool if it is this thread's, else through the exporter to its owner.
 */
static void
discard(sdk_thread *ts, weft_span *s)
{
	s->bytes = 0;
	if (ts != NULL && s->owner == ts)
		sdk_thread_give(ts, s);
	else if (ts == NULL || !sdk_ring_push(&ts->ended, s))
		sdk_span_destroy(s);
}

/* weft_span_end() past its fast path: s was current, records, or is not this thread's to pool. */
static __attribute__((noinline)) void
span_end_slow(weft_span *s)
{
	weft_tracer *t = s->tracer;
	sdk_thread *ts;
	uint32_t bytes;

	if (s->current) {
		tls_current = s->prev_current;
		s->current = false;
	}
	ts = sdk_thread_get(t);
	if (!s->recording || ts == NULL || s->gen != atomic_load_explicit(&t->gen, memory_order_relaxed)) {
		/* Unsampled, or started by the parent of this forked process: not ours to export. */
		discard(ts, s);
		return;
	}
	s->rec.end_ns = span_now(s);
	if (s->rec.end_ns < s->rec.start_ns)
		s->rec.end_ns = s->rec.start_ns;
	bytes = (uint32_t)(sizeof *s + s->arena.held);
	if (!sdk_budget_take(ts, bytes)) {
		sdk_count(&ts->c.dropped, 1);
		discard(ts, s);
		return;
	}
	s->bytes = bytes;
	if (!sdk_ring_push(&ts->ended, s)) {
		ts->credit += bytes;
		sdk_count(&ts->c.dropped, 1);
		discard(ts, s);
		return;
	}
	sdk_count(&ts->c.pushed, 1);
	if (--ts->until_kick == 0 || atomic_load_explicit(&t->need_exporter, memory_order_relaxed)) {
		ts->until_kick = t->max_batch;
		sdk_exporter_kick(t);
	}
}

/*
 * The fast path, an unsampled span that was never current and used no
 * arena going back to this thread's pool, calls nothing, so it saves no
 * registers (see span_start()).
 */
void
weft_span_end(weft_span *s)
{
	sdk_thread *ts;

	if (s == NULL)
		return;
	if (!s->recording && !s->current && s->arena.total == 0 && (ts = sdk_thread_cached(s->tracer)) == s->owner &&
	    ts != NULL && ts->npool < SDK_POOL_MAX) {
		s->bytes = 0;
		ts->pool[ts->npool++] = s;
		return;
	}
	span_end_slow(s);
}

void
weft_span_end_scoped(weft_span **s)
{
	if (s != NULL)
		weft_span_end(*s);
}

void
weft_span_make_current(weft_span *s)
{
	if (s == NULL || s->current)
		return;
	s->prev_current = tls_current;
	s->current = true;
	tls_current = s;
}

weft_span *
weft_span_current(void)
{
	return tls_current;
}

weft_span_context
weft_span_get_context(const weft_span *s)
{
	weft_span_context c;
	if (s == NULL) {
		memset(&c, 0, sizeof c);
		return c;
	}
	context_into(s, &c);
	return c;
}

bool
weft_span_is_recording(const weft_span *s)
{
	return s != NULL && s->recording;
}

/* Counts a limit hit in the calling thread's counters (limits are rare: the lookup is off the hot path). */
#define COUNT_LIMIT(s, field)                                                      \
	do {                                                                           \
		sdk_thread *ts_ = sdk_thread_get((s)->tracer);                             \
		if (ts_ != NULL)                                                           \
			sdk_count(&ts_->c.field, 1);                                           \
	} while (0)

static inline bool
same_key(const cm_attr *x, const char *key, size_t klen)
{
	return x->key.len == klen && memcmp(x->key.p, key, klen) == 0;
}

/*
 * Writes only when there are duplicates: the exporter calls it on every
 * span, and a store would pull the span's lines to the exporter's core
 * for the application's thread to fetch back.
 */
void
sdk_attrs_dedup(cm_attrs *a)
{
	uint32_t kept = 0;

	for (uint32_t i = 0; i < a->n; i++) {
		uint32_t j = 0;
		while (j < kept && !same_key(&a->v[j], a->v[i].key.p, a->v[i].key.len))
			j++;
		if (j < kept)
			a->v[j].val = a->v[i].val; /* a later set replaces the value in the first one's place */
		else if (kept++ != i)
			a->v[kept - 1] = a->v[i];
	}
	if (kept != a->n)
		a->n = kept;
}

/*
 * A slot for key in a recording span. A key set again gets a new slot
 * while there are free ones: duplicates are merged (the last value kept)
 * when the slots fill, here, and by the exporter (sdk_attrs_dedup), not
 * searched for on every set. When full: the key's existing slot, else
 * more slots in the arena, else NULL and a drop counted at the limit.
 */
static cm_attr *
attr_slot(weft_span *s, const char *key, size_t klen)
{
	cm_attrs *a = &s->rec.attrs;

	if (a->n >= s->attr_cap || a->n >= s->tracer->limits.attributes) {
		sdk_attrs_dedup(a);
		for (uint32_t i = 0; i < a->n; i++)
			if (same_key(&a->v[i], key, klen))
				return &a->v[i];
		if (a->n >= s->tracer->limits.attributes)
			goto dropped;
	}
	if (a->n == s->attr_cap) {
		uint32_t cap = s->attr_cap * 2;
		cm_attr *v = cm_arena_alloc_uninit(&s->arena, cap * sizeof *v);
		if (v == NULL)
			goto dropped;
		memcpy(v, a->v, a->n * sizeof *v);
		a->v = v;
		set_attr_cap(s, cap);
	}
	if ((a->v[a->n].key = span_strdup(s, key, klen)).len == 0 && klen != 0)
		goto dropped;
	return &a->v[a->n++];
dropped:
	a->dropped++;
	COUNT_LIMIT(s, attributes_dropped);
	return NULL;
}

static bool
settable(const weft_span *s, const char *key)
{
	return s != NULL && s->recording && key != NULL;
}

/* A string value (len: its length, or WEFT_LEN_UNKNOWN) cut to the value length limit, copied into the span. */
static cm_str
str_value(weft_span *s, const char *str, size_t len)
{
	uint32_t limit = s->tracer->limits.value_length;
	size_t n;

	if (str == NULL)
		return CM_STR("");
	n = len != WEFT_LEN_UNKNOWN ? (len < (size_t)limit + 1 ? len : (size_t)limit + 1) : strnlen(str, (size_t)limit + 1);
	if (n > limit) {
		n = cm_utf8_cut(str, (uint32_t)n, limit);
		COUNT_LIMIT(s, values_truncated);
	}
	return span_strdup(s, str, n);
}

static void
set_value(weft_span *s, cm_value *v, const weft_attr *a)
{
	switch (a->type) {
	case WEFT_ATTR_STR:
		v->type = CM_VAL_STR;
		v->u.s = str_value(s, a->v.s, WEFT_LEN_UNKNOWN);
		break;
	case WEFT_ATTR_BOOL:
		v->type = CM_VAL_BOOL;
		v->u.b = a->v.b;
		break;
	case WEFT_ATTR_INT:
		v->type = CM_VAL_INT;
		v->u.i = a->v.i;
		break;
	default:
		v->type = CM_VAL_DOUBLE;
		v->u.d = a->v.d;
	}
}

/*
 * The setters' fast path: a key and a string value of at most SHORT_TEXT
 * bytes each, both fitting the span's text, a free inline slot under the
 * limit. It calls nothing, so a setter saves no registers; everything
 * else goes to a slow path, a tail call to a function of its own.
 */
enum { SHORT_TEXT = SDK_COPY_SHORT_MAX }; /* what text_copy() copies inline */

/* Whether a new slot is free and n more bytes of text fit. */
CM_HOT bool
fast_fits(const weft_span *s, size_t n)
{
	const cm_attrs *a = &s->rec.attrs;
	return a->n < s->attr_fast && n <= SDK_SPAN_TEXT - s->text_used;
}

/*
 * Takes a new slot and `bytes` of the span's text (fast_fits() said yes);
 * returns the slot, and the text's start in *text. Callers store the
 * slot's fields before copying any text: a byte store may alias any
 * field, and the compiler would load them again after it.
 */
CM_HOT cm_attr *
fast_take(weft_span *s, size_t bytes, char **text)
{
	uint32_t used = s->text_used;
	cm_attr *slot = &s->rec.attrs.v[s->rec.attrs.n++];
	s->text_used = used + (uint32_t)bytes;
	*text = s->text + used;
	return slot;
}

COLD void
set_str_slow(weft_span *s, const char *key, size_t klen, const char *value, size_t vlen)
{
	cm_attr *slot = attr_slot(s, key, klen != WEFT_LEN_UNKNOWN ? klen : strlen(key));
	if (slot != NULL) {
		slot->val.type = CM_VAL_STR;
		slot->val.u.s = str_value(s, value, vlen);
	}
}

/* A given length, or p's measured up to SHORT_TEXT + 1 (a long string: the slow path). */
CM_HOT size_t
short_len(const char *p, size_t len)
{
	return len != WEFT_LEN_UNKNOWN ? len : sdk_strnlen(p, SHORT_TEXT + 1);
}

CM_HOT void
set_str(weft_span *s, const char *key, size_t key_len, const char *value, size_t value_len)
{
	size_t klen, vlen;
	cm_attr *slot;
	char *text;

	if (!settable(s, key))
		return;
	klen = short_len(key, key_len);
	vlen = value != NULL ? short_len(value, value_len) : SHORT_TEXT + 1;
	if (klen > SHORT_TEXT || vlen > SHORT_TEXT || vlen > s->tracer->limits.value_length ||
	    !fast_fits(s, klen + vlen + 2)) {
		set_str_slow(s, key, key_len, value, value_len);
		return;
	}
	slot = fast_take(s, klen + vlen + 2, &text);
	slot->key = (cm_str){ text, (uint32_t)klen };
	slot->val.type = CM_VAL_STR;
	slot->val.u.s = (cm_str){ text + klen + 1, (uint32_t)vlen };
	text_copy(text, key, klen);
	text_copy(text + klen + 1, value, vlen);
}

void
(weft_span_set_str)(weft_span *s, const char *key, const char *value)
{
	set_str(s, key, WEFT_LEN_UNKNOWN, value, WEFT_LEN_UNKNOWN);
}

void
weft_span_set_str_n(weft_span *s, const char *key, size_t key_len, const char *value, size_t value_len)
{
	set_str(s, key, key_len, value, value_len);
}

/* The scalar setters, with and without the key's length; name_slow is the whole set out of line. */
#define SCALAR_SETTER(name, ctype, valtype, member)                                \
	COLD void name##_slow(weft_span *s, const char *key, size_t klen, ctype value) \
	{                                                                              \
		cm_attr *slot = attr_slot(s, key, klen != WEFT_LEN_UNKNOWN ? klen : strlen(key)); \
		if (slot != NULL) {                                                        \
			slot->val.type = valtype;                                              \
			slot->val.u.member = value;                                            \
		}                                                                          \
	}                                                                              \
	CM_HOT void name##_impl(weft_span *s, const char *key, size_t key_len, ctype value) \
	{                                                                              \
		size_t klen;                                                               \
		cm_attr *slot;                                                             \
		char *text;                                                                \
		if (!settable(s, key))                                                     \
			return;                                                                \
		klen = short_len(key, key_len);                                            \
		if (klen > SHORT_TEXT || !fast_fits(s, klen + 1)) {                        \
			name##_slow(s, key, key_len, value);                                   \
			return;                                                                \
		}                                                                          \
		slot = fast_take(s, klen + 1, &text);                                      \
		slot->key = (cm_str){ text, (uint32_t)klen };                              \
		slot->val.type = valtype;                                                  \
		slot->val.u.member = value;                                                \
		text_copy(text, key, klen);                                                \
	}                                                                              \
	void(name)(weft_span *s, const char *key, ctype value)                         \
	{                                                                              \
		name##_impl(s, key, WEFT_LEN_UNKNOWN, value);                              \
	}                                                                              \
	void name##_n(weft_span *s, const char *key, size_t key_len, ctype value)      \
	{                                                                              \
		name##_impl(s, key, key_len, value);                                       \
	}

SCALAR_SETTER(weft_span_set_int, int64_t, CM_VAL_INT, i)
SCALAR_SETTER(weft_span_set_double, double, CM_VAL_DOUBLE, d)
SCALAR_SETTER(weft_span_set_bool, bool, CM_VAL_BOOL, b)

/* Appends an event slot, or NULL when over the limit or out of memory. */
static cm_event *
event_slot(weft_span *s)
{
	if (s->rec.nevents >= s->tracer->limits.events)
		goto dropped;
	if (s->rec.nevents == s->event_cap) {
		uint32_t cap = s->event_cap ? s->event_cap * 2 : FIRST_EVENT_CAP;
		cm_event *v = cm_arena_alloc(&s->arena, cap * sizeof *v);
		if (v == NULL)
			goto dropped;
		if (s->rec.nevents)
			memcpy(v, s->rec.events, s->rec.nevents * sizeof *v);
		s->rec.events = v;
		s->event_cap = cap;
	}
	return memset(&s->rec.events[s->rec.nevents++], 0, sizeof(cm_event));
dropped:
	s->rec.dropped_events++;
	COUNT_LIMIT(s, events_dropped);
	return NULL;
}

void
weft_span_add_event(weft_span *s, const char *name, const weft_attr *attrs, size_t nattrs)
{
	uint32_t limit;
	cm_event *e;

	if (s == NULL || !s->recording || name == NULL || (e = event_slot(s)) == NULL)
		return;
	e->time_ns = span_now(s);
	e->name = span_strdup(s, name, span_strlen(s, name));
	limit = s->tracer->limits.event_attributes;
	if (nattrs > 0 && limit > 0)
		e->attrs.v = cm_arena_alloc(&s->arena, (nattrs < limit ? nattrs : limit) * sizeof(cm_attr));
	for (size_t i = 0; i < nattrs; i++) {
		cm_attr *slot = e->attrs.v ? &e->attrs.v[e->attrs.n] : NULL;
		if (slot == NULL || e->attrs.n >= limit || attrs[i].key == NULL) {
			e->attrs.dropped++;
			COUNT_LIMIT(s, attributes_dropped);
			continue;
		}
		slot->key = span_strdup(s, attrs[i].key, span_strlen(s, attrs[i].key));
		set_value(s, &slot->val, &attrs[i]);
		e->attrs.n++;
	}
}

void
weft_span_set_status(weft_span *s, int status, const char *message)
{
	if (s == NULL || !s->recording || status < WEFT_STATUS_UNSET || status > WEFT_STATUS_ERROR)
		return;
	s->rec.status = (uint8_t)status;
	s->rec.status_message = CM_STR("");
	if (status == WEFT_STATUS_ERROR && message != NULL)
		s->rec.status_message = span_strdup(s, message, span_strlen(s, message));
}

const char *
weft_span_baggage(const weft_span *s)
{
	return s != NULL && s->baggage.len ? s->baggage.p : "";
}

const char *
weft_span_tracestate(const weft_span *s)
{
	return s != NULL && s->rec.trace_state.len ? s->rec.trace_state.p : "";
}

/* Applies an edit to a copy of one of the span's lists and keeps the result in the arena. */
static int
edit_list(weft_span *s, cm_str *list, size_t cap,
    int (*edit)(char *, size_t, const char *, const char *), const char *key, const char *value)
{
	char buf[WEFT_BAGGAGE_MAX];
	int rv;

	if (s == NULL || key == NULL || value == NULL)
		return WEFT_EINVAL;
	memcpy(buf, list->p ? list->p : "", list->len);
	buf[list->len] = '\0';
	if ((rv = edit(buf, cap, key, value)) != WEFT_OK)
		return rv;
	*list = span_strdup(s, buf, strlen(buf));
	return list->len || buf[0] == '\0' ? WEFT_OK : WEFT_ENOMEM;
}

int
weft_span_set_baggage(weft_span *s, const char *key, const char *value)
{
	return edit_list(s, s ? &s->baggage : NULL, WEFT_BAGGAGE_MAX, weft_baggage_set, key, value);
}

int
weft_span_set_tracestate(weft_span *s, const char *key, const char *value)
{
	return edit_list(s, s ? &s->rec.trace_state : NULL, WEFT_TRACESTATE_MAX, weft_tracestate_set, key, value);
}
