// Reference GEMM of the emulated device, behind the same interface as the cuBLASLt wrapper (row-major,
// strided batches, f32/f16/bf16 operands, f32 accumulation, optional bias and GELU epilogues). Plain loops:
// it defines the answer the real cuBLASLt path is compared with, so it stays obviously correct.
// FP8 (E4M3) operands take cuBLASLt's FP8 contract on sm_89+: both operands E4M3, each with an optional device f32
// scale (its scale pointer; D = alpha·scale_a·scale_b·op(A)op(B) + beta·C), only A row-major and B transposed (the
// "TN" layout cuBLASLt requires once the wrapper swaps operands), K and both leading dimensions multiples of 16.
// Anything else is refused, as cuBLASLt would, so a wrong call fails here too.
#include <cmath>
#include <string>

#include "../common.cuh"
#include "capture.hpp"

namespace {

enum DType { kF32 = 0, kF16 = 1, kBF16 = 2, kE4M3 = 3 };
enum Epilogue { kNone = 0, kBias = 1, kBiasGeluTanh = 2 };

float load(const void* p, long i, int dtype) {
    switch (dtype) {
        case kE4M3: return viper::e4m3_to_float(static_cast<const unsigned char*>(p)[i]);
        case kF16: return viper::to_float(static_cast<const viper::f16*>(p)[i]);
        case kBF16: return viper::to_float(static_cast<const viper::bf16*>(p)[i]);
        default: return static_cast<const float*>(p)[i];
    }
}

void store(void* p, long i, int dtype, float v) {
    switch (dtype) {
        case kF16: static_cast<viper::f16*>(p)[i] = viper::to_f16(v); break;
        case kBF16: static_cast<viper::bf16*>(p)[i] = viper::to_bf16(v); break;
        default: static_cast<float*>(p)[i] = v; break;
    }
}

float gelu_tanh(float x) { return 0.5f * x * (1.f + std::tanh(0.7978845608f * (x + 0.044715f * x * x * x))); }

}  // namespace

extern "C" int viper_emu_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const void* a, int lda, long stride_a,
                              const void* b, int ldb, long stride_b, float beta, void* c, int ldc, long stride_c, int batch,
                              int dtype_ab, int dtype_c, const void* bias, int epilogue, const float* scale_a, const float* scale_b) {
    if (m < 0 || n < 0 || k < 0 || batch < 1 || dtype_ab < kF32 || dtype_ab > kE4M3 || dtype_c < kF32 || dtype_c > kBF16 ||
        epilogue < kNone || epilogue > kBiasGeluTanh || (epilogue != kNone && bias == nullptr)) {
        return 1;
    }
    bool fp8 = dtype_ab == kE4M3;
    if ((scale_a != nullptr || scale_b != nullptr) && !fp8) return 1;  // scale pointers are for FP8 operands only
    if (fp8 && (trans_a || !trans_b || k % 16 != 0 || lda % 16 != 0 || ldb % 16 != 0)) return 1;
    // Recorded like any launch while the thread captures (a cuBLASLt matmul on a capturing stream is a graph node).
    return emu::record_or_run([=] {
        // The scales are device values read when the GEMM runs (a graph replays it with whatever they hold then).
        float scale = (scale_a ? *scale_a : 1.f) * (scale_b ? *scale_b : 1.f);
        for (int p = 0; p < batch; ++p) {
            for (int i = 0; i < m; ++i) {
                for (int j = 0; j < n; ++j) {
                    float acc = 0.f;
                    for (int q = 0; q < k; ++q) {
                        float x = load(a, p * stride_a + (trans_a ? long(q) * lda + i : long(i) * lda + q), dtype_ab);
                        float y = load(b, p * stride_b + (trans_b ? long(j) * ldb + q : long(q) * ldb + j), dtype_ab);
                        acc += x * y;
                    }
                    long at = p * stride_c + long(i) * ldc + j;
                    float v = alpha * scale * acc + (beta != 0.f ? beta * load(c, at, dtype_c) : 0.f);
                    if (epilogue != kNone) v += load(bias, j, dtype_c);
                    if (epilogue == kBiasGeluTanh) v = gelu_tanh(v);
                    store(c, at, dtype_c, v);
                }
            }
        }
        return 0;
    });
}
