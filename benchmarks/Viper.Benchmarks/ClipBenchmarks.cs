using BenchmarkDotNet.Attributes;
using Viper.Backends.Cpu;
using Viper.Models.Checkpoints;
using Viper.Models.Clip;
using Viper.Models.Loading;
using Viper.Runtime;

namespace Viper.Benchmarks;

/// <summary>
/// Whole CLIP forwards on the CPU backend at full size with random weights (shapes.json cpu_models): the SD1.5 text
/// encoder on a batch of two 77-token prompts (a prompt and the empty negative), the ViT-L/14 vision tower on one image.
/// </summary>
[Config(typeof(BenchmarkConfig))]
public class ClipBenchmarks
{
    private CpuBackend _backend = null!;
    private IDisposable _model = null!;
    private Func<IDisposable> _forward = null!;
    private Tensor? _pixels;

    public static IEnumerable<Shapes.Model> Cases => Shapes.CpuModels;

    [ParamsSource(nameof(Cases))]
    public Shapes.Model Case { get; set; } = Shapes.CpuModels[0];

    [GlobalSetup]
    public void Setup()
    {
        _backend = new CpuBackend();
        ClipComponent component = ClipComponent.Find(Case.Component);
        int hidden = component.Text?.HiddenSize ?? component.Vision!.HiddenSize;
        int layers = component.Text?.NumHiddenLayers ?? component.Vision!.NumHiddenLayers;
        if (hidden != Case.HiddenSize || layers != Case.NumHiddenLayers)
        {
            throw new InvalidOperationException($"shapes.json {Case.Name} disagrees with the {Case.Component} preset");
        }

        _model = component.Build(new RandomWeights(_backend, DType.F32, seed: 1));
        var rng = new Random(2);
        if (_model is ClipTextModel text)
        {
            int[][] ids = Enumerable.Range(0, Case.Batch).Select(_ => Enumerable.Range(0, Case.Tokens).Select(_ => rng.Next(49406)).ToArray()).ToArray();
            _forward = () => text.Encode(ids);
        }
        else
        {
            var vision = (ClipVisionModel)_model;
            int size = vision.Config.ImageSize;
            float[] pixels = Enumerable.Range(0, Case.Batch * size * size * 3).Select(_ => rng.NextSingle()).ToArray();
            Tensor input = _pixels = _backend.FromFloats(pixels, new Shape(Case.Batch, size, size, 3));
            _forward = () => vision.Embed(input);
        }
    }

    [Benchmark]
    public void Forward()
    {
        using IDisposable output = _forward();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _pixels?.Dispose();
        _model.Dispose();
        _backend.Dispose();
    }
}
