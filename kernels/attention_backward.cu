// The gradient of attention (attention.cu's softmax(scale·Q·Kᵀ)·V, causal or full, grouped KV heads) in three passes
// over f32 scratch of one (B, Hq, Tq, Tk) matrix each for the probabilities P and dS:
//   rows: per (query t, head h, batch b) block, P recomputed from q and k, dP = dO·Vᵀ, dS = P∘(dP − Σ_j P∘dP);
//   dq:   dq[t] = scale·Σ_j dS[t, j]·k[j], one thread per element;
//   dkv:  dk[j] = scale·Σ_{h in the group} Σ_t dS[t, j]·q[t], dv[j] = Σ_h Σ_t P[t, j]·dO[t], one thread per element.
// Every sum runs in index order in one thread (no atomics), so results repeat exactly. Sized for the CLIP text
// encoder (Tq = Tk = 77); a long-sequence backward would tile like flash attention's.
#include "common.cuh"

namespace viper {

template <typename T>
VIPER_INLINE void attention_backward_rows(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                          const T* __restrict__ dout, float* __restrict__ probs, float* __restrict__ ds, int tq, int tk,
                                          int hq, int hkv, int d, float scale, int causal) {
    __shared__ float scratch[32];
    int t = blockIdx.x, h = blockIdx.y, b = blockIdx.z, kvh = h / (hq / hkv);
    int limit = causal && t + (tk - tq) + 1 < tk ? t + (tk - tq) + 1 : tk;
    i64 row = (i64(b) * hq + h) * tq + t;
    const T* qrow = q + (i64(b) * tq + t) * hq * d + i64(h) * d;
    const T* drow = dout + (i64(b) * tq + t) * hq * d + i64(h) * d;
    float* p = probs + row * tk;
    float* s = ds + row * tk;
    float local_max = -3.402823466e38f;
    for (int j = threadIdx.x; j < limit; j += blockDim.x) {
        const T* krow = k + (i64(b) * tk + j) * hkv * d + i64(kvh) * d;
        float acc = 0.f;
        for (int e = 0; e < d; ++e) acc += to_float(qrow[e]) * to_float(krow[e]);
        p[j] = scale * acc;
        local_max = fmaxf(local_max, p[j]);
    }
    float max = block_max(local_max, scratch);
    float local_sum = 0.f;
    for (int j = threadIdx.x; j < limit; j += blockDim.x) {
        p[j] = expf(p[j] - max);
        local_sum += p[j];
    }
    float sum = block_sum(local_sum, scratch);
    float local_dot = 0.f;
    for (int j = threadIdx.x; j < tk; j += blockDim.x) {
        float dp = 0.f;
        if (j < limit) {
            const T* vrow = v + (i64(b) * tk + j) * hkv * d + i64(kvh) * d;
            for (int e = 0; e < d; ++e) dp += to_float(drow[e]) * to_float(vrow[e]);
        }
        p[j] = j < limit ? p[j] / sum : 0.f;
        s[j] = dp;
        local_dot += p[j] * dp;
    }
    float dot = block_sum(local_dot, scratch);
    for (int j = threadIdx.x; j < tk; j += blockDim.x) s[j] = p[j] * (s[j] - dot);
}

template <typename T>
VIPER_INLINE void attention_backward_dq(const float* __restrict__ ds, const T* __restrict__ k, T* __restrict__ dq, int tq, int tk, int hq,
                                        int hkv, int d, float scale, i64 n) {
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x) {
        int e = int(i % d), h = int(i / d % hq), t = int(i / d / hq % tq), b = int(i / d / hq / tq), kvh = h / (hq / hkv);
        const float* s = ds + ((i64(b) * hq + h) * tq + t) * tk;
        float acc = 0.f;
        for (int j = 0; j < tk; ++j) acc += s[j] * to_float(k[(i64(b) * tk + j) * hkv * d + i64(kvh) * d + e]);
        dq[i] = from_float<T>(scale * acc);
    }
}

template <typename T>
VIPER_INLINE void attention_backward_dkv(const float* __restrict__ probs, const float* __restrict__ ds, const T* __restrict__ q,
                                         const T* __restrict__ dout, T* __restrict__ dk, T* __restrict__ dv, int tq, int tk, int hq,
                                         int hkv, int d, float scale, i64 n) {
    int group = hq / hkv;
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x) {
        int e = int(i % d), kvh = int(i / d % hkv), j = int(i / d / hkv % tk), b = int(i / d / hkv / tk);
        float acc_k = 0.f, acc_v = 0.f;
        for (int h = kvh * group; h < (kvh + 1) * group; ++h) {
            i64 base = (i64(b) * hq + h) * tq;
            for (int t = 0; t < tq; ++t) {
                i64 at = (i64(b) * tq + t) * hq * d + i64(h) * d + e;
                acc_k += ds[(base + t) * tk + j] * to_float(q[at]);
                acc_v += probs[(base + t) * tk + j] * to_float(dout[at]);
            }
        }
        dk[i] = from_float<T>(scale * acc_k);
        dv[i] = from_float<T>(acc_v);
    }
}

}  // namespace viper

#define VIPER_ATTENTION_BACKWARD(suffix, T)                                                                                    \
    extern "C" __global__ void attention_backward_rows_##suffix(const T* q, const T* k, const T* v, const T* dout, float* probs, \
                                                                float* ds, int tq, int tk, int hq, int hkv, int d, float scale, \
                                                                int causal) {                                                  \
        viper::attention_backward_rows<T>(q, k, v, dout, probs, ds, tq, tk, hq, hkv, d, scale, causal);                        \
    }                                                                                                                          \
    VIPER_ENTRY(attention_backward_rows_##suffix)                                                                              \
    extern "C" __global__ void attention_backward_dq_##suffix(const float* ds, const T* k, T* dq, int tq, int tk, int hq, int hkv, \
                                                              int d, float scale, i64 n) {                                     \
        viper::attention_backward_dq<T>(ds, k, dq, tq, tk, hq, hkv, d, scale, n);                                              \
    }                                                                                                                          \
    VIPER_ENTRY(attention_backward_dq_##suffix)                                                                                \
    extern "C" __global__ void attention_backward_dkv_##suffix(const float* probs, const float* ds, const T* q, const T* dout,   \
                                                               T* dk, T* dv, int tq, int tk, int hq, int hkv, int d, float scale, \
                                                               i64 n) {                                                        \
        viper::attention_backward_dkv<T>(probs, ds, q, dout, dk, dv, tq, tk, hq, hkv, d, scale, n);                            \
    }                                                                                                                          \
    VIPER_ENTRY(attention_backward_dkv_##suffix)

VIPER_ATTENTION_BACKWARD(f32, float)
VIPER_ATTENTION_BACKWARD(f16, viper::f16)
VIPER_ATTENTION_BACKWARD(bf16, viper::bf16)
