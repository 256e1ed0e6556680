using Viper.Cuda.Device;
using Viper.Cuda.Kernels;
using Viper.Runtime;

namespace Viper.Cuda.Backend;

public sealed partial class CudaBackend
{
    protected override Tensor TimestepEmbeddingCore(Tensor timesteps, TimestepEmbeddingOptions options)
    {
        Tensor? converted = timesteps.DType == DType.F32 ? null : Cast(timesteps, DType.F32);
        Tensor t = converted ?? timesteps;
        Tensor y = AllocateUninitialized(new Shape(t.Shape[0], options.Dim), DType.F32);
        LaunchElementwise("timestep_embedding", y.ElementCount, new KernelArgs()
            .Add(this, t).Add(this, y).Add(options.Dim).Add(options.FlipSinToCos ? 1 : 0).Add(options.DownscaleFreqShift)
            .Add(options.Scale).Add((float)Math.Log(options.MaxPeriod)).Add(y.ElementCount));
        converted?.Dispose();
        return y;
    }

    protected override Tensor RotaryCore(Tensor x, Tensor positions, int headDim, float theta)
    {
        Tensor y = AllocateUninitialized(x.Shape, x.DType);
        LaunchElementwise(KernelTable.Entry("rotary", x.DType), y.ElementCount, new KernelArgs()
            // The kernel reads positions[row % period]: period T repeats them for every batch row, B·T gives each row its own.
            .Add(this, x).Add(this, positions).Add(this, y).Add(checked((int)positions.ElementCount)).Add(x.Shape[2]).Add(headDim).Add(theta)
            .Add(y.ElementCount));
        return y;
    }
}
