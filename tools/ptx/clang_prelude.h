// What NVRTC provides without headers, for clang-19 compiling kernels/*.cu to PTX with -nocudainc
// -nocudalib (no CUDA toolkit on our machines): the CUDA attributes, the builtin index variables (from
// clang's own resource header), barriers, warp shuffles and the few math functions the kernels use,
// all as clang NVPTX builtins.
#pragma once

#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __host__ __attribute__((host))
#define __shared__ __attribute__((shared))
#define __constant__ __attribute__((constant))
#define __forceinline__ __inline__ __attribute__((always_inline))
#define __launch_bounds__(...) __attribute__((launch_bounds(__VA_ARGS__)))

#include <__clang_cuda_builtin_vars.h>

__device__ inline void __syncwarp(unsigned mask = 0xffffffffu) { __nvvm_bar_warp_sync(mask); }

__device__ inline float __shfl_xor_sync(unsigned mask, float v, int lane_mask, int width = 32) {
    return __nvvm_shfl_sync_bfly_f32(mask, v, lane_mask, ((32 - width) << 8) | 0x1f);
}
__device__ inline int __shfl_xor_sync(unsigned mask, int v, int lane_mask, int width = 32) {
    return __nvvm_shfl_sync_bfly_i32(mask, v, lane_mask, ((32 - width) << 8) | 0x1f);
}
__device__ inline float __shfl_down_sync(unsigned mask, float v, unsigned delta, int width = 32) {
    return __nvvm_shfl_sync_down_f32(mask, v, delta, ((32 - width) << 8) | 0x1f);
}
__device__ inline float __shfl_sync(unsigned mask, float v, int src, int width = 32) {
    return __nvvm_shfl_sync_idx_f32(mask, v, src, ((32 - width) << 8) | 0x1f);
}
__device__ inline unsigned __ballot_sync(unsigned mask, int predicate) { return __nvvm_vote_ballot_sync(mask, predicate); }

// Math functions come from libdevice under NVRTC; here they stay external calls to the same __nv_* symbols,
// which is valid PTX (resolved when libdevice is linked) and keeps the code path NVRTC compiles.
#define VIPER_LIBDEVICE_1(name) extern "C" __device__ float __nv_##name(float); \
    __device__ inline float name(float x) { return __nv_##name(x); }
VIPER_LIBDEVICE_1(expf)
VIPER_LIBDEVICE_1(erff)
VIPER_LIBDEVICE_1(tanhf)
VIPER_LIBDEVICE_1(rsqrtf)
VIPER_LIBDEVICE_1(sqrtf)
VIPER_LIBDEVICE_1(sinf)
VIPER_LIBDEVICE_1(cosf)
VIPER_LIBDEVICE_1(logf)
extern "C" __device__ float __nv_powf(float, float);
__device__ inline float powf(float x, float y) { return __nv_powf(x, y); }

__device__ inline float __int_as_float(int x) { return __builtin_bit_cast(float, x); }
__device__ inline int __float_as_int(float x) { return __builtin_bit_cast(int, x); }
__device__ inline float fmaxf(float a, float b) { return __builtin_fmaxf(a, b); }
__device__ inline float fabsf(float a) { return __builtin_fabsf(a); }
__device__ inline float rintf(float a) { return __builtin_rintf(a); }
__device__ inline float fminf(float a, float b) { return __builtin_fminf(a, b); }
__device__ inline float atomicAdd(float* address, float value) { return __nvvm_atom_add_gen_f(address, value); }
__device__ inline int atomicCAS(int* address, int compare, int value) { return __nvvm_atom_cas_gen_i(address, compare, value); }
#define __align__(n) __attribute__((aligned(n)))
