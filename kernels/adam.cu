// The fused Adam(W) update, one thread per parameter: f32 master weight and moments updated in place, operation by
// operation as PyTorch 1.13's _single_tensor_adam orders them (torch/optim/adam.py), with rounded multiplies and adds
// the compiler may not contract into FMAs, so the GPU, the emulated device and the CPU backend agree bit for bit.
// The model's copy of the parameter (f32, f16 or bf16) receives the new master value rounded once.
#include "common.cuh"

namespace viper {

template <typename T>
VIPER_INLINE void adam_update(float* __restrict__ w, float* __restrict__ m, float* __restrict__ v, const T* __restrict__ grad,
                              T* __restrict__ param, float beta1, float beta2, float one_minus_beta1, float one_minus_beta2, float eps,
                              float step_size, float bias_correction2_sqrt, float decay_factor, float gradient_decay, i64 n) {
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x) {
        float p = mul_rn(w[i], decay_factor);                                  // AdamW: param.mul_(1 − lr·λ)
        float g = add_rn(to_float(grad[i]), mul_rn(gradient_decay, p));        // Adam: grad.add(param, alpha=λ)
        float mi = add_rn(mul_rn(m[i], beta1), mul_rn(one_minus_beta1, g));     // exp_avg.mul_(β₁).add_(grad, alpha=1 − β₁)
        float vi = add_rn(mul_rn(v[i], beta2), mul_rn(mul_rn(one_minus_beta2, g), g));  // addcmul_(grad, grad, value=1 − β₂)
        float denom = add_rn(sqrtf(vi) / bias_correction2_sqrt, eps);
        p = add_rn(p, mul_rn(-step_size, mi) / denom);               // param.addcdiv_(exp_avg, denom, value=−step_size)
        w[i] = p;
        m[i] = mi;
        v[i] = vi;
        if (param != nullptr) param[i] = from_float<T>(p);
    }
}

}  // namespace viper

#define VIPER_ADAM(suffix, T)                                                                                                  \
    extern "C" __global__ void adam_update_##suffix(float* w, float* m, float* v, const T* grad, T* param, float beta1,        \
                                                    float beta2, float one_minus_beta1, float one_minus_beta2, float eps,      \
                                                    float step_size, float bias_correction2_sqrt, float decay_factor,          \
                                                    float gradient_decay, i64 n) {                                             \
        viper::adam_update<T>(w, m, v, grad, param, beta1, beta2, one_minus_beta1, one_minus_beta2, eps, step_size,            \
                              bias_correction2_sqrt, decay_factor, gradient_decay, n);                                         \
    }                                                                                                                          \
    VIPER_ENTRY(adam_update_##suffix)

VIPER_ADAM(f32, float)
VIPER_ADAM(f16, viper::f16)
VIPER_ADAM(bf16, viper::bf16)
