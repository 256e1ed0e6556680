// Linear layers over weights stored in any format: f32/f16/bf16 read as stored, int8 and FP8 (E4M3, E5M2) with an f32
// scale per output channel (or one per tensor), and llama.cpp's Q8_0 / Q4_0 blocks (32 values, f16 scale first).
//   linear_small: y (M ≤ 8, N) = x · dequant(W)ᵀ + bias for decode. One warp per output column; lane l decodes the
//     8-value units l, l+32, … of the row (coalesced: a warp step reads 256 consecutive values) and keeps M f32 sums.
//   dequantize: W rows → x's dtype, for a panel that the tensor-core GEMM (cuBLASLt) then multiplies during prefill.
// The scale of int8/FP8 multiplies the finished dot; Q8_0/Q4_0 values are q·d as their reference decodes them.
// FP8 prefill on FP8 tensor cores (sm_89+, the GEMM through cuBLASLt with scale pointers) quantizes the activations to
// E4M3 with one dynamic scale per tensor (amax / 448, as vLLM's dynamic per-tensor FP8), on the device, no host sync:
//   fp8_amax_partial: the largest |x| of each block's grid-stride share, one value per block;
//   fp8_quantize: every block reduces those partials to amax, writes the codes of x·(448 / amax) (nearest, ties to even,
//     saturating at 448) and block 0 the scale amax / 448 that the GEMM's scale pointer multiplies back;
//   fp8_scale_columns: the GEMM's f32 result times each output channel's weight scale, plus bias, in x's dtype.
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

struct WE4M3 { static constexpr int bytes = 1;
    VIPER_INLINE static float value(const unsigned char* row, i64 i) { return e4m3_to_float(row[i]); } };
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

// f32 → E4M3 ("fn"): nearest, ties to the even code, |v| ≥ 448 saturating to 448, NaN to 0x7F.
VIPER_INLINE unsigned char to_e4m3(float v) {
    u32 bits = float_to_bits(v), sign = (bits >> 24) & 0x80u, magnitude = bits & 0x7FFFFFFFu;
    if (magnitude > 0x7F800000u) return static_cast<unsigned char>(sign | 0x7Fu);
    float a = bits_to_float(magnitude);
    if (a >= 448.f) return static_cast<unsigned char>(sign | 0x7Eu);
    if (a < 0.015625f) return static_cast<unsigned char>(sign | u32(rintf(a * 512.f)));  // subnormals: steps of 2^-9, exact product
    u32 rounded = (magnitude + 0x7FFFFu + ((magnitude >> 20) & 1u)) >> 20;                 // 3 mantissa bits, ties to even
    u32 code = rounded - (120u << 3);                                                     // exponent bias 127 → 7
    return static_cast<unsigned char>(sign | (code > 0x7Eu ? 0x7Eu : code));
}

template <typename T>
VIPER_INLINE void fp8_amax_partial(const T* __restrict__ x, i64 count, float* __restrict__ partials) {
    __shared__ float scratch[32];
    float m = 0.f;
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += i64(gridDim.x) * blockDim.x) m = fmaxf(m, fabsf(to_float(x[i])));
    m = block_max(m, scratch);
    if (threadIdx.x == 0) partials[blockIdx.x] = m;
}

template <typename T>
VIPER_INLINE void fp8_quantize(const T* __restrict__ x, i64 count, const float* __restrict__ partials, int parts,
                               unsigned char* __restrict__ codes, float* __restrict__ scale) {
    __shared__ float scratch[32];
    float m = 0.f;
    for (int i = threadIdx.x; i < parts; i += blockDim.x) m = fmaxf(m, partials[i]);
    float amax = block_max(m, scratch);
    float inv = amax > 0.f ? 448.f / amax : 1.f;
    if (blockIdx.x == 0 && threadIdx.x == 0) *scale = amax > 0.f ? amax / 448.f : 1.f;
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += i64(gridDim.x) * blockDim.x) codes[i] = to_e4m3(to_float(x[i]) * inv);
}

template <typename T>
VIPER_INLINE void fp8_scale_columns(const float* __restrict__ acc, const float* __restrict__ scale, int scale_count, const T* __restrict__ bias,
                                    T* __restrict__ y, i64 rows, int n) {
    i64 total = rows * n;
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += i64(gridDim.x) * blockDim.x) {
        int c = int(i % n);
        y[i] = from_float<T>(acc[i] * channel_scale(scale, scale_count, c) + (bias ? to_float(bias[c]) : 0.f));
    }
}

}  // namespace viper

#define VIPER_FP8_ACTIVATIONS(suffix, T)                                                                                               \
    extern "C" __global__ void fp8_amax_partial_##suffix(const T* x, i64 count, float* partials) {                             \
        viper::fp8_amax_partial<T>(x, count, partials);                                                                                \
    }                                                                                                                                   \
    VIPER_ENTRY(fp8_amax_partial_##suffix)                                                                                              \
    extern "C" __global__ void fp8_quantize_##suffix(const T* x, i64 count, const float* partials, int parts,                  \
                                                     unsigned char* codes, float* scale) {                                              \
        viper::fp8_quantize<T>(x, count, partials, parts, codes, scale);                                                               \
    }                                                                                                                                   \
    VIPER_ENTRY(fp8_quantize_##suffix)                                                                                                  \
    extern "C" __global__ void fp8_scale_columns_##suffix(const float* acc, const float* scale, int scale_count, const T* bias, T* y,  \
                                                          i64 rows, int n) {                                                     \
        viper::fp8_scale_columns<T>(acc, scale, scale_count, bias, y, rows, n);                                                        \
    }                                                                                                                                   \
    VIPER_ENTRY(fp8_scale_columns_##suffix)

VIPER_FP8_ACTIVATIONS(f32, float)
VIPER_FP8_ACTIVATIONS(f16, viper::f16)
VIPER_FP8_ACTIVATIONS(bf16, viper::bf16)

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
