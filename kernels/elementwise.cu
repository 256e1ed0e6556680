// Elementwise ops over flat arrays: add, mul, scale and dtype casts. Grid-stride loops, f32 arithmetic.
#include "common.cuh"

namespace viper {

template <typename T>
VIPER_INLINE void add(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y, i64 n) {
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x)
        y[i] = from_float<T>(to_float(a[i]) + to_float(b[i]));
}

template <typename T>
VIPER_INLINE void mul(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y, i64 n) {
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x)
        y[i] = from_float<T>(to_float(a[i]) * to_float(b[i]));
}

template <typename T>
VIPER_INLINE void scale(const T* __restrict__ x, float factor, T* __restrict__ y, i64 n) {
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x)
        y[i] = from_float<T>(to_float(x[i]) * factor);
}

// y = a ⊕ b with b broadcast onto a's shape through `b_strides` (NumPy rules; 0 stride on broadcast axes).
template <typename T, bool Mul>
VIPER_INLINE void binary_broadcast(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y, Strides b_strides, i64 n) {
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x) {
        float p = to_float(a[i]), q = to_float(b[source_index(i, b_strides)]);
        y[i] = from_float<T>(Mul ? p * q : p + q);
    }
}

template <typename S, typename D>
VIPER_INLINE void cast(const S* __restrict__ x, D* __restrict__ y, i64 n) {
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x)
        y[i] = from_float<D>(to_float(x[i]));
}

}  // namespace viper

#define VIPER_BINARY(op, suffix, T)                                                                       \
    extern "C" __global__ void op##_##suffix(const T* a, const T* b, T* y, i64 n) { viper::op<T>(a, b, y, n); } \
    VIPER_ENTRY(op##_##suffix)

VIPER_BINARY(add, f32, float)
VIPER_BINARY(add, f16, viper::f16)
VIPER_BINARY(add, bf16, viper::bf16)
VIPER_BINARY(mul, f32, float)
VIPER_BINARY(mul, f16, viper::f16)
VIPER_BINARY(mul, bf16, viper::bf16)

#define VIPER_BROADCAST(suffix, T)                                                                             \
    extern "C" __global__ void add_broadcast_##suffix(const T* a, const T* b, T* y, viper::Strides s, i64 n) {  \
        viper::binary_broadcast<T, false>(a, b, y, s, n);                                                      \
    }                                                                                                          \
    VIPER_ENTRY(add_broadcast_##suffix)                                                                        \
    extern "C" __global__ void mul_broadcast_##suffix(const T* a, const T* b, T* y, viper::Strides s, i64 n) {  \
        viper::binary_broadcast<T, true>(a, b, y, s, n);                                                       \
    }                                                                                                          \
    VIPER_ENTRY(mul_broadcast_##suffix)

VIPER_BROADCAST(f32, float)
VIPER_BROADCAST(f16, viper::f16)
VIPER_BROADCAST(bf16, viper::bf16)

#define VIPER_SCALE(suffix, T)                                                                                  \
    extern "C" __global__ void scale_##suffix(const T* x, float factor, T* y, i64 n) { viper::scale<T>(x, factor, y, n); } \
    VIPER_ENTRY(scale_##suffix)

VIPER_SCALE(f32, float)
VIPER_SCALE(f16, viper::f16)
VIPER_SCALE(bf16, viper::bf16)

#define VIPER_CAST(from, to, S, D)                                                                          \
    extern "C" __global__ void cast_##from##_##to(const S* x, D* y, i64 n) { viper::cast<S, D>(x, y, n); } \
    VIPER_ENTRY(cast_##from##_##to)

VIPER_CAST(f32, f16, float, viper::f16)
VIPER_CAST(f32, bf16, float, viper::bf16)
VIPER_CAST(f16, f32, viper::f16, float)
VIPER_CAST(bf16, f32, viper::bf16, float)
VIPER_CAST(f16, bf16, viper::f16, viper::bf16)
VIPER_CAST(bf16, f16, viper::bf16, viper::f16)
