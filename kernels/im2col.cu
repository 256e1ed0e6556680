// NHWC im2col for convolutions that run as one GEMM: row (n, oy, ox), column (ky, kx, ci), zero outside the
// image (explicit top/left padding; bottom/right padding is implied by the output size). The weight is
// (Cout, KH, KW, Cin), so the GEMM is cols · weightᵀ with the bias epilogue.
#include "common.cuh"

namespace viper {

template <typename T>
VIPER_INLINE void im2col(const T* __restrict__ x, T* __restrict__ cols, ConvShape s, i64 n) {
    i64 patch = i64(s.kh) * s.kw * s.cin;
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x) {
        i64 row = i / patch, col = i % patch;
        int ci = int(col % s.cin), kx = int(col / s.cin % s.kw), ky = int(col / (i64(s.cin) * s.kw));
        int ox = int(row % s.wo), oy = int(row / s.wo % s.ho);
        i64 img = row / (i64(s.wo) * s.ho);
        int iy = oy * s.stride - s.pad_top + ky, ix = ox * s.stride - s.pad_left + kx;
        bool inside = iy >= 0 && iy < s.h && ix >= 0 && ix < s.w;
        cols[i] = inside ? x[((img * s.h + iy) * s.w + ix) * s.cin + ci] : from_float<T>(0.f);
    }
}

}  // namespace viper

#define VIPER_IM2COL(suffix, T)                                                                                    \
    extern "C" __global__ void im2col_##suffix(const T* x, T* cols, viper::ConvShape s, i64 n) { viper::im2col<T>(x, cols, s, n); } \
    VIPER_ENTRY(im2col_##suffix)

VIPER_IM2COL(f32, float)
VIPER_IM2COL(f16, viper::f16)
VIPER_IM2COL(bf16, viper::bf16)
