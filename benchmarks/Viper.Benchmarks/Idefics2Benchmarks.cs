using BenchmarkDotNet.Attributes;
using Viper.Backends.Cpu;
using Viper.Imaging;
using Viper.Pipelines.Chat;
using Viper.Pipelines.Preferences;

namespace Viper.Benchmarks;

/// <summary>
/// The ViPer workloads on IDEFICS2 at a medium random size on the CPU backend, f32 (<see cref="Idefics2Workload"/>;
/// benchmarks/run-cpu-idefics2.sh runs them next to benchmarks/torch/bench_cpu_idefics2.py):
/// extractor_prefill = the VPE prompt over 8 images (vision tower, connector, text prefill); decode_32 = 32 greedy
/// tokens after it; metric_reuse = 10 queries against 8 pairs with the context run once; metric_recompute = the same
/// with the whole prompt per query, as the authors' metric.py runs it.
/// </summary>
[Config(typeof(Idefics2Job))]
public class Idefics2Benchmarks
{
    private CpuBackend _backend = null!;
    private Idefics2Chat _chat = null!;
    private ChatPrompt _prompt = null!;
    private ChatSession? _session;
    private ProxyMetric? _metric;

    [Params("extractor_prefill", "decode_32", "metric_reuse", "metric_recompute")]
    public string Case { get; set; } = "extractor_prefill";

    [GlobalSetup]
    public void Setup()
    {
        _backend = new CpuBackend();
        _chat = Idefics2Workload.LoadChat(_backend);
        _prompt = Idefics2Workload.ExtractorPrompt(_chat);
        if (Case == "decode_32")
        {
            _session = _chat.Prefill(_prompt, Idefics2Workload.DecodeTokens);
        }

        _metric = Case.StartsWith("metric", StringComparison.Ordinal) ? ProxyMetric.On(_chat) : null;
    }

    [Benchmark]
    public void Run()
    {
        switch (Case)
        {
            case "extractor_prefill":
                _chat.Prefill(_prompt, 1).Dispose();
                break;
            case "decode_32":
                // EOS cannot end it early: the run is exactly 32 tokens unless an end id is chosen, which the report checks.
                _ = _session!.Generate(new ChatOptions { MaxNewTokens = Idefics2Workload.DecodeTokens, RepetitionPenalty = 0.99f }).Count();
                break;
            default:
                (RgbImage[] disliked, RgbImage[] liked, RgbImage[] queries) = Idefics2Workload.MetricImages();
                if (Case == "metric_reuse")
                {
                    _metric!.Score(disliked, liked, queries);
                }
                else
                {
                    foreach (RgbImage q in queries)
                    {
                        _metric!.Score(disliked, liked, [q]);
                    }
                }

                break;
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _session?.Dispose();
        _chat.Dispose(); // the metric wraps the same chat
        _backend.Dispose();
    }

    private sealed class Idefics2Job() : BenchmarkConfig(warmups: 1, iterations: 3, TimeSpan.FromMinutes(30));
}
