// NHWC convolution as an implicit GEMM on tensor cores (f16/bf16, f32 accumulation): output pixels are the
// GEMM's rows (M = N·Ho·Wo), output channels its columns (Cout), and (ky, kx, ci) its reduction (K = KH·KW·Cin),
// read straight from the input with zero padding instead of materialising im2col. A block of 4 warps computes a
// 64×64 tile (16 rows × 64 columns per warp) over 32-wide K steps staged in shared memory; the epilogue adds the
// bias and an optional residual and rounds once. Any stride and explicit top/left padding (bottom/right padding
// is implied by Ho, Wo), weight (Cout, KH, KW, Cin).
#include "common.cuh"

namespace viper {

constexpr int kConvRows = 64, kConvCols = 64, kConvK = 32, kConvPitch = kConvK + 8;  // +8: fewer bank conflicts

template <typename T>
VIPER_INLINE void conv_implicit_gemm(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
                                     const T* __restrict__ residual, T* __restrict__ y, ConvShape s, int cout, int batch) {
    __shared__ __align__(16) u16 as[kConvRows * kConvPitch];
    __shared__ __align__(16) u16 bs[kConvCols * kConvPitch];
    const i64 m_total = i64(batch) * s.ho * s.wo;
    const int k_total = s.kh * s.kw * s.cin;
    const i64 m0 = i64(blockIdx.x) * kConvRows;
    const int n0 = blockIdx.y * kConvCols;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    float acc[kConvCols / 8][4];
    for (int nt = 0; nt < kConvCols / 8; ++nt) acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.f;

    for (int k0 = 0; k0 < k_total; k0 += kConvK) {
        __syncthreads();
        for (int i = threadIdx.x; i < kConvRows * kConvK; i += blockDim.x) {
            int r = i / kConvK, c = i % kConvK, kk = k0 + c;
            i64 m = m0 + r;
            u16 value = 0;
            if (m < m_total && kk < k_total) {
                int ci = kk % s.cin, kx = kk / s.cin % s.kw, ky = kk / (s.cin * s.kw);
                int ox = int(m % s.wo), oy = int(m / s.wo % s.ho);
                i64 img = m / (i64(s.wo) * s.ho);
                int iy = oy * s.stride - s.pad_top + ky, ix = ox * s.stride - s.pad_left + kx;
                if (iy >= 0 && iy < s.h && ix >= 0 && ix < s.w) value = x[((img * s.h + iy) * s.w + ix) * s.cin + ci].bits;
            }
            as[r * kConvPitch + c] = value;
        }
        for (int i = threadIdx.x; i < kConvCols * kConvK; i += blockDim.x) {
            int r = i / kConvK, c = i % kConvK, n = n0 + r, kk = k0 + c;
            bs[r * kConvPitch + c] = n < cout && kk < k_total ? w[i64(n) * k_total + kk].bits : u16(0);
        }
        __syncthreads();
        for (int kt = 0; kt < kConvK / 16; ++kt) {
            const u16* pa = as + (warp * 16 + g) * kConvPitch + kt * 16 + 2 * t;
            u32 a[4] = {pack2(pa[0], pa[1]), pack2(pa[8 * kConvPitch], pa[8 * kConvPitch + 1]), pack2(pa[8], pa[9]),
                        pack2(pa[8 * kConvPitch + 8], pa[8 * kConvPitch + 9])};
            for (int nt = 0; nt < kConvCols / 8; ++nt) {
                const u16* pb = bs + (nt * 8 + g) * kConvPitch + kt * 16 + 2 * t;
                u32 b[2] = {pack2(pb[0], pb[1]), pack2(pb[8], pb[9])};
                mma16816<T>(acc[nt], a, b, acc[nt]);
            }
        }
    }

    for (int nt = 0; nt < kConvCols / 8; ++nt) {
        for (int e = 0; e < 4; ++e) {
            i64 row = m0 + warp * 16 + g + (e >= 2 ? 8 : 0);
            int col = n0 + nt * 8 + 2 * t + (e & 1);
            if (row >= m_total || col >= cout) continue;
            float v = acc[nt][e];
            if (bias != nullptr) v += to_float(bias[col]);
            if (residual != nullptr) v += to_float(residual[row * cout + col]);
            y[row * cout + col] = from_float<T>(v);
        }
    }
}

}  // namespace viper

#define VIPER_CONV(suffix, T)                                                                                              \
    extern "C" __global__ void conv2d_implicit_gemm_##suffix(const T* x, const T* w, const T* bias, const T* residual, T* y,  \
                                                             viper::ConvShape s, int cout, int batch) {                    \
        viper::conv_implicit_gemm<T>(x, w, bias, residual, y, s, cout, batch);                                             \
    }                                                                                                                      \
    VIPER_ENTRY(conv2d_implicit_gemm_##suffix)

VIPER_CONV(f16, viper::f16)
VIPER_CONV(bf16, viper::bf16)
