// Fibers and the per-block scheduler of the emulated CUDA device.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cuda_emu.hpp"

namespace emu {

enum class FiberStatus { Runnable, BlockWait, WarpWait, Done };

struct Fiber {
    ThreadState state;
    void* sp = nullptr;
    FiberStatus status = FiberStatus::Runnable;
    unsigned warp_mask = 0;
    const void* barrier_site = nullptr;  // which __syncthreads the fiber waits at
    unsigned lane = 0;
    unsigned warp = 0;
    uint64_t published = 0;
};

// One block's worth of fibers on one host thread: stacks are kept between launches.
class BlockRunner {
public:
    BlockRunner();
    ~BlockRunner();
    BlockRunner(const BlockRunner&) = delete;
    BlockRunner& operator=(const BlockRunner&) = delete;

    // Runs every thread of one block to completion. Returns an empty string or what went wrong.
    std::string run(Thunk kernel, void** args, dim3 grid, dim3 block, dim3 block_idx, std::size_t shared_bytes);

    void* dynamic_shared() { return shared_.data(); }
    Fiber& current() { return fibers_[current_]; }
    void yield_to_scheduler();
    [[noreturn]] void fail(const char* message);
    // The value lane `lane` of `warp` published, or `fallback` when that lane does not exist.
    uint64_t published(unsigned warp, unsigned lane, uint64_t fallback) const;

private:
    void ensure_stacks(std::size_t count);
    bool release_waiters();
    static void entry(BlockRunner* self);

    void prepare(Fiber& fiber, std::size_t index);

    std::vector<Fiber> fibers_;
    std::vector<void*> stacks_;
    std::vector<unsigned char> shared_;
    std::size_t current_ = 0;
    std::size_t count_ = 0;
    void* scheduler_sp_ = nullptr;
    Thunk kernel_ = nullptr;
    void** args_ = nullptr;
    std::string error_;
};

BlockRunner& this_runner();

}  // namespace emu
