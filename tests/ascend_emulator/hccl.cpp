// libhccl.so of the emulator: the documented HCCL C ABI (CANN's hccl.h / hccl_types.h: types,
// enum values, prototypes) between processes of one machine, over TCP on the loopback interface.
//
// Root info: HcclGetRootInfo opens a bootstrap listener and writes its address and a random
// nonce into the 4108-byte HcclRootInfo; the caller passes the blob to every rank (deeplink does
// it through the c10d store). HcclCommInitRootInfo: every rank opens its own listener, registers
// (rank, port) with the bootstrap, gets the table back, and the ranks connect pairwise (a full
// mesh: ranks are few here). One reader thread per peer drains its socket into an inbox, so a
// send never waits for the receiver and a dead peer is seen at once (EOF).
//
// Collectives are queued on the aclrtStream like any device work and run, in stream order, on
// the emulated device's worker. They exchange whole buffers and reduce in rank order, so every
// rank gets bit-identical results. A failure (peer gone, mismatched collectives, timeout) breaks
// the communicator: its sockets are shut down, so the other ranks fail promptly too instead of
// waiting for their timeout, and the error reaches the host at the next stream synchronisation.
//
// Environment (the names real HCCL documents): HCCL_CONNECT_TIMEOUT (seconds, default 120) bounds
// the set-up, HCCL_EXEC_TIMEOUT (seconds, default 1800) bounds each wait for a peer's data.
#include "emu_api.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

extern "C" {
typedef enum {
  HCCL_SUCCESS = 0,
  HCCL_E_PARA = 1,
  HCCL_E_PTR = 2,
  HCCL_E_INTERNAL = 4,
  HCCL_E_NOT_SUPPORT = 5,
  HCCL_E_TIMEOUT = 9,
  HCCL_E_TCP_CONNECT = 11,
  HCCL_E_TCP_TRANSFER = 13,
  HCCL_E_REMOTE = 21,
} HcclResult;
typedef void* HcclComm;
typedef enum { HCCL_REDUCE_SUM = 0, HCCL_REDUCE_PROD = 1, HCCL_REDUCE_MAX = 2, HCCL_REDUCE_MIN = 3 } HcclReduceOp;
typedef enum {
  HCCL_DATA_TYPE_INT8 = 0,
  HCCL_DATA_TYPE_INT16 = 1,
  HCCL_DATA_TYPE_INT32 = 2,
  HCCL_DATA_TYPE_FP16 = 3,
  HCCL_DATA_TYPE_FP32 = 4,
  HCCL_DATA_TYPE_INT64 = 5,
  HCCL_DATA_TYPE_UINT64 = 6,
  HCCL_DATA_TYPE_UINT8 = 7,
  HCCL_DATA_TYPE_UINT16 = 8,
  HCCL_DATA_TYPE_UINT32 = 9,
  HCCL_DATA_TYPE_FP64 = 10,
  HCCL_DATA_TYPE_BFP16 = 11,
} HcclDataType;
#define HCCL_ROOT_INFO_BYTES 4108
typedef struct HcclRootInfoDef {
  char internal[HCCL_ROOT_INFO_BYTES];
} HcclRootInfo;
}

using namespace ascend_emu;

namespace {

constexpr char kMagic[16] = "DLEMU-HCCL-v1";
constexpr uint32_t kFrameMagic = 0x48434c31U;  // "HCL1"

// What HcclRootInfo carries in the emulator (the rest of the 4108 bytes is zero).
struct RootBlob {
  char magic[16];
  char host[64];
  uint32_t port;
  uint64_t nonce;
};
static_assert(sizeof(RootBlob) <= HCCL_ROOT_INFO_BYTES, "root info too small");

struct Hello {
  uint64_t nonce;
  uint32_t nranks, rank, port;
};

struct Frame {
  uint32_t magic, kind;
  uint64_t bytes;
};

enum Kind : uint32_t { ALLREDUCE = 1, BROADCAST, ALLGATHER, REDUCESCATTER, ALLTOALLV, SENDRECV, BARRIER };

const char* kind_name(uint32_t k) {
  static const char* names[] = {"?", "HcclAllReduce", "HcclBroadcast", "HcclAllGather", "HcclReduceScatter",
                                "HcclAlltoAllV", "HcclSend/HcclRecv", "HcclBarrier"};
  return k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

// An HCCL failure: the code the API returns and the text aclGetRecentErrMsg / the stream error carry.
struct HcclFailure {
  HcclResult code;
  std::string message;
};

long env_seconds(const char* name, long dflt) {
  const char* v = std::getenv(name);
  if (!v || !*v) return dflt;
  long s = std::strtol(v, nullptr, 10);
  return s > 0 ? s : dflt;
}

using Clock = std::chrono::steady_clock;

// ---- sockets -------------------------------------------------------------------------------
int listen_on(const char* host, uint32_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw HcclFailure{HCCL_E_TCP_CONNECT, std::string("socket(): ") + strerror(errno)};
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = 0;
  inet_pton(AF_INET, host, &a.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(fd, 64) != 0) {
    std::string why = strerror(errno);
    close(fd);
    throw HcclFailure{HCCL_E_TCP_CONNECT, "cannot listen on " + std::string(host) + ": " + why};
  }
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

void tune(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// Waits for fd to be readable until `deadline`; false on timeout.
bool wait_readable(int fd, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return true;  // let the read report the error
  }
}

int accept_until(int lfd, Clock::time_point deadline, const std::string& what) {
  if (!wait_readable(lfd, deadline))
    throw HcclFailure{HCCL_E_TIMEOUT, "timed out (HCCL_CONNECT_TIMEOUT) waiting for " + what};
  int fd = accept(lfd, nullptr, nullptr);
  if (fd < 0) throw HcclFailure{HCCL_E_TCP_CONNECT, "accept(): " + std::string(strerror(errno))};
  tune(fd);
  return fd;
}

int connect_until(const char* host, uint32_t port, Clock::time_point deadline, const std::string& what) {
  for (;;) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, host, &a.sin_addr);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
      tune(fd);
      return fd;
    }
    std::string why = strerror(errno);
    close(fd);
    if (Clock::now() > deadline)
      throw HcclFailure{HCCL_E_TCP_CONNECT, "cannot connect to " + what + " at " + host + ":" +
                                                std::to_string(port) + ": " + why};
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// false on EOF or error (errno kept)
bool read_all(int fd, void* buf, size_t n) {
  char* p = static_cast<char*>(buf);
  while (n) {
    ssize_t r = ::recv(fd, p, n, 0);
    if (r == 0) return false;
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool write_all(int fd, const void* buf, size_t n) {
  const char* p = static_cast<const char*>(buf);
  while (n) {
    ssize_t r = ::send(fd, p, n, MSG_NOSIGNAL);
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

std::string host_address() {
  const char* ip = std::getenv("HCCL_IF_IP");
  return ip && *ip ? ip : "127.0.0.1";
}

// ---- the communicator ------------------------------------------------------------------------
struct Message {
  uint32_t kind;
  std::vector<char> data;
};

struct Comm {
  uint32_t magic = 0x434f4d4dU;  // "COMM"
  uint32_t rank = 0, size = 0;
  int device = 0;
  long exec_timeout_s = 1800;
  std::vector<int> fds;                       // per peer rank (-1 for self)
  std::vector<std::deque<Message>> inbox;     // per peer rank
  std::vector<std::unique_ptr<std::mutex>> send_mu;
  std::vector<std::thread> readers;
  std::mutex mu;
  std::condition_variable cv;
  std::string broken;                         // why the communicator cannot be used any more
  std::atomic<bool> destroyed{false};

  void fail(const std::string& why) {
    {
      std::lock_guard<std::mutex> g(mu);
      if (broken.empty()) broken = why;
    }
    cv.notify_all();
    for (int fd : fds)
      if (fd >= 0) shutdown(fd, SHUT_RDWR);  // the peers see EOF now, not after their timeout
  }

  void read_loop(uint32_t peer) {
    int fd = fds[peer];
    for (;;) {
      Frame f;
      if (!read_all(fd, &f, sizeof(f))) break;
      if (f.magic != kFrameMagic) {
        fail("garbage from rank " + std::to_string(peer) + " (not an emulated HCCL frame)");
        return;
      }
      Message m{f.kind, std::vector<char>(f.bytes)};
      if (f.bytes && !read_all(fd, m.data.data(), f.bytes)) break;
      {
        std::lock_guard<std::mutex> g(mu);
        inbox[peer].push_back(std::move(m));
      }
      cv.notify_all();
    }
    if (!destroyed)
      fail("rank " + std::to_string(peer) + " closed its connection to rank " + std::to_string(rank) +
           " (its process exited or was killed, or its communicator failed)");
  }

  void check_usable() {
    std::lock_guard<std::mutex> g(mu);
    if (!broken.empty()) throw HcclFailure{HCCL_E_REMOTE, "communicator is broken: " + broken};
  }

  void send(uint32_t peer, uint32_t kind, const void* data, size_t n) {
    check_usable();
    Frame f{kFrameMagic, kind, n};
    std::lock_guard<std::mutex> g(*send_mu[peer]);
    if (!write_all(fds[peer], &f, sizeof(f)) || (n && !write_all(fds[peer], data, n))) {
      std::string why = "sending " + std::string(kind_name(kind)) + " data to rank " + std::to_string(peer) +
                        " failed: " + strerror(errno);
      fail(why);
      throw HcclFailure{HCCL_E_TCP_TRANSFER, why};
    }
  }

  std::vector<char> take(uint32_t peer, uint32_t kind, size_t expect) {
    std::unique_lock<std::mutex> lk(mu);
    auto deadline = Clock::now() + std::chrono::seconds(exec_timeout_s);
    while (inbox[peer].empty() && broken.empty()) {
      if (cv.wait_until(lk, deadline) == std::cv_status::timeout && inbox[peer].empty() && broken.empty()) {
        lk.unlock();
        std::string why = std::string(kind_name(kind)) + ": rank " + std::to_string(rank) + " waited " +
                          std::to_string(exec_timeout_s) + " s (HCCL_EXEC_TIMEOUT) for rank " +
                          std::to_string(peer) + ", which did not take part";
        fail(why);
        throw HcclFailure{HCCL_E_TIMEOUT, why};
      }
    }
    if (inbox[peer].empty()) throw HcclFailure{HCCL_E_REMOTE, std::string(kind_name(kind)) + ": " + broken};
    Message m = std::move(inbox[peer].front());
    inbox[peer].pop_front();
    lk.unlock();
    if (m.kind != kind || m.data.size() != expect) {
      std::string why = "collective mismatch: rank " + std::to_string(rank) + " runs " + kind_name(kind) + " of " +
                        std::to_string(expect) + " bytes, rank " + std::to_string(peer) + " sent " +
                        kind_name(m.kind) + " of " + std::to_string(m.data.size()) +
                        " bytes (the ranks called collectives in different orders or with different sizes)";
      fail(why);
      throw HcclFailure{HCCL_E_PARA, why};
    }
    return std::move(m.data);
  }

  void destroy() {
    destroyed = true;
    for (int fd : fds)
      if (fd >= 0) shutdown(fd, SHUT_RDWR);
    for (auto& t : readers)
      if (t.joinable()) t.join();
    for (int fd : fds)
      if (fd >= 0) close(fd);
  }
};

// ---- element types and reductions -----------------------------------------------------------
size_t type_size(HcclDataType t) {
  switch (t) {
    case HCCL_DATA_TYPE_INT8: case HCCL_DATA_TYPE_UINT8: return 1;
    case HCCL_DATA_TYPE_INT16: case HCCL_DATA_TYPE_UINT16: case HCCL_DATA_TYPE_FP16: case HCCL_DATA_TYPE_BFP16:
      return 2;
    case HCCL_DATA_TYPE_INT32: case HCCL_DATA_TYPE_UINT32: case HCCL_DATA_TYPE_FP32: return 4;
    case HCCL_DATA_TYPE_INT64: case HCCL_DATA_TYPE_UINT64: case HCCL_DATA_TYPE_FP64: return 8;
  }
  return 0;
}

float half_to_float(uint16_t h) {
  uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign << 31;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while (!(man & 0x400)) {
        man <<= 1;
        exp--;
      }
      man &= 0x3ff;
      bits = (sign << 31) | (exp << 23) | (man << 13);
    }
  } else if (exp == 31) {
    bits = (sign << 31) | (0xffu << 23) | (man << 13);
  } else {
    bits = (sign << 31) | ((exp - 15 + 127) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_half(float f) {  // round to nearest even
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  int32_t exp = static_cast<int32_t>((x >> 23) & 0xff) - 127 + 15;
  uint32_t man = x & 0x7fffff;
  if (((x >> 23) & 0xff) == 0xff) return static_cast<uint16_t>(sign | 0x7c00 | (man ? 0x200 : 0));
  if (exp >= 31) return static_cast<uint16_t>(sign | 0x7c00);
  if (exp <= 0) {
    if (exp < -10) return static_cast<uint16_t>(sign);
    man |= 0x800000;
    uint32_t shift = static_cast<uint32_t>(14 - exp);
    uint32_t half = man >> shift, rest = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rest > mid || (rest == mid && (half & 1))) half++;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = (static_cast<uint32_t>(exp) << 10) | (man >> 13), rest = man & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) half++;
  return static_cast<uint16_t>(sign | half);
}

float bf16_to_float(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_bf16(float f) {  // round to nearest even
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((x >> 16) | 0x40);
  x += 0x7fff + ((x >> 16) & 1);
  return static_cast<uint16_t>(x >> 16);
}

template <typename T>
T apply(HcclReduceOp op, T a, T b) {
  switch (op) {
    case HCCL_REDUCE_SUM: return static_cast<T>(a + b);
    case HCCL_REDUCE_PROD: return static_cast<T>(a * b);
    case HCCL_REDUCE_MAX: return a > b ? a : b;
    case HCCL_REDUCE_MIN: return a < b ? a : b;
  }
  return a;
}

template <typename T>
void reduce_into(void* acc, const void* in, size_t n, HcclReduceOp op) {
  T* a = static_cast<T*>(acc);
  const T* b = static_cast<const T*>(in);
  for (size_t i = 0; i < n; i++) a[i] = apply<T>(op, a[i], b[i]);
}

template <float (*To)(uint16_t), uint16_t (*From)(float)>
void reduce_16(void* acc, const void* in, size_t n, HcclReduceOp op) {
  uint16_t* a = static_cast<uint16_t*>(acc);
  const uint16_t* b = static_cast<const uint16_t*>(in);
  for (size_t i = 0; i < n; i++) a[i] = From(apply<float>(op, To(a[i]), To(b[i])));
}

// Wrap-around arithmetic for the signed types goes through their unsigned twins.
void reduce_any(HcclDataType t, void* acc, const void* in, size_t n, HcclReduceOp op) {
  switch (t) {
    case HCCL_DATA_TYPE_INT8: return reduce_into<int8_t>(acc, in, n, op);
    case HCCL_DATA_TYPE_INT16: return reduce_into<int16_t>(acc, in, n, op);
    case HCCL_DATA_TYPE_INT32: return reduce_into<int32_t>(acc, in, n, op);
    case HCCL_DATA_TYPE_INT64: return reduce_into<int64_t>(acc, in, n, op);
    case HCCL_DATA_TYPE_UINT8: return reduce_into<uint8_t>(acc, in, n, op);
    case HCCL_DATA_TYPE_UINT16: return reduce_into<uint16_t>(acc, in, n, op);
    case HCCL_DATA_TYPE_UINT32: return reduce_into<uint32_t>(acc, in, n, op);
    case HCCL_DATA_TYPE_UINT64: return reduce_into<uint64_t>(acc, in, n, op);
    case HCCL_DATA_TYPE_FP32: return reduce_into<float>(acc, in, n, op);
    case HCCL_DATA_TYPE_FP64: return reduce_into<double>(acc, in, n, op);
    case HCCL_DATA_TYPE_FP16: return reduce_16<half_to_float, float_to_half>(acc, in, n, op);
    case HCCL_DATA_TYPE_BFP16: return reduce_16<bf16_to_float, float_to_bf16>(acc, in, n, op);
  }
}

// ---- API plumbing ----------------------------------------------------------------------------
std::string hexp(const void* p) {
  std::ostringstream s;
  s << p;
  return s.str();
}

HcclResult report(const char* func, const HcclFailure& f) {
  set_error(func, f.code, f.message);
  return f.code;
}

Comm* checked_comm(HcclComm c) {
  Comm* comm = static_cast<Comm*>(c);
  if (!comm || comm->magic != 0x434f4d4dU || comm->destroyed)
    throw HcclFailure{HCCL_E_PARA, "comm " + hexp(c) + " is not a live communicator from HcclCommInitRootInfo"};
  return comm;
}

void check_type(HcclDataType t) {
  if (!type_size(t)) throw HcclFailure{HCCL_E_PARA, "unknown HcclDataType " + std::to_string(static_cast<int>(t))};
}

void check_op(HcclReduceOp op) {
  if (op < HCCL_REDUCE_SUM || op > HCCL_REDUCE_MIN)
    throw HcclFailure{HCCL_E_PARA, "unknown HcclReduceOp " + std::to_string(static_cast<int>(op))};
}

void check_buffer(const char* what, const void* p, size_t n) {
  if (n && !is_device_range(p, n))
    throw HcclFailure{HCCL_E_PTR, std::string(what) + " " + describe_range(p, n) +
                                      " is not device memory (HCCL needs aclrtMalloc buffers)"};
}

void check_rank(Comm* c, uint32_t r, const char* what) {
  if (r >= c->size || r == c->rank)
    throw HcclFailure{HCCL_E_PARA, std::string(what) + " " + std::to_string(r) + " is not another rank of this " +
                                       std::to_string(c->size) + "-rank communicator (this is rank " +
                                       std::to_string(c->rank) + ")"};
}

// Queues `body` on the stream as one device task; failures break the communicator and surface
// at the next synchronisation of the stream.
HcclResult queue(const char* func, Comm* c, aclrtStream stream, std::vector<Range> uses, std::function<void()> body) {
  std::string why;
  Stream* st = resolve_stream(stream, &why);
  if (!st) throw HcclFailure{HCCL_E_PARA, why};
  Task t;
  t.name = func;
  t.uses = std::move(uses);
  t.run = [c, body = std::move(body)] {
    try {
      body();
    } catch (const HcclFailure& f) {
      c->fail(f.message);
      throw EmuError{static_cast<int>(f.code), f.message};  // the runtime prefixes the task's name
    }
  };
  enqueue(st, std::move(t));
  return HCCL_SUCCESS;
}

Range range_of(const void* p, size_t n) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  return {a, a + n};
}

template <typename F>
HcclResult api(const char* func, const std::string& detail, F&& f) {
  record(func, detail);
  try {
    return f();
  } catch (const HcclFailure& e) {
    return report(func, e);
  }
}

}  // namespace

// ---- the HCCL C ABI --------------------------------------------------------------------------

EMU_EXPORT HcclResult HcclGetRootInfo(HcclRootInfo* rootInfo) {
  return api("HcclGetRootInfo", "", [&] {
    if (!rootInfo) throw HcclFailure{HCCL_E_PTR, "rootInfo is null"};
    std::string host = host_address();
    uint32_t port = 0;
    int lfd = listen_on(host.c_str(), &port);
    RootBlob blob{};
    std::memcpy(blob.magic, kMagic, sizeof(kMagic));
    std::strncpy(blob.host, host.c_str(), sizeof(blob.host) - 1);
    blob.port = port;
    blob.nonce = std::random_device{}() * 0x9e3779b97f4a7c15ULL ^ static_cast<uint64_t>(getpid());
    std::memset(rootInfo->internal, 0, sizeof(rootInfo->internal));
    std::memcpy(rootInfo->internal, &blob, sizeof(blob));
    long timeout = env_seconds("HCCL_CONNECT_TIMEOUT", 120);
    // The bootstrap: collects every rank's (rank, port), then tells everyone the whole table.
    std::thread([lfd, nonce = blob.nonce, timeout] {
      auto deadline = Clock::now() + std::chrono::seconds(timeout);
      std::vector<int> conns;
      std::vector<uint32_t> ports;
      uint32_t expected = 0, seen = 0;
      try {
        do {
          int fd = accept_until(lfd, deadline, "ranks to register with the HCCL root");
          Hello h;
          if (!read_all(fd, &h, sizeof(h)) || h.nonce != nonce || h.rank >= h.nranks ||
              (expected && h.nranks != expected)) {
            close(fd);
            continue;
          }
          if (!expected) {
            expected = h.nranks;
            conns.assign(expected, -1);
            ports.assign(expected, 0);
          }
          if (conns[h.rank] < 0) seen++;
          else close(conns[h.rank]);
          conns[h.rank] = fd;
          ports[h.rank] = h.port;
        } while (seen < expected);
        for (int fd : conns) write_all(fd, ports.data(), ports.size() * sizeof(uint32_t));
      } catch (const HcclFailure&) {
        // the ranks that did register time out themselves and say why
      }
      for (int fd : conns)
        if (fd >= 0) close(fd);
      close(lfd);
    }).detach();
    return HCCL_SUCCESS;
  });
}

EMU_EXPORT HcclResult HcclCommInitRootInfo(uint32_t nRanks, const HcclRootInfo* rootInfo, uint32_t rank,
                                           HcclComm* comm) {
  return api("HcclCommInitRootInfo", "nRanks=" + std::to_string(nRanks) + " rank=" + std::to_string(rank), [&] {
    if (!rootInfo || !comm) throw HcclFailure{HCCL_E_PTR, "rootInfo and comm must not be null"};
    if (nRanks == 0 || rank >= nRanks)
      throw HcclFailure{HCCL_E_PARA, "rank " + std::to_string(rank) + " is outside 0.." + std::to_string(nRanks)};
    if (current_device() < 0)
      throw HcclFailure{HCCL_E_PARA, "no current device on this thread: call aclrtSetDevice first"};
    RootBlob blob;
    std::memcpy(&blob, rootInfo->internal, sizeof(blob));
    if (std::memcmp(blob.magic, kMagic, sizeof(kMagic)) != 0)
      throw HcclFailure{HCCL_E_PARA, "rootInfo was not made by HcclGetRootInfo of this (emulated) HCCL"};
    auto deadline = Clock::now() + std::chrono::seconds(env_seconds("HCCL_CONNECT_TIMEOUT", 120));
    auto c = std::make_unique<Comm>();
    c->rank = rank;
    c->size = nRanks;
    c->device = current_device();
    c->exec_timeout_s = env_seconds("HCCL_EXEC_TIMEOUT", 1800);
    c->fds.assign(nRanks, -1);
    c->inbox.resize(nRanks);
    for (uint32_t i = 0; i < nRanks; i++) c->send_mu.emplace_back(new std::mutex());
    std::string host = host_address();
    uint32_t my_port = 0;
    int lfd = listen_on(host.c_str(), &my_port);
    std::vector<uint32_t> ports(nRanks);
    try {
      int boot = connect_until(blob.host, blob.port, deadline, "the HCCL root (rank that called HcclGetRootInfo)");
      Hello h{blob.nonce, nRanks, rank, my_port};
      bool ok = write_all(boot, &h, sizeof(h)) && wait_readable(boot, deadline) &&
                read_all(boot, ports.data(), ports.size() * sizeof(uint32_t));
      close(boot);
      if (!ok)
        throw HcclFailure{HCCL_E_TIMEOUT, "the HCCL root did not hear from all " + std::to_string(nRanks) +
                                              " ranks within HCCL_CONNECT_TIMEOUT"};
      // Mesh: rank r connects to every lower rank and accepts every higher one.
      for (uint32_t peer = 0; peer < rank; peer++) {
        int fd = connect_until(blob.host, ports[peer], deadline, "rank " + std::to_string(peer));
        uint32_t me = rank;
        if (!write_all(fd, &me, sizeof(me))) throw HcclFailure{HCCL_E_TCP_CONNECT, "handshake with a peer failed"};
        c->fds[peer] = fd;
      }
      for (uint32_t n = rank + 1; n < nRanks; n++) {
        int fd = accept_until(lfd, deadline, "higher ranks to connect");
        uint32_t peer = 0;
        if (!read_all(fd, &peer, sizeof(peer)) || peer <= rank || peer >= nRanks || c->fds[peer] >= 0) {
          close(fd);
          throw HcclFailure{HCCL_E_TCP_CONNECT, "unexpected connection during HCCL set-up"};
        }
        c->fds[peer] = fd;
      }
    } catch (...) {
      close(lfd);
      for (int fd : c->fds)
        if (fd >= 0) close(fd);
      throw;
    }
    close(lfd);
    Comm* raw = c.release();
    for (uint32_t peer = 0; peer < nRanks; peer++) {
      if (peer == rank) {
        raw->readers.emplace_back();
        continue;
      }
      raw->readers.emplace_back([raw, peer] { raw->read_loop(peer); });
    }
    *comm = raw;
    return HCCL_SUCCESS;
  });
}

EMU_EXPORT HcclResult HcclCommDestroy(HcclComm comm) {
  return api("HcclCommDestroy", hexp(comm), [&] {
    Comm* c = checked_comm(comm);
    c->destroy();  // the Comm itself stays allocated, so a later use is reported, not undefined
    return HCCL_SUCCESS;
  });
}

EMU_EXPORT HcclResult HcclGetRankSize(HcclComm comm, uint32_t* rankSize) {
  return api("HcclGetRankSize", "", [&] {
    if (!rankSize) throw HcclFailure{HCCL_E_PTR, "rankSize is null"};
    *rankSize = checked_comm(comm)->size;
    return HCCL_SUCCESS;
  });
}

EMU_EXPORT HcclResult HcclGetRankId(HcclComm comm, uint32_t* rank) {
  return api("HcclGetRankId", "", [&] {
    if (!rank) throw HcclFailure{HCCL_E_PTR, "rank is null"};
    *rank = checked_comm(comm)->rank;
    return HCCL_SUCCESS;
  });
}

EMU_EXPORT const char* HcclGetErrorString(HcclResult code) {
  switch (code) {
    case HCCL_SUCCESS: return "success";
    case HCCL_E_PARA: return "parameter error";
    case HCCL_E_PTR: return "empty pointer";
    case HCCL_E_INTERNAL: return "internal error";
    case HCCL_E_NOT_SUPPORT: return "not supported";
    case HCCL_E_TIMEOUT: return "timeout";
    case HCCL_E_TCP_CONNECT: return "tcp connect fail";
    case HCCL_E_TCP_TRANSFER: return "tcp transfer fail";
    case HCCL_E_REMOTE: return "remote error";
  }
  return "unknown HCCL error";
}

EMU_EXPORT HcclResult HcclAllReduce(void* sendBuf, void* recvBuf, uint64_t count, HcclDataType dataType,
                                    HcclReduceOp op, HcclComm comm, aclrtStream stream) {
  return api("HcclAllReduce", "count=" + std::to_string(count) + " type=" + std::to_string(dataType), [&] {
    Comm* c = checked_comm(comm);
    check_type(dataType);
    check_op(op);
    size_t n = count * type_size(dataType);
    check_buffer("sendBuf", sendBuf, n);
    check_buffer("recvBuf", recvBuf, n);
    return queue("HcclAllReduce", c, stream, {range_of(sendBuf, n), range_of(recvBuf, n)}, [=] {
      for (uint32_t p = 0; p < c->size; p++)
        if (p != c->rank) c->send(p, ALLREDUCE, sendBuf, n);
      std::vector<char> acc;
      for (uint32_t r = 0; r < c->size; r++) {  // rank order: the same result bits on every rank
        std::vector<char> theirs = r == c->rank ? std::vector<char>(static_cast<char*>(sendBuf),
                                                                     static_cast<char*>(sendBuf) + n)
                                                : c->take(r, ALLREDUCE, n);
        if (r == 0) acc = std::move(theirs);
        else reduce_any(dataType, acc.data(), theirs.data(), count, op);
      }
      if (n) std::memcpy(recvBuf, acc.data(), n);
    });
  });
}

EMU_EXPORT HcclResult HcclBroadcast(void* buf, uint64_t count, HcclDataType dataType, uint32_t root, HcclComm comm,
                                    aclrtStream stream) {
  return api("HcclBroadcast", "count=" + std::to_string(count) + " root=" + std::to_string(root), [&] {
    Comm* c = checked_comm(comm);
    check_type(dataType);
    if (root >= c->size) throw HcclFailure{HCCL_E_PARA, "root " + std::to_string(root) + " is not a rank"};
    size_t n = count * type_size(dataType);
    check_buffer("buf", buf, n);
    return queue("HcclBroadcast", c, stream, {range_of(buf, n)}, [=] {
      if (c->rank == root) {
        for (uint32_t p = 0; p < c->size; p++)
          if (p != root) c->send(p, BROADCAST, buf, n);
      } else {
        std::vector<char> data = c->take(root, BROADCAST, n);
        if (n) std::memcpy(buf, data.data(), n);
      }
    });
  });
}

EMU_EXPORT HcclResult HcclAllGather(void* sendBuf, void* recvBuf, uint64_t sendCount, HcclDataType dataType,
                                    HcclComm comm, aclrtStream stream) {
  return api("HcclAllGather", "sendCount=" + std::to_string(sendCount), [&] {
    Comm* c = checked_comm(comm);
    check_type(dataType);
    size_t n = sendCount * type_size(dataType);
    check_buffer("sendBuf", sendBuf, n);
    check_buffer("recvBuf", recvBuf, n * c->size);
    return queue("HcclAllGather", c, stream, {range_of(sendBuf, n), range_of(recvBuf, n * c->size)}, [=] {
      std::vector<char> mine(static_cast<char*>(sendBuf), static_cast<char*>(sendBuf) + n);
      for (uint32_t p = 0; p < c->size; p++)
        if (p != c->rank) c->send(p, ALLGATHER, mine.data(), n);
      for (uint32_t r = 0; r < c->size; r++) {
        std::vector<char> part = r == c->rank ? mine : c->take(r, ALLGATHER, n);
        if (n) std::memcpy(static_cast<char*>(recvBuf) + r * n, part.data(), n);
      }
    });
  });
}

EMU_EXPORT HcclResult HcclReduceScatter(void* sendBuf, void* recvBuf, uint64_t recvCount, HcclDataType dataType,
                                        HcclReduceOp op, HcclComm comm, aclrtStream stream) {
  return api("HcclReduceScatter", "recvCount=" + std::to_string(recvCount), [&] {
    Comm* c = checked_comm(comm);
    check_type(dataType);
    check_op(op);
    size_t n = recvCount * type_size(dataType);
    check_buffer("sendBuf", sendBuf, n * c->size);
    check_buffer("recvBuf", recvBuf, n);
    return queue("HcclReduceScatter", c, stream, {range_of(sendBuf, n * c->size), range_of(recvBuf, n)}, [=] {
      const char* src = static_cast<const char*>(sendBuf);
      for (uint32_t p = 0; p < c->size; p++)
        if (p != c->rank) c->send(p, REDUCESCATTER, src + p * n, n);
      std::vector<char> acc;
      for (uint32_t r = 0; r < c->size; r++) {
        std::vector<char> part = r == c->rank ? std::vector<char>(src + r * n, src + (r + 1) * n)
                                              : c->take(r, REDUCESCATTER, n);
        if (r == 0) acc = std::move(part);
        else reduce_any(dataType, acc.data(), part.data(), recvCount, op);
      }
      if (n) std::memcpy(recvBuf, acc.data(), n);
    });
  });
}

EMU_EXPORT HcclResult HcclAlltoAllV(const void* sendBuf, const void* sendCounts, const void* sdispls,
                                    HcclDataType sendType, const void* recvBuf, const void* recvCounts,
                                    const void* rdispls, HcclDataType recvType, HcclComm comm, aclrtStream stream) {
  return api("HcclAlltoAllV", "", [&] {
    Comm* c = checked_comm(comm);
    check_type(sendType);
    check_type(recvType);
    if (type_size(sendType) != type_size(recvType))
      throw HcclFailure{HCCL_E_PARA, "sendType and recvType differ in size"};
    if (!sendCounts || !sdispls || !recvCounts || !rdispls)
      throw HcclFailure{HCCL_E_PTR, "counts and displacements must not be null"};
    size_t es = type_size(sendType);
    auto u64 = [](const void* p) { return static_cast<const uint64_t*>(p); };
    std::vector<uint64_t> sc(u64(sendCounts), u64(sendCounts) + c->size), sd(u64(sdispls), u64(sdispls) + c->size),
        rc(u64(recvCounts), u64(recvCounts) + c->size), rd(u64(rdispls), u64(rdispls) + c->size);
    std::vector<Range> uses;
    for (uint32_t p = 0; p < c->size; p++) {
      const char* s = static_cast<const char*>(sendBuf) + sd[p] * es;
      const char* r = static_cast<const char*>(recvBuf) + rd[p] * es;
      check_buffer("sendBuf slice", s, sc[p] * es);
      check_buffer("recvBuf slice", r, rc[p] * es);
      uses.push_back(range_of(s, sc[p] * es));
      uses.push_back(range_of(r, rc[p] * es));
    }
    if (sc[c->rank] != rc[c->rank])
      throw HcclFailure{HCCL_E_PARA, "this rank sends itself " + std::to_string(sc[c->rank]) + " elements but expects " +
                                         std::to_string(rc[c->rank])};
    return queue("HcclAlltoAllV", c, stream, uses, [=] {
      const char* s = static_cast<const char*>(sendBuf);
      char* r = const_cast<char*>(static_cast<const char*>(recvBuf));
      std::vector<char> own(s + sd[c->rank] * es, s + (sd[c->rank] + sc[c->rank]) * es);
      for (uint32_t p = 0; p < c->size; p++)
        if (p != c->rank) c->send(p, ALLTOALLV, s + sd[p] * es, sc[p] * es);
      if (!own.empty()) std::memcpy(r + rd[c->rank] * es, own.data(), own.size());
      for (uint32_t p = 0; p < c->size; p++) {
        if (p == c->rank) continue;
        std::vector<char> part = c->take(p, ALLTOALLV, rc[p] * es);
        if (!part.empty()) std::memcpy(r + rd[p] * es, part.data(), part.size());
      }
    });
  });
}

EMU_EXPORT HcclResult HcclSend(void* sendBuf, uint64_t count, HcclDataType dataType, uint32_t destRank,
                               HcclComm comm, aclrtStream stream) {
  return api("HcclSend", "count=" + std::to_string(count) + " dest=" + std::to_string(destRank), [&] {
    Comm* c = checked_comm(comm);
    check_type(dataType);
    check_rank(c, destRank, "destRank");
    size_t n = count * type_size(dataType);
    check_buffer("sendBuf", sendBuf, n);
    return queue("HcclSend", c, stream, {range_of(sendBuf, n)}, [=] { c->send(destRank, SENDRECV, sendBuf, n); });
  });
}

EMU_EXPORT HcclResult HcclRecv(void* recvBuf, uint64_t count, HcclDataType dataType, uint32_t srcRank,
                               HcclComm comm, aclrtStream stream) {
  return api("HcclRecv", "count=" + std::to_string(count) + " src=" + std::to_string(srcRank), [&] {
    Comm* c = checked_comm(comm);
    check_type(dataType);
    check_rank(c, srcRank, "srcRank");
    size_t n = count * type_size(dataType);
    check_buffer("recvBuf", recvBuf, n);
    return queue("HcclRecv", c, stream, {range_of(recvBuf, n)}, [=] {
      std::vector<char> data = c->take(srcRank, SENDRECV, n);
      if (n) std::memcpy(recvBuf, data.data(), n);
    });
  });
}

EMU_EXPORT HcclResult HcclBarrier(HcclComm comm, aclrtStream stream) {
  return api("HcclBarrier", "", [&] {
    Comm* c = checked_comm(comm);
    return queue("HcclBarrier", c, stream, {}, [=] {
      for (uint32_t p = 0; p < c->size; p++)
        if (p != c->rank) c->send(p, BARRIER, nullptr, 0);
      for (uint32_t p = 0; p < c->size; p++)
        if (p != c->rank) c->take(p, BARRIER, 0);
    });
  });
}
