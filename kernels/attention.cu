// Scaled-dot-product attention over (B, T, H·D) activations: one block per (query, head, batch) row with an
// online softmax over key tiles (running max and sum in f32), so any key length fits in fixed shared memory.
// GQA: query head h reads KV head h / (Hq / Hkv). Causal masking is aligned to the end of the keys (KV cache);
// key_lengths (optional, per batch item) masks padded keys (one outside [1, Tk] is recorded in `bad` and clamped).
// Head dim ≤ 256, blockDim a multiple of 32, ≤ 256.
// This is the straightforward kernel the tiled tensor-core version is checked against, and, split over the keys,
// the decode kernel (a few query rows against a long KV cache).
#include "common.cuh"

namespace viper {

constexpr int kMaxHeadDim = 256;
constexpr int kMaxAttentionBlock = 256;

// Online softmax of one query row (already in shared qs, pre-scaled) over keys [begin, end): leaves the running
// maximum m, the sum l of exp(s − m) and this thread's unnormalised outputs acc (dims threadIdx.x + blockDim.x·r).
template <typename T>
VIPER_INLINE void attention_span(const float* qs, const T* __restrict__ k, const T* __restrict__ v, float* p, float* scratch,
                                 i64 key_row0, int hkv, int kvh, int d, int begin, int end, const int* mask, const float* bias, float& m,
                                 float& l, float* acc) {
    for (int r = 0; r < kMaxHeadDim / 32; ++r) acc[r] = 0.f;
    m = -3.402823466e38f;
    l = 0.f;
    for (int tile = begin; tile < end; tile += blockDim.x) {
        int j = tile + int(threadIdx.x);
        bool live = j < end && (mask == nullptr || mask[j] != 0);
        float s = -3.402823466e38f;
        if (live) {
            const T* krow = k + ((key_row0 + j) * hkv + kvh) * d;
            s = 0.f;
            for (int c = 0; c < d; ++c) s += qs[c] * to_float(krow[c]);
            if (bias != nullptr) s += bias[j];
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
        p[threadIdx.x] = live ? expf(s - m_new) : 0.f;
        float tile_sum = block_sum(p[threadIdx.x], scratch);
        l = l * alpha + tile_sum;
        m = m_new;
        int count = end - tile < int(blockDim.x) ? end - tile : int(blockDim.x);
        for (int r = 0; r * int(blockDim.x) + int(threadIdx.x) < d; ++r) {
            int c = r * blockDim.x + threadIdx.x;
            float sum = 0.f;
            for (int jj = 0; jj < count; ++jj) sum += p[jj] * to_float(v[((key_row0 + tile + jj) * hkv + kvh) * d + c]);
            acc[r] = acc[r] * alpha + sum;
        }
        __syncthreads();  // p is rewritten by the next tile
    }
}

// Loads query row i of head h (scaled) into shared memory; returns how many keys it may see.
template <typename T>
VIPER_INLINE int load_query_row(const T* __restrict__ q, float* qs, const int* __restrict__ key_lengths, BadValueRecord* bad, int i,
                                int h, int b, int tq, int tk, int hq, int d, int causal, float scale) {
    const T* qrow = q + ((i64(b) * tq + i) * hq + h) * d;
    for (int c = threadIdx.x; c < d; c += blockDim.x) qs[c] = to_float(qrow[c]) * scale;
    __syncthreads();
    int visible = visible_keys(key_lengths, b, tk, bad);
    if (causal && i + (tk - tq) + 1 < visible) visible = i + (tk - tq) + 1;
    return visible;
}

template <typename T>
VIPER_INLINE void attention_row(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v, T* __restrict__ y,
                                const int* __restrict__ key_lengths, BadValueRecord* bad, AttentionMasks masks, int tq, int tk, int hq,
                                int hkv, int d, int causal, float scale) {
    __shared__ float qs[kMaxHeadDim];
    __shared__ float p[kMaxAttentionBlock];
    __shared__ float scratch[32];
    int i = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
    int visible = load_query_row(q, qs, key_lengths, bad, i, h, b, tq, tk, hq, d, causal, scale);
    float acc[kMaxHeadDim / 32], m, l;
    attention_span(qs, k, v, p, scratch, i64(b) * tk, hkv, h / (hq / hkv), d, 0, visible, key_mask_row(masks, b, tk),
                   bias_row(masks, b, h, i, tq, tk), m, l, acc);
    T* out = y + ((i64(b) * tq + i) * hq + h) * d;
    for (int r = 0; r * int(blockDim.x) + int(threadIdx.x) < d; ++r)
        out[r * blockDim.x + threadIdx.x] = from_float<T>(l > 0.f ? acc[r] / l : 0.f);  // no key left: zeros
}

// Split-KV decode, pass 1: block (i·splits + s, h, b) takes keys [s·chunk, (s+1)·chunk) of query row i and writes its
// unnormalised outputs to partial_o (B, Tq, Hq, splits, D) and (m, l) to partial_ml (B, Tq, Hq, splits, 2), in f32.
// A few query rows against a long cache leave most SMs idle with one block per row; the splits fill them.
template <typename T>
VIPER_INLINE void attention_split_partial(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                          const int* __restrict__ key_lengths, BadValueRecord* bad, AttentionMasks masks,
                                          float* __restrict__ partial_o,
                                          float* __restrict__ partial_ml, int tq, int tk, int hq, int hkv, int d, int causal,
                                          float scale, int splits, int chunk) {
    __shared__ float qs[kMaxHeadDim];
    __shared__ float p[kMaxAttentionBlock];
    __shared__ float scratch[32];
    int i = blockIdx.x / splits, split = blockIdx.x % splits, h = blockIdx.y, b = blockIdx.z;
    int visible = load_query_row(q, qs, key_lengths, bad, i, h, b, tq, tk, hq, d, causal, scale);
    int begin = split * chunk, end = begin + chunk < visible ? begin + chunk : visible;
    float acc[kMaxHeadDim / 32], m, l;
    attention_span(qs, k, v, p, scratch, i64(b) * tk, hkv, h / (hq / hkv), d, begin, end, key_mask_row(masks, b, tk),
                   bias_row(masks, b, h, i, tq, tk), m, l, acc);
    i64 slot = ((i64(b) * tq + i) * hq + h) * splits + split;
    for (int r = 0; r * int(blockDim.x) + int(threadIdx.x) < d; ++r) partial_o[slot * d + r * blockDim.x + threadIdx.x] = acc[r];
    if (threadIdx.x == 0) {
        partial_ml[2 * slot] = m;
        partial_ml[2 * slot + 1] = l;
    }
}

// Split-KV decode, pass 2: one block per (row, head, batch) merges the splits: M = max m_s,
// y = Σ exp(m_s − M)·o_s / Σ exp(m_s − M)·l_s. Empty splits (m = −FLT_MAX, l = 0) weigh nothing.
template <typename T>
VIPER_INLINE void attention_split_combine(const float* __restrict__ partial_o, const float* __restrict__ partial_ml, T* __restrict__ y,
                                          int tq, int hq, int d, int splits) {
    i64 row = (i64(blockIdx.z) * tq + blockIdx.x) * hq + blockIdx.y;
    const float* ml = partial_ml + 2 * row * splits;
    float big = -3.402823466e38f;
    for (int s = 0; s < splits; ++s) big = fmaxf(big, ml[2 * s]);
    float l = 0.f;
    for (int s = 0; s < splits; ++s) l += expf(ml[2 * s] - big) * ml[2 * s + 1];
    for (int c = threadIdx.x; c < d; c += blockDim.x) {
        float o = 0.f;
        for (int s = 0; s < splits; ++s) o += expf(ml[2 * s] - big) * partial_o[(row * splits + s) * d + c];
        y[row * d + c] = from_float<T>(l > 0.f ? o / l : 0.f);  // no key left: zeros
    }
}

}  // namespace viper

#define VIPER_ATTENTION(suffix, T)                                                                                         \
    extern "C" __global__ void attention_rows_##suffix(const T* q, const T* k, const T* v, T* y, const int* key_lengths,      \
                                                       viper::BadValueRecord* bad, viper::AttentionMasks masks, int tq,     \
                                                       int tk, int hq, int hkv, int d, int causal, float scale) {           \
        viper::attention_row<T>(q, k, v, y, key_lengths, bad, masks, tq, tk, hq, hkv, d, causal, scale);                   \
    }                                                                                                                      \
    VIPER_ENTRY(attention_rows_##suffix)                                                                                   \
    extern "C" __global__ void attention_split_partial_##suffix(const T* q, const T* k, const T* v, const int* key_lengths,   \
                                                                viper::BadValueRecord* bad, viper::AttentionMasks masks,     \
                                                                float* partial_o, float* partial_ml, int tq, int tk, int hq, \
                                                                int hkv, int d, int causal, float scale, int splits,         \
                                                                int chunk) {                                                 \
        viper::attention_split_partial<T>(q, k, v, key_lengths, bad, masks, partial_o, partial_ml, tq, tk, hq, hkv, d, causal, scale, \
                                          splits, chunk);                                                                    \
    }                                                                                                                      \
    VIPER_ENTRY(attention_split_partial_##suffix)                                                                          \
    extern "C" __global__ void attention_split_combine_##suffix(const float* partial_o, const float* partial_ml, T* y, int tq, \
                                                                int hq, int d, int splits) {                                 \
        viper::attention_split_combine<T>(partial_o, partial_ml, y, tq, hq, d, splits);                                     \
    }                                                                                                                      \
    VIPER_ENTRY(attention_split_combine_##suffix)

VIPER_ATTENTION(f32, float)
VIPER_ATTENTION(f16, viper::f16)
VIPER_ATTENTION(bf16, viper::bf16)
