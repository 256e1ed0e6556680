// Test kernels for common.cuh: the tensor-core wrappers (one warp computes D = A·B + C for one m16n8k16 tile.
// A (16×16) is staged into shared memory with cp.async and read with ldmatrix; B arrives as Bᵀ (8×16, i.e.
// column-major B) and C, D are row-major 16×8 f32; fragments as laid out in common.cuh), dynamic shared
// memory and 16-byte vector loads.
#include "common.cuh"

template <typename T>
__device__ void mma_tile(const T* a, const T* bt, const float* c, float* d) {
    __shared__ __align__(16) u16 staged[16 * 16];
    unsigned lane = threadIdx.x % 32;
    viper::cp_async_16(staged + lane * 8, reinterpret_cast<const u16*>(a) + lane * 8);  // 32 × 16 bytes = A
    viper::cp_async_commit();
    viper::cp_async_wait<0>();
    __syncwarp();
    unsigned j = lane / 8, r = lane % 8;  // lane 8j+r gives row r of matrix j: A's four 8×8 quadrants
    u32 af[4];
    viper::ldmatrix_x4(af, staged + (r + (j & 1) * 8) * 16 + (j >> 1) * 8);
    unsigned g = lane / 4, t = lane % 4;
    const u16* b = reinterpret_cast<const u16*>(bt);
    u32 bf[2] = {u32(b[g * 16 + 2 * t]) | (u32(b[g * 16 + 2 * t + 1]) << 16),
                 u32(b[g * 16 + 2 * t + 8]) | (u32(b[g * 16 + 2 * t + 9]) << 16)};
    float cf[4] = {c[g * 8 + 2 * t], c[g * 8 + 2 * t + 1], c[(g + 8) * 8 + 2 * t], c[(g + 8) * 8 + 2 * t + 1]};
    float df[4];
    if constexpr (sizeof(T) == 2 && __is_same(T, viper::bf16)) {
        viper::mma_m16n8k16_bf16(df, af, bf, cf);
    } else {
        viper::mma_m16n8k16_f16(df, af, bf, cf);
    }
    d[g * 8 + 2 * t] = df[0];
    d[g * 8 + 2 * t + 1] = df[1];
    d[(g + 8) * 8 + 2 * t] = df[2];
    d[(g + 8) * 8 + 2 * t + 1] = df[3];
}

extern "C" __global__ void mma_tile_f16(const viper::f16* a, const viper::f16* bt, const float* c, float* d) { mma_tile(a, bt, c, d); }
VIPER_ENTRY(mma_tile_f16)

extern "C" __global__ void mma_tile_bf16(const viper::bf16* a, const viper::bf16* bt, const float* c, float* d) { mma_tile(a, bt, c, d); }
VIPER_ENTRY(mma_tile_bf16)

// Dynamic shared memory: each thread writes its index, then reads its mirror image across the block.
extern "C" __global__ void dynamic_shared_probe(int* out) {
    VIPER_DYNAMIC_SHARED(int, values);
    values[threadIdx.x] = int(threadIdx.x);
    __syncthreads();
    out[blockIdx.x * blockDim.x + threadIdx.x] = values[blockDim.x - 1 - threadIdx.x];
}
VIPER_ENTRY(dynamic_shared_probe)

// Vector loads: doubles n halves (n a multiple of 8) reading and writing 16 bytes per access.
extern "C" __global__ void vector_double_f16(const viper::f16* x, viper::f16* y, i64 n) {
    for (i64 i = (i64(blockIdx.x) * blockDim.x + threadIdx.x) * 8; i < n; i += i64(gridDim.x) * blockDim.x * 8) {
        viper::Pack16 v = viper::load16(x + i);
        for (int j = 0; j < 8; ++j) {
            float f = viper::to_float(viper::f16{viper::pack16_half(v, j)});
            viper::pack16_set_half(v, j, viper::to_f16(2.f * f).bits);
        }
        viper::store16(y + i, v);
    }
}
VIPER_ENTRY(vector_double_f16)
