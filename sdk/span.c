/*
 * span.c - the span API on the application's thread.
 *
 * Nothing here waits on the network: the only shared state touched is the
 * tracer's queue, under its mutex, for a few instructions at weft_span_end().
 * The thread's current span is a thread-local pointer; each current span
 * remembers the one it replaced.
 */
#include <string.h>

#include "alloc.h"
#include "clock.h"
#include "ids.h"
#include "sdk_int.h"

static _Thread_local weft_span *tls_current;

enum { SPAN_ARENA_CHUNK = 1024, FIRST_ATTR_CAP = 8, FIRST_EVENT_CAP = 2 };

bool
weft_span_context_is_valid(const weft_span_context *c)
{
	return c != NULL && !cm_trace_id_is_zero((const cm_trace_id *)&c->trace_id) &&
	    !cm_span_id_is_zero((const cm_span_id *)&c->span_id);
}

void
sdk_span_free(weft_span *s)
{
	cm_arena_fini(&s->arena);
	cm_free(s);
}

weft_span *
weft_span_start(weft_tracer *t, const char *name, const weft_span_options *opts)
{
	static const weft_span_options defaults = { 0 };
	weft_span_context parent_ctx;
	const weft_span_context *parent = NULL;
	weft_span *s;

	if (t == NULL)
		return NULL;
	if (opts == NULL)
		opts = &defaults;
	if (opts->parent != NULL && weft_span_context_is_valid(opts->parent)) {
		parent = opts->parent;
	} else if (!opts->root && tls_current != NULL) {
		parent_ctx = weft_span_get_context(tls_current);
		parent = &parent_ctx;
	}
	if ((s = cm_calloc(1, sizeof *s)) == NULL)
		return NULL;
	cm_arena_init(&s->arena, SPAN_ARENA_CHUNK);
	s->tracer = t;
	if (parent != NULL) {
		memcpy(s->rec.trace_id.b, parent->trace_id.b, 16);
		memcpy(s->rec.parent_span_id.b, parent->span_id.b, 8);
	} else {
		cm_trace_id_random(&s->rec.trace_id);
	}
	cm_span_id_random(&s->rec.span_id);
	s->recording = sdk_sampler_decide(&t->sampler, parent, &s->rec.trace_id);
	s->rec.flags = s->recording ? WEFT_FLAG_SAMPLED : 0;
	pthread_mutex_lock(&t->mu);
	if (s->recording)
		t->stats.spans_started++;
	else
		t->stats.spans_unsampled++;
	pthread_mutex_unlock(&t->mu);
	if (!s->recording)
		return s;
	s->rec.kind = (uint8_t)(opts->kind >= WEFT_KIND_INTERNAL && opts->kind <= WEFT_KIND_CONSUMER
	        ? opts->kind
	        : WEFT_KIND_INTERNAL);
	s->rec.start_ns = opts->start_ns ? opts->start_ns : cm_now_ns();
	s->rec.name = cm_str_from(cm_arena_strndup(&s->arena, name ? name : "", name ? strlen(name) : 0));
	if (s->rec.name.p == NULL)
		s->rec.name = CM_STR("");
	return s;
}

static void
enqueue(weft_tracer *t, weft_span *s)
{
	pthread_mutex_lock(&t->mu);
	t->ended++;
	if (t->queued >= t->max_queue || t->stopping) {
		t->stats.spans_dropped++;
		t->finished++;
		pthread_mutex_unlock(&t->mu);
		sdk_span_free(s);
		return;
	}
	if (t->tail)
		t->tail->next = s;
	else
		t->head = s;
	t->tail = s;
	t->queued++;
	if (t->queued >= t->max_batch)
		pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->mu);
}

void
weft_span_end(weft_span *s)
{
	if (s == NULL)
		return;
	if (s->current) {
		tls_current = s->prev_current;
		s->current = false;
	}
	if (!s->recording) {
		sdk_span_free(s);
		return;
	}
	s->rec.end_ns = cm_now_ns();
	if (s->rec.end_ns < s->rec.start_ns)
		s->rec.end_ns = s->rec.start_ns;
	enqueue(s->tracer, s);
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
	memset(&c, 0, sizeof c);
	if (s == NULL)
		return c;
	memcpy(c.trace_id.b, s->rec.trace_id.b, 16);
	memcpy(c.span_id.b, s->rec.span_id.b, 8);
	c.flags = (uint8_t)s->rec.flags;
	return c;
}

bool
weft_span_is_recording(const weft_span *s)
{
	return s != NULL && s->recording;
}

/* Returns the slot for key: the existing one (replaced), or a new one. NULL when out of memory. */
static cm_attr *
attr_slot(weft_span *s, const char *key)
{
	cm_attrs *a = &s->rec.attrs;
	size_t klen = strlen(key);

	for (uint32_t i = 0; i < a->n; i++)
		if (a->v[i].key.len == klen && memcmp(a->v[i].key.p, key, klen) == 0)
			return &a->v[i];
	if (a->n == s->attr_cap) {
		uint32_t cap = s->attr_cap ? s->attr_cap * 2 : FIRST_ATTR_CAP;
		cm_attr *v = cm_arena_alloc(&s->arena, cap * sizeof *v);
		if (v == NULL) {
			a->dropped++;
			return NULL;
		}
		if (a->n)
			memcpy(v, a->v, a->n * sizeof *v);
		a->v = v;
		s->attr_cap = cap;
	}
	a->v[a->n].key = cm_str_from(cm_arena_strndup(&s->arena, key, klen));
	if (a->v[a->n].key.p == NULL) {
		a->dropped++;
		return NULL;
	}
	return &a->v[a->n++];
}

static bool
settable(const weft_span *s, const char *key)
{
	return s != NULL && s->recording && key != NULL;
}

static void
set_value(weft_span *s, cm_attr *slot, const weft_attr *a)
{
	cm_value *v = &slot->val;
	switch (a->type) {
	case WEFT_ATTR_STR: {
		const char *str = a->v.s ? a->v.s : "";
		size_t n = strlen(str);
		v->type = CM_VAL_STR;
		v->u.s = (cm_str){ cm_arena_strndup(&s->arena, str, n), (uint32_t)n };
		if (v->u.s.p == NULL)
			v->u.s = CM_STR("");
		break;
	}
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

static void
set_attr(weft_span *s, const weft_attr *a)
{
	cm_attr *slot;
	if (!settable(s, a->key) || (slot = attr_slot(s, a->key)) == NULL)
		return;
	set_value(s, slot, a);
}

void
weft_span_set_str(weft_span *s, const char *key, const char *value)
{
	set_attr(s, &WEFT_STR(key, value));
}

void
weft_span_set_int(weft_span *s, const char *key, int64_t value)
{
	set_attr(s, &WEFT_INT(key, value));
}

void
weft_span_set_double(weft_span *s, const char *key, double value)
{
	set_attr(s, &WEFT_DOUBLE(key, value));
}

void
weft_span_set_bool(weft_span *s, const char *key, bool value)
{
	set_attr(s, &WEFT_BOOL(key, value));
}

void
weft_span_add_event(weft_span *s, const char *name, const weft_attr *attrs, size_t nattrs)
{
	cm_event *e;

	if (s == NULL || !s->recording || name == NULL)
		return;
	if (s->rec.nevents == s->event_cap) {
		uint32_t cap = s->event_cap ? s->event_cap * 2 : FIRST_EVENT_CAP;
		cm_event *v = cm_arena_alloc(&s->arena, cap * sizeof *v);
		if (v == NULL) {
			s->rec.dropped_events++;
			return;
		}
		if (s->rec.nevents)
			memcpy(v, s->rec.events, s->rec.nevents * sizeof *v);
		s->rec.events = v;
		s->event_cap = cap;
	}
	e = &s->rec.events[s->rec.nevents];
	memset(e, 0, sizeof *e);
	e->time_ns = cm_now_ns();
	e->name = cm_str_from(cm_arena_strndup(&s->arena, name, strlen(name)));
	if (e->name.p == NULL) {
		s->rec.dropped_events++;
		return;
	}
	if (nattrs > 0) {
		e->attrs.v = cm_arena_alloc(&s->arena, nattrs * sizeof(cm_attr));
		if (e->attrs.v == NULL) {
			e->attrs.dropped = (uint32_t)nattrs;
			nattrs = 0;
		}
	}
	for (size_t i = 0; i < nattrs; i++) {
		cm_attr *slot = &e->attrs.v[e->attrs.n];
		if (attrs[i].key == NULL ||
		    (slot->key = cm_str_from(cm_arena_strndup(&s->arena, attrs[i].key, strlen(attrs[i].key)))).p == NULL) {
			e->attrs.dropped++;
			continue;
		}
		set_value(s, slot, &attrs[i]);
		e->attrs.n++;
	}
	s->rec.nevents++;
}

void
weft_span_set_status(weft_span *s, int status, const char *message)
{
	if (s == NULL || !s->recording || status < WEFT_STATUS_UNSET || status > WEFT_STATUS_ERROR)
		return;
	s->rec.status = (uint8_t)status;
	s->rec.status_message = CM_STR("");
	if (status == WEFT_STATUS_ERROR && message != NULL) {
		const char *m = cm_arena_strndup(&s->arena, message, strlen(message));
		if (m != NULL)
			s->rec.status_message = cm_str_from(m);
	}
}
