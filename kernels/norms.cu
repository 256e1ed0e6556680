// Normalisations with f32 statistics: group norm over channel-last (N, S, C) activations with an optional fused
// input add (the time embedding) and SiLU; layer norm and RMS norm over the last axis. One block per (sample,
// group) or per row.
#include "common.cuh"

namespace viper {

// The value a group norm sees at flat index i of (N, S, C): x, or x + add rounded to T as the unfused add would
// store it. add_mode 0: none, 1: add has x's shape, 2: add is (N, C), broadcast over the S positions.
template <typename T>
VIPER_INLINE float group_norm_input(const T* __restrict__ x, const T* __restrict__ add, int add_mode, i64 i, i64 spatial,
                                    int channels) {
    if (add_mode == 0) return to_float(x[i]);
    i64 a = add_mode == 1 ? i : (i / (spatial * channels)) * channels + i % channels;
    return to_float(from_float<T>(to_float(x[i]) + to_float(add[a])));
}

// Pass 1: mean and rstd of each (n, g) over S spatial positions × C/G channels; biased variance, two-pass
// over the data (mean first) so large offsets do not cancel.
template <typename T>
VIPER_INLINE void group_norm_stats(const T* __restrict__ x, const T* __restrict__ add, int add_mode, float* __restrict__ stats,
                                   i64 spatial, int channels, int groups, float eps) {
    __shared__ float scratch[32];
    int n = blockIdx.x / groups, g = blockIdx.x % groups, cg = channels / groups;
    i64 base = i64(n) * spatial * channels + i64(g) * cg;
    i64 count = spatial * cg;
    float sum = 0.f;
    for (i64 i = threadIdx.x; i < count; i += blockDim.x)
        sum += group_norm_input(x, add, add_mode, base + (i / cg) * channels + i % cg, spatial, channels);
    float mean = block_sum(sum, scratch) / float(count);
    float sq = 0.f;
    for (i64 i = threadIdx.x; i < count; i += blockDim.x) {
        float d = group_norm_input(x, add, add_mode, base + (i / cg) * channels + i % cg, spatial, channels) - mean;
        sq += d * d;
    }
    float var = block_sum(sq, scratch) / float(count);
    if (threadIdx.x == 0) {
        stats[2 * blockIdx.x] = mean;
        stats[2 * blockIdx.x + 1] = rsqrtf(var + eps);
    }
}

// Pass 2: y = (x − mean)·rstd·γ + β, then SiLU when asked; one thread per element.
template <typename T>
VIPER_INLINE void group_norm_apply(const T* __restrict__ x, const T* __restrict__ add, int add_mode,
                                   const float* __restrict__ stats, const T* __restrict__ gamma,
                                   const T* __restrict__ beta, T* __restrict__ y, i64 spatial, int channels, int groups, int silu, i64 n) {
    int cg = channels / groups;
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x) {
        int c = int(i % channels);
        i64 sample = i / (spatial * channels);
        i64 s = 2 * (sample * groups + c / cg);
        float v = group_norm_input(x, add, add_mode, i, spatial, channels);
        v = (v - stats[s]) * stats[s + 1] * to_float(gamma[c]) + to_float(beta[c]);
        if (silu) v = v / (1.f + expf(-v));
        y[i] = from_float<T>(v);
    }
}

// Layer norm (mode 0: γ, β optional) or RMS norm (mode 1: x·rsqrt(mean(x²)+eps)·γ) of one row per block.
template <typename T>
VIPER_INLINE void row_norm(const T* __restrict__ x, const T* __restrict__ gamma, const T* __restrict__ beta, T* __restrict__ y,
                           int cols, float eps, int rms) {
    __shared__ float scratch[32];
    const T* row = x + i64(blockIdx.x) * cols;
    T* out = y + i64(blockIdx.x) * cols;
    float mean = 0.f;
    if (!rms) {
        float sum = 0.f;
        for (int c = threadIdx.x; c < cols; c += blockDim.x) sum += to_float(row[c]);
        mean = block_sum(sum, scratch) / float(cols);
    }
    float sq = 0.f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        float d = to_float(row[c]) - mean;
        sq += d * d;
    }
    float rstd = rsqrtf(block_sum(sq, scratch) / float(cols) + eps);
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        float v = (to_float(row[c]) - mean) * rstd;
        if (gamma != nullptr) v *= to_float(gamma[c]);
        if (beta != nullptr) v += to_float(beta[c]);
        out[c] = from_float<T>(v);
    }
}

// Layer norm's dx for one row per block, statistics recomputed as row_norm does them (kept in stats for the γ/β pass):
// dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with ĝ = dy·γ (PyTorch's layer_norm_backward).
template <typename T>
VIPER_INLINE void layer_norm_backward(const T* __restrict__ x, const T* __restrict__ gamma, const T* __restrict__ dy, T* __restrict__ dx,
                                      float* __restrict__ stats, int cols, float eps) {
    __shared__ float scratch[32];
    i64 base = i64(blockIdx.x) * cols;
    float sum = 0.f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) sum += to_float(x[base + c]);
    float mean = block_sum(sum, scratch) / float(cols);
    float sq = 0.f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        float d = to_float(x[base + c]) - mean;
        sq += d * d;
    }
    float rstd = rsqrtf(block_sum(sq, scratch) / float(cols) + eps);
    float sum_g = 0.f, sum_gx = 0.f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        float g = to_float(dy[base + c]) * to_float(gamma[c]);
        sum_g += g;
        sum_gx += g * ((to_float(x[base + c]) - mean) * rstd);
    }
    float mean_g = block_sum(sum_g, scratch) / float(cols), mean_gx = block_sum(sum_gx, scratch) / float(cols);
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        float xh = (to_float(x[base + c]) - mean) * rstd;
        dx[base + c] = from_float<T>(rstd * (to_float(dy[base + c]) * to_float(gamma[c]) - mean_g - xh * mean_gx));
    }
    if (threadIdx.x == 0) {
        stats[2 * blockIdx.x] = mean;
        stats[2 * blockIdx.x + 1] = rstd;
    }
}

// dγ[c] = Σ_r dy·x̂ and dβ[c] = Σ_r dy over rows in order, one thread per column (f32 out).
template <typename T>
VIPER_INLINE void layer_norm_param_backward(const T* __restrict__ x, const T* __restrict__ dy, const float* __restrict__ stats,
                                            float* __restrict__ dgamma, float* __restrict__ dbeta, i64 rows, int cols) {
    for (i64 c = i64(blockIdx.x) * blockDim.x + threadIdx.x; c < cols; c += i64(gridDim.x) * blockDim.x) {
        float sg = 0.f, sb = 0.f;
        for (i64 r = 0; r < rows; ++r) {
            float g = to_float(dy[r * cols + c]);
            sg += g * ((to_float(x[r * cols + c]) - stats[2 * r]) * stats[2 * r + 1]);
            sb += g;
        }
        dgamma[c] = sg;
        dbeta[c] = sb;
    }
}

}  // namespace viper

#define VIPER_NORMS(suffix, T)                                                                                              \
    extern "C" __global__ void group_norm_stats_##suffix(const T* x, const T* add, int add_mode, float* stats, i64 spatial, \
                                                         int channels, int groups, float eps) {                             \
        viper::group_norm_stats<T>(x, add, add_mode, stats, spatial, channels, groups, eps);                                \
    }                                                                                                                       \
    VIPER_ENTRY(group_norm_stats_##suffix)                                                                                  \
    extern "C" __global__ void group_norm_apply_##suffix(const T* x, const T* add, int add_mode, const float* stats,          \
                                                         const T* gamma, const T* beta, T* y, i64 spatial, int channels,     \
                                                         int groups, int silu, i64 n) {                                     \
        viper::group_norm_apply<T>(x, add, add_mode, stats, gamma, beta, y, spatial, channels, groups, silu, n);            \
    }                                                                                                                       \
    VIPER_ENTRY(group_norm_apply_##suffix)                                                                                  \
    extern "C" __global__ void row_norm_##suffix(const T* x, const T* gamma, const T* beta, T* y, int cols, float eps, int rms) { \
        viper::row_norm<T>(x, gamma, beta, y, cols, eps, rms);                                                              \
    }                                                                                                                       \
    VIPER_ENTRY(row_norm_##suffix)

VIPER_NORMS(f32, float)
VIPER_NORMS(f16, viper::f16)
VIPER_NORMS(bf16, viper::bf16)

#define VIPER_NORM_GRADIENTS(suffix, T)                                                                                      \
    extern "C" __global__ void layer_norm_backward_##suffix(const T* x, const T* gamma, const T* dy, T* dx, float* stats,     \
                                                            int cols, float eps) {                                           \
        viper::layer_norm_backward<T>(x, gamma, dy, dx, stats, cols, eps);                                                   \
    }                                                                                                                        \
    VIPER_ENTRY(layer_norm_backward_##suffix)                                                                                \
    extern "C" __global__ void layer_norm_param_backward_##suffix(const T* x, const T* dy, const float* stats, float* dgamma,  \
                                                                  float* dbeta, i64 rows, int cols) {                        \
        viper::layer_norm_param_backward<T>(x, dy, stats, dgamma, dbeta, rows, cols);                                        \
    }                                                                                                                        \
    VIPER_ENTRY(layer_norm_param_backward_##suffix)

VIPER_NORM_GRADIENTS(f32, float)
VIPER_NORM_GRADIENTS(f16, viper::f16)
VIPER_NORM_GRADIENTS(bf16, viper::bf16)
