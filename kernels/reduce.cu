// Row reductions (and the embedding gradient, a column reduction by id): one block per row, each thread strides over the row, then warp shuffles and a
// shared-memory exchange between warps (common.cuh block_sum). Accumulates in f32. Column sums over leading axes:
// one thread per output element, rows added in order (neighbouring threads read neighbouring columns).
#include "common.cuh"

namespace viper {

template <typename T>
VIPER_INLINE void sum_rows(const T* __restrict__ x, float* __restrict__ y, int cols, float scale) {
    __shared__ float scratch[32];
    const T* row = x + i64(blockIdx.x) * cols;
    float acc = 0.f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) acc += to_float(row[c]);
    acc = block_sum(acc, scratch);
    if (threadIdx.x == 0) y[blockIdx.x] = acc * scale;
}

// y[c] = Σ_r x[r, c] over x (rows, cols) in f32, rows in order: a bias gradient Σ over (B, T).
template <typename T>
VIPER_INLINE void sum_leading(const T* __restrict__ x, float* __restrict__ y, i64 rows, i64 cols) {
    for (i64 c = i64(blockIdx.x) * blockDim.x + threadIdx.x; c < cols; c += i64(gridDim.x) * blockDim.x) {
        float acc = 0.f;
        for (i64 r = 0; r < rows; ++r) acc += to_float(x[r * cols + c]);
        y[c] = acc;
    }
}

// The gradient of an embedding gather: table[ids[p], c] += dy[p, c] over positions p in order, one thread per column c
// (so no two threads add into one element and the sums are the same every run); table is zeroed f32 (rows, cols). An id
// outside [0, rows) is recorded and its row skipped.
template <typename T>
VIPER_INLINE void embedding_backward(const T* __restrict__ dy, const int* __restrict__ ids, float* __restrict__ table, i64 positions,
                                     i64 cols, int rows, BadValueRecord* bad) {
    for (i64 c = i64(blockIdx.x) * blockDim.x + threadIdx.x; c < cols; c += i64(gridDim.x) * blockDim.x) {
        for (i64 p = 0; p < positions; ++p) {
            int id = ids[p];
            if (id < 0 || id >= rows) {
                record_bad_value(bad, kBadEmbeddingId, id, rows - 1);
                continue;
            }
            table[i64(id) * cols + c] += to_float(dy[p * cols + c]);
        }
    }
}

}  // namespace viper

// y[r] = scale · Σ_c x[r, c]; scale = 1 for a sum, 1/cols for a mean.
#define VIPER_SUM_ROWS(suffix, T)                                                                             \
    extern "C" __global__ void sum_rows_##suffix(const T* x, float* y, int cols, float scale) {               \
        viper::sum_rows<T>(x, y, cols, scale);                                                                \
    }                                                                                                         \
    VIPER_ENTRY(sum_rows_##suffix)

VIPER_SUM_ROWS(f32, float)
VIPER_SUM_ROWS(f16, viper::f16)
VIPER_SUM_ROWS(bf16, viper::bf16)

#define VIPER_SUM_LEADING(suffix, T)                                                                          \
    extern "C" __global__ void sum_leading_##suffix(const T* x, float* y, i64 rows, i64 cols) {               \
        viper::sum_leading<T>(x, y, rows, cols);                                                              \
    }                                                                                                         \
    VIPER_ENTRY(sum_leading_##suffix)

VIPER_SUM_LEADING(f32, float)
VIPER_SUM_LEADING(f16, viper::f16)
VIPER_SUM_LEADING(bf16, viper::bf16)

#define VIPER_EMBEDDING_BACKWARD(suffix, T)                                                                                   \
    extern "C" __global__ void embedding_backward_##suffix(const T* dy, const int* ids, float* table, i64 positions, i64 cols, \
                                                           int rows, viper::BadValueRecord* bad) {                            \
        viper::embedding_backward<T>(dy, ids, table, positions, cols, rows, bad);                                             \
    }                                                                                                                         \
    VIPER_ENTRY(embedding_backward_##suffix)

VIPER_EMBEDDING_BACKWARD(f32, float)
VIPER_EMBEDDING_BACKWARD(f16, viper::f16)
VIPER_EMBEDDING_BACKWARD(bf16, viper::bf16)
