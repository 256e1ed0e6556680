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

// E4M3 ("fn") → f32: exponent and mantissa moved into f32 position and scaled by 2^120 (bias 127 − 7); subnormals
// follow; 0x7F is NaN. Quant.cu's FP8 weights and the emulated device's FP8 GEMM both decode with it.
VIPER_INLINE float e4m3_to_float(u32 b) {
    u32 magnitude = b & 0x7Fu;
    float v = magnitude == 0x7Fu ? bits_to_float(0x7FC00000u) : bits_to_float(magnitude << 20) * 1.329227995784916e36f;
    return b & 0x80u ? -v : v;
}

template <typename T> VIPER_INLINE T from_float(float f);
template <> VIPER_INLINE float from_float<float>(float f) { return f; }
template <> VIPER_INLINE f16 from_float<f16>(float f) { return to_f16(f); }
template <> VIPER_INLINE bf16 from_float<bf16>(float f) { return to_bf16(f); }

// ---- vector loads: 16 bytes per access (8 × f16/bf16, 4 × f32) ------------------------------------

struct __align__(16) Pack16 {
    u32 word[4];
};

// p must be 16-byte aligned; the compiler emits one ld.global.v4 / st.global.v4.
template <typename T>
VIPER_INLINE Pack16 load16(const T* p) { return *reinterpret_cast<const Pack16*>(p); }

template <typename T>
VIPER_INLINE void store16(T* p, Pack16 v) { *reinterpret_cast<Pack16*>(p) = v; }

// Element i (0..7) of a pack of 16-bit values, and its inverse.
VIPER_INLINE u16 pack16_half(const Pack16& v, int i) { return u16(i & 1 ? v.word[i / 2] >> 16 : v.word[i / 2] & 0xFFFFu); }
VIPER_INLINE void pack16_set_half(Pack16& v, int i, u16 h) {
    v.word[i / 2] = i & 1 ? (v.word[i / 2] & 0xFFFFu) | (u32(h) << 16) : (v.word[i / 2] & 0xFFFF0000u) | h;
}

// ---- convolution geometry (im2col.cu, conv.cu) --------------------------------------------------------

struct ConvShape {
    int h, w, cin, kh, kw, stride, pad_top, pad_left, ho, wo;
};

// Two 16-bit values in one register, the first in the low half (the mma fragment convention).
VIPER_INLINE u32 pack2(u16 lo, u16 hi) { return u32(lo) | (u32(hi) << 16); }

// ---- strided indexing (permute, broadcasting) ---------------------------------------------------------

constexpr int kMaxRank = 8;

struct Strides {
    int rank;
    i64 dims[kMaxRank];     // output dimensions
    i64 strides[kMaxRank];  // source element stride per output axis (0 on broadcast axes)
};

// The source offset of row-major output index i.
VIPER_INLINE i64 source_index(i64 i, const Strides& s) {
    i64 from = 0;
    for (int axis = s.rank - 1; axis >= 0; --axis) {
        from += i % s.dims[axis] * s.strides[axis];
        i /= s.dims[axis];
    }
    return from;
}

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

// Maximum over a block, as block_sum (lanes past the last warp count as the lowest finite float).
VIPER_INLINE float block_max(float v, float* scratch) {
    unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    v = warp_max(v);
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : -3.402823466e38f;
    v = warp_max(v);
    __syncthreads();
    return v;
}

// ---- dynamic shared memory ------------------------------------------------------------------------

#if VIPER_DEVICE_BUILD
#define VIPER_DYNAMIC_SHARED(type, name) extern __shared__ __align__(16) unsigned char viper_dynamic_smem_[]; \
    type* name = reinterpret_cast<type*>(viper_dynamic_smem_)
#else
#define VIPER_DYNAMIC_SHARED(type, name) type* name = static_cast<type*>(::emu::dynamic_shared())
#endif

// ---- tensor cores: mma.sync, ldmatrix, cp.async ------------------------------------------------------
// Fragment layouts are PTX's (ISA "Matrix fragments for mma.m16n8k16"): with g = lane / 4 and t = lane % 4,
//   A (16×16, row-major): a[0] = A[g][2t..2t+1], a[1] = A[g+8][2t..], a[2] = A[g][2t+8..], a[3] = A[g+8][2t+8..]
//   B (16×8, column-major): b[0] = B[2t..2t+1][g], b[1] = B[2t+8..2t+9][g]
//   C, D (16×8, f32): c[0..1] = C[g][2t..2t+1], c[2..3] = C[g+8][2t..2t+1]
// Each u32 packs two 16-bit values, the lower index in the low half. The emulated device implements the
// same layouts on the host (emu/tensor_cores.cpp), so a kernel that gets them wrong fails its tests here.

#if VIPER_DEVICE_BUILD
VIPER_INLINE void mma_m16n8k16_f16(float d[4], const u32 a[4], const u32 b[2], const float c[4]) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};"
                 : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
}
VIPER_INLINE void mma_m16n8k16_bf16(float d[4], const u32 a[4], const u32 b[2], const float c[4]) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};"
                 : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
}
VIPER_INLINE u32 shared_address(const void* p) {
    u32 address;
    asm("{ .reg .u64 a; cvta.to.shared.u64 a, %1; cvt.u32.u64 %0, a; }" : "=r"(address) : "l"(p));
    return address;
}
// Four 8×8 b16 matrices; lanes 8j..8j+7 give the row addresses of matrix j, every lane gets r[j] = its
// two elements of matrix j (row lane/4, columns 2·(lane%4) and +1).
VIPER_INLINE void ldmatrix_x4(u32 r[4], const void* shared_row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(shared_address(shared_row)));
}
VIPER_INLINE void cp_async_16(void* shared_dst, const void* global_src) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(shared_address(shared_dst)), "l"(global_src));
}
VIPER_INLINE void cp_async_commit() { asm volatile("cp.async.commit_group;"); }
template <int Pending>
VIPER_INLINE void cp_async_wait() { asm volatile("cp.async.wait_group %0;" ::"n"(Pending)); }
#else
void mma_m16n8k16_f16(float d[4], const u32 a[4], const u32 b[2], const float c[4]);
void mma_m16n8k16_bf16(float d[4], const u32 a[4], const u32 b[2], const float c[4]);
void ldmatrix_x4(u32 r[4], const void* shared_row);
inline void cp_async_16(void* shared_dst, const void* global_src) { std::memcpy(shared_dst, global_src, 16); }
inline void cp_async_commit() {}
template <int Pending>
inline void cp_async_wait() {}  // the host copy above completed at once
#endif

// ---- Values that steer an op (token ids, key lengths), checked on the device ----------------------------------------
// The host never reads device memory to validate an op (that would synchronise and forbid graphs). A kernel that meets an
// out-of-range steering value clamps it, so nothing is read out of bounds, and records the first one in the backend's
// record; the host reads the record at its next synchronisation and raises an error naming the op and the value.
// The op codes are mirrored in Viper.Cuda/Backend/BadValueRecord.cs.
enum BadValueOp { kBadEmbeddingId = 1, kBadKeyLength = 2, kBadPenaltyId = 3, kBadCachePosition = 4 };
struct BadValueRecord {
    int op;     // 0 while no bad value was met
    int limit;  // the largest allowed value
    i64 value;
};

VIPER_INLINE void record_bad_value(BadValueRecord* record, int op, i64 value, int limit) {
    if (atomicCAS(&record->op, 0, op) == 0) {
        record->limit = limit;
        record->value = value;
    }
}

// value when lo ≤ value ≤ hi; otherwise recorded and clamped into [lo, hi].
VIPER_INLINE i64 checked_value(i64 value, i64 lo, i64 hi, BadValueRecord* record, int op) {
    if (value >= lo && value <= hi) return value;
    record_bad_value(record, op, value, int(hi));
    return value < lo ? lo : hi;
}

// The keys batch item b may see: its key length (in [1, tk], recorded and clamped otherwise), or all tk.
VIPER_INLINE int visible_keys(const int* key_lengths, int b, int tk, BadValueRecord* bad) {
    return key_lengths != nullptr ? int(checked_value(key_lengths[b], 1, tk, bad, kBadKeyLength)) : tk;
}

// Optional masking of attention scores beyond key lengths and causality: key_mask (B, Tk) I32, nonzero = attend (SigLIP's
// patch masks, the perceiver's context mask); bias (B, bias_heads, Tq, Tk) f32 added to the scaled scores (bias_heads 1:
// shared by every head; transformers' 4-D additive masks). A row with no key left outputs zeros.
struct AttentionMasks {
    const int* key_mask;
    const float* bias;
    int bias_heads;
    int unused;
};

VIPER_INLINE const int* key_mask_row(const AttentionMasks& m, int b, int tk) { return m.key_mask ? m.key_mask + i64(b) * tk : nullptr; }

VIPER_INLINE const float* bias_row(const AttentionMasks& m, int b, int h, int i, int tq, int tk) {
    return m.bias ? m.bias + ((i64(b) * m.bias_heads + (m.bias_heads == 1 ? 0 : h)) * tq + i) * tk : nullptr;
}

// The m16n8k16 mma for the storage type: f16 or bf16 operands, f32 accumulators.
template <typename T>
VIPER_INLINE void mma16816(float d[4], const u32 a[4], const u32 b[2], const float c[4]);
template <>
VIPER_INLINE void mma16816<f16>(float d[4], const u32 a[4], const u32 b[2], const float c[4]) { mma_m16n8k16_f16(d, a, b, c); }
template <>
VIPER_INLINE void mma16816<bf16>(float d[4], const u32 a[4], const u32 b[2], const float c[4]) { mma_m16n8k16_bf16(d, a, b, c); }

}  // namespace viper
