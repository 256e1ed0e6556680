using Viper.Pipelines;
using Viper.Runtime;

namespace Viper.Engine.Tests.Support;

/// <summary>Moves PyTorch's NCHW reference tensors to the engine's NHWC layout and back (on the host).</summary>
public static class Nhwc
{
    public static Tensor FromNchw(IBackend b, float[] values, int[] nchw)
    {
        (int n, int c, int h, int w) = (nchw[0], nchw[1], nchw[2], nchw[3]);
        return b.FromFloats(LatentLayout.NchwToNhwc(values, n, c, h, w), new Shape(n, h, w, c));
    }

    public static float[] ToNchw(Tensor nhwc) =>
        LatentLayout.NhwcToNchw(nhwc.ToFloats(), nhwc.Shape[0], nhwc.Shape[1], nhwc.Shape[2], nhwc.Shape[3]);
}
