// libascendcl.so of the emulator: the ACL runtime on host memory.
//
// Devices are host threads ("workers"). Device memory is host memory from posix_memalign, filled
// with 0xFF on allocation so reads of never-written memory show up as NaN. Work queued on a stream
// (kernels, async copies, event records) runs in stream order on the device worker, by default
// only when the host synchronises (lazy mode): a caller that reads results without synchronising
// sees stale data, the way it could on real hardware. Synchronous copies and frees that touch
// memory a queued task still uses are reported as hazards (errors in strict mode).
#include "emu_api.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>

namespace ascend_emu {
namespace {

constexpr uint32_t kStreamMagic = 0x5354524dU;  // "STRM"
constexpr uint32_t kEventMagic = 0x45564e54U;   // "EVNT"

// One device = one worker thread that executes queued work.
class Worker {
 public:
  Worker() : thread_([this] { loop(); }) { thread_.detach(); }
  bool on_worker() const { return std::this_thread::get_id() == id_.load(); }
  void post(std::function<void()> fn) {
    std::lock_guard<std::mutex> g(mu_);
    jobs_.push_back(std::move(fn));
    cv_.notify_one();
  }
  void call(const std::function<void()>& fn) {
    if (on_worker()) {
      fn();
      return;
    }
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    std::exception_ptr err;
    post([&] {
      try {
        fn();
      } catch (...) {
        err = std::current_exception();
      }
      std::lock_guard<std::mutex> g(m);
      done = true;
      cv.notify_one();
    });
    std::unique_lock<std::mutex> lk(m);
    cv.wait(lk, [&] { return done; });
    if (err) std::rethrow_exception(err);
  }

 private:
  void loop() {
    id_ = std::this_thread::get_id();
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return !jobs_.empty(); });
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::atomic<std::thread::id> id_{};
  std::thread thread_;
};

}  // namespace

struct Stream {
  uint32_t magic = kStreamMagic;
  uint64_t id = 0;
  int device = 0;
  bool alive = true;
  bool is_default = false;
  std::deque<Task> pending;
  std::vector<Range> running;  // uses of the task being executed right now
  int sticky_code = 0;
  std::string sticky_message;
};

namespace {

struct Event {
  uint32_t magic = kEventMagic;
  uint64_t id = 0;
  int device = 0;
  bool alive = true;
  bool recorded = false;
  bool completed = false;
  Stream* stream = nullptr;
  std::chrono::steady_clock::time_point when;
};

struct Alloc {
  size_t size;
  int device;
};

struct Device {
  Worker* worker = nullptr;
  Stream* default_stream = nullptr;
  std::vector<Stream*> streams;
  size_t bytes = 0;
  size_t peak = 0;
};

struct Injection {
  int code;
  std::string message;
  int skip;
};

struct State {
  std::recursive_mutex mu;
  bool initialized = false;
  bool options_loaded = false;
  std::map<std::string, long> options;
  std::vector<Device> devices;
  std::map<uintptr_t, Alloc> allocs;
  std::vector<std::string> log;
  std::map<std::string, long> call_counts;
  std::map<std::string, std::vector<Injection>> injections;
  std::vector<std::string> hazards;
  std::unordered_map<std::thread::id, int> thread_ids;
  uint64_t seq = 0, next_stream = 1, next_event = 1;
  long live_streams = 0, live_events = 0;
};

State& S() {
  static State* s = new State();  // never destroyed: workers outlive static destruction
  return *s;
}

thread_local int tl_device = -1;
thread_local std::string tl_error;
thread_local std::string tl_error_returned;

long env_long(const char* name, long dflt) {
  const char* v = std::getenv(name);
  if (!v || !*v) return dflt;
  return std::strtol(v, nullptr, 10);
}

void load_options_locked() {
  State& s = S();
  if (s.options_loaded) return;
  s.options_loaded = true;
  s.options["device_count"] = env_long("ASCEND_EMU_DEVICE_COUNT", 1);
  s.options["memory_limit_mb"] = env_long("ASCEND_EMU_MEMORY_LIMIT_MB", 16384);
  s.options["eager"] = env_long("ASCEND_EMU_EAGER", 0);
  s.options["strict"] = env_long("ASCEND_EMU_STRICT", 1);
  s.options["log"] = env_long("ASCEND_EMU_LOG", 1);
  s.options["max_log_lines"] = env_long("ASCEND_EMU_MAX_LOG_LINES", 2000000);
}

int thread_index_locked() {
  State& s = S();
  auto id = std::this_thread::get_id();
  auto it = s.thread_ids.find(id);
  if (it != s.thread_ids.end()) return it->second;
  int n = static_cast<int>(s.thread_ids.size());
  s.thread_ids[id] = n;
  return n;
}

std::string hex(const void* p) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%p", p);
  return buf;
}

bool overlaps(const Range& a, const Range& b) { return a.lo < b.hi && b.lo < a.hi; }

// Finds a queued (or running) task on any stream that touches r. Caller holds the lock.
bool find_user_locked(const Range& r, std::string* who) {
  State& s = S();
  for (auto& d : s.devices) {
    for (Stream* st : d.streams) {
      if (!st->alive) continue;
      for (const Range& u : st->running)
        if (overlaps(u, r)) {
          *who = "the running task on stream #" + std::to_string(st->id);
          return true;
        }
      for (const Task& t : st->pending)
        for (const Range& u : t.uses)
          if (overlaps(u, r)) {
            *who = "queued task `" + t.name + "` on stream #" + std::to_string(st->id);
            return true;
          }
    }
  }
  return false;
}

// Records a hazard; in strict mode the caller turns it into an error.
bool hazard(const std::string& func, const Range& r, std::string* msg) {
  State& s = S();
  std::lock_guard<std::recursive_mutex> g(s.mu);
  std::string who;
  if (!find_user_locked(r, &who)) return false;
  *msg = func + " touches device memory " + hex(reinterpret_cast<void*>(r.lo)) + " (+" +
         std::to_string(r.hi - r.lo) + " bytes) that " + who +
         " still uses: synchronize that stream first, or queue the copy on the same stream "
         "with aclrtMemcpyAsync";
  s.hazards.push_back(*msg);
  return true;
}

Device& device_locked(int id) { return S().devices.at(static_cast<size_t>(id)); }

void ensure_devices_locked() {
  State& s = S();
  load_options_locked();
  long n = s.options["device_count"];
  if (n < 0) n = 0;
  while (s.devices.size() < static_cast<size_t>(n)) {
    Device d;
    d.worker = new Worker();
    s.devices.push_back(d);
  }
}

Stream* new_stream_locked(int device, bool is_default) {
  State& s = S();
  Stream* st = new Stream();
  st->id = s.next_stream++;
  st->device = device;
  st->is_default = is_default;
  device_locked(device).streams.push_back(st);
  if (!is_default) s.live_streams++;
  return st;
}

Stream* default_stream_locked(int device) {
  Device& d = device_locked(device);
  if (!d.default_stream) d.default_stream = new_stream_locked(device, true);
  return d.default_stream;
}

// Executes queued tasks of `st` on its device worker until `until()` holds or the queue is empty.
void drain_until(Stream* st, const std::function<bool()>& until) {
  Worker* w;
  {
    std::lock_guard<std::recursive_mutex> g(S().mu);
    w = device_locked(st->device).worker;
  }
  w->call([&] {
    for (;;) {
      Task t;
      {
        std::lock_guard<std::recursive_mutex> g(S().mu);
        if (until && until()) return;
        if (st->pending.empty()) return;
        t = std::move(st->pending.front());
        st->pending.pop_front();
        st->running = t.uses;
      }
      try {
        t.run();
      } catch (const EmuError& e) {
        std::lock_guard<std::recursive_mutex> g(S().mu);
        if (!st->sticky_code) {
          st->sticky_code = acl_code::RT_AICORE_EXCEPTION;
          st->sticky_message = t.name + " failed on emulated device " + std::to_string(st->device) +
                               ": " + e.message;
        }
      } catch (const std::exception& e) {
        std::lock_guard<std::recursive_mutex> g(S().mu);
        if (!st->sticky_code) {
          st->sticky_code = acl_code::RT_AICORE_EXCEPTION;
          st->sticky_message = t.name + " failed on emulated device " + std::to_string(st->device) +
                               ": " + e.what();
        }
      }
      std::lock_guard<std::recursive_mutex> g(S().mu);
      st->running.clear();
    }
  });
}

void drain(Stream* st) { drain_until(st, nullptr); }

// Returns (and clears) a task failure recorded on the stream, as an ACL error.
aclError take_sticky(const char* func, Stream* st) {
  std::string msg;
  int code;
  {
    std::lock_guard<std::recursive_mutex> g(S().mu);
    code = st->sticky_code;
    msg = st->sticky_message;
    st->sticky_code = 0;
    st->sticky_message.clear();
  }
  if (!code) return acl_code::SUCCESS;
  return set_error(func, code, msg);
}

// Common entry checks. Returns 0 or an error already reported.
aclError enter(const char* func, const std::string& detail, bool need_context) {
  record(func, detail);
  int code;
  if (take_injected(func, &code)) return code;
  if (!initialized()) return set_error(func, acl_code::UNINITIALIZE, "aclInit has not been called");
  if (need_context && tl_device < 0)
    return set_error(func, acl_code::RT_CONTEXT_NULL,
                     "no current device on this thread: call aclrtSetDevice on every thread "
                     "before using the runtime (context is null)");
  return acl_code::SUCCESS;
}

Stream* checked_stream(const char* func, aclrtStream s, aclError* err) {
  std::string why;
  Stream* st = resolve_stream(s, &why);
  if (!st) *err = set_error(func, acl_code::RT_PARAM_INVALID, why);
  return st;
}

Event* checked_event(const char* func, aclrtEvent e, aclError* err) {
  Event* ev = static_cast<Event*>(e);
  if (!ev || ev->magic != kEventMagic || !ev->alive) {
    *err = set_error(func, acl_code::RT_PARAM_INVALID,
                     std::string("event ") + hex(e) + " is not a live event from aclrtCreateEvent");
    return nullptr;
  }
  return ev;
}

aclError copy_checks(const char* func, void* dst, size_t destMax, const void* src, size_t count,
                     aclrtMemcpyKind kind, aclrtMemcpyKind* resolved) {
  if (!dst || !src) return set_error(func, acl_code::INVALID_PARAM, "dst and src must not be null");
  if (count > destMax)
    return set_error(func, acl_code::INVALID_PARAM,
                     "count " + std::to_string(count) + " exceeds destMax " + std::to_string(destMax));
  bool dst_dev = is_device_range(dst, count), src_dev = is_device_range(src, count);
  bool dst_any = is_device_range(dst, 1), src_any = is_device_range(src, 1);
  if (dst_any && !dst_dev)
    return set_error(func, acl_code::INVALID_PARAM,
                     "destination " + describe_range(dst, count) + " runs past its device allocation");
  if (src_any && !src_dev)
    return set_error(func, acl_code::INVALID_PARAM,
                     "source " + describe_range(src, count) + " runs past its device allocation");
  if (kind == ACL_MEMCPY_DEFAULT)
    kind = dst_dev ? (src_dev ? ACL_MEMCPY_DEVICE_TO_DEVICE : ACL_MEMCPY_HOST_TO_DEVICE)
                   : (src_dev ? ACL_MEMCPY_DEVICE_TO_HOST : ACL_MEMCPY_HOST_TO_HOST);
  bool want_dst = kind == ACL_MEMCPY_HOST_TO_DEVICE || kind == ACL_MEMCPY_DEVICE_TO_DEVICE;
  bool want_src = kind == ACL_MEMCPY_DEVICE_TO_HOST || kind == ACL_MEMCPY_DEVICE_TO_DEVICE;
  if (kind < ACL_MEMCPY_HOST_TO_HOST || kind > ACL_MEMCPY_DEVICE_TO_DEVICE)
    return set_error(func, acl_code::INVALID_PARAM, "unknown aclrtMemcpyKind " + std::to_string(kind));
  if (want_dst != dst_dev || want_src != src_dev) {
    static const char* names[] = {"ACL_MEMCPY_HOST_TO_HOST", "ACL_MEMCPY_HOST_TO_DEVICE",
                                  "ACL_MEMCPY_DEVICE_TO_HOST", "ACL_MEMCPY_DEVICE_TO_DEVICE"};
    return set_error(func, acl_code::INVALID_PARAM,
                     std::string("kind ") + names[kind] + " does not match the pointers: dst " +
                         hex(dst) + (dst_dev ? " is" : " is not") + " device memory, src " + hex(src) +
                         (src_dev ? " is" : " is not") + " device memory");
  }
  *resolved = kind;
  return acl_code::SUCCESS;
}

std::string json_escape(const std::string& in) {
  std::string out;
  for (char c : in) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

// ---- shared C++ interface ------------------------------------------------------------------

void record(const std::string& func, const std::string& detail) {
  State& s = S();
  std::lock_guard<std::recursive_mutex> g(s.mu);
  load_options_locked();
  s.call_counts[func]++;
  if (!s.options["log"] || static_cast<long>(s.log.size()) >= s.options["max_log_lines"]) return;
  std::ostringstream line;
  line << ++s.seq << '\t' << thread_index_locked() << '\t' << func << '\t' << detail;
  s.log.push_back(line.str());
}

int set_error(const std::string& func, int code, const std::string& message) {
  std::string line = func + " failed with code " + std::to_string(code) + ": " + message;
  // The most recent message comes first, as aclGetRecentErrMsg documents.
  tl_error = tl_error.empty() ? line : line + "\n" + tl_error;
  record("<error>", line);
  return code;
}

bool take_injected(const std::string& func, int* code) {
  State& s = S();
  std::lock_guard<std::recursive_mutex> g(s.mu);
  auto it = s.injections.find(func);
  if (it == s.injections.end() || it->second.empty()) return false;
  Injection& inj = it->second.front();
  if (inj.skip > 0) {
    inj.skip--;
    return false;
  }
  *code = inj.code;
  std::string msg = inj.message;
  it->second.erase(it->second.begin());
  set_error(func, *code, msg);
  return true;
}

bool initialized() {
  std::lock_guard<std::recursive_mutex> g(S().mu);
  return S().initialized;
}

int current_device() { return tl_device; }

bool is_device_range(const void* p, size_t n, int* device) {
  State& s = S();
  std::lock_guard<std::recursive_mutex> g(s.mu);
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  auto it = s.allocs.upper_bound(a);
  if (it == s.allocs.begin()) return false;
  --it;
  if (a < it->first || a + n > it->first + it->second.size) return false;
  if (n == 0 && a >= it->first + it->second.size) return false;
  if (device) *device = it->second.device;
  return true;
}

std::string describe_range(const void* p, size_t n) {
  State& s = S();
  std::lock_guard<std::recursive_mutex> g(s.mu);
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  std::string what = hex(p) + " (+" + std::to_string(n) + " bytes)";
  auto it = s.allocs.upper_bound(a);
  if (it == s.allocs.begin()) return what + ", not in any aclrtMalloc block";
  --it;
  if (a >= it->first + it->second.size) return what + ", not in any aclrtMalloc block";
  return what + ", in the " + std::to_string(it->second.size) + "-byte block at " +
         hex(reinterpret_cast<void*>(it->first)) + " (offset " + std::to_string(a - it->first) + ")";
}

Stream* resolve_stream(aclrtStream s, std::string* why) {
  State& st = S();
  std::lock_guard<std::recursive_mutex> g(st.mu);
  if (!s) {
    if (tl_device < 0) {
      *why = "default stream requested but this thread has no current device (call aclrtSetDevice)";
      return nullptr;
    }
    return default_stream_locked(tl_device);
  }
  Stream* stream = static_cast<Stream*>(s);
  if (stream->magic != kStreamMagic || !stream->alive) {
    *why = "stream " + hex(s) + " is not a live stream from aclrtCreateStream";
    return nullptr;
  }
  if (tl_device >= 0 && stream->device != tl_device) {
    *why = "stream #" + std::to_string(stream->id) + " belongs to device " +
           std::to_string(stream->device) + " but the current device is " + std::to_string(tl_device);
    return nullptr;
  }
  return stream;
}

int stream_device(Stream* s) { return s->device; }

void enqueue(Stream* st, Task t) {
  bool eager;
  {
    std::lock_guard<std::recursive_mutex> g(S().mu);
    st->pending.push_back(std::move(t));
    eager = S().options["eager"] != 0;
  }
  if (eager) {
    Worker* w;
    {
      std::lock_guard<std::recursive_mutex> g(S().mu);
      w = device_locked(st->device).worker;
    }
    w->post([st] { drain(st); });
  }
}

void run_on_device(int device, const std::function<void()>& fn) {
  Worker* w;
  {
    std::lock_guard<std::recursive_mutex> g(S().mu);
    ensure_devices_locked();
    if (device < 0 || device >= static_cast<int>(S().devices.size())) device = 0;
    w = device_locked(device).worker;
  }
  w->call(fn);
}

long option(const std::string& name) {
  std::lock_guard<std::recursive_mutex> g(S().mu);
  load_options_locked();
  auto it = S().options.find(name);
  return it == S().options.end() ? 0 : it->second;
}

}  // namespace ascend_emu

using namespace ascend_emu;

// ---- ACL runtime C ABI ---------------------------------------------------------------------

EMU_EXPORT aclError aclInit(const char* configPath) {
  record("aclInit", std::string("configPath=") + (configPath ? configPath : "null"));
  int code;
  if (take_injected("aclInit", &code)) return code;
  std::lock_guard<std::recursive_mutex> g(S().mu);
  if (S().initialized) return set_error("aclInit", acl_code::REPEAT_INITIALIZE, "aclInit called twice");
  ensure_devices_locked();
  S().initialized = true;
  return acl_code::SUCCESS;
}

EMU_EXPORT aclError aclFinalize() {
  if (aclError e = enter("aclFinalize", "", false)) return e;
  std::lock_guard<std::recursive_mutex> g(S().mu);
  S().initialized = false;
  return acl_code::SUCCESS;
}

EMU_EXPORT const char* aclGetRecentErrMsg() {
  record("aclGetRecentErrMsg", "");
  if (tl_error.empty()) return nullptr;
  tl_error_returned = tl_error;
  tl_error.clear();
  return tl_error_returned.c_str();
}

EMU_EXPORT const char* aclrtGetSocName() { return "AscendEmulator (host memory, ATen CPU reference)"; }

EMU_EXPORT aclError aclrtGetDeviceCount(uint32_t* count) {
  if (aclError e = enter("aclrtGetDeviceCount", "", false)) return e;
  if (!count) return set_error("aclrtGetDeviceCount", acl_code::INVALID_PARAM, "count is null");
  std::lock_guard<std::recursive_mutex> g(S().mu);
  *count = static_cast<uint32_t>(S().devices.size());
  return acl_code::SUCCESS;
}

EMU_EXPORT aclError aclrtSetDevice(int32_t deviceId) {
  if (aclError e = enter("aclrtSetDevice", "device=" + std::to_string(deviceId), false)) return e;
  std::lock_guard<std::recursive_mutex> g(S().mu);
  if (deviceId < 0 || deviceId >= static_cast<int32_t>(S().devices.size()))
    return set_error("aclrtSetDevice", acl_code::RT_INVALID_DEVICEID,
                     "device " + std::to_string(deviceId) + " does not exist (" +
                         std::to_string(S().devices.size()) + " emulated devices)");
  tl_device = deviceId;
  return acl_code::SUCCESS;
}

EMU_EXPORT aclError aclrtGetDevice(int32_t* deviceId) {
  if (aclError e = enter("aclrtGetDevice", "", true)) return e;
  if (!deviceId) return set_error("aclrtGetDevice", acl_code::INVALID_PARAM, "deviceId is null");
  *deviceId = tl_device;
  return acl_code::SUCCESS;
}

EMU_EXPORT aclError aclrtResetDevice(int32_t deviceId) {
  if (aclError e = enter("aclrtResetDevice", "device=" + std::to_string(deviceId), false)) return e;
  std::vector<Stream*> streams;
  {
    std::lock_guard<std::recursive_mutex> g(S().mu);
    if (deviceId < 0 || deviceId >= static_cast<int32_t>(S().devices.size()))
      return set_error("aclrtResetDevice", acl_code::RT_INVALID_DEVICEID, "no such device");
    streams = device_locked(deviceId).streams;
  }
  for (Stream* st : streams) drain(st);
  if (tl_device == deviceId) tl_device = -1;
  return acl_code::SUCCESS;
}

EMU_EXPORT aclError aclrtSynchronizeDevice() {
  if (aclError e = enter("aclrtSynchronizeDevice", "", true)) return e;
  std::vector<Stream*> streams;
  {
    std::lock_guard<std::recursive_mutex> g(S().mu);
    default_stream_locked(tl_device);
    streams = device_locked(tl_device).streams;
  }
  aclError first = acl_code::SUCCESS;
  for (Stream* st : streams) {
    if (!st->alive) continue;
    drain(st);
    aclError e = take_sticky("aclrtSynchronizeDevice", st);
    if (e && !first) first = e;
  }
  return first;
}

EMU_EXPORT aclError aclrtGetMemInfo(int attr, size_t* freeBytes, size_t* totalBytes) {
  if (aclError e = enter("aclrtGetMemInfo", "attr=" + std::to_string(attr), true)) return e;
  if (!freeBytes || !totalBytes) return set_error("aclrtGetMemInfo", acl_code::INVALID_PARAM, "null output");
  std::lock_guard<std::recursive_mutex> g(S().mu);
  size_t total = static_cast<size_t>(S().options["memory_limit_mb"]) << 20;
  size_t used = device_locked(tl_device).bytes;
  *totalBytes = total;
  *freeBytes = used > total ? 0 : total - used;
  return acl_code::SUCCESS;
}

EMU_EXPORT aclError aclrtMalloc(void** devPtr, size_t size, aclrtMemMallocPolicy policy) {
  if (aclError e = enter("aclrtMalloc", "size=" + std::to_string(size) + " policy=" + std::to_string(policy), true))
    return e;
  if (!devPtr) return set_error("aclrtMalloc", acl_code::INVALID_PARAM, "devPtr is null");
  if (size == 0) return set_error("aclrtMalloc", acl_code::INVALID_PARAM, "size must not be 0");
  if ((policy & 0xFF) > 5) return set_error("aclrtMalloc", acl_code::INVALID_PARAM, "unknown policy");
  std::lock_guard<std::recursive_mutex> g(S().mu);
  Device& d = device_locked(tl_device);
  size_t limit = static_cast<size_t>(S().options["memory_limit_mb"]) << 20;
  if (d.bytes + size > limit)
    return set_error("aclrtMalloc", acl_code::RT_MEMORY_ALLOCATION,
                     "out of device memory: " + std::to_string(size) + " bytes requested, " +
                         std::to_string(d.bytes) + " of " + std::to_string(limit) + " bytes in use");
  void* p = nullptr;
  if (posix_memalign(&p, 64, size) != 0 || !p)
    return set_error("aclrtMalloc", acl_code::RT_MEMORY_ALLOCATION, "host allocation failed");
  std::memset(p, 0xFF, size);
  S().allocs[reinterpret_cast<uintptr_t>(p)] = Alloc{size, tl_device};
  d.bytes += size;
  if (d.bytes > d.peak) d.peak = d.bytes;
  *devPtr = p;
  record("aclrtMalloc:result", "ptr=" + hex(p) + " size=" + std::to_string(size));
  return acl_code::SUCCESS;
}

EMU_EXPORT aclError aclrtFree(void* devPtr) {
  if (aclError e = enter("aclrtFree", "ptr=" + hex(devPtr), true)) return e;
  size_t size;
  int dev;
  {
    std::lock_guard<std::recursive_mutex> g(S().mu);
    auto it = S().allocs.find(reinterpret_cast<uintptr_t>(devPtr));
    if (it == S().allocs.end())
      return set_error("aclrtFree", acl_code::RT_MEMORY_FREE,
                       hex(devPtr) + " is not the start of a live aclrtMalloc block (double free?)");
    size = it->second.size;
    dev = it->second.device;
  }
  std::string msg;
  Range r{reinterpret_cast<uintptr_t>(devPtr), reinterpret_cast<uintptr_t>(devPtr) + size};
  if (hazard("aclrtFree", r, &msg) && option("strict"))
    return set_error("aclrtFree", acl_code::INVALID_PARAM, msg);
  std::lock_guard<std::recursive_mutex> g(S().mu);
  S().allocs.erase(reinterpret_cast<uintptr_t>(devPtr));
  device_locked(dev).bytes -= size;
  std::free(devPtr);
  return acl_code::SUCCESS;
}

EMU_EXPORT aclError aclrtMemcpy(void* dst, size_t destMax, const void* src, size_t count, aclrtMemcpyKind kind) {
  std::ostringstream d;
  d << "dst=" << hex(dst) << " src=" << hex(src) << " count=" << count << " kind=" << kind;
  if (aclError e = enter("aclrtMemcpy", d.str(), true)) return e;
  if (count == 0) return acl_code::SUCCESS;
  aclrtMemcpyKind k;
  if (aclError e = copy_checks("aclrtMemcpy", dst, destMax, src, count, kind, &k)) return e;
  std::string msg;
  bool strict = option("strict") != 0;
  if (k == ACL_MEMCPY_HOST_TO_DEVICE || k == ACL_MEMCPY_DEVICE_TO_DEVICE) {
    Range r{reinterpret_cast<uintptr_t>(dst), reinterpret_cast<uintptr_t>(dst) + count};
    if (hazard("aclrtMemcpy", r, &msg) && strict) return set_error("aclrtMemcpy", acl_code::INVALID_PARAM, msg);
  }
  if (k == ACL_MEMCPY_DEVICE_TO_HOST || k == ACL_MEMCPY_DEVICE_TO_DEVICE) {
    Range r{reinterpret_cast<uintptr_t>(src), reinterpret_cast<uintptr_t>(src) + count};
    if (hazard("aclrtMemcpy", r, &msg) && strict) return set_error("aclrtMemcpy", acl_code::INVALID_PARAM, msg);
  }
  std::memmove(dst, src, count);
  return acl_code::SUCCESS;
}

EMU_EXPORT aclError aclrtMemcpyAsync(void* dst, size_t destMax, const void* src, size_t count,
                                     aclrtMemcpyKind kind, aclrtStream stream) {
  std::ostringstream d;
  d << "dst=" << hex(dst) << " src=" << hex(src) << " count=" << count << " kind=" << kind
    << " stream=" << hex(stream);
  if (aclError e = enter("aclrtMemcpyAsync", d.str(), true)) return e;
  aclError err = 0;
  Stream* st = checked_stream("aclrtMemcpyAsync", stream, &err);
  if (!st) return err;
  if (count == 0) return acl_code::SUCCESS;
  aclrtMemcpyKind k;
  if (aclError e = copy_checks("aclrtMemcpyAsync", dst, destMax, src, count, kind, &k)) return e;
  // CANN documents that aclrtMemcpyAsync needs 64-byte aligned source and destination addresses
  // (aclrtMemcpy does not); the runtime rejects others, so the emulator does too.
  if (reinterpret_cast<uintptr_t>(dst) % 64 || reinterpret_cast<uintptr_t>(src) % 64)
    return set_error("aclrtMemcpyAsync", acl_code::INVALID_PARAM,
                     "dst " + hex(dst) + " and src " + hex(src) +
                         " must both be 64-byte aligned (use aclrtMemcpy for unaligned addresses)");
  Task t;
  t.name = "aclrtMemcpyAsync";
  t.run = [dst, src, count] { std::memmove(dst, src, count); };
  if (k == ACL_MEMCPY_HOST_TO_DEVICE || k == ACL_MEMCPY_DEVICE_TO_DEVICE)
    t.uses.push_back({reinterpret_cast<uintptr_t>(dst), reinterpret_cast<uintptr_t>(dst) + count});
  if (k == ACL_MEMCPY_DEVICE_TO_HOST || k == ACL_MEMCPY_DEVICE_TO_DEVICE)
    t.uses.push_back({reinterpret_cast<uintptr_t>(src), reinterpret_cast<uintptr_t>(src) + count});
  enqueue(st, std::move(t));
  return acl_code::SUCCESS;
}

EMU_EXPORT aclError aclrtCreateStream(aclrtStream* stream) {
  if (aclError e = enter("aclrtCreateStream", "", true)) return e;
  if (!stream) return set_error("aclrtCreateStream", acl_code::INVALID_PARAM, "stream is null");
  std::lock_guard<std::recursive_mutex> g(S().mu);
  Stream* st = new_stream_locked(tl_device, false);
  *stream = st;
  record("aclrtCreateStream:result", "stream=" + hex(st) + " id=" + std::to_string(st->id));
  return acl_code::SUCCESS;
}

EMU_EXPORT aclError aclrtDestroyStream(aclrtStream stream) {
  if (aclError e = enter("aclrtDestroyStream", "stream=" + hex(stream), true)) return e;
  if (!stream) return set_error("aclrtDestroyStream", acl_code::INVALID_PARAM, "cannot destroy the default stream");
  aclError err = 0;
  Stream* st = checked_stream("aclrtDestroyStream", stream, &err);
  if (!st) return err;
  drain(st);  // the runtime finishes queued work before the stream goes away
  std::lock_guard<std::recursive_mutex> g(S().mu);
  st->alive = false;
  S().live_streams--;
  return acl_code::SUCCESS;
}

EMU_EXPORT aclError aclrtSynchronizeStream(aclrtStream stream) {
  if (aclError e = enter("aclrtSynchronizeStream", "stream=" + hex(stream), true)) return e;
  aclError err = 0;
  Stream* st = checked_stream("aclrtSynchronizeStream", stream, &err);
  if (!st) return err;
  drain(st);
  return take_sticky("aclrtSynchronizeStream", st);
}

// aclrtStreamStatus: COMPLETE (0) when every task queued on the stream has run. Like the real
// runtime, asking does not make the stream progress.
EMU_EXPORT aclError aclrtStreamQuery(aclrtStream stream, int* status) {
  if (aclError e = enter("aclrtStreamQuery", "stream=" + hex(stream), true)) return e;
  aclError err = 0;
  Stream* st = checked_stream("aclrtStreamQuery", stream, &err);
  if (!st) return err;
  if (!status) return set_error("aclrtStreamQuery", acl_code::INVALID_PARAM, "status is null");
  std::lock_guard<std::recursive_mutex> g(S().mu);
  *status = st->pending.empty() ? 0 : 1;
  return acl_code::SUCCESS;
}

EMU_EXPORT aclError aclrtCreateEvent(aclrtEvent* event) {
  if (aclError e = enter("aclrtCreateEvent", "", true)) return e;
  if (!event) return set_error("aclrtCreateEvent", acl_code::INVALID_PARAM, "event is null");
  std::lock_guard<std::recursive_mutex> g(S().mu);
  Event* ev = new Event();
  ev->id = S().next_event++;
  ev->device = tl_device;
  S().live_events++;
  *event = ev;
  return acl_code::SUCCESS;
}

EMU_EXPORT aclError aclrtDestroyEvent(aclrtEvent event) {
  if (aclError e = enter("aclrtDestroyEvent", "event=" + hex(event), true)) return e;
  aclError err = 0;
  Event* ev = checked_event("aclrtDestroyEvent", event, &err);
  if (!ev) return err;
  std::lock_guard<std::recursive_mutex> g(S().mu);
  ev->alive = false;  // kept allocated so a later use is reported, not undefined
  S().live_events--;
  return acl_code::SUCCESS;
}

EMU_EXPORT aclError aclrtRecordEvent(aclrtEvent event, aclrtStream stream) {
  if (aclError e = enter("aclrtRecordEvent", "event=" + hex(event) + " stream=" + hex(stream), true)) return e;
  aclError err = 0;
  Event* ev = checked_event("aclrtRecordEvent", event, &err);
  if (!ev) return err;
  Stream* st = checked_stream("aclrtRecordEvent", stream, &err);
  if (!st) return err;
  {
    std::lock_guard<std::recursive_mutex> g(S().mu);
    ev->recorded = true;
    ev->completed = false;
    ev->stream = st;
  }
  Task t;
  t.name = "aclrtRecordEvent";
  t.run = [ev] {
    std::lock_guard<std::recursive_mutex> g(S().mu);
    ev->completed = true;
    ev->when = std::chrono::steady_clock::now();
  };
  enqueue(st, std::move(t));
  return acl_code::SUCCESS;
}

EMU_EXPORT aclError aclrtSynchronizeEvent(aclrtEvent event) {
  if (aclError e = enter("aclrtSynchronizeEvent", "event=" + hex(event), true)) return e;
  aclError err = 0;
  Event* ev = checked_event("aclrtSynchronizeEvent", event, &err);
  if (!ev) return err;
  Stream* st;
  {
    std::lock_guard<std::recursive_mutex> g(S().mu);
    if (!ev->recorded) return acl_code::SUCCESS;
    st = ev->stream;
  }
  drain_until(st, [ev] { return ev->completed; });
  return take_sticky("aclrtSynchronizeEvent", st);
}

EMU_EXPORT aclError aclrtQueryEventStatus(aclrtEvent event, aclrtEventRecordedStatus* status) {
  if (aclError e = enter("aclrtQueryEventStatus", "event=" + hex(event), true)) return e;
  aclError err = 0;
  Event* ev = checked_event("aclrtQueryEventStatus", event, &err);
  if (!ev) return err;
  if (!status) return set_error("aclrtQueryEventStatus", acl_code::INVALID_PARAM, "status is null");
  std::lock_guard<std::recursive_mutex> g(S().mu);
  *status = ev->completed ? ACL_EVENT_RECORDED_STATUS_COMPLETE : ACL_EVENT_RECORDED_STATUS_NOT_READY;
  return acl_code::SUCCESS;
}

EMU_EXPORT aclError aclrtEventElapsedTime(float* ms, aclrtEvent startEvent, aclrtEvent endEvent) {
  if (aclError e = enter("aclrtEventElapsedTime", "start=" + hex(startEvent) + " end=" + hex(endEvent), true))
    return e;
  aclError err = 0;
  Event* a = checked_event("aclrtEventElapsedTime", startEvent, &err);
  if (!a) return err;
  Event* b = checked_event("aclrtEventElapsedTime", endEvent, &err);
  if (!b) return err;
  if (!ms) return set_error("aclrtEventElapsedTime", acl_code::INVALID_PARAM, "ms is null");
  std::lock_guard<std::recursive_mutex> g(S().mu);
  if (!a->completed || !b->completed)
    return set_error("aclrtEventElapsedTime", acl_code::RT_EVENT_NOT_COMPLETE,
                     "both events must be recorded and complete: synchronize the stream (or the end "
                     "event) before asking for the elapsed time");
  *ms = std::chrono::duration<float, std::milli>(b->when - a->when).count();
  return acl_code::SUCCESS;
}

EMU_EXPORT aclError aclrtStreamWaitEvent(aclrtStream stream, aclrtEvent event) {
  if (aclError e = enter("aclrtStreamWaitEvent", "stream=" + hex(stream) + " event=" + hex(event), true)) return e;
  aclError err = 0;
  Event* ev = checked_event("aclrtStreamWaitEvent", event, &err);
  if (!ev) return err;
  Stream* st = checked_stream("aclrtStreamWaitEvent", stream, &err);
  if (!st) return err;
  Stream* src;
  {
    std::lock_guard<std::recursive_mutex> g(S().mu);
    if (!ev->recorded) return acl_code::SUCCESS;
    src = ev->stream;
  }
  Task t;
  t.name = "aclrtStreamWaitEvent";
  t.run = [ev, src] { drain_until(src, [ev] { return ev->completed; }); };
  enqueue(st, std::move(t));
  return acl_code::SUCCESS;
}

// ---- emulator-only introspection (not part of CANN) ------------------------------------------

EMU_EXPORT const char* aclEmuRuntimeJson() {
  static thread_local std::string out;
  State& s = S();
  std::lock_guard<std::recursive_mutex> g(s.mu);
  std::ostringstream o;
  long pending = 0;
  o << "{\"devices\":[";
  for (size_t i = 0; i < s.devices.size(); ++i) {
    long p = 0;
    for (Stream* st : s.devices[i].streams)
      if (st->alive) p += static_cast<long>(st->pending.size());
    pending += p;
    o << (i ? "," : "") << "{\"bytes\":" << s.devices[i].bytes << ",\"peak_bytes\":" << s.devices[i].peak
      << ",\"pending_tasks\":" << p << "}";
  }
  o << "],\"allocations\":" << s.allocs.size() << ",\"streams\":" << s.live_streams
    << ",\"events\":" << s.live_events << ",\"pending_tasks\":" << pending << ",\"initialized\":"
    << (s.initialized ? "true" : "false") << ",\"options\":{";
  bool first = true;
  for (auto& kv : s.options) {
    o << (first ? "" : ",") << "\"" << kv.first << "\":" << kv.second;
    first = false;
  }
  o << "},\"hazards\":[";
  for (size_t i = 0; i < s.hazards.size(); ++i) o << (i ? "," : "") << "\"" << json_escape(s.hazards[i]) << "\"";
  o << "],\"call_counts\":{";
  first = true;
  for (auto& kv : s.call_counts) {
    o << (first ? "" : ",") << "\"" << json_escape(kv.first) << "\":" << kv.second;
    first = false;
  }
  o << "}}";
  out = o.str();
  return out.c_str();
}

EMU_EXPORT const char* aclEmuCallLog() {
  static thread_local std::string out;
  std::lock_guard<std::recursive_mutex> g(S().mu);
  std::ostringstream o;
  for (auto& line : S().log) o << line << '\n';
  out = o.str();
  return out.c_str();
}

EMU_EXPORT void aclEmuClearLog() {
  std::lock_guard<std::recursive_mutex> g(S().mu);
  S().log.clear();
  S().call_counts.clear();
  S().hazards.clear();
}

EMU_EXPORT void aclEmuInjectError(const char* func, int code, const char* message, int skip) {
  std::lock_guard<std::recursive_mutex> g(S().mu);
  S().injections[func].push_back(Injection{code, message ? message : "", skip});
}

EMU_EXPORT void aclEmuClearInjections() {
  std::lock_guard<std::recursive_mutex> g(S().mu);
  S().injections.clear();
}

EMU_EXPORT void aclEmuSetOption(const char* name, long value) {
  std::lock_guard<std::recursive_mutex> g(S().mu);
  load_options_locked();
  S().options[name] = value;
  if (std::string(name) == "device_count") ensure_devices_locked();
}
