// torch.profiler on the deeplink device.
//
// Two integrations, both timing with the backend runtime's events (exact host-clock times for
// synchronous host runtimes, CUDA event times for the cuda backend, whatever a vendor runtime's
// event_elapsed_ms reports; where a runtime cannot time events, the host time of the call):
//
// * Kineto (torch.profiler.profile(activities=[CPU, PrivateUse1])): a child activity profiler.
//   While its session records, the router brackets every op it routes with two events (ProfiledOp)
//   and the session turns them into device "kernel" activities linked to the op that launched
//   them, so key_averages() shows device time per op and the Chrome trace has a device row.
// * The legacy path (torch.autograd.profiler.profile(use_device="deeplink")): ProfilerStubs that
//   record an event at each op's start and end.
//
// With no session recording, the router pays one relaxed atomic load per op.
#include "profiler.h"

#include "device_state.h"
#include "runtime.h"

#include <c10/core/DeviceGuard.h>
#include <c10/util/ApproximateClock.h>
#include <torch/csrc/profiler/stubs/base.h>

#include <kineto/libkineto.h>
#include <kineto/output_base.h>
#include <kineto/time_since_epoch.h>

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <vector>

namespace deeplink {

std::atomic<bool> g_profiling_ops{false};

namespace {

int64_t now_ns() { return libkineto::timeSinceEpoch(std::chrono::system_clock::now()); }

// Correlation ids kineto pushes for the ops of this thread (the innermost is the op being routed).
thread_local std::vector<uint64_t> t_correlation;

struct OpRecord {
  std::string name;
  int backend, device;
  void* stream;
  void* start;
  void* end;
  uint64_t correlation;
  int64_t host_start_ns, host_end_ns;
  int32_t thread;
};

class Session;
std::mutex g_session_mutex;
Session* g_session = nullptr;  // the recording session, guarded by g_session_mutex

class Session final : public libkineto::IActivityProfilerSession {
 public:
  ~Session() override {
    stop();
    for (OpRecord& r : records_) release(r);
    for (auto& [key, base] : bases_) backend_slot(key.first).runtime->event_destroy(key.second, base.event);
  }

  void start() override {
    std::lock_guard<std::mutex> lock(g_session_mutex);
    g_session = this;
    g_profiling_ops.store(true, std::memory_order_release);
    status_ = libkineto::TraceStatus::RECORDING;
  }
  void stop() override {
    std::lock_guard<std::mutex> lock(g_session_mutex);
    if (g_session == this) {
      g_profiling_ops.store(false, std::memory_order_release);
      g_session = nullptr;
    }
    if (status_ == libkineto::TraceStatus::RECORDING) status_ = libkineto::TraceStatus::PROCESSING;
  }

  // Called with g_session_mutex held.
  void add(OpRecord r) {
    auto key = std::make_pair(r.backend, r.device);
    if (!bases_.count(key)) {
      // Device times are measured from this event, recorded (on the op's stream, just before the
      // op's own start event) when the host clock read base.host_ns.
      DeviceRuntime& rt = *backend_slot(r.backend).runtime;
      Base b{rt.event_create(r.device), 0};
      rt.event_record(r.device, b.event, r.stream);
      b.host_ns = r.host_start_ns;
      bases_.emplace(key, b);
    }
    records_.push_back(std::move(r));
  }

  std::vector<std::string> errors() override { return errors_; }

  void processTrace(libkineto::ActivityLogger& logger) override { processTrace(logger, nullptr, 0, 0); }
  void processTrace(libkineto::ActivityLogger& logger, libkineto::getLinkedActivityCallback linked, int64_t,
                    int64_t) override {
    span_ = libkineto::TraceSpan(0, 0, "deeplink");
    for (OpRecord& r : records_) {
      // Named "<op> (<backend>)" so the device rows differ from the op rows in key_averages().
      auto a = std::make_unique<libkineto::GenericTraceActivity>(
          span_, libkineto::ActivityType::CONCURRENT_KERNEL, r.name + " (" + backend_slot(r.backend).name + ")");
      device_span(r, a->startTime, a->endTime);
      a->device = r.device;
      a->resource = static_cast<int32_t>(reinterpret_cast<uintptr_t>(r.stream) & 0x7fffffff);
      a->threadId = r.thread;
      a->id = static_cast<int32_t>(r.correlation);
      if (r.correlation) {
        a->flow.id = static_cast<uint32_t>(r.correlation);
        a->flow.type = libkineto::kLinkAsyncCpuGpu;
        a->flow.start = false;
        if (linked) a->linked = linked(static_cast<int32_t>(r.correlation));
      }
      logger.handleGenericActivity(*a);
      activities_.push_back(std::move(a));
      release(r);
    }
    records_.clear();
  }

  std::unique_ptr<libkineto::DeviceInfo> getDeviceInfo() override {
    return std::make_unique<libkineto::DeviceInfo>(
        libkineto::DeviceInfo{0, 0, "deeplink", active_backend_id() >= 0 ? active_backend().name : "deeplink"});
  }
  std::vector<libkineto::ResourceInfo> getResourceInfos() override { return {}; }
  std::unique_ptr<libkineto::CpuTraceBuffer> getTraceBuffer() override { return nullptr; }

  void pushCorrelationId(uint64_t id) override { t_correlation.push_back(id); }
  void popCorrelationId() override {
    if (!t_correlation.empty()) t_correlation.pop_back();
  }

 private:
  struct Base {
    void* event;
    int64_t host_ns;
  };

  // Start and end of the op on the device, in the host clock kineto uses.
  void device_span(const OpRecord& r, int64_t& start, int64_t& end) {
    DeviceRuntime& rt = *backend_slot(r.backend).runtime;
    const Base& base = bases_.at(std::make_pair(r.backend, r.device));
    try {
      rt.event_synchronize(r.device, r.end);
      start = base.host_ns + static_cast<int64_t>(rt.event_elapsed_ms(r.device, base.event, r.start) * 1e6);
      end = base.host_ns + static_cast<int64_t>(rt.event_elapsed_ms(r.device, base.event, r.end) * 1e6);
    } catch (const c10::Error&) {  // the runtime cannot time events: the host span of the call
      start = r.host_start_ns;
      end = r.host_end_ns;
      if (errors_.empty())
        errors_.push_back("deeplink: backend '" + backend_slot(r.backend).name +
                          "' cannot time events; device times are the host times of the calls");
    }
    if (end < start) end = start;
  }

  static void release(OpRecord& r) {
    DeviceRuntime& rt = *backend_slot(r.backend).runtime;
    if (r.start) rt.event_destroy(r.device, r.start);
    if (r.end) rt.event_destroy(r.device, r.end);
    r.start = r.end = nullptr;
  }

  std::deque<OpRecord> records_;
  std::map<std::pair<int, int>, Base> bases_;
  std::deque<std::unique_ptr<libkineto::GenericTraceActivity>> activities_;  // the logger keeps pointers
  std::vector<std::string> errors_;
  libkineto::TraceSpan span_{0, 0, "deeplink"};
};

class ActivityProfiler final : public libkineto::IActivityProfiler {
 public:
  const std::string& name() const override { return name_; }
  const std::set<libkineto::ActivityType>& availableActivities() const override { return types_; }
  std::unique_ptr<libkineto::IActivityProfilerSession> configure(const std::set<libkineto::ActivityType>& types,
                                                                 const libkineto::Config&) override {
    if (!types.count(libkineto::ActivityType::CONCURRENT_KERNEL)) return nullptr;
    return std::make_unique<Session>();
  }
  std::unique_ptr<libkineto::IActivityProfilerSession> configure(int64_t, int64_t,
                                                                 const std::set<libkineto::ActivityType>& types,
                                                                 const libkineto::Config& config) override {
    return configure(types, config);
  }

 private:
  std::string name_ = "deeplink";
  std::set<libkineto::ActivityType> types_{libkineto::ActivityType::CONCURRENT_KERNEL};
};

// ---------------------------------------------------------------- legacy stubs
struct StubEvent {
  int backend, device;
  void* event;
};

struct Stubs final : torch::profiler::impl::ProfilerStubs {
  void record(c10::DeviceIndex* device, torch::profiler::impl::ProfilerVoidEventStub* event,
              int64_t* cpu_ns) const override {
    const int d = current_device();
    const int b = active_backend_id();
    DeviceRuntime& rt = *backend_slot(b).runtime;
    void* e = rt.event_create(d);
    rt.event_record(d, e, native_stream(current_stream(d)));
    if (device) *device = static_cast<c10::DeviceIndex>(d);
    *event = std::shared_ptr<void>(new StubEvent{b, d, e}, [](void* p) {
      auto* s = static_cast<StubEvent*>(p);
      try {
        backend_slot(s->backend).runtime->event_destroy(s->device, s->event);
      } catch (...) {
      }
      delete s;
    });
    if (cpu_ns) *cpu_ns = c10::getTime();
  }
  float elapsed(const torch::profiler::impl::ProfilerVoidEventStub* a,
                const torch::profiler::impl::ProfilerVoidEventStub* b) const override {
    auto* ea = static_cast<StubEvent*>(a->get());
    auto* eb = static_cast<StubEvent*>(b->get());
    DeviceRuntime& rt = *backend_slot(ea->backend).runtime;
    rt.event_synchronize(eb->device, eb->event);
    return static_cast<float>(rt.event_elapsed_ms(ea->device, ea->event, eb->event) * 1000.0);  // microseconds
  }
  // Ranges and marks are for vendor tracers (NVTX on CUDA); deeplink runtimes have none.
  void mark(const char*) const override {}
  void rangePush(const char*) const override {}
  void rangePop() const override {}
  bool enabled() const override { return true; }
  void onEachDevice(std::function<void(int)> op) const override {
    for (int i = 0; i < device_count(); ++i) {
      c10::DeviceGuard guard(c10::Device(c10::DeviceType::PrivateUse1, static_cast<c10::DeviceIndex>(i)));
      op(i);
    }
  }
  void synchronize() const override { active_backend().runtime->synchronize(current_device()); }
};

Stubs g_stubs;

}  // namespace

ProfiledOp::ProfiledOp(const c10::OperatorHandle& op, int backend)
    : backend_(backend), device_(current_device()), start_(nullptr), correlation_(0) {
  const auto& n = op.schema().operator_name();
  name_ = n.overload_name.empty() ? n.name : n.name + "." + n.overload_name;
  stream_ = native_stream(current_stream(device_));
  correlation_ = t_correlation.empty() ? 0 : t_correlation.back();
  DeviceRuntime& rt = *backend_slot(backend_).runtime;
  start_ = rt.event_create(device_);
  host_start_ns_ = now_ns();
  rt.event_record(device_, start_, stream_);
}

ProfiledOp::~ProfiledOp() {
  DeviceRuntime& rt = *backend_slot(backend_).runtime;
  try {
    void* end = rt.event_create(device_);
    rt.event_record(device_, end, stream_);
    OpRecord r{std::move(name_), backend_, device_, stream_, start_, end, correlation_, host_start_ns_, now_ns(),
               static_cast<int32_t>(libkineto::systemThreadId())};
    std::lock_guard<std::mutex> lock(g_session_mutex);
    if (g_session) {
      g_session->add(std::move(r));
      return;
    }
    rt.event_destroy(device_, end);  // the session ended while the op ran
  } catch (...) {
  }
  try {
    rt.event_destroy(device_, start_);
  } catch (...) {
  }
}

void register_profiler() {
  torch::profiler::impl::registerPrivateUse1Methods(&g_stubs);
  libkineto::api().registerProfilerFactory([] { return std::make_unique<ActivityProfiler>(); });
}

}  // namespace deeplink
