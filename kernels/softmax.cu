// Row-wise argmax, the top-two gap and L2 normalisation (one block per row, f32 reductions), and the repetition
// penalty over logits.
#include "common.cuh"

namespace viper {

// Index of the first largest value of each row (one warp per row keeps the tie rule simple: smallest index wins).
template <typename T>
VIPER_INLINE void argmax_rows(const T* __restrict__ x, int* __restrict__ y, int cols) {
    const T* row = x + i64(blockIdx.x) * cols;
    float best = -3.402823466e38f;
    int at = cols;
    for (int c = threadIdx.x; c < cols; c += 32) {
        float v = to_float(row[c]);
        if (v > best) best = v, at = c;
    }
    for (int offset = 16; offset > 0; offset >>= 1) {
        float other = __shfl_xor_sync(kFullMask, best, offset);
        int other_at = __shfl_xor_sync(kFullMask, at, offset);
        if (other > best || (other == best && other_at < at)) best = other, at = other_at;
    }
    if (threadIdx.x == 0) y[blockIdx.x] = at == cols ? 0 : at;
}

// Largest minus second largest value of each row (one warp per row): each lane keeps its top two, then the warp merges
// pairs (the merged second is the larger of the two losers' bests and both seconds). NaNs never compare greater.
template <typename T>
VIPER_INLINE void top_gap_rows(const T* __restrict__ x, float* __restrict__ y, int cols) {
    const T* row = x + i64(blockIdx.x) * cols;
    float best = bits_to_float(0xff800000u), second = best;  // -inf
    for (int c = threadIdx.x; c < cols; c += 32) {
        float v = to_float(row[c]);
        if (v > best) second = best, best = v;
        else if (v > second) second = v;
    }
    for (int offset = 16; offset > 0; offset >>= 1) {
        float other_best = __shfl_xor_sync(kFullMask, best, offset);
        float other_second = __shfl_xor_sync(kFullMask, second, offset);
        float loser = fminf(best, other_best);
        best = fmaxf(best, other_best);
        second = fmaxf(loser, fmaxf(second, other_second));
    }
    if (threadIdx.x == 0) y[blockIdx.x] = best - second;
}

// x / max(‖x‖₂, eps) per row, as torch.nn.functional.normalize.
template <typename T>
VIPER_INLINE void l2_normalize_rows(const T* __restrict__ x, T* __restrict__ y, int cols, float eps) {
    __shared__ float scratch[32];
    const T* row = x + i64(blockIdx.x) * cols;
    T* out = y + i64(blockIdx.x) * cols;
    float sq = 0.f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) sq += to_float(row[c]) * to_float(row[c]);
    float inv = 1.f / fmaxf(sqrtf(block_sum(sq, scratch)), eps);
    for (int c = threadIdx.x; c < cols; c += blockDim.x) out[c] = from_float<T>(to_float(row[c]) * inv);
}

// The gradient of l2_normalize_rows per row: (dy − x̂·Σ dy·x̂) / ‖x‖, or dy / eps where the norm was clamped to eps.
template <typename T>
VIPER_INLINE void l2_normalize_backward_rows(const T* __restrict__ x, const T* __restrict__ dy, T* __restrict__ dx, int cols, float eps) {
    __shared__ float scratch[32];
    i64 base = i64(blockIdx.x) * cols;
    float sq = 0.f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) sq += to_float(x[base + c]) * to_float(x[base + c]);
    float norm = sqrtf(block_sum(sq, scratch));
    if (!(norm > eps)) {
        for (int c = threadIdx.x; c < cols; c += blockDim.x) dx[base + c] = from_float<T>(to_float(dy[base + c]) / eps);
        return;
    }
    float dot = 0.f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) dot += to_float(dy[base + c]) * (to_float(x[base + c]) / norm);
    dot = block_sum(dot, scratch);
    for (int c = threadIdx.x; c < cols; c += blockDim.x)
        dx[base + c] = from_float<T>((to_float(dy[base + c]) - to_float(x[base + c]) / norm * dot) / norm);
}

// y already holds a copy of the logits; each id's original score is penalised (a repeated id writes the same value). An
// id outside the vocabulary is recorded and skipped.
template <typename T, typename I>
VIPER_INLINE void repetition_penalty(const T* __restrict__ logits, const I* __restrict__ ids, T* __restrict__ y, int vocab, int length,
                                     float penalty, i64 n, BadValueRecord* bad) {
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x) {
        i64 id = i64(ids[i]);
        if (id < 0 || id >= vocab) {
            record_bad_value(bad, kBadPenaltyId, id, vocab - 1);
            continue;
        }
        i64 at = i / length * vocab + id;
        float score = to_float(logits[at]);
        y[at] = from_float<T>(score < 0.f ? score * penalty : score / penalty);
    }
}

}  // namespace viper

#define VIPER_ROWS(suffix, T)                                                                                         \
    extern "C" __global__ void argmax_##suffix(const T* x, int* y, int cols) { viper::argmax_rows<T>(x, y, cols); }    \
    VIPER_ENTRY(argmax_##suffix)                                                                                      \
    extern "C" __global__ void top_gap_##suffix(const T* x, float* y, int cols) { viper::top_gap_rows<T>(x, y, cols); } \
    VIPER_ENTRY(top_gap_##suffix)                                                                                     \
    extern "C" __global__ void l2_normalize_##suffix(const T* x, T* y, int cols, float eps) {                         \
        viper::l2_normalize_rows<T>(x, y, cols, eps);                                                                 \
    }                                                                                                                 \
    VIPER_ENTRY(l2_normalize_##suffix)                                                                               \
    extern "C" __global__ void l2_normalize_backward_##suffix(const T* x, const T* dy, T* dx, int cols, float eps) {    \
        viper::l2_normalize_backward_rows<T>(x, dy, dx, cols, eps);                                                   \
    }                                                                                                                 \
    VIPER_ENTRY(l2_normalize_backward_##suffix)                                                                      \
    extern "C" __global__ void repetition_penalty_i32_##suffix(const T* logits, const int* ids, T* y, int vocab, int length, \
                                                              float penalty, i64 n, viper::BadValueRecord* bad) {     \
        viper::repetition_penalty<T, int>(logits, ids, y, vocab, length, penalty, n, bad);                            \
    }                                                                                                                 \
    VIPER_ENTRY(repetition_penalty_i32_##suffix)                                                                      \
    extern "C" __global__ void repetition_penalty_i64_##suffix(const T* logits, const i64* ids, T* y, int vocab, int length, \
                                                              float penalty, i64 n, viper::BadValueRecord* bad) {     \
        viper::repetition_penalty<T, i64>(logits, ids, y, vocab, length, penalty, n, bad);                            \
    }                                                                                                                 \
    VIPER_ENTRY(repetition_penalty_i64_##suffix)

VIPER_ROWS(f32, float)
VIPER_ROWS(f16, viper::f16)
VIPER_ROWS(bf16, viper::bf16)
