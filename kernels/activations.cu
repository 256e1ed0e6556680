// Activations (and their derivatives) and gated units, elementwise in f32: SiLU, GELU (erf), GELU (tanh), QuickGELU, diffusers'
// GEGLU (h·gelu(gate) from one (…, 2N) projection) and SwiGLU (silu(gate)·up).
#include "common.cuh"

namespace viper {

enum Act { kSilu = 0, kGelu = 1, kGeluTanh = 2, kQuickGelu = 3 };

VIPER_INLINE float activate(float v, int act) {
    switch (act) {
        case kSilu: return v / (1.f + expf(-v));
        case kGelu: return 0.5f * v * (1.f + erff(v * 0.70710678118654752f));
        case kGeluTanh: return 0.5f * v * (1.f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
        default: return v / (1.f + expf(-1.702f * v));
    }
}

// f'(v) for activate's kinds (PyTorch's GeluBackward for both GELUs; QuickGELU's σ + 1.702·v·σ·(1 − σ)).
VIPER_INLINE float activate_derivative(float v, int act) {
    switch (act) {
        case kSilu: {
            float s = 1.f / (1.f + expf(-v));
            return s * (1.f + v * (1.f - s));
        }
        case kGelu: return 0.5f * (1.f + erff(v * 0.70710678118654752f)) + v * expf(-0.5f * v * v) * 0.3989422804014327f;
        case kGeluTanh: {
            float t = tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v));
            return 0.5f * (1.f + t) + 0.5f * v * (1.f - t * t) * 0.7978845608028654f * (1.f + 3.f * 0.044715f * v * v);
        }
        default: {
            float s = 1.f / (1.f + expf(-1.702f * v));
            return s + 1.702f * v * s * (1.f - s);
        }
    }
}

template <typename T>
VIPER_INLINE void act_backward(const T* __restrict__ x, const T* __restrict__ dy, T* __restrict__ dx, int kind, i64 n) {
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x)
        dx[i] = from_float<T>(to_float(dy[i]) * activate_derivative(to_float(x[i]), kind));
}

template <typename T>
VIPER_INLINE void act(const T* __restrict__ x, T* __restrict__ y, int kind, i64 n) {
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x)
        y[i] = from_float<T>(activate(to_float(x[i]), kind));
}

template <typename T>
VIPER_INLINE void geglu(const T* __restrict__ x, T* __restrict__ y, int half, i64 n) {
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x) {
        i64 row = i / half, c = i % half;
        const T* in = x + row * 2 * half;
        y[i] = from_float<T>(to_float(in[c]) * activate(to_float(in[half + c]), kGelu));
    }
}

template <typename T>
VIPER_INLINE void swiglu(const T* __restrict__ gate, const T* __restrict__ up, T* __restrict__ y, i64 n) {
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x)
        y[i] = from_float<T>(activate(to_float(gate[i]), kSilu) * to_float(up[i]));
}

}  // namespace viper

#define VIPER_ACTIVATIONS(suffix, T)                                                                                     \
    extern "C" __global__ void activate_##suffix(const T* x, T* y, int kind, i64 n) { viper::act<T>(x, y, kind, n); }     \
    VIPER_ENTRY(activate_##suffix)                                                                                       \
    extern "C" __global__ void geglu_##suffix(const T* x, T* y, int half, i64 n) { viper::geglu<T>(x, y, half, n); }      \
    VIPER_ENTRY(geglu_##suffix)                                                                                          \
    extern "C" __global__ void swiglu_##suffix(const T* gate, const T* up, T* y, i64 n) { viper::swiglu<T>(gate, up, y, n); } \
    VIPER_ENTRY(swiglu_##suffix)                                                                                         \
    extern "C" __global__ void activation_backward_##suffix(const T* x, const T* dy, T* dx, int kind, i64 n) {           \
        viper::act_backward<T>(x, dy, dx, kind, n);                                                                      \
    }                                                                                                                    \
    VIPER_ENTRY(activation_backward_##suffix)

VIPER_ACTIVATIONS(f32, float)
VIPER_ACTIVATIONS(f16, viper::f16)
VIPER_ACTIVATIONS(bf16, viper::bf16)
