using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Benchmarks;

/// <summary>
/// Random parameters for multi-gigabyte benchmark stacks, made straight in the model's dtype: a block of random values
/// (±1/√fan-in for matrices, near 1 for norm weights) tiled over each tensor and uploaded through one reused host buffer,
/// so building an 8B-shaped stack costs neither minutes of random draws nor a second copy of any tensor.
/// </summary>
internal sealed class TiledRandomWeights(IBackend backend, DType dtype) : WeightSource(backend, dtype)
{
    private const int BlockElements = 1 << 20;
    private readonly float[] _block = MakeBlock();
    private byte[] _upload = [];

    /// <summary>Bytes of every tensor handed out.</summary>
    public long Bytes { get; private set; }

    protected override Tensor Read(string name, Shape shape)
    {
        bool norm = shape.Rank == 1;
        float scale = norm ? 0.1f : 1f / MathF.Sqrt(shape.ElementCount / shape[0]);
        long bytes = shape.ElementCount * DType.SizeInBytes();
        if (_upload.Length < bytes)
        {
            _upload = new byte[bytes];
        }

        int size = DType.SizeInBytes();
        for (long start = 0; start < shape.ElementCount; start += BlockElements)
        {
            int count = (int)Math.Min(BlockElements, shape.ElementCount - start);
            float[] values = [.. _block.AsSpan(0, count).ToArray().Select(v => norm ? 1f + (v * scale) : v * scale)];
            HostTensors.EncodeFloats(values, DType).CopyTo(_upload.AsSpan((int)(start * size)));
        }

        Bytes += bytes;
        return Backend.FromHost(_upload.AsSpan(0, (int)bytes), shape, DType);
    }

    protected override Tensor ReadConv(string name, int cout, int cin, int kh, int kw) =>
        throw new NotSupportedException("the benchmark stacks have no convolutions");

    private static float[] MakeBlock()
    {
        var rng = new Random(7);
        return [.. Enumerable.Range(0, BlockElements).Select(_ => (2f * rng.NextSingle()) - 1f)];
    }
}
