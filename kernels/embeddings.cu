// Position encodings: diffusers' sinusoidal timestep embedding and HF rotary embedding (rotate_half).
#include "common.cuh"

// diffusers get_timestep_embedding: freq_i = exp(−ln(max_period)·i/(half − shift)); [sin, cos] of
// scale·t·freq (halves swapped when flip), zero column appended for an odd dim. Output f32 (N, dim).
extern "C" __global__ void timestep_embedding(const float* t, float* y, int dim, int flip, float shift, float scale,
                                              float log_max_period, i64 n) {
    int half = dim / 2;
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x) {
        i64 row = i / dim;
        int c = int(i % dim);
        float v = 0.f;
        if (c < 2 * half) {
            int first_half = c < half;
            int k = first_half ? c : c - half;
            float freq = expf(-log_max_period * float(k) / (float(half) - shift));
            float arg = scale * (t[row] * freq);
            int is_sin = flip ? !first_half : first_half;
            v = is_sin ? sinf(arg) : cosf(arg);
        }
        y[i] = v;
    }
}
VIPER_ENTRY(timestep_embedding)

namespace viper {

// x (B, T, H·D): x·cos + rotate_half(x)·sin with angle = position·θ^(−2i/D), i < D/2; row r reads positions[r % seq],
// so seq = T shares (T) positions across the batch and seq = B·T takes (B, T) positions per batch row.
template <typename T>
VIPER_INLINE void rotary(const T* __restrict__ x, const int* __restrict__ positions, T* __restrict__ y, int seq, int width,
                         int head_dim, float theta, i64 n) {
    int half = head_dim / 2;
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x) {
        i64 row = i / width;
        int c = int(i % width), d = c % head_dim, k = d % half;
        float inv_freq = 1.f / powf(theta, float(2 * k) / float(head_dim));
        float angle = float(positions[row % seq]) * inv_freq;
        float cs = cosf(angle), sn = sinf(angle);
        i64 head = i - d;
        float self = to_float(x[i]);
        float other = to_float(x[head + (d < half ? d + half : d - half)]);
        y[i] = from_float<T>(d < half ? self * cs - other * sn : self * cs + other * sn);
    }
}

}  // namespace viper

#define VIPER_ROTARY(suffix, T)                                                                                       \
    extern "C" __global__ void rotary_##suffix(const T* x, const int* positions, T* y, int seq, int width, int head_dim, \
                                               float theta, i64 n) {                                                  \
        viper::rotary<T>(x, positions, y, seq, width, head_dim, theta, n);                                            \
    }                                                                                                                 \
    VIPER_ENTRY(rotary_##suffix)

VIPER_ROTARY(f32, float)
VIPER_ROTARY(f16, viper::f16)
VIPER_ROTARY(bf16, viper::bf16)
