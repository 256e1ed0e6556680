// Row reductions: one block per row, each thread strides over the row, then warp shuffles and a
// shared-memory exchange between warps (common.cuh block_sum). Accumulates in f32.
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
