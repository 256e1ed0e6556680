using Viper.Cuda.Backend;
using Viper.Engine.Tests.Support;
using Viper.Pipelines;
using Viper.Runtime;
using Viper.Studio;
using Viper.Studio.Work;

namespace Viper.Studio.Tests;

/// <summary>
/// The studio's residency (<see cref="ModelSlots"/>, <see cref="DeviceSlots"/>) on the emulated device: with room, the
/// extractor, the generator and the metric all stay resident and switching between them loads nothing; on a device that
/// holds one at a time, each switch loads the one asked for and the memory held does not grow.
/// </summary>
public sealed class ResidencyTests(StudioModels models) : IClassFixture<StudioModels>
{
    private static readonly string[] Kinds = ["extractor", "generator", "metric"];
    private readonly IProgress<GenerationProgress> _quiet = new Progress<GenerationProgress>();

    [Fact]
    public void WithRoomAHundredSwitchesLoadEachModelOnlyWhileItIsUnmeasured()
    {
        using var slots = new ModelSlots(Options(memoryLimitBytes: null));
        DeviceSlots device = slots.SlotsOf("generator");
        long[] held = new long[34];
        for (int i = 0; i < 102; i++)
        {
            Switch(slots, Kinds[i % 3]);
            if (i % 3 == 2)
            {
                held[i / 3] = ((ICachedMemory)device.Backend).InUseBytes;
            }
        }

        // First round: each kind is unmeasured, so it loads alone (3 loads); second round: the extractor and the generator
        // come back measured and stay (2 loads; the metric is still resident); then nothing loads.
        Assert.Equal(5, device.Loads);
        Assert.Equal(Kinds.Reverse(), device.Resident.Select(r => r.Kind));
        Assert.All(device.Resident, r => Assert.True(r.WeightBytes > 0, r.ToString()));
        Assert.All(held.Skip(2), h => Assert.Equal(held[1], h)); // no growth
        Assert.Equal(device.Resident.Sum(r => r.WeightBytes), held[^1]);
    }

    [Fact]
    public void OnADeviceThatHoldsOneModelEverySwitchLoadsItAndNothingGrows()
    {
        long[] weights = WeightBytes(); // extractor, generator, metric (the tiny IDEFICS2 twice: the generator and one of them never fit together)
        long limit = weights[1] + (weights[2] / 4);
        Assert.True(weights[1] + weights[2] > limit, $"weights {string.Join(", ", weights)}, limit {limit}");
        using var slots = new ModelSlots(Options(limit));
        DeviceSlots device = slots.SlotsOf("generator");
        var held = new Dictionary<string, long>();
        for (int i = 0; i < 12; i++)
        {
            string kind = i % 2 == 0 ? "generator" : "metric";
            Switch(slots, kind);
            Assert.Equal([kind], device.Resident.Select(r => r.Kind));
            long now = ((CudaBackend)device.Backend).Memory.InUseBytes;
            Assert.Equal(held.TryAdd(kind, now) ? now : held[kind], now);
        }

        Assert.Equal(12, device.Loads);
        Assert.True(((CudaBackend)device.Backend).Memory.ReservedBytes <= limit);
    }

    [Fact]
    public void ASecondDeviceTakesItsOwnModelsAndJobsOnItDoNotWaitForTheFirst()
    {
        StudioOptions options = Options(null) with { Placement = new Dictionary<string, DeviceName> { ["extractor"] = new("cuda-emulated", 1) } };
        Assert.Equal(["cuda-emulated:0", "cuda-emulated:1"], options.Devices.Select(d => d.ToString()));
        using var slots = new ModelSlots(options);
        using ModelLease<ViperPipeline> generator = slots.Generator(_quiet, CancellationToken.None);
        // The generator's device is leased; the extractor's is not, so this does not wait.
        using (ModelLease<Viper.Pipelines.Preferences.PreferenceExtractor> extractor = slots.Extractor(_quiet, CancellationToken.None))
        {
            Assert.Equal(1, ((CudaBackend)slots.SlotsOf("extractor").Backend).Device.Ordinal);
        }

        // A second lease on the generator's device waits for the first: cancelled while it waits, it loads nothing.
        using var waiting = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        Assert.ThrowsAny<OperationCanceledException>(() => slots.Metric(_quiet, waiting.Token));
        Assert.Equal(["generator"], slots.SlotsOf("metric").Resident.Select(r => r.Kind));
    }

    private void Switch(ModelSlots slots, string kind)
    {
        using IDisposable lease = kind switch
        {
            "extractor" => slots.Extractor(_quiet, CancellationToken.None),
            "generator" => slots.Generator(_quiet, CancellationToken.None),
            _ => slots.Metric(_quiet, CancellationToken.None),
        };
    }

    // Each kind's weights on the emulated device, loaded alone.
    private long[] WeightBytes()
    {
        using var slots = new ModelSlots(Options(null));
        return [.. Kinds.Select(kind =>
        {
            Switch(slots, kind);
            return slots.SlotsOf(kind).Resident.Single(r => r.Kind == kind).WeightBytes;
        })];
    }

    private StudioOptions Options(long? memoryLimitBytes) => new()
    {
        Workspace = Path.GetTempPath(),
        Generator = models.Pipelines.Sdxl,
        Extractor = models.Extractor,
        ExtractorAdapter = Path.Combine(models.Extractor, "adapter"),
        Metric = Idefics2Refs.Folder,
        MetricAdapter = Path.Combine(Idefics2Refs.Folder, "lora_adapter"),
        Device = new DeviceName("cuda-emulated", 0),
        Backend = device => TwoDevices.Open(device, device.Ordinal == 0 ? memoryLimitBytes : null),
    };
}
