using Viper.Runtime;

namespace Viper.Engine.Tests.Support;

/// <summary>Moves PyTorch's NCHW reference tensors to the engine's NHWC layout and back.</summary>
public static class Nhwc
{
    public static Tensor FromNchw(IBackend b, float[] values, int[] nchw)
    {
        using Tensor nchwTensor = b.FromFloats(values, new Shape(nchw));
        return b.Permute(nchwTensor, 0, 2, 3, 1);
    }

    public static float[] ToNchw(Tensor nhwc)
    {
        using Tensor nchw = nhwc.Backend.Permute(nhwc, 0, 3, 1, 2);
        return nchw.ToFloats();
    }
}
