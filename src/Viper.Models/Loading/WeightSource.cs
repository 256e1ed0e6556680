using Viper.Runtime;

namespace Viper.Models.Loading;

/// <summary>
/// Where a model's parameters come from, by their checkpoint names: a checkpoint on disk, random values for a tiny
/// test checkpoint, or nothing at all when only the list of names and shapes is wanted (manifests). Models ask for
/// each tensor once, in their constructors, and do no arithmetic on them there. Everything handed out is recorded in
/// <see cref="Parameters"/> under its name.
/// </summary>
public abstract class WeightSource
{
    protected WeightSource(IBackend backend, DType dtype, DType? linearWeights = null)
    {
        if (!dtype.IsFloat())
        {
            throw new ArgumentException($"models compute in a float dtype, not {dtype}", nameof(dtype));
        }

        if (linearWeights is { } format && !LinearWeightFormats.IsStorable(format))
        {
            throw new ArgumentException($"linear weights cannot be stored as {format.Label()}", nameof(linearWeights));
        }

        Backend = backend;
        DType = dtype;
        LinearWeights = linearWeights;
    }

    public IBackend Backend { get; }

    /// <summary>The dtype parameters are cast to on load (the model's compute dtype).</summary>
    public DType DType { get; }

    /// <summary>
    /// The format linear layers' weights are kept in (null: the compute dtype, as every other parameter). Weights are
    /// quantized as they load; a checkpoint that already stores a format loads as stored.
    /// </summary>
    public DType? LinearWeights { get; }

    public WeightScope Root => new(this, string.Empty);

    /// <summary>What this source handed out, by name.</summary>
    public ParameterSet Parameters { get; } = new();

    /// <summary>The tensor <paramref name="name"/>, which must have <paramref name="shape"/>.</summary>
    public Tensor Load(string name, Shape shape)
    {
        Tensor t = Read(name, shape);
        Parameters.Add(name, t, shape, convLayout: false);
        return t;
    }

    /// <summary>
    /// A linear layer's weight (out, in) in <see cref="LinearWeights"/>' format, with its f32 per-channel scale for int8 and
    /// FP8 (recorded as <c>…weight_scale</c>, (out, 1), the compressed-tensors naming).
    /// </summary>
    public LinearWeight LoadLinear(string name, int outFeatures, int inFeatures)
    {
        var shape = new Shape(outFeatures, inFeatures);
        LinearWeight w = ReadLinear(name, shape);
        Parameters.Add(name, w.Weight, shape, convLayout: false);
        if (w.Scale is not null)
        {
            Parameters.Add(LinearWeight.ScaleName(name), w.Scale, new Shape(outFeatures, 1), convLayout: false);
        }

        return w;
    }

    /// <summary>A PyTorch conv weight (Cout, Cin, KH, KW), returned re-laid as (Cout, KH, KW, Cin) for the NHWC convolution.</summary>
    public Tensor LoadConv(string name, int cout, int cin, int kh, int kw)
    {
        Tensor t = ReadConv(name, cout, cin, kh, kw);
        Parameters.Add(name, t, new Shape(cout, cin, kh, kw), convLayout: true);
        return t;
    }

    /// <summary>Reads tensor <paramref name="name"/> of <paramref name="shape"/> (what <see cref="Load"/> records).</summary>
    protected internal abstract Tensor Read(string name, Shape shape);

    /// <summary>Reads a linear weight in <see cref="LinearWeights"/>' format: by default the tensor in the compute dtype, quantized on the host.</summary>
    protected internal virtual LinearWeight ReadLinear(string name, Shape shape)
    {
        Tensor loaded = Read(name, shape);
        if (LinearWeights is not { } format || format == loaded.DType)
        {
            return new LinearWeight(loaded, null);
        }

        LinearWeight converted;
        using (loaded)
        {
            converted = LinearWeightFormats.Convert(Backend, loaded, format);
        }

        // The compute-dtype copy is never used again: hand it back now instead of leaving it in the backend's cache, where it
        // would stay resident beside the model (up to the cache's size: 1 GiB on the CPU backend).
        (Backend as ICachedMemory)?.ReleaseCachedMemory();
        return converted;
    }

    /// <summary>Reads a conv weight and re-lays it (Cout, KH, KW, Cin).</summary>
    protected internal abstract Tensor ReadConv(string name, int cout, int cin, int kh, int kw);
}

/// <summary>A module path in the checkpoint's tree, like candle's VarBuilder.pp: <c>scope["encoder"]["layers"][3]</c>.</summary>
public readonly record struct WeightScope(WeightSource Source, string Prefix)
{
    public IBackend Backend => Source.Backend;

    public DType DType => Source.DType;

    public WeightScope this[string child] => new(Source, Prefix.Length == 0 ? child : $"{Prefix}.{child}");

    public WeightScope this[int index] => this[index.ToString(System.Globalization.CultureInfo.InvariantCulture)];

    public Tensor Tensor(string name, params int[] dims) => Source.Load(this[name].Prefix, new Shape(dims));

    public LinearWeight LinearWeight(string name, int outFeatures, int inFeatures) => Source.LoadLinear(this[name].Prefix, outFeatures, inFeatures);

    public Tensor Conv(string name, int cout, int cin, int kh, int kw) => Source.LoadConv(this[name].Prefix, cout, cin, kh, kw);
}
