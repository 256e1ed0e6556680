#include "fibers.hpp"

#include <sys/mman.h>

#include <cstring>
#include <stdexcept>

extern "C" void viper_emu_switch(void** save_sp, void* load_sp);
extern "C" void viper_emu_fiber_start();

namespace emu {
namespace {

constexpr std::size_t kStackBytes = 256 * 1024;
constexpr std::size_t kGuardBytes = 4096;  // PROT_NONE below each stack: an overflow faults instead of corrupting

thread_local BlockRunner* tls_runner = nullptr;

}  // namespace

BlockRunner& this_runner() {
    if (tls_runner == nullptr) throw std::logic_error("emulated device builtin used outside a kernel");
    return *tls_runner;
}

const ThreadState& current() { return this_runner().current().state; }

void* dynamic_shared() { return this_runner().dynamic_shared(); }

[[noreturn]] void trap(const char* message) { this_runner().fail(message); }

// Not inlined into kernels (separate translation unit), so the return address identifies the call site.
void sync_block() {
    BlockRunner& r = this_runner();
    r.current().status = FiberStatus::BlockWait;
    r.current().barrier_site = __builtin_return_address(0);
    r.yield_to_scheduler();
}

static void wait_warp(BlockRunner& r, unsigned mask) {
    Fiber& f = r.current();
    if ((mask & (1u << f.lane)) == 0) r.fail("a warp collective was called by a lane outside its own mask");
    f.status = FiberStatus::WarpWait;
    f.warp_mask = mask;
    r.yield_to_scheduler();
}

uint64_t warp_exchange(unsigned mask, uint64_t value, unsigned src_lane) {
    BlockRunner& r = this_runner();
    r.current().published = value;
    wait_warp(r, mask);  // every lane of the mask has published
    uint64_t result = r.published(r.current().warp, src_lane % 32, value);
    wait_warp(r, mask);  // every lane has read before any publishes again
    return result;
}

void warp_gather(unsigned mask, const void* mine, std::size_t bytes, void* all) {
    BlockRunner& r = this_runner();
    r.current().published = reinterpret_cast<uint64_t>(mine);  // valid while this lane waits below
    wait_warp(r, mask);
    for (unsigned lane = 0; lane < 32; ++lane) {
        uint64_t p = (mask >> lane & 1u) != 0 ? r.published(r.current().warp, lane, 0) : 0;
        if (p != 0) std::memcpy(static_cast<unsigned char*>(all) + lane * bytes, reinterpret_cast<const void*>(p), bytes);
    }
    wait_warp(r, mask);
}

unsigned warp_ballot(unsigned mask, bool predicate) {
    BlockRunner& r = this_runner();
    r.current().published = predicate ? 1 : 0;
    wait_warp(r, mask);
    unsigned ballot = 0;
    for (unsigned lane = 0; lane < 32; ++lane) {
        if ((mask >> lane & 1u) != 0 && r.published(r.current().warp, lane, 0) != 0) ballot |= 1u << lane;
    }
    wait_warp(r, mask);
    return ballot;
}

BlockRunner::BlockRunner() = default;

BlockRunner::~BlockRunner() {
    for (void* s : stacks_) munmap(s, kGuardBytes + kStackBytes);
}

void BlockRunner::ensure_stacks(std::size_t count) {
    while (stacks_.size() < count) {
        void* s = mmap(nullptr, kGuardBytes + kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (s == MAP_FAILED) throw std::runtime_error("emulated device: cannot map a fiber stack");
        mprotect(s, kGuardBytes, PROT_NONE);
        stacks_.push_back(s);
    }
}

void BlockRunner::prepare(Fiber& fiber, std::size_t index) {
    auto* top = reinterpret_cast<uint64_t*>(static_cast<unsigned char*>(stacks_[index]) + kGuardBytes + kStackBytes);
    // The frame viper_emu_switch pops (switch.S): control words, r15..r12, rbx, rbp, return address.
    top[-1] = reinterpret_cast<uint64_t>(&viper_emu_fiber_start);
    top[-2] = 0;                                        // rbp
    top[-3] = 0;                                        // rbx
    top[-4] = reinterpret_cast<uint64_t>(this);         // r12: entry's argument
    top[-5] = reinterpret_cast<uint64_t>(&BlockRunner::entry);  // r13: entry
    top[-6] = 0;                                        // r14
    top[-7] = 0;                                        // r15
    top[-8] = 0x1F80ull | (0x037Full << 32);            // default MXCSR and x87 control word
    fiber.sp = &top[-8];
}

void BlockRunner::entry(BlockRunner* self) {
    self->kernel_(self->args_);
    self->current().status = FiberStatus::Done;
    self->yield_to_scheduler();
}

void BlockRunner::yield_to_scheduler() { viper_emu_switch(&fibers_[current_].sp, scheduler_sp_); }

void BlockRunner::fail(const char* message) {
    if (error_.empty()) error_ = message;
    yield_to_scheduler();  // the scheduler sees the error and never resumes this block
    __builtin_unreachable();
}

uint64_t BlockRunner::published(unsigned warp, unsigned lane, uint64_t fallback) const {
    std::size_t index = std::size_t(warp) * 32 + lane;
    return index < count_ ? fibers_[index].published : fallback;
}

// After a pass in which every runnable fiber ran until it waited or finished: let through each warp group
// whose whole mask has arrived, else the block barrier once every live thread is at it.
bool BlockRunner::release_waiters() {
    bool released = false;
    for (std::size_t i = 0; i < count_; ++i) {
        Fiber& f = fibers_[i];
        if (f.status != FiberStatus::WarpWait) continue;
        bool complete = true;
        for (unsigned lane = 0; lane < 32; ++lane) {
            std::size_t j = std::size_t(f.warp) * 32 + lane;
            if ((f.warp_mask >> lane & 1u) == 0 || j >= count_) continue;
            const Fiber& other = fibers_[j];
            if (other.status != FiberStatus::WarpWait || other.warp_mask != f.warp_mask) {
                if (other.status != FiberStatus::Runnable) {
                    error_ = "warp collective reached by only some lanes of its mask (divergent __shfl/__ballot/__syncwarp)";
                    return false;
                }
                complete = false;
            }
        }
        if (!complete) continue;
        for (unsigned lane = 0; lane < 32; ++lane) {
            std::size_t j = std::size_t(f.warp) * 32 + lane;
            if ((f.warp_mask >> lane & 1u) != 0 && j < count_) fibers_[j].status = FiberStatus::Runnable;
        }
        released = true;
    }
    if (released) return true;
    bool all_at_barrier = true;
    for (std::size_t i = 0; i < count_; ++i) {
        FiberStatus s = fibers_[i].status;
        all_at_barrier &= s == FiberStatus::BlockWait || s == FiberStatus::Done;
    }
    if (!all_at_barrier) return false;
    const void* site = nullptr;
    for (std::size_t i = 0; i < count_; ++i) {
        if (fibers_[i].status != FiberStatus::BlockWait) continue;
        if (site != nullptr && fibers_[i].barrier_site != site) {
            error_ = "threads of the block wait at different __syncthreads calls (barrier in divergent code)";
            return false;
        }
        site = fibers_[i].barrier_site;
    }
    for (std::size_t i = 0; i < count_; ++i) {
        if (fibers_[i].status == FiberStatus::BlockWait) {
            fibers_[i].status = FiberStatus::Runnable;
            released = true;
        }
    }
    return released;
}

std::string BlockRunner::run(Thunk kernel, void** args, dim3 grid, dim3 block, dim3 block_idx, std::size_t shared_bytes) {
    count_ = std::size_t(block.x) * block.y * block.z;
    ensure_stacks(count_);
    if (fibers_.size() < count_) fibers_.resize(count_);
    if (shared_.size() < shared_bytes) shared_.resize(shared_bytes);
    kernel_ = kernel;
    args_ = args;
    error_.clear();
    for (std::size_t i = 0; i < count_; ++i) {
        Fiber& f = fibers_[i];
        unsigned x = unsigned(i % block.x), y = unsigned(i / block.x % block.y), z = unsigned(i / (std::size_t(block.x) * block.y));
        f.state = ThreadState{dim3{x, y, z}, block_idx, block, grid};
        f.status = FiberStatus::Runnable;
        f.lane = unsigned(i % 32);
        f.warp = unsigned(i / 32);
        prepare(f, i);
    }
    BlockRunner* outer = tls_runner;
    tls_runner = this;
    for (;;) {
        bool live = false;
        for (std::size_t i = 0; i < count_ && error_.empty(); ++i) {
            if (fibers_[i].status != FiberStatus::Runnable) continue;
            current_ = i;
            viper_emu_switch(&scheduler_sp_, fibers_[i].sp);
        }
        if (!error_.empty()) break;
        for (std::size_t i = 0; i < count_; ++i) live |= fibers_[i].status != FiberStatus::Done;
        if (!live) break;
        if (!release_waiters() && error_.empty()) error_ = "deadlock: no waiting thread can proceed";
        if (!error_.empty()) break;
    }
    tls_runner = outer;
    return error_;
}

}  // namespace emu
