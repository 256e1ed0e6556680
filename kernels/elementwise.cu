// Elementwise ops over flat arrays: add and mul (same shape or b broadcast), scale, clamp and dtype casts. Grid-stride
// loops, f32 arithmetic.
#include "common.cuh"

namespace viper {

enum BinaryOp { kAdd, kMul };

template <int Op>
VIPER_INLINE float apply(float p, float q) {
    return Op == kAdd ? p + q : p * q;
}

template <typename T, int Op>
VIPER_INLINE void binary(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y, i64 n) {
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x)
        y[i] = from_float<T>(apply<Op>(to_float(a[i]), to_float(b[i])));
}

template <typename T>
VIPER_INLINE void scale(const T* __restrict__ x, float factor, T* __restrict__ y, i64 n) {
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x)
        y[i] = from_float<T>(to_float(x[i]) * factor);
}

// torch.clamp: comparisons with NaN are false, so NaN passes through (fminf/fmaxf would drop it).
template <typename T>
VIPER_INLINE void clamp(const T* __restrict__ x, float lo, float hi, T* __restrict__ y, i64 n) {
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x) {
        float v = to_float(x[i]);
        y[i] = from_float<T>(v < lo ? lo : v > hi ? hi : v);
    }
}

// y = a ⊕ b with b broadcast onto a's shape through `b_strides` (NumPy rules; 0 stride on broadcast axes).
template <typename T, int Op>
VIPER_INLINE void binary_broadcast(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y, Strides b_strides, i64 n) {
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x)
        y[i] = from_float<T>(apply<Op>(to_float(a[i]), to_float(b[source_index(i, b_strides)])));
}

template <typename S, typename D>
VIPER_INLINE void cast(const S* __restrict__ x, D* __restrict__ y, i64 n) {
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x)
        y[i] = from_float<D>(to_float(x[i]));
}

}  // namespace viper

#define VIPER_BINARY(op, code, suffix, T)                                                                         \
    extern "C" __global__ void op##_##suffix(const T* a, const T* b, T* y, i64 n) { viper::binary<T, code>(a, b, y, n); } \
    VIPER_ENTRY(op##_##suffix)                                                                                    \
    extern "C" __global__ void op##_broadcast_##suffix(const T* a, const T* b, T* y, viper::Strides s, i64 n) {      \
        viper::binary_broadcast<T, code>(a, b, y, s, n);                                                          \
    }                                                                                                             \
    VIPER_ENTRY(op##_broadcast_##suffix)

#define VIPER_BINARIES(suffix, T)                \
    VIPER_BINARY(add, viper::kAdd, suffix, T)   \
    VIPER_BINARY(mul, viper::kMul, suffix, T)

VIPER_BINARIES(f32, float)
VIPER_BINARIES(f16, viper::f16)
VIPER_BINARIES(bf16, viper::bf16)

#define VIPER_SCALE(suffix, T)                                                                                  \
    extern "C" __global__ void scale_##suffix(const T* x, float factor, T* y, i64 n) { viper::scale<T>(x, factor, y, n); } \
    VIPER_ENTRY(scale_##suffix)

VIPER_SCALE(f32, float)
VIPER_SCALE(f16, viper::f16)
VIPER_SCALE(bf16, viper::bf16)

#define VIPER_CLAMP(suffix, T)                                                                                  \
    extern "C" __global__ void clamp_##suffix(const T* x, float lo, float hi, T* y, i64 n) { viper::clamp<T>(x, lo, hi, y, n); } \
    VIPER_ENTRY(clamp_##suffix)

VIPER_CLAMP(f32, float)
VIPER_CLAMP(f16, viper::f16)
VIPER_CLAMP(bf16, viper::bf16)

#define VIPER_CAST(from, to, S, D)                                                                          \
    extern "C" __global__ void cast_##from##_##to(const S* x, D* y, i64 n) { viper::cast<S, D>(x, y, n); } \
    VIPER_ENTRY(cast_##from##_##to)

VIPER_CAST(f32, f16, float, viper::f16)
VIPER_CAST(f32, bf16, float, viper::bf16)
VIPER_CAST(f16, f32, viper::f16, float)
VIPER_CAST(bf16, f32, viper::bf16, float)
VIPER_CAST(f16, bf16, viper::f16, viper::bf16)
VIPER_CAST(bf16, f16, viper::bf16, viper::f16)
