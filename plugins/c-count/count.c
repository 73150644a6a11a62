/*
 * c-count: the smallest useful livekit:analytics sink plugin, in plain C.
 *
 * It stores nothing: it counts events per type and stats per kind, and logs a
 * summary line through the host's `log` import after each batch (or every
 * `every` batches), e.g.
 *   batch 7: 3 events (PARTICIPANT_JOINED=2 ROOM_CREATED=1), 4 stats (UPSTREAM=4);
 *   totals: 41 events, 120 stats
 *
 * Bindings: `sink.h` / `sink.c` / `sink_component_type.o`, generated from `wit/` by
 * `wit-bindgen c wit --world sink`. Ownership rules of those bindings: the
 * arguments of an exported function belong to it (free them); strings and lists
 * returned in an error are freed by the bindings after the call (allocate them
 * with malloc, e.g. sink_string_dup).
 *
 * It uses only memory and string functions of libc (no stdio: printf-family
 * functions pull in wasi-libc's FILE machinery, which imports WASI `fd_write`,
 * `fd_seek` and `fd_close`), so the component imports nothing but
 * `livekit:analytics/log` and needs no WASI adapter at all.
 */
#include <stdlib.h>
#include <string.h>

#include "sink.h"

#define MAX_NAMES 64 /* distinct event types / stat kinds tracked; more go to "OTHER" */
#define MAX_NAME 48

typedef struct {
  char name[MAX_NAME];
  unsigned long long total;  /* since the instance was initialized */
  unsigned long long batch;  /* in the current batch */
} counter_t;

typedef struct {
  counter_t items[MAX_NAMES];
  int len;
  unsigned long long total;
} counters_t;

static counters_t events, stats;
static unsigned long long batches;
static unsigned long every = 1;
static livekit_analytics_log_level_t level = LIVEKIT_ANALYTICS_LOG_LEVEL_INFO;


/* A tiny text builder instead of snprintf (see the note at the top). */
typedef struct { char *buf; size_t cap, len; } text_t;

static void put(text_t *t, const char *s, size_t n) {
  if (t->len + 1 >= t->cap) return;
  if (n > t->cap - 1 - t->len) n = t->cap - 1 - t->len;
  memcpy(t->buf + t->len, s, n);
  t->len += n;
  t->buf[t->len] = 0;
}
static void puts_(text_t *t, const char *s) { put(t, s, strlen(s)); }
static void putu(text_t *t, unsigned long long v) {
  char digits[24];
  int i = sizeof digits;
  do { digits[--i] = (char)('0' + v % 10); v /= 10; } while (v);
  put(t, digits + i, sizeof digits - (size_t)i);
}

static void log_line(livekit_analytics_log_level_t lvl, const char *text) {
  sink_string_t msg;
  sink_string_set(&msg, text); /* borrowed: the host copies it */
  livekit_analytics_log_log(lvl, &msg);
}

static int str_eq(const sink_string_t *s, const char *c) {
  size_t n = strlen(c);
  return s->len == n && memcmp(s->ptr, c, n) == 0;
}

static void count(counters_t *c, const sink_string_t *name) {
  size_t n = name->len < MAX_NAME - 1 ? name->len : MAX_NAME - 1;
  int i;
  for (i = 0; i < c->len; i++) {
    if (strlen(c->items[i].name) == n && memcmp(c->items[i].name, name->ptr, n) == 0) break;
  }
  if (i == c->len) {
    if (c->len == MAX_NAMES) {
      i = MAX_NAMES - 1; /* the last slot collects the overflow */
      strcpy(c->items[i].name, "OTHER");
    } else {
      memcpy(c->items[i].name, name->ptr, n);
      c->items[i].name[n] = 0;
      if (n == 0) strcpy(c->items[i].name, "UNKNOWN");
      c->len++;
    }
  }
  c->items[i].total++;
  c->items[i].batch++;
  c->total++;
}

/* Appends " (A=1 B=2)" for the counters of this batch, then clears them. */
static void describe(text_t *t, counters_t *c) {
  int first = 1;
  for (int i = 0; i < c->len; i++) {
    if (c->items[i].batch == 0) continue;
    puts_(t, first ? " (" : " ");
    puts_(t, c->items[i].name);
    puts_(t, "=");
    putu(t, c->items[i].batch);
    first = 0;
    c->items[i].batch = 0;
  }
  if (!first) puts_(t, ")");
}

bool exports_sink_initialize_database(sink_config_t *config, sink_string_t *err) {
  bool ok = true;
  unsigned long new_every = 1; /* settings take effect only if all of config is valid */
  livekit_analytics_log_level_t new_level = LIVEKIT_ANALYTICS_LOG_LEVEL_INFO;
  char message[160];
  text_t m = {message, sizeof message, 0};
  memset(&events, 0, sizeof events);
  memset(&stats, 0, sizeof stats);
  batches = 0;
  for (size_t i = 0; i < config->len && ok; i++) {
    sink_string_t *key = &config->ptr[i].f0, *value = &config->ptr[i].f1;
    char text[32] = {0};
    memcpy(text, value->ptr, value->len < sizeof text - 1 ? value->len : sizeof text - 1);
    if (str_eq(key, "every")) {
      char *end;
      new_every = strtoul(text, &end, 10);
      if (*end != 0 || new_every == 0) {
        puts_(&m, "config every: \""); puts_(&m, text); puts_(&m, "\" is not a positive number");
        ok = false;
      }
    } else if (str_eq(key, "level")) {
      static const char *names[] = {"trace", "debug", "info", "warn", "error"};
      int found = -1;
      for (int l = 0; l < 5; l++) if (strcmp(text, names[l]) == 0) found = l;
      if (found < 0) {
        puts_(&m, "config level: \""); puts_(&m, text); puts_(&m, "\" is not trace, debug, info, warn or error");
        ok = false;
      } else {
        new_level = (livekit_analytics_log_level_t)found;
      }
    } else {
      puts_(&m, "unknown config key \"");
      put(&m, (const char *)key->ptr, key->len < 64 ? key->len : 64);
      puts_(&m, "\" (known: every, level)");
      ok = false;
    }
  }
  sink_config_free(config);
  if (!ok) {
    sink_string_dup(err, message); /* freed by the bindings after the call */
    return false;
  }
  every = new_every;
  level = new_level;
  log_line(LIVEKIT_ANALYTICS_LOG_LEVEL_INFO, "counting events and stats");
  return true;
}

bool exports_sink_send_batch(sink_list_event_t *evs, sink_list_stat_t *sts, sink_send_error_t *err) {
  (void)err; /* counting never fails */
  for (size_t i = 0; i < evs->len; i++) count(&events, &evs->ptr[i].event_type);
  for (size_t i = 0; i < sts->len; i++) count(&stats, &sts->ptr[i].kind);
  batches++;
  if (batches % every == 0) {
    char line[1024];
    text_t t = {line, sizeof line, 0};
    puts_(&t, "batch "); putu(&t, batches); puts_(&t, ": ");
    putu(&t, evs->len); puts_(&t, " events"); describe(&t, &events);
    puts_(&t, ", "); putu(&t, sts->len); puts_(&t, " stats"); describe(&t, &stats);
    puts_(&t, "; totals: "); putu(&t, events.total); puts_(&t, " events, ");
    putu(&t, stats.total); puts_(&t, " stats");
    log_line(level, line);
  } else {
    for (int i = 0; i < events.len; i++) events.items[i].batch = 0;
    for (int i = 0; i < stats.len; i++) stats.items[i].batch = 0;
  }
  sink_list_event_free(evs);
  sink_list_stat_free(sts);
  return true;
}
