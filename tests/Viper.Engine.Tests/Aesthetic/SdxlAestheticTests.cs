using Viper.Engine.Tests.Support;
using Viper.Pipelines;
using Viper.Pipelines.Aesthetic;
using Viper.Runtime;

namespace Viper.Engine.Tests.Aesthetic;

/// <summary>
/// Aesthetic gradients on tiny-sdxl (base + refiner): text_encoder through a CLIP folder made from its own tower, text_encoder_2
/// and the refiner's through copies of their bigG towers, each toward an embedding of its own width. T = 0 and weight 0 are the
/// plain image bit for bit; 3 steps lower both encoders' losses and change the image; the same request gives the same bytes;
/// the weight and slerp move the image between plain and tuned; the A1111 text moves the target; bad embeddings are refused by name.
/// </summary>
public sealed class SdxlAestheticTests(TinyPipelineFolders folders) : IClassFixture<TinyPipelineFolders>
{
    private static readonly GenerationRequest Request = new() { Prompt = "a lighthouse at dawn", Steps = 2, Seed = 5 };

    private static readonly float[] ClipL = Enumerable.Range(0, AestheticClipFolder.ProjectionDim).Select(i => MathF.Sin(i + 1f)).ToArray();

    private static readonly float[] ClipG = Enumerable.Range(0, 1280).Select(i => MathF.Cos(i * 0.37f)).ToArray(); // tiny text_encoder_2 projects to 1280

    private static AestheticSettings Tuned => new(ClipL, Steps: 3, LearningRate: 1e-2) { EmbeddingG = ClipG };

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void BothEncodersAndTheRefinerAreTunedTowardTheirOwnEmbeddings(string backend)
    {
        using var clip = new TempFolder();
        string clipFolder = AestheticClipFolder.Write(Path.Combine(folders.Sdxl, "text_encoder"), Path.Combine(clip.Path, "clip"));
        using IBackend b = TestBackends.Create(backend);
        using ViperPipeline pipeline = ViperPipeline.Load(folders.Sdxl, b, new PipelineOptions { AestheticClipFolder = clipFolder, RefinerFolder = folders.Refiner });
        GenerationResult plain = pipeline.Generate(Request);
        Assert.Equal(plain.Pixels, pipeline.Generate(Request with { Aesthetic = Tuned with { Steps = 0 } }).Pixels);
        Assert.Equal(plain.Pixels, pipeline.Generate(Request with { Aesthetic = Tuned with { Weight = 0 } }).Pixels);

        GenerationResult tuned = pipeline.Generate(Request with { Aesthetic = Tuned });
        Assert.True(tuned.AestheticLosses![^1] < tuned.AestheticLosses[0], $"CLIP-L losses {string.Join(", ", tuned.AestheticLosses)}");
        Assert.True(tuned.AestheticLossesG![^1] < tuned.AestheticLossesG[0], $"bigG losses {string.Join(", ", tuned.AestheticLossesG)}");
        Assert.NotEqual(plain.Pixels, tuned.Pixels);
        Assert.Equal(tuned.Pixels, pipeline.Generate(Request with { Aesthetic = Tuned }).Pixels);

        // Without a bigG embedding text_encoder_2 stays as it is (and the pipeline says so); the refiner too.
        GenerationResult clipOnly = pipeline.Generate(Request with { Aesthetic = Tuned with { EmbeddingG = null } });
        Assert.Null(clipOnly.AestheticLossesG);
        Assert.NotEqual(tuned.Pixels, clipOnly.Pixels);
        Assert.Contains(pipeline.Warnings(Request with { Aesthetic = Tuned with { EmbeddingG = null } }), w => w.Contains("clip_g", StringComparison.Ordinal));
    }

    [Fact]
    public void WeightSlerpAndTextMoveTheImageAndBadEmbeddingsAreRefused()
    {
        using var clip = new TempFolder();
        string clipFolder = AestheticClipFolder.Write(Path.Combine(folders.Sdxl, "text_encoder"), Path.Combine(clip.Path, "clip"));
        using IBackend b = TestBackends.Create("cpu");
        using ViperPipeline pipeline = ViperPipeline.Load(folders.Sdxl, b, new PipelineOptions { AestheticClipFolder = clipFolder });
        float[] plain = pipeline.Generate(Request).Pixels;
        float[] full = pipeline.Generate(Request with { Aesthetic = Tuned }).Pixels;
        float[] half = pipeline.Generate(Request with { Aesthetic = Tuned with { Weight = 0.5f } }).Pixels;
        float[] slerp = pipeline.Generate(Request with { Aesthetic = Tuned with { Weight = 0.5f, Slerp = true } }).Pixels;
        Assert.True(Distance(plain, half) < Distance(plain, full) && Distance(full, half) < Distance(full, plain), "weight 0.5 lies between plain and tuned");
        Assert.NotEqual(half, slerp);

        GenerationResult toward = pipeline.Generate(Request with { Aesthetic = Tuned with { Text = "ink drawing", SlerpAngle = 0.5f } });
        GenerationResult away = pipeline.Generate(Request with { Aesthetic = Tuned with { Text = "ink drawing", SlerpAngle = 0.5f, TextNegative = true } });
        Assert.NotEqual(full, toward.Pixels);
        Assert.NotEqual(toward.Pixels, away.Pixels);

        var width = Assert.Throws<ArgumentException>(() => pipeline.Generate(Request with { Aesthetic = Tuned with { EmbeddingG = new float[7] { 1, 2, 3, 4, 5, 6, 7 } } }));
        Assert.Contains("7 values", width.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => pipeline.Generate(Request with { Aesthetic = Tuned with { Weight = 1.5f } }));

        string sdClip = AestheticClipFolder.Write(Path.Combine(folders.Sd, "text_encoder"), Path.Combine(clip.Path, "sd-clip"));
        using ViperPipeline sd = ViperPipeline.Load(folders.Sd, b, new PipelineOptions { AestheticClipFolder = sdClip });
        var noBigG = Assert.Throws<ArgumentException>(() => sd.Generate(Request with { Aesthetic = Tuned }));
        Assert.Contains("no OpenCLIP bigG", noBigG.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SlerpIsTheExtensionsFormula()
    {
        // Unnormalised inputs at 90°: sin((1−v)·π/2)·low + sin(v·π/2)·high
        float[] r = AestheticSlerp.Vectors([2f, 0f], [0f, 3f], 0.25);
        Assert.Equal(2 * Math.Sin(0.75 * Math.PI / 2), r[0], 6);
        Assert.Equal(3 * Math.Sin(0.25 * Math.PI / 2), r[1], 6);
        // Per channel across the rows (tokens): column 0 at 60°, column 1 parallel (the linear limit).
        float[] m = AestheticSlerp.Columns([1f, 1f, 0f, 2f], [1f, 3f, MathF.Sqrt(3f), 6f], 0.5, rows: 2, columns: 2);
        double omega = Math.PI / 3;
        Assert.Equal((Math.Sin(omega / 2) / Math.Sin(omega) * 1) + (Math.Sin(omega / 2) / Math.Sin(omega) * 1), m[0], 5);
        Assert.Equal(Math.Sin(omega / 2) / Math.Sin(omega) * Math.Sqrt(3), m[2], 5);
        Assert.Equal((0.5 * 1) + (0.5 * 3), m[1], 5);
        Assert.Equal((0.5 * 2) + (0.5 * 6), m[3], 5);
        Assert.Equal([0.25f, 3.25f], AestheticSlerp.Linear([1f, 1f], [0f, 4f], 0.75f));
    }

    private static double Distance(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs((double)x - y)).Sum();
}
