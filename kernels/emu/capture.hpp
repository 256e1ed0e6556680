// Stream capture of the emulated device, shared by the runtime and the reference GEMM: while the calling host
// thread captures, work is appended to its graph (replayed later) instead of running — as cuLaunchKernel,
// cuMemsetAsync and cuBLASLt calls on a capturing stream are.
#pragma once
#include <functional>

namespace emu {
int record_or_run(std::function<int()> op);
}
