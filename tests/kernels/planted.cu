// Test-only kernels for the emulated device's own tests (built into libviper_emu_testkernels.so, never into
// the engine): planted bugs the emulator must catch, and probes of warp and block synchronisation.
#include "common.cuh"

// Writes one element past the end of y.
extern "C" __global__ void planted_oob_write(float* y, i64 n) {
    i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i <= n) y[i] = 1.f;
}
VIPER_ENTRY(planted_oob_write)

// An add that is wrong by 1e-3: a kernel test comparing it with the CPU backend must fail.
extern "C" __global__ void planted_wrong_add_f32(const float* a, const float* b, float* y, i64 n) {
    for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += i64(gridDim.x) * blockDim.x) y[i] = a[i] + b[i] + 1e-3f;
}
VIPER_ENTRY(planted_wrong_add_f32)

// Per thread: [0] xor-1 neighbour's lane id, [1] ballot of odd lanes, [2] warp sum of lane ids,
// [3] the value thread (t+1) % blockDim wrote to shared memory before the barrier.
extern "C" __global__ void warp_probe(int* out) {
    __shared__ int slots[1024];
    unsigned t = threadIdx.x, lane = t % 32;
    slots[t] = int(t) * 10;
    int neighbour = __shfl_xor_sync(0xffffffffu, int(lane), 1);
    unsigned ballot = __ballot_sync(0xffffffffu, lane & 1);
    float sum = viper::warp_sum(float(lane));
    __syncthreads();
    out[4 * t + 0] = neighbour;
    out[4 * t + 1] = int(ballot);
    out[4 * t + 2] = int(sum);
    out[4 * t + 3] = slots[(t + 1) % blockDim.x];
}
VIPER_ENTRY(warp_probe)

// The two halves of the block wait at different __syncthreads: undefined on the hardware, reported here.
extern "C" __global__ void planted_divergent_barrier(int* out) {
    if (threadIdx.x < blockDim.x / 2) {
        __syncthreads();
        out[threadIdx.x] = 1;
    } else {
        out[threadIdx.x] = 2;
        __syncthreads();
    }
}
VIPER_ENTRY(planted_divergent_barrier)

// A full-warp shuffle that half the warp skips: reported as a divergent warp collective.
extern "C" __global__ void planted_divergent_shuffle(int* out) {
    int v = int(threadIdx.x);
    if (threadIdx.x % 32 < 16) v = __shfl_xor_sync(0xffffffffu, v, 1);
    out[threadIdx.x] = v;
}
VIPER_ENTRY(planted_divergent_shuffle)

// Two launches that must run at the same time: each raises its own flag, then waits (a bounded spin) for the other's.
// out[me] = 1 when the other launch was seen, 0 when the wait ran out — what launches serialised on one queue give.
extern "C" __global__ void rendezvous_probe(int* flags, int* out, int me, long long spins) {
    volatile int* f = flags;
    f[me] = 1;
    long long i = 0;
    while (f[1 - me] == 0 && i < spins) ++i;
    out[me] = f[1 - me];
}
VIPER_ENTRY(rendezvous_probe)
