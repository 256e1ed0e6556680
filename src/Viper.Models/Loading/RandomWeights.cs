using Viper.Runtime;
using Viper.Weights;

namespace Viper.Models.Loading;

/// <summary>
/// Random parameters for tiny test checkpoints, recorded in the on-disk (PyTorch) layout so they can be written as
/// the real checkpoint would be. Norm weights are drawn near 1, biases near 0, matrices uniform in ±1/√fan-in
/// (nn.Linear's default), embeddings with unit scale, so activations keep a sensible range through many layers.
/// </summary>
public sealed class RandomWeights(IBackend backend, DType dtype, int seed) : WeightSource(backend, dtype)
{
    private readonly Random _rng = new(seed);
    private readonly List<TensorData> _recorded = [];

    /// <summary>Every tensor handed out so far, f32, as a checkpoint stores it.</summary>
    public IReadOnlyList<TensorData> Recorded => _recorded;

    protected internal override Tensor Read(string name, Shape shape)
    {
        float[] values = Draw(name, shape);
        _recorded.Add(new TensorData(name, DType.F32, shape, HostTensors.EncodeFloats(values, DType.F32)));
        return Backend.FromFloats(values, shape, DType);
    }

    protected internal override Tensor ReadConv(string name, int cout, int cin, int kh, int kw)
    {
        var oihw = new Shape(cout, cin, kh, kw);
        float[] values = Draw(name, oihw);
        byte[] stored = HostTensors.EncodeFloats(values, DType.F32);
        _recorded.Add(new TensorData(name, DType.F32, oihw, stored));
        byte[] ohwi = ConvWeightLayout.OihwToOhwi(stored, cout, cin, kh, kw, DType.F32.SizeInBytes());
        return Backend.FromFloats(HostTensors.DecodeFloats(ohwi, DType.F32), new Shape(cout, kh, kw, cin), DType);
    }

    private float[] Draw(string name, Shape shape)
    {
        float[] v = new float[shape.ElementCount];
        string leaf = name[(name.LastIndexOf('.') + 1)..];
        bool norm = name.Contains("norm", StringComparison.Ordinal) || name.Contains("layrnorm", StringComparison.Ordinal);
        (float center, float spread) = (leaf, shape.Rank) switch
        {
            ("weight", 1) when norm => (1f, 0.1f),
            ("bias", _) => (0f, 0.1f),
            (_, 1) => (0f, 1f),
            _ when name.Contains("embedding", StringComparison.Ordinal) => (0f, 1f),
            _ => (0f, 1f / MathF.Sqrt(shape.ElementCount / shape[0])),
        };
        for (int i = 0; i < v.Length; i++)
        {
            v[i] = center + (spread * ((2f * _rng.NextSingle()) - 1f));
        }

        return v;
    }
}
