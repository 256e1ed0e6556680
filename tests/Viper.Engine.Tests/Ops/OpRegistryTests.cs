using System.Reflection;
using Viper.Engine.Tests.Support;
using Viper.Runtime;

namespace Viper.Engine.Tests.Ops;

/// <summary>
/// Every public op of <see cref="IBackend"/> has PyTorch fixture cases (tests/fixtures/ops, made by
/// tools/refs/make_op_fixtures.py), in the spirit of ggml's test-backend-ops: adding an op without fixtures fails here.
/// The few members that are not numeric ops, or are checked against another independent reference, say why.
/// </summary>
public class OpRegistryTests
{
    // Op → the fixture-name prefix its cases use.
    private static readonly Dictionary<string, string> FixturePrefix = new()
    {
        ["Linear"] = "linear_", ["MatMul"] = "matmul_", ["Conv2d"] = "conv", ["GroupNorm"] = "group_norm", ["LayerNorm"] = "layer_norm",
        ["RmsNorm"] = "rms_norm", ["Attention"] = "attention", ["KvCacheWrite"] = "kv_cache_write",
        ["Activate"] = "act_", ["Geglu"] = "geglu_", ["Swiglu"] = "swiglu_", ["Add"] = "add_", ["Mul"] = "mul_",
        ["Scale"] = "scale_", ["Clamp"] = "clamp_", ["Concat"] = "concat_",
        ["Split"] = "split_", ["Narrow"] = "narrow_", ["UpsampleNearest2x"] = "upsample_nearest2x",
        ["Embedding"] = "embedding_", ["TimestepEmbedding"] = "timestep_embedding_", ["Rotary"] = "rotary_", ["Cast"] = "cast_",
        ["Argmax"] = "argmax", ["TopGap"] = "top_gap_", ["RepetitionPenalty"] = "repetition_penalty", ["Mean"] = "mean_", ["L2Normalize"] = "l2_normalize",
        ["SumLeading"] = "sum_leading_", ["EmbeddingBackward"] = "embedding_backward_", ["LayerNormBackward"] = "layer_norm_backward_",
        ["AttentionBackward"] = "attention_backward_", ["ActivationBackward"] = "activation_backward_",
        ["L2NormalizeBackward"] = "l2_normalize_backward_", ["AdamUpdate"] = "adam",
    };

    private static readonly Dictionary<string, string> NotFixtureChecked = new()
    {
        ["get_Name"] = "not an op",
        ["Allocate"] = "memory, not an op",
        ["FromHost"] = "upload, exercised by every fixture",
        ["CopyToHost"] = "download, exercised by every fixture",
        ["CopyInto"] = "a byte copy: ParameterSetTests compares every byte, views included",
        ["GuidanceStep"] = "GuidanceKernelTests: bit-exact against GuidanceStep.Combine, the host order of f32 operations every backend follows",
    };

    [Fact]
    public void EveryPublicOpHasFixtureCases()
    {
        string[] fixtures = Directory.GetFiles(RepoPaths.OpFixtures, "*.safetensors").Select(f => Path.GetFileNameWithoutExtension(f)).ToArray();
        string[] members = OpSurface.Methods.Select(m => m.Name).Distinct().ToArray();
        var missing = members.Where(m => !FixturePrefix.ContainsKey(m) && !NotFixtureChecked.ContainsKey(m)).ToList();
        Assert.True(missing.Count == 0, $"IBackend ops with no fixture registry entry: {string.Join(", ", missing)}");
        var empty = FixturePrefix.Where(p => !fixtures.Any(f => f.StartsWith(p.Value, StringComparison.Ordinal))).Select(p => p.Key).ToList();
        Assert.True(empty.Count == 0, $"ops whose fixture prefix matches no file: {string.Join(", ", empty)}");
        var stale = FixturePrefix.Keys.Concat(NotFixtureChecked.Keys).Where(k => !members.Contains(k)).ToList();
        Assert.True(stale.Count == 0, $"registry entries for members IBackend no longer has: {string.Join(", ", stale)}");
    }

    [Fact]
    public void EveryFixtureFileIsRunByATest()
    {
        // Fixture names appear literally in the [MemberData(... "a_f32, b_f32" ...)] lists of the op tests.
        string sources = string.Concat(Directory.GetFiles(Path.Combine(RepoPaths.Root, "tests", "Viper.Engine.Tests"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(File.ReadAllText));
        var unused = Directory.GetFiles(RepoPaths.OpFixtures, "*.safetensors").Select(f => Path.GetFileNameWithoutExtension(f))
            .Where(name => !System.Text.RegularExpressions.Regex.IsMatch(sources, $@"[""\s,]{System.Text.RegularExpressions.Regex.Escape(name)}[""\s,]")).ToList();
        Assert.True(unused.Count == 0, $"fixtures no test runs: {string.Join(", ", unused)}");
    }
}
