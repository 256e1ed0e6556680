using Viper.Cuda.Device;
using Viper.Cuda.Kernels;
using Viper.Runtime;

namespace Viper.Cuda.Backend;

public sealed partial class CudaBackend
{
    protected override Tensor GroupNormCore(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, bool silu, Tensor? add, bool perChannel)
    {
        int addMode = add is null ? 0 : perChannel ? 2 : 1;
        int batch = x.Shape[0], channels = x.Shape.Last;
        long spatial = x.Shape.Product(1, x.Shape.Rank - 1);
        Tensor y = AllocateUninitialized(x.Shape, x.DType);
        Tensor stats = AllocateUninitialized(new Shape(batch * groups, 2), DType.F32);
        (_, Dim3 block) = Launchers.RowReduce(1, (int)Math.Min(spatial * (channels / groups), int.MaxValue));
        if (batch * groups > 0)
        {
            Device.Launch(KernelTable.Entry("group_norm_stats", x.DType), new Dim3((uint)(batch * groups)), block, 0,
                new KernelArgs().Add(this, x).Add(this, add).Add(addMode).Add(this, stats).Add(spatial).Add(channels).Add(groups).Add(eps));
        }

        LaunchElementwise(KernelTable.Entry("group_norm_apply", x.DType), x.ElementCount, new KernelArgs()
            .Add(this, x).Add(this, add).Add(addMode).Add(this, stats).Add(this, gamma).Add(this, beta).Add(this, y)
            .Add(spatial).Add(channels).Add(groups).Add(silu ? 1 : 0).Add(x.ElementCount));
        stats.Dispose();
        return y;
    }

    protected override Tensor LayerNormCore(Tensor x, Tensor? gamma, Tensor? beta, float eps) => RowNorm(x, gamma, beta, eps, rms: false);

    protected override Tensor RmsNormCore(Tensor x, Tensor gamma, float eps) => RowNorm(x, gamma, null, eps, rms: true);

    private Tensor RowNorm(Tensor x, Tensor? gamma, Tensor? beta, float eps, bool rms)
    {
        Tensor y = AllocateUninitialized(x.Shape, x.DType);
        LaunchRows(KernelTable.Entry("row_norm", x.DType), x.Shape.Rows, x.Shape.Last, new KernelArgs()
            .Add(this, x).Add(this, gamma).Add(this, beta).Add(this, y).Add(x.Shape.Last).Add(eps).Add(rms ? 1 : 0));
        return y;
    }
}
