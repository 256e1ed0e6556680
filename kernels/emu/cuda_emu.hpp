// What kernels/*.cu see when g++ compiles them for the emulated CUDA device (common.cuh includes this
// when __CUDACC__ is not defined). Each CUDA thread is a fiber; a block's fibers share one host thread,
// so `static thread_local` storage is exactly per-block `__shared__` memory. Warp collectives synchronise
// the lanes of one warp only, as on the hardware; __syncthreads synchronises the block.
#pragma once

#include <math.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};

namespace emu {

struct ThreadState {
    dim3 thread_idx, block_idx, block_dim, grid_dim;
};

const ThreadState& current();
void sync_block();
// Every lane in `mask` publishes `value`; returns the value published by `src_lane`.
uint64_t warp_exchange(unsigned mask, uint64_t value, unsigned src_lane);
// Every lane in `mask` publishes `predicate`; returns the ballot of the lanes in `mask`.
unsigned warp_ballot(unsigned mask, bool predicate);
void* dynamic_shared();
// Every lane in `mask` contributes `bytes` from `mine`; `all` receives 32 such slots, by lane.
void warp_gather(unsigned mask, const void* mine, std::size_t bytes, void* all);
[[noreturn]] void trap(const char* message);

using Thunk = void (*)(void**);

struct Registrar {
    Registrar(const char* name, Thunk thunk, const std::size_t* param_sizes, std::size_t param_count);
};

// cuLaunchKernel's argument packing: args[i] points at the i-th parameter's value. The unpacking is
// deduced from the kernel's own signature, so no entry point has a hand-written thunk.
template <typename... A, std::size_t... I>
void call_with(void (*fn)(A...), void** args, std::index_sequence<I...>) {
    fn(*static_cast<std::decay_t<A>*>(args[I])...);
}

template <typename... A>
constexpr std::size_t param_count(void (*)(A...)) { return sizeof...(A); }

template <auto Fn>
void thunk(void** args) {
    call_with(Fn, args, std::make_index_sequence<param_count(Fn)>{});
}

template <typename... A>
struct ParamSizes {
    static constexpr std::size_t value[sizeof...(A) + 1] = {sizeof(std::decay_t<A>)..., 0};
};

template <typename... A>
constexpr const std::size_t* param_sizes(void (*)(A...)) { return ParamSizes<A...>::value; }

template <typename T>
T shfl(unsigned mask, T value, unsigned src_lane) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>);
    uint64_t bits = 0;
    std::memcpy(&bits, &value, sizeof(T));
    bits = warp_exchange(mask, bits, src_lane);
    T out;
    std::memcpy(&out, &bits, sizeof(T));
    return out;
}

inline unsigned lane_id() {
    const ThreadState& s = current();
    unsigned linear = s.thread_idx.x + s.block_dim.x * (s.thread_idx.y + s.block_dim.y * s.thread_idx.z);
    return linear % 32;
}

}  // namespace emu

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __restrict__ __restrict
#define __shared__ static thread_local
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))

#define threadIdx (::emu::current().thread_idx)
#define blockIdx (::emu::current().block_idx)
#define blockDim (::emu::current().block_dim)
#define gridDim (::emu::current().grid_dim)

inline void __syncthreads() { ::emu::sync_block(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { ::emu::warp_exchange(mask, 0, 0); }

template <typename T>
T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
    unsigned lane = ::emu::lane_id();
    return ::emu::shfl(mask, v, (lane & ~unsigned(width - 1)) + (unsigned(src) & unsigned(width - 1)));
}

template <typename T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
    unsigned lane = ::emu::lane_id();
    unsigned src = lane ^ unsigned(lane_mask);
    // A lane outside the caller's segment of `width` lanes reads its own value, as on the hardware.
    if ((src & ~unsigned(width - 1)) != (lane & ~unsigned(width - 1))) src = lane;
    return ::emu::shfl(mask, v, src);
}

template <typename T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    unsigned lane = ::emu::lane_id();
    unsigned src = lane + delta;
    if ((src & ~unsigned(width - 1)) != (lane & ~unsigned(width - 1))) src = lane;
    return ::emu::shfl(mask, v, src);
}

inline unsigned __ballot_sync(unsigned mask, int predicate) { return ::emu::warp_ballot(mask, predicate != 0); }
inline int __any_sync(unsigned mask, int predicate) { return ::emu::warp_ballot(mask, predicate != 0) != 0; }
inline int __all_sync(unsigned mask, int predicate) { return ::emu::warp_ballot(mask, predicate != 0) == mask; }

template <typename T>
T atomicAdd(T* address, T value) {
    return __atomic_fetch_add(address, value, __ATOMIC_RELAXED);
}

inline float atomicAdd(float* address, float value) {
    auto* bits = reinterpret_cast<uint32_t*>(address);
    uint32_t expected = __atomic_load_n(bits, __ATOMIC_RELAXED);
    for (;;) {
        float old;
        std::memcpy(&old, &expected, 4);
        float updated = old + value;
        uint32_t desired;
        std::memcpy(&desired, &updated, 4);
        if (__atomic_compare_exchange_n(bits, &expected, desired, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
            return old;
        }
    }
}

inline int atomicCAS(int* address, int compare, int value) {
    __atomic_compare_exchange_n(address, &compare, value, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return compare;  // the old value: compare_exchange writes it back on failure and leaves it (equal) on success
}

inline unsigned atomicMax(unsigned* address, unsigned value) {
    unsigned old = __atomic_load_n(address, __ATOMIC_RELAXED);
    while (old < value && !__atomic_compare_exchange_n(address, &old, value, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return old;
}

inline float rsqrtf(float x) { return 1.f / sqrtf(x); }

[[noreturn]] inline void __trap() { ::emu::trap("__trap() called"); }

// Registers an extern "C" kernel under its own name, with its parameter sizes (for graph capture).
#define VIPER_ENTRY(fn)                                                                               \
    static ::emu::Registrar viper_registrar_##fn(#fn, &::emu::thunk<&fn>, ::emu::param_sizes(&fn), \
                                                 ::emu::param_count(&fn));
