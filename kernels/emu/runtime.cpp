// The emulated CUDA device's C API (loaded by Viper.Cuda's EmulatedDevice): memory with guard zones,
// kernels looked up by name and launched through cuLaunchKernel-style argument arrays, blocks spread over
// host threads, stream capture into graphs that replay, and a reference GEMM behind the cuBLASLt interface.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "capture.hpp"
#include "fibers.hpp"

namespace emu {
namespace {

struct Entry {
    Thunk thunk;
    std::vector<std::size_t> param_sizes;
};

std::unordered_map<std::string, Entry>& registry() {
    static std::unordered_map<std::string, Entry> r;
    return r;
}

thread_local std::string last_error;

int fail(std::string message) {
    last_error = std::move(message);
    return 1;
}

// ---- memory -----------------------------------------------------------------------------------------

constexpr std::size_t kGuard = 4096;
constexpr unsigned char kGuardByte = 0xA5;

struct Allocation {
    unsigned char* base;
    std::size_t size;
    int device;
};

// Several emulated devices (VIPER_EMU_DEVICES): each has its own block-running threads and runs its launches one at
// a time, as one stream per GPU does; launches on different devices run at the same time. The device a call acts on
// is the calling thread's current one (viper_emu_set_device, as cuCtxSetCurrent makes a context current).
constexpr int kMaxDevices = 8;
thread_local int current_device = 0;

std::mutex memory_mutex;
std::map<uintptr_t, Allocation> allocations;  // keyed by the user pointer

// Freed memory is poisoned with 0xFF bytes (NaN in f32, f16 and bf16) and held back for a while before it is
// really released, so a kernel that still reads it (a graph replaying into a freed scratch buffer, say)
// produces NaNs that a test sees, instead of reading stale but plausible values.
constexpr std::size_t kQuarantineBytes = 256u << 20;
std::deque<Allocation> quarantine;
std::size_t quarantined = 0;

// Guard zones sit directly before and after the user's bytes, so even a one-element overrun is seen. A broken
// guard is reported once, by the launch that broke it, and then repaired.
std::string check_allocation_locked(uintptr_t user, const Allocation& a) {
    unsigned char* zones[2] = {a.base, a.base + kGuard + a.size};
    for (int z = 0; z < 2; ++z) {
        for (std::size_t i = 0; i < kGuard; ++i) {
            if (zones[z][i] == kGuardByte) continue;
            std::size_t at = z == 0 ? kGuard - i : i;
            char where[160];
            std::snprintf(where, sizeof where, "out-of-bounds write %zu bytes %s a %zu-byte allocation at 0x%llx", at,
                          z == 0 ? "before" : "after the end of", a.size, static_cast<unsigned long long>(user));
            std::memset(zones[0], kGuardByte, kGuard);
            std::memset(zones[1], kGuardByte, kGuard);
            return where;
        }
    }
    return {};
}

std::string check_guards_locked(int device) {
    for (auto& [user, a] : allocations) {
        if (device >= 0 && a.device != device) continue;  // a device's kernels only reach its own memory
        std::string broken = check_allocation_locked(user, a);
        if (!broken.empty()) return broken;
    }
    return {};
}

// The allocation that holds (or ends at) address v, if any.
std::map<uintptr_t, Allocation>::iterator allocation_at_locked(uintptr_t v) {
    auto it = allocations.upper_bound(v);
    if (it == allocations.begin()) return allocations.end();
    --it;
    return v <= it->first + it->second.size ? it : allocations.end();
}

// After a launch: the guards of every allocation a kernel argument points into — an address argument, or an address
// inside a by-value struct argument (every aligned 8-byte word is looked up). Kernels reach device memory only
// through their arguments, so this finds every overrun, without scanning every allocation of the device per launch.
std::string check_argument_guards_locked(const std::vector<std::size_t>& sizes, void** args) {
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        for (std::size_t offset = 0; offset + sizeof(uintptr_t) <= sizes[i]; offset += sizeof(uintptr_t)) {
            uintptr_t v;
            std::memcpy(&v, static_cast<unsigned char*>(args[i]) + offset, sizeof v);
            auto it = allocation_at_locked(v);
            if (it == allocations.end()) continue;
            std::string broken = check_allocation_locked(it->first, it->second);
            if (!broken.empty()) return broken;
        }
    }
    return {};
}

// A pointer-sized kernel argument that points into freed (quarantined) memory: a use after free.
std::string freed_argument_locked(const std::vector<std::size_t>& sizes, void** args) {
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        if (sizes[i] != sizeof(void*)) continue;
        uintptr_t v;
        std::memcpy(&v, args[i], sizeof v);
        for (const Allocation& q : quarantine) {
            auto user = reinterpret_cast<uintptr_t>(q.base + kGuard);
            if (v >= user && v < user + q.size) return "argument " + std::to_string(i) + " points into freed device memory";
        }
    }
    return {};
}

bool in_allocation_locked(uintptr_t p, std::size_t bytes) {
    auto it = allocations.upper_bound(p);
    if (it == allocations.begin()) return false;
    --it;
    return p >= it->first && p + bytes <= it->first + it->second.size;
}

// ---- workers ----------------------------------------------------------------------------------------

struct Launch {
    Thunk thunk;
    void** args;
    dim3 grid, block;
    std::size_t shared;
    std::atomic<std::size_t> next{0};
    std::size_t blocks;
    std::mutex error_mutex;
    std::string error;
};

// Host threads that run blocks; each keeps its own BlockRunner (fiber stacks, shared memory).
class Pool {
public:
    explicit Pool(unsigned threads) {
        for (unsigned i = 1; i < threads; ++i) workers_.emplace_back([this] { work(); });
    }
    ~Pool() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        wake_.notify_all();
        for (auto& t : workers_) t.join();
    }

    std::string run(Launch& launch) {
        {
            std::lock_guard lock(mutex_);
            launch_ = &launch;
            busy_ = workers_.size();
            ++generation_;
        }
        wake_.notify_all();
        drain(launch);
        std::unique_lock lock(mutex_);
        done_.wait(lock, [this] { return busy_ == 0; });
        launch_ = nullptr;
        return launch.error;
    }

private:
    static BlockRunner& runner() {
        static thread_local BlockRunner r;
        return r;
    }

    static void drain(Launch& l) {
        for (;;) {
            std::size_t b = l.next.fetch_add(1);
            if (b >= l.blocks) return;
            {
                std::lock_guard lock(l.error_mutex);
                if (!l.error.empty()) return;
            }
            dim3 idx{unsigned(b % l.grid.x), unsigned(b / l.grid.x % l.grid.y), unsigned(b / (std::size_t(l.grid.x) * l.grid.y))};
            std::string e = runner().run(l.thunk, l.args, l.grid, l.block, idx, l.shared);
            if (!e.empty()) {
                std::lock_guard lock(l.error_mutex);
                if (l.error.empty()) {
                    l.error = e + " (block " + std::to_string(idx.x) + "," + std::to_string(idx.y) + "," + std::to_string(idx.z) + ")";
                }
            }
        }
    }

    void work() {
        std::size_t seen = 0;
        for (;;) {
            Launch* l;
            {
                std::unique_lock lock(mutex_);
                wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
                if (stop_) return;
                seen = generation_;
                l = launch_;
            }
            drain(*l);
            {
                std::lock_guard lock(mutex_);
                --busy_;
            }
            done_.notify_one();
        }
    }

    std::vector<std::thread> workers_;
    std::mutex mutex_;
    std::condition_variable wake_, done_;
    Launch* launch_ = nullptr;
    std::size_t busy_ = 0;
    std::size_t generation_ = 0;
    bool stop_ = false;
};

struct Device {
    std::mutex launch_mutex;  // one launch at a time: the device runs a single stream
    std::mutex pool_mutex;
    unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    std::unique_ptr<Pool> pool;

    Pool& workers() {
        std::lock_guard lock(pool_mutex);
        if (!pool) pool = std::make_unique<Pool>(threads);
        return *pool;
    }
};

Device& device(int ordinal) {
    static Device devices[kMaxDevices];
    return devices[ordinal];
}

int launch_now(int ordinal, const Entry& e, const char* name, dim3 grid, dim3 block, std::size_t shared, void** args) {
    std::size_t threads = std::size_t(block.x) * block.y * block.z;
    if (threads == 0 || threads > 1024) return fail(std::string(name) + ": block of " + std::to_string(threads) + " threads (1..1024)");
    if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 || grid.z > 65535) return fail(std::string(name) + ": invalid grid");
    if (shared > 227 * 1024) return fail(std::string(name) + ": " + std::to_string(shared) + " bytes of dynamic shared memory (max 227 KiB)");
    Launch l;
    l.thunk = e.thunk;
    l.args = args;
    l.grid = grid;
    l.block = block;
    l.shared = shared;
    l.blocks = std::size_t(grid.x) * grid.y * grid.z;
    {
        std::lock_guard lock(memory_mutex);
        std::string freed = freed_argument_locked(e.param_sizes, args);
        if (!freed.empty()) return fail(std::string(name) + ": " + freed);
    }
    Device& d = device(ordinal);
    std::lock_guard launch_lock(d.launch_mutex);
    std::string error = d.workers().run(l);
    if (!error.empty()) return fail(std::string(name) + ": " + error);
    std::lock_guard lock(memory_mutex);
    std::string guards = check_argument_guards_locked(e.param_sizes, args);
    if (!guards.empty()) return fail(std::string(name) + ": " + guards);
    return 0;
}

// ---- graphs -----------------------------------------------------------------------------------------

struct Node {
    std::function<int()> run;
};

struct Graph {
    std::vector<Node> nodes;
};

// Capture is per host thread (like CU_STREAM_CAPTURE_MODE_THREAD_LOCAL): work another thread enqueues
// meanwhile runs as usual instead of joining this thread's graph.
thread_local Graph* capturing = nullptr;

}  // namespace

int record_or_run(std::function<int()> op) {
    if (capturing != nullptr) {
        capturing->nodes.push_back(Node{std::move(op)});
        return 0;
    }
    return op();
}

Registrar::Registrar(const char* name, Thunk thunk, const std::size_t* sizes, std::size_t count) {
    registry()[name] = Entry{thunk, std::vector<std::size_t>(sizes, sizes + count)};
}

}  // namespace emu

using namespace emu;

extern "C" {

const char* viper_emu_last_error() { return last_error.c_str(); }

int viper_emu_kernel_exists(const char* name) { return registry().count(name) != 0; }

int viper_emu_set_device(int ordinal) {
    if (ordinal < 0 || ordinal >= kMaxDevices) return fail("emulated device " + std::to_string(ordinal) + " (0.." + std::to_string(kMaxDevices - 1) + ")");
    current_device = ordinal;
    return 0;
}

// The host threads that run one device's blocks (before its first launch; the default is every core).
int viper_emu_configure_device(int ordinal, int threads) {
    if (ordinal < 0 || ordinal >= kMaxDevices || threads < 1) return fail("emulated device " + std::to_string(ordinal) + " with " + std::to_string(threads) + " threads");
    Device& d = device(ordinal);
    std::lock_guard lock(d.pool_mutex);
    if (d.pool && d.threads != unsigned(threads)) return fail("emulated device " + std::to_string(ordinal) + " already runs on " + std::to_string(d.threads) + " threads");
    d.threads = unsigned(threads);
    return 0;
}

int viper_emu_malloc(void** out, std::size_t bytes) {
    auto* base = static_cast<unsigned char*>(std::aligned_alloc(256, (kGuard * 2 + bytes + 255) / 256 * 256));
    if (base == nullptr) return fail("out of memory allocating " + std::to_string(bytes) + " bytes on the emulated device");
    std::memset(base, kGuardByte, kGuard);
    std::memset(base + kGuard + bytes, kGuardByte, kGuard);
    std::lock_guard lock(memory_mutex);
    *out = base + kGuard;
    allocations[reinterpret_cast<uintptr_t>(*out)] = Allocation{base, bytes, current_device};
    return 0;
}

// Frees and explicit guard checks wait for a running launch on the memory's device (launch_mutex before
// memory_mutex, the launch's order): otherwise a free on another host thread could find, repair and claim the
// guard a kernel is breaking right now.
int viper_emu_free(void* p) {
    int owner;
    {
        std::lock_guard lock(memory_mutex);
        auto it = allocations.find(reinterpret_cast<uintptr_t>(p));
        if (it == allocations.end()) return fail("free of a pointer the emulated device did not allocate");
        owner = it->second.device;
    }
    std::lock_guard launch_lock(device(owner).launch_mutex);
    std::lock_guard lock(memory_mutex);
    auto it = allocations.find(reinterpret_cast<uintptr_t>(p));
    if (it == allocations.end()) return fail("free of a pointer the emulated device did not allocate");
    std::string guards = check_allocation_locked(it->first, it->second);  // launches checked the rest as they ran
    Allocation a = it->second;
    allocations.erase(it);
    std::memset(a.base + kGuard, 0xFF, a.size);
    quarantine.push_back(a);
    quarantined += a.size;
    while (quarantined > kQuarantineBytes) {
        quarantined -= quarantine.front().size;
        std::free(quarantine.front().base);
        quarantine.pop_front();
    }
    return guards.empty() ? 0 : fail(guards);
}

int viper_emu_check_guards() {
    std::lock_guard launch_lock(device(current_device).launch_mutex);
    std::lock_guard lock(memory_mutex);
    std::string guards = check_guards_locked(current_device);
    return guards.empty() ? 0 : fail(guards);
}

// kind: 0 host→device, 1 device→host, 2 device→device.
int viper_emu_memcpy(void* dst, const void* src, std::size_t bytes, int kind) {
    {
        std::lock_guard lock(memory_mutex);
        bool ok = (kind == 1 || in_allocation_locked(reinterpret_cast<uintptr_t>(dst), bytes)) &&
                  (kind == 0 || in_allocation_locked(reinterpret_cast<uintptr_t>(src), bytes));
        if (!ok) return fail("memcpy of " + std::to_string(bytes) + " bytes outside an emulated device allocation");
    }
    if (kind != 2 && capturing != nullptr) return fail("host copies cannot be captured into a graph");
    return record_or_run([=] {
        std::memcpy(dst, src, bytes);
        return 0;
    });
}

int viper_emu_memset(void* dst, unsigned char value, std::size_t bytes) {
    {
        std::lock_guard lock(memory_mutex);
        if (!in_allocation_locked(reinterpret_cast<uintptr_t>(dst), bytes)) return fail("memset outside an emulated device allocation");
    }
    return record_or_run([=] {
        std::memset(dst, value, bytes);
        return 0;
    });
}

int viper_emu_launch(const char* name, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                     std::size_t shared, void** args) {
    auto it = registry().find(name);
    if (it == registry().end()) return fail(std::string("no kernel named '") + name + "' in the emulated device");
    const Entry& e = it->second;
    // Capture copies the parameter values (sizes known from the kernel's signature), as cuLaunchKernel does.
    std::vector<std::vector<unsigned char>> values;
    for (std::size_t i = 0; i < e.param_sizes.size(); ++i) {
        auto* p = static_cast<unsigned char*>(args[i]);
        values.emplace_back(p, p + e.param_sizes[i]);
    }
    std::string kernel = name;
    dim3 grid{gx, gy, gz}, block{bx, by, bz};
    int ordinal = current_device;  // a replay runs on the device it was recorded on, whatever thread replays it
    return record_or_run([=]() mutable {
        std::vector<void*> ptrs;
        for (auto& v : values) ptrs.push_back(v.data());
        return launch_now(ordinal, e, kernel.c_str(), grid, block, shared, ptrs.data());
    });
}

int viper_emu_capture_begin() {
    if (capturing != nullptr) return fail("a capture is already in progress");
    capturing = new Graph();
    return 0;
}

int viper_emu_capture_end(void** graph) {
    if (capturing == nullptr) return fail("no capture in progress");
    *graph = capturing;
    capturing = nullptr;
    return 0;
}

int viper_emu_graph_launch(void* graph) {
    for (Node& n : static_cast<Graph*>(graph)->nodes) {
        if (n.run() != 0) return 1;
    }
    return 0;
}

int viper_emu_graph_nodes(void* graph) { return int(static_cast<Graph*>(graph)->nodes.size()); }

void viper_emu_graph_destroy(void* graph) { delete static_cast<Graph*>(graph); }

}  // extern "C"
