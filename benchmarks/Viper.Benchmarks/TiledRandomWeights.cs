using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Benchmarks;

/// <summary>
/// Random parameters for multi-gigabyte benchmark stacks, made on the backend in the model's dtype: one block of random
/// values (±1/√fan-in for matrices, near 1 for norm weights) uploaded per tensor and repeated over it by a concat, so
/// building an 8B-shaped stack costs neither minutes of random draws nor a host copy of any large tensor (which would
/// count in the peak memory the benchmark measures).
/// </summary>
internal sealed class TiledRandomWeights(IBackend backend, DType dtype, DType? linearWeights = null) : WeightSource(backend, dtype, linearWeights)
{
    private const int BlockElements = 1 << 20;
    private readonly float[] _block = MakeBlock();
    private readonly Dictionary<(bool Norm, float Scale, int Length), float[]> _tiles = [];
    private readonly Dictionary<float[], byte[]> _encoded = new(ReferenceEqualityComparer.Instance);

    protected override Tensor Read(string name, Shape shape)
    {
        float[] values = Tile(shape);
        int blockLength = values.Length;
        using Tensor block = Backend.FromFloats(values, new Shape(blockLength), DType);
        long whole = shape.ElementCount / blockLength;
        int rest = (int)(shape.ElementCount % blockLength);
        List<Tensor> parts = [.. Enumerable.Repeat(block, (int)whole)];
        using Tensor? tail = rest > 0 ? Backend.Narrow(block, 0, 0, rest) : null;
        if (tail is not null)
        {
            parts.Add(tail);
        }

        return Backend.Concat(parts, 0).ReshapeInto(shape.ToArray());
    }

    /// <summary>
    /// A linear weight in a weight format is quantized slab by slab from the tiled values, as a checkpoint's is from its
    /// file, so the stack's peak memory is the engine's loading, not a whole bf16 matrix built only to be converted.
    /// </summary>
    protected override LinearWeight ReadLinear(string name, Shape shape)
    {
        if (LinearWeights is not { } format || format == DType)
        {
            return base.ReadLinear(name, shape);
        }

        byte[] tile = EncodedTile(shape);
        int element = DType.SizeInBytes();
        return LinearWeightFormats.Convert(Backend, shape, DType, format, (first, raw) =>
        {
            long at = (long)first * shape[1] * element % tile.Length;
            for (int done = 0; done < raw.Length;)
            {
                int run = (int)Math.Min(raw.Length - done, tile.Length - at);
                tile.AsSpan((int)at, run).CopyTo(raw[done..]);
                (done, at) = (done + run, 0);
            }
        });
    }

    // The backend's convolution layout (OHWI), as CheckpointWeights hands it out after converting the stored OIHW.
    protected override Tensor ReadConv(string name, int cout, int cin, int kh, int kw) => Read(name, new Shape(cout, kh, kw, cin));

    /// <summary>
    /// The values repeated over a tensor of <paramref name="shape"/>: its element i is Tile[i mod length]. Made once per
    /// kind of tensor (norm or fan-in, length) and reused: a fresh 4 MB tile per tensor was large-object garbage that the
    /// GC kept committed (about 280 MB of the stack's peak memory, none of it the engine's).
    /// </summary>
    private float[] Tile(Shape shape)
    {
        bool norm = shape.Rank == 1;
        float scale = norm ? 0.1f : 1f / MathF.Sqrt(shape.ElementCount / shape[0]);
        int blockLength = (int)Math.Min(BlockElements, shape.ElementCount);
        if (!_tiles.TryGetValue((norm, scale, blockLength), out float[]? tile))
        {
            tile = new float[blockLength];
            for (int i = 0; i < blockLength; i++)
            {
                tile[i] = norm ? 1f + (_block[i] * scale) : _block[i] * scale;
            }

            _tiles[(norm, scale, blockLength)] = tile;
        }

        return tile;
    }

    /// <summary><see cref="Tile"/> encoded in the model's dtype, for the slab reader of a weight quantized at load.</summary>
    private byte[] EncodedTile(Shape shape)
    {
        float[] tile = Tile(shape);
        if (!_encoded.TryGetValue(tile, out byte[]? bytes))
        {
            bytes = HostTensors.EncodeFloats(tile, DType);
            _encoded[tile] = bytes;
        }

        return bytes;
    }

    private static float[] MakeBlock()
    {
        var rng = new Random(7);
        return [.. Enumerable.Range(0, BlockElements).Select(_ => (2f * rng.NextSingle()) - 1f)];
    }
}
