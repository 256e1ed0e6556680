// Scaled-dot-product attention over (B, T, H·D) activations: one block per (query, head, batch) row with an
// online softmax over key tiles (running max and sum in f32), so any key length fits in fixed shared memory.
// GQA: query head h reads KV head h / (Hq / Hkv). Causal masking is aligned to the end of the keys (KV cache);
// key_lengths (optional, per batch item) masks padded keys. Head dim ≤ 256, blockDim a multiple of 32, ≤ 256.
// This is the straightforward kernel the tiled tensor-core version is checked against.
#include "common.cuh"

namespace viper {

constexpr int kMaxHeadDim = 256;
constexpr int kMaxAttentionBlock = 256;

template <typename T>
VIPER_INLINE void attention_row(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v, T* __restrict__ y,
                                const int* __restrict__ key_lengths, int tq, int tk, int hq, int hkv, int d, int causal, float scale) {
    __shared__ float qs[kMaxHeadDim];
    __shared__ float p[kMaxAttentionBlock];
    __shared__ float scratch[32];
    int i = blockIdx.x, h = blockIdx.y, b = blockIdx.z, kvh = h / (hq / hkv);
    const T* qrow = q + ((i64(b) * tq + i) * hq + h) * d;
    for (int c = threadIdx.x; c < d; c += blockDim.x) qs[c] = to_float(qrow[c]) * scale;
    __syncthreads();
    int visible = key_lengths != nullptr ? key_lengths[b] : tk;
    if (causal && i + (tk - tq) + 1 < visible) visible = i + (tk - tq) + 1;
    float acc[kMaxHeadDim / 32];  // this thread's output dims: threadIdx.x + blockDim.x·r
    for (int r = 0; r < kMaxHeadDim / 32; ++r) acc[r] = 0.f;
    float m = -3.402823466e38f, l = 0.f;
    for (int tile = 0; tile < visible; tile += blockDim.x) {
        int j = tile + int(threadIdx.x);
        float s = -3.402823466e38f;
        if (j < visible) {
            const T* krow = k + ((i64(b) * tk + j) * hkv + kvh) * d;
            s = 0.f;
            for (int c = 0; c < d; ++c) s += qs[c] * to_float(krow[c]);
        }
        // Tile maximum (block-wide), then rescale what has been accumulated so far.
        unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32;
        float tm = warp_max(s);
        if (lane == 0) scratch[warp] = tm;
        __syncthreads();
        tm = lane < blockDim.x / 32 ? scratch[lane] : -3.402823466e38f;
        tm = warp_max(tm);
        __syncthreads();
        float m_new = fmaxf(m, tm);
        float alpha = expf(m - m_new);
        p[threadIdx.x] = j < visible ? expf(s - m_new) : 0.f;
        float tile_sum = block_sum(p[threadIdx.x], scratch);
        l = l * alpha + tile_sum;
        m = m_new;
        int count = visible - tile < int(blockDim.x) ? visible - tile : int(blockDim.x);
        for (int r = 0; r * int(blockDim.x) + int(threadIdx.x) < d; ++r) {
            int c = r * blockDim.x + threadIdx.x;
            float sum = 0.f;
            for (int jj = 0; jj < count; ++jj) sum += p[jj] * to_float(v[((i64(b) * tk + tile + jj) * hkv + kvh) * d + c]);
            acc[r] = acc[r] * alpha + sum;
        }
        __syncthreads();  // p is rewritten by the next tile
    }
    T* out = y + ((i64(b) * tq + i) * hq + h) * d;
    for (int r = 0; r * int(blockDim.x) + int(threadIdx.x) < d; ++r) out[r * blockDim.x + threadIdx.x] = from_float<T>(acc[r] / l);
}

}  // namespace viper

#define VIPER_ATTENTION(suffix, T)                                                                                         \
    extern "C" __global__ void attention_rows_##suffix(const T* q, const T* k, const T* v, T* y, const int* key_lengths, int tq, \
                                                       int tk, int hq, int hkv, int d, int causal, float scale) {           \
        viper::attention_row<T>(q, k, v, y, key_lengths, tq, tk, hq, hkv, d, causal, scale);                               \
    }                                                                                                                      \
    VIPER_ENTRY(attention_rows_##suffix)

VIPER_ATTENTION(f32, float)
VIPER_ATTENTION(f16, viper::f16)
VIPER_ATTENTION(bf16, viper::bf16)
