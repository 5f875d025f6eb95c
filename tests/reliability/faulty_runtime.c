/* A dl_runtime_v1 over host memory that misbehaves on purpose, for the reliability tests and
 * scripts/fault_table.py. It keeps a registry of the blocks it handed out, so it can say how many
 * are still live (leaks), and refuses to free a pointer it does not know (double frees) instead of
 * crashing.
 *
 * Faults, set with faulty_runtime_configure():
 *   fail_rate     each call fails (DL_ERROR, or DL_OUT_OF_MEMORY for malloc) with this probability;
 *                 a failed free leaves the block allocated, a failed memcpy copies nothing
 *   null_malloc   malloc returns DL_OK with a NULL pointer (always when 1; at the fail rate when 2)
 *   misaligned    malloc returns DL_OK with a pointer 1 byte off 16-byte alignment (likewise) */
#include <deeplink/runtime.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

typedef struct {
  char* base;  /* what malloc returned */
  char* user;  /* what the caller got */
  size_t size;
} block;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static block* g_blocks;
static size_t g_count, g_cap;
static double g_fail_rate;
static unsigned long long g_state = 88172645463325252ull;
static int g_null_malloc, g_misaligned;
static long g_faults;
static __thread char g_error[160];

static double next_uniform(void) { /* xorshift64: reproducible from the seed */
  g_state ^= g_state << 13;
  g_state ^= g_state >> 7;
  g_state ^= g_state << 17;
  return (double)(g_state >> 11) / (double)(1ull << 53);
}

/* Whether this call fails; callers hold g_lock. */
static int inject(const char* fn) {
  if (g_fail_rate <= 0 || next_uniform() >= g_fail_rate) return 0;
  ++g_faults;
  snprintf(g_error, sizeof g_error, "injected failure in %s", fn);
  return 1;
}

static int mode_hits(int mode, const char* what) {
  if (mode == 1 || (mode == 2 && g_fail_rate > 0 && next_uniform() < g_fail_rate)) {
    ++g_faults;
    snprintf(g_error, sizeof g_error, "injected %s", what);
    return 1;
  }
  return 0;
}

static long find(const void* user) {
  for (size_t i = 0; i < g_count; ++i)
    if (g_blocks[i].user == user) return (long)i;
  return -1;
}

static dl_status rt_device_count(void* ctx, int* n) { (void)ctx; *n = 1; return DL_OK; }
static dl_status rt_set_device(void* ctx, int d) { (void)ctx; return d == 0 ? DL_OK : DL_INVALID_ARGUMENT; }

static dl_status rt_malloc(void* ctx, int device, size_t nbytes, void** ptr) {
  (void)ctx; (void)device;
  pthread_mutex_lock(&g_lock);
  dl_status s = DL_OK;
  if (inject("malloc")) {
    s = DL_OUT_OF_MEMORY;
  } else if (mode_hits(g_null_malloc, "NULL from malloc")) {
    *ptr = NULL;
  } else {
    char* base = (char*)malloc(nbytes + 32);
    if (!base) {
      s = DL_OUT_OF_MEMORY;
    } else {
      if (g_count == g_cap) {
        g_cap = g_cap ? 2 * g_cap : 64;
        g_blocks = (block*)realloc(g_blocks, g_cap * sizeof(block));
      }
      char* user = base + 16 + (mode_hits(g_misaligned, "misaligned pointer from malloc") ? 1 : 0);
      g_blocks[g_count++] = (block){base, user, nbytes};
      *ptr = user;
    }
  }
  pthread_mutex_unlock(&g_lock);
  return s;
}

static dl_status rt_free(void* ctx, int device, void* ptr) {
  (void)ctx; (void)device;
  pthread_mutex_lock(&g_lock);
  dl_status s = DL_OK;
  long i = find(ptr);
  if (i < 0) {
    snprintf(g_error, sizeof g_error, "free of %p, which this runtime did not allocate (or freed already)", ptr);
    s = DL_INVALID_ARGUMENT;
  } else if (inject("free")) {
    s = DL_ERROR;
  } else {
    free(g_blocks[i].base);
    g_blocks[i] = g_blocks[--g_count];
  }
  pthread_mutex_unlock(&g_lock);
  return s;
}

static dl_status rt_memcpy(void* ctx, int device, void* dst, const void* src, size_t n, dl_memcpy_kind k,
                           dl_stream stream) {
  (void)ctx; (void)device; (void)k; (void)stream;
  pthread_mutex_lock(&g_lock);
  int failed = inject("memcpy");
  pthread_mutex_unlock(&g_lock);
  if (failed) return DL_ERROR;
  memmove(dst, src, n);
  return DL_OK;
}

static dl_status rt_synchronize(void* ctx, int device) {
  (void)ctx; (void)device;
  pthread_mutex_lock(&g_lock);
  int failed = inject("synchronize");
  pthread_mutex_unlock(&g_lock);
  return failed ? DL_ERROR : DL_OK;
}

static dl_status rt_stream_create(void* ctx, int d, dl_stream* s) { (void)ctx; (void)d; *s = (void*)1; return DL_OK; }
static dl_status rt_stream_destroy(void* ctx, int d, dl_stream s) { (void)ctx; (void)d; (void)s; return DL_OK; }
static dl_status rt_stream_synchronize(void* ctx, int d, dl_stream s) { (void)s; return rt_synchronize(ctx, d); }
static dl_status rt_stream_query(void* ctx, int d, dl_stream s, int* done) {
  (void)ctx; (void)d; (void)s; *done = 1; return DL_OK;
}
static dl_status rt_stream_wait_event(void* ctx, int d, dl_stream s, dl_event e) {
  (void)ctx; (void)d; (void)s; (void)e; return DL_OK;
}
static dl_status rt_event_create(void* ctx, int d, dl_event* e) { (void)ctx; (void)d; *e = (void*)1; return DL_OK; }
static dl_status rt_event_destroy(void* ctx, int d, dl_event e) { (void)ctx; (void)d; (void)e; return DL_OK; }
static dl_status rt_event_record(void* ctx, int d, dl_event e, dl_stream s) {
  (void)ctx; (void)d; (void)e; (void)s; return DL_OK;
}
static dl_status rt_event_synchronize(void* ctx, int d, dl_event e) { (void)e; return rt_synchronize(ctx, d); }
static dl_status rt_event_query(void* ctx, int d, dl_event e, int* done) {
  (void)ctx; (void)d; (void)e; *done = 1; return DL_OK;
}
static dl_status rt_event_elapsed_ms(void* ctx, int d, dl_event a, dl_event b, float* ms) {
  (void)ctx; (void)d; (void)a; (void)b; (void)ms; return DL_NOT_IMPLEMENTED;
}
static const char* rt_last_error(void* ctx) { (void)ctx; return g_error; }

static dl_runtime_v1 g_table = {
    DL_RUNTIME_ABI_VERSION, sizeof(dl_runtime_v1), "faulty", NULL, 1,
    rt_device_count, rt_set_device, rt_malloc, rt_free, rt_memcpy, rt_synchronize,
    rt_stream_create, rt_stream_destroy, rt_stream_synchronize, rt_stream_query, rt_stream_wait_event,
    rt_event_create, rt_event_destroy, rt_event_record, rt_event_synchronize, rt_event_query,
    rt_event_elapsed_ms, rt_last_error,
};

EXPORT const dl_runtime_v1* faulty_runtime_table(void) { return &g_table; }

EXPORT void faulty_runtime_configure(double fail_rate, unsigned long long seed, int null_malloc, int misaligned) {
  pthread_mutex_lock(&g_lock);
  g_fail_rate = fail_rate;
  if (seed) g_state = seed;
  g_null_malloc = null_malloc;
  g_misaligned = misaligned;
  pthread_mutex_unlock(&g_lock);
}

EXPORT long faulty_runtime_live_blocks(void) {
  pthread_mutex_lock(&g_lock);
  long n = (long)g_count;
  pthread_mutex_unlock(&g_lock);
  return n;
}

EXPORT long faulty_runtime_faults(void) { return g_faults; }
