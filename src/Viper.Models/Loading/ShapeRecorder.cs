using Viper.Runtime;
using Viper.Weights;

namespace Viper.Models.Loading;

/// <summary>
/// Lists the tensors a model asks for — names, shapes and the stored dtype — without allocating them, so a manifest
/// for a full-size checkpoint costs nothing. The model it builds holds empty tensors and must not be run.
/// </summary>
public sealed class ShapeRecorder(IBackend backend, DType storedAs = DType.F32) : WeightSource(backend, storedAs)
{
    private readonly SortedDictionary<string, ManifestTensor> _tensors = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, ManifestTensor> Tensors => _tensors;

    protected internal override Tensor Read(string name, Shape shape) => Record(name, shape);

    protected internal override Tensor ReadConv(string name, int cout, int cin, int kh, int kw) => Record(name, new Shape(cout, cin, kh, kw));

    public WeightsManifest ToManifest(string checkpoint, params string[] files) =>
        new(checkpoint, files, new SortedDictionary<string, ManifestTensor>(_tensors, StringComparer.Ordinal));

    private Tensor Record(string name, Shape shape)
    {
        _tensors[name] = new ManifestTensor(shape.ToArray(), DType.SafeTensorsName()); // a second request fails in Parameters
        return Backend.Allocate(new Shape(0), DType);
    }
}
