// Linear layers over weights stored in any format: f32/f16/bf16 read as stored, int8 and FP8 (E4M3, E5M2) with an f32
// scale per output channel (or one per tensor), and llama.cpp's Q8_0 / Q4_0 blocks (32 values, f16 scale first).
//   linear_small: y (M ≤ 8, N) = x · dequant(W)ᵀ + bias for decode. One warp per output column; lane l decodes the
//     8-value units l, l+32, … of the row (coalesced: a warp step reads 256 consecutive values) and keeps M f32 sums.
//   dequantize: W rows → x's dtype, for a panel that the tensor-core GEMM (cuBLASLt) then multiplies during prefill.
// The scale of int8/FP8 multiplies the finished dot; Q8_0/Q4_0 values are q·d as their reference decodes them.
#include "common.cuh"

namespace viper {

constexpr int kSmallRows = 8;

// ---- formats: value(row, i) decodes value i of a row (without its channel scale) --------------------------------

struct WF32 { static constexpr int bytes = 4;
    VIPER_INLINE static float value(const unsigned char* row, i64 i) { return reinterpret_cast<const float*>(row)[i]; } };
struct WF16 { static constexpr int bytes = 2;
    VIPER_INLINE static float value(const unsigned char* row, i64 i) { return to_float(reinterpret_cast<const f16*>(row)[i]); } };
struct WBF16 { static constexpr int bytes = 2;
    VIPER_INLINE static float value(const unsigned char* row, i64 i) { return to_float(reinterpret_cast<const bf16*>(row)[i]); } };
struct WI8 { static constexpr int bytes = 1;
    VIPER_INLINE static float value(const unsigned char* row, i64 i) { return float(static_cast<signed char>(row[i])); } };

// E4M3 ("fn"): exponent and mantissa moved into f32 position and scaled by 2^120 (bias 127 − 7); subnormals follow; 0x7F is NaN.
struct WE4M3 { static constexpr int bytes = 1;
    VIPER_INLINE static float value(const unsigned char* row, i64 i) {
        u32 b = row[i], magnitude = b & 0x7Fu;
        float v = magnitude == 0x7Fu ? bits_to_float(0x7FC00000u) : bits_to_float(magnitude << 20) * 1.329227995784916e36f;
        return b & 0x80u ? -v : v;
    } };
// E5M2: the top byte of an f16.
struct WE5M2 { static constexpr int bytes = 1;
    VIPER_INLINE static float value(const unsigned char* row, i64 i) { f16 h; h.bits = u16(u32(row[i]) << 8); return to_float(h); } };

VIPER_INLINE float block_scale(const unsigned char* block) { f16 d; d.bits = u16(block[0] | (u32(block[1]) << 8)); return to_float(d); }

struct WQ8_0 {
    VIPER_INLINE static float value(const unsigned char* row, i64 i) {
        const unsigned char* block = row + (i / 32) * 34;
        return float(static_cast<signed char>(block[2 + i % 32])) * block_scale(block);
    } };
// Q4_0: value j < 16 of a block is the low nibble of byte j, value 16 + j its high nibble; (q − 8)·d.
struct WQ4_0 {
    VIPER_INLINE static float value(const unsigned char* row, i64 i) {
        const unsigned char* block = row + (i / 32) * 18;
        int j = int(i % 32);
        u32 packed = block[2 + j % 16];
        return float(int(j < 16 ? packed & 0xFu : packed >> 4) - 8) * block_scale(block);
    } };

template <typename W>
VIPER_INLINE i64 row_bytes(int k) { return i64(k) * W::bytes; }
template <> VIPER_INLINE i64 row_bytes<WQ8_0>(int k) { return i64(k / 32) * 34; }
template <> VIPER_INLINE i64 row_bytes<WQ4_0>(int k) { return i64(k / 32) * 18; }

VIPER_INLINE float channel_scale(const float* scale, int scale_count, int n) { return scale ? scale[scale_count == 1 ? 0 : n] : 1.f; }

// y (m, n) = x (m, k) · dequant(w)ᵀ · scale + bias; blockDim.x is a multiple of 32, one warp per column.
template <typename W, typename T>
VIPER_INLINE void linear_small(const T* __restrict__ x, const unsigned char* __restrict__ w, const float* __restrict__ scale, int scale_count,
                               const T* __restrict__ bias, T* __restrict__ y, int m, int n, int k) {
    int lane = threadIdx.x % 32;
    int col = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (col >= n) return;
    const unsigned char* row = w + i64(col) * row_bytes<W>(k);
    float acc[kSmallRows];
    for (int r = 0; r < kSmallRows; ++r) acc[r] = 0.f;
    int units = ceil_div(k, 8);
    for (int u = lane; u < units; u += 32) {
        float v[8];
        for (int i = 0; i < 8; ++i) v[i] = 8 * u + i < k ? W::value(row, i64(8 * u + i)) : 0.f;
        for (int r = 0; r < m; ++r) {
            const T* xr = x + i64(r) * k + 8 * u;
            for (int i = 0; i < 8 && 8 * u + i < k; ++i) acc[r] += v[i] * to_float(xr[i]);
        }
    }
    float s = channel_scale(scale, scale_count, col);
    for (int r = 0; r < m; ++r) {
        float total = warp_sum(acc[r]);
        if (lane == 0) y[i64(r) * n + col] = from_float<T>(total * s + (bias ? to_float(bias[col]) : 0.f));
    }
}

// rows [first, first + rows) of w, dequantized (times their scale) into out (rows, k) in T.
template <typename W, typename T>
VIPER_INLINE void dequantize_rows(const unsigned char* __restrict__ w, const float* __restrict__ scale, int scale_count, T* __restrict__ out,
                                  int first, int rows, int k) {
    i64 total = i64(rows) * k;
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += i64(gridDim.x) * blockDim.x) {
        int r = int(i / k);
        i64 c = i % k;
        const unsigned char* row = w + i64(first + r) * row_bytes<W>(k);
        out[i] = from_float<T>(W::value(row, c) * channel_scale(scale, scale_count, first + r));
    }
}

}  // namespace viper

#define VIPER_QUANT(wname, W, suffix, T)                                                                                               \
    extern "C" __global__ void linear_small_##wname##_##suffix(const T* x, const unsigned char* w, const float* scale, int scale_count,  \
                                                                 const T* bias, T* y, int m, int n, int k) {                              \
        viper::linear_small<viper::W, T>(x, w, scale, scale_count, bias, y, m, n, k);                                                \
    }                                                                                                                                   \
    VIPER_ENTRY(linear_small_##wname##_##suffix)                                                                                        \
    extern "C" __global__ void dequantize_##wname##_##suffix(const unsigned char* w, const float* scale, int scale_count, T* out,       \
                                                              int first, int rows, int k) {                                            \
        viper::dequantize_rows<viper::W, T>(w, scale, scale_count, out, first, rows, k);                                              \
    }                                                                                                                                   \
    VIPER_ENTRY(dequantize_##wname##_##suffix)

#define VIPER_QUANT_ALL(wname, W) VIPER_QUANT(wname, W, f32, float) VIPER_QUANT(wname, W, f16, viper::f16) VIPER_QUANT(wname, W, bf16, viper::bf16)

VIPER_QUANT_ALL(f32, WF32)
VIPER_QUANT_ALL(f16, WF16)
VIPER_QUANT_ALL(bf16, WBF16)
VIPER_QUANT_ALL(int8, WI8)
VIPER_QUANT_ALL(fp8_e4m3, WE4M3)
VIPER_QUANT_ALL(fp8_e5m2, WE5M2)
VIPER_QUANT_ALL(q8_0, WQ8_0)
VIPER_QUANT_ALL(q4_0, WQ4_0)
