// Shared by every kernel family. Compiles three ways with no CUDA toolkit header:
//   NVRTC at run time (__CUDACC_RTC__), clang-19 to PTX in CI (__CUDA__, with tools/ptx/clang_prelude.h),
//   and g++ for the emulated device (neither defined; emu/cuda_emu.hpp provides the CUDA builtins).
#pragma once

#if defined(__CUDACC_RTC__) || defined(__CUDA__)
#define VIPER_DEVICE_BUILD 1
#define VIPER_ENTRY(fn)
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef long long i64;
#else
#include "emu/cuda_emu.hpp"
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int64_t i64;
#endif

#define VIPER_INLINE __device__ __forceinline__

namespace viper {

template <typename T>
VIPER_INLINE T ceil_div(T a, T b) { return (a + b - 1) / b; }

// ---- f16 / bf16 storage types: 16 bits in memory, f32 for arithmetic --------------------------------

struct f16 { u16 bits; };
struct bf16 { u16 bits; };

#if VIPER_DEVICE_BUILD
VIPER_INLINE float to_float(f16 h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h.bits));
    return f;
}
VIPER_INLINE f16 to_f16(float f) {
    f16 h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h.bits) : "f"(f));
    return h;
}
VIPER_INLINE bf16 to_bf16(float f) {
    bf16 h;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h.bits) : "f"(f));
    return h;
}
VIPER_INLINE float bits_to_float(u32 bits) { return __int_as_float(int(bits)); }
VIPER_INLINE u32 float_to_bits(float f) { return u32(__float_as_int(f)); }
// Rounded f32 multiply and add that the compiler may not contract into an FMA, for results that must
// match the host bit for bit (the fused guidance step).
VIPER_INLINE float mul_rn(float a, float b) {
    float r;
    asm("mul.rn.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));
    return r;
}
VIPER_INLINE float add_rn(float a, float b) {
    float r;
    asm("add.rn.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));
    return r;
}
#else
inline float mul_rn(float a, float b) { return a * b; }  // g++ contracts nothing without -mfma
inline float add_rn(float a, float b) { return a + b; }
inline float bits_to_float(u32 bits) {
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}
inline u32 float_to_bits(float f) {
    u32 b;
    std::memcpy(&b, &f, 4);
    return b;
}
// Exact IEEE conversions, round to nearest even, matching the PTX instructions above.
inline float to_float(f16 h) {
    u32 sign = u32(h.bits & 0x8000u) << 16, exp = (h.bits >> 10) & 0x1Fu, man = h.bits & 0x3FFu;
    if (exp == 0x1F) return bits_to_float(sign | 0x7F800000u | (man << 13));
    if (exp == 0) {
        float v = float(man) * 5.9604644775390625e-8f;  // man · 2^-24, exact
        return sign ? -v : v;
    }
    return bits_to_float(sign | ((exp + 112) << 23) | (man << 13));
}
inline f16 to_f16(float f) {
    u32 x = float_to_bits(f), sign = (x >> 16) & 0x8000u, ax = x & 0x7FFFFFFFu;
    if (ax > 0x7F800000u) return f16{u16(sign | 0x7E00u | ((ax >> 13) & 0x3FFu))};  // NaN stays NaN (quiet)
    if (ax >= 0x477FF000u) return f16{u16(sign | 0x7C00u)};                          // rounds to ±inf
    if (ax < 0x38800000u) {                                                           // f16 subnormal or zero
        // Add 0.5 (2^-1) so the FPU's own round-to-nearest-even lands the value on the 2^-24 grid.
        float r = bits_to_float(ax) + 0.5f;
        return f16{u16(sign | (float_to_bits(r) - 0x3F000000u))};
    }
    u32 mant_odd = (ax >> 13) & 1u;
    ax += 0xC8000FFFu + mant_odd;  // rebias exponent (−112 << 23) and round to nearest even
    return f16{u16(sign | (ax >> 13))};
}
inline bf16 to_bf16(float f) {
    u32 x = float_to_bits(f);
    if ((x & 0x7FFFFFFFu) > 0x7F800000u) return bf16{u16((x >> 16) | 0x40u)};
    return bf16{u16((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16)};
}
#endif

VIPER_INLINE float to_float(bf16 h) { return bits_to_float(u32(h.bits) << 16); }
VIPER_INLINE float to_float(float f) { return f; }

template <typename T> VIPER_INLINE T from_float(float f);
template <> VIPER_INLINE float from_float<float>(float f) { return f; }
template <> VIPER_INLINE f16 from_float<f16>(float f) { return to_f16(f); }
template <> VIPER_INLINE bf16 from_float<bf16>(float f) { return to_bf16(f); }

// ---- reductions ------------------------------------------------------------------------------------

constexpr unsigned kFullMask = 0xffffffffu;

VIPER_INLINE float warp_sum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(kFullMask, v, offset);
    return v;
}

VIPER_INLINE float warp_max(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, offset));
    return v;
}

// Sum over a block whose size is a multiple of 32 (≤ 1024); every thread gets the total.
// `scratch` holds 32 floats of shared memory.
VIPER_INLINE float block_sum(float v, float* scratch) {
    unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    v = warp_sum(v);
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : 0.f;
    v = warp_sum(v);
    __syncthreads();  // scratch may be reused right after
    return v;
}

}  // namespace viper
