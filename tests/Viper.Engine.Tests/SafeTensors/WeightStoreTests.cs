using System.Runtime.InteropServices;
using Viper.Backends.Cpu;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Engine.Tests.SafeTensors;

public sealed class WeightStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("viper-weights-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void WriterOutputRoundTripsZeroCopyAndIsAligned()
    {
        string path = Path.Combine(_dir, "model.safetensors");
        float[] values = [1.5f, -2f, 3.25f];
        SafeTensorsWriter.Write(path, [Tensor("w", values), new TensorData("ids", DType.I64, new Shape(2), new byte[16])],
            new Dictionary<string, string> { ["format"] = "pt" });
        using SafeTensorsFile f = SafeTensorsFile.Open(path);
        Assert.Equal(0, f.Header.DataStart % 8);
        Assert.Equal("pt", f.Metadata["format"]);
        Assert.Equal(values, MemoryMarshal.Cast<byte, float>(f.Bytes("w")).ToArray());
        Assert.Equal(new Shape(2), f.Entry("ids").Shape);
    }

    [Fact]
    public void ReadsTheUpstreamSd15TextEncoderFromShared()
    {
        // A file written by huggingface/safetensors (../shared/refs, diffusers v0.29.2 tiny checkpoint).
        string path = Path.Combine(Support.RepoPaths.Root, "..", "shared", "refs", "sd15", "text_encoder", "model.safetensors");
        Assert.True(File.Exists(path), $"{path} missing: the tests expect ../shared beside the checkout");
        using WeightStore store = WeightStore.Open(path);
        Assert.Contains("text_model.embeddings.token_embedding.weight", store.Names);
        Assert.All(store.Entries, e => Assert.Equal(e.ByteLength, e.Shape.ElementCount * e.DType.SizeInBytes()));
    }

    [Fact]
    public void RequireNamesMissingAndMisshapedTensors()
    {
        using WeightStore store = WriteStore("model.safetensors", Tensor("proj.weight", new float[6], 2, 3));
        Assert.Contains("missing tensor 'proj.bias'", Assert.Throws<WeightsException>(() => store.Require("proj.bias", new Shape(2), out _)).Message);
        var e = Assert.Throws<WeightsException>(() => store.Require("proj.weight", new Shape(3, 2), out _));
        Assert.Contains("'proj.weight' has shape [2, 3], expected [3, 2]", e.Message);
    }

    [Fact]
    public void LoadCastsFloatWeightsAndTracksUnused()
    {
        using WeightStore store = WriteStore("model.safetensors", Tensor("a", [1f, 2f]), Tensor("b", [3f]));
        using var cpu = new CpuBackend(1);
        using Tensor a = store.Load(cpu, "a", new Shape(2), DType.F16);
        Assert.Equal(DType.F16, a.DType);
        Assert.Equal([1f, 2f], a.ToFloats());
        Assert.Equal(["b"], store.Unused());
    }

    [Fact]
    public void ConvWeightsAreReLaidFromOihwToOhwi()
    {
        const int cout = 3, cin = 2, kh = 2, kw = 3;
        float[] oihw = Enumerable.Range(0, cout * cin * kh * kw).Select(i => (float)i).ToArray();
        using WeightStore store = WriteStore("conv.safetensors", Tensor("conv.weight", oihw, cout, cin, kh, kw));
        using var cpu = new CpuBackend(1);
        using Tensor ohwi = store.LoadConvWeight(cpu, "conv.weight", cout, cin, kh, kw);
        Assert.Equal(new Shape(cout, kh, kw, cin), ohwi.Shape);
        float[] got = ohwi.ToFloats();
        for (int o = 0; o < cout; o++)
        for (int i = 0; i < cin; i++)
        for (int y = 0; y < kh; y++)
        for (int x = 0; x < kw; x++)
        {
            Assert.Equal(oihw[(((o * cin) + i) * kh + y) * kw + x], got[(((o * kh) + y) * kw + x) * cin + i]);
        }

        Assert.Contains("'conv.weight' has shape [3, 2, 2, 3], expected [3, 3, 2, 2]",
            Assert.Throws<WeightsException>(() => store.LoadConvWeight(cpu, "conv.weight", cout, kw, cin, kh)).Message);
    }

    [Fact]
    public void ShardedCheckpointResolvesAcrossFiles()
    {
        SafeTensorsWriter.Write(Path.Combine(_dir, "model-00001-of-00002.safetensors"), [Tensor("a", [1f])]);
        SafeTensorsWriter.Write(Path.Combine(_dir, "model-00002-of-00002.safetensors"), [Tensor("b", [2f, 3f])]);
        File.WriteAllText(Path.Combine(_dir, "model.safetensors.index.json"),
            """{"metadata":{"total_size":12},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}""");
        using WeightStore store = WeightStore.Open(_dir);
        Assert.Equal(2, store.Files.Count);
        Assert.Equal([2f, 3f], MemoryMarshal.Cast<byte, float>(store.Bytes("b")).ToArray());
    }

    [Theory]
    [InlineData("""{"weight_map":{"a":"s1.safetensors","b":"s1.safetensors"}}""", "puts 'b' in s1.safetensors, which does not hold it")]
    [InlineData("""{"weight_map":{"a":"s1.safetensors"}}""", "'c' is stored in a shard but missing from the index")]
    [InlineData("""{"weight_map":{"a":"../s1.safetensors"}}""", "must be a file name")]
    [InlineData("""{"weight_map":{"a":"absent.safetensors"}}""", "cannot open")]
    [InlineData("""{"weight_map":{"a":3}}""", "is not a file name")]
    [InlineData("""{"metadata":{}}""", "no \"weight_map\" object")]
    [InlineData("""{"weight_map":{"a":"s1.safetensors",}""", "not valid JSON")]
    public void BrokenIndexesRaiseFormatErrors(string index, string problem)
    {
        SafeTensorsWriter.Write(Path.Combine(_dir, "s1.safetensors"), [Tensor("a", [1f]), Tensor("c", [1f])]);
        string path = Path.Combine(_dir, "model.safetensors.index.json");
        File.WriteAllText(path, index);
        Assert.Contains(problem, Assert.Throws<SafeTensorsFormatException>(() => WeightStore.Open(path)).Message);
    }

    [Fact]
    public void TensorStoredInTwoShardsIsRejected()
    {
        SafeTensorsWriter.Write(Path.Combine(_dir, "s1.safetensors"), [Tensor("a", [1f])]);
        SafeTensorsWriter.Write(Path.Combine(_dir, "s2.safetensors"), [Tensor("a", [1f]), Tensor("b", [1f])]);
        string path = Path.Combine(_dir, "m.safetensors.index.json");
        File.WriteAllText(path, """{"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}}""");
        Assert.Contains("also stored in", Assert.Throws<SafeTensorsFormatException>(() => WeightStore.Open(path)).Message);
    }

    [Fact]
    public void FolderWithSeveralCheckpointsAsksWhichOne()
    {
        SafeTensorsWriter.Write(Path.Combine(_dir, "diffusion_pytorch_model.safetensors"), [Tensor("a", [1f])]);
        SafeTensorsWriter.Write(Path.Combine(_dir, "diffusion_pytorch_model.fp16.safetensors"), [Tensor("a", [1f])]);
        Assert.Contains("name the file to use", Assert.Throws<WeightsException>(() => WeightStore.Open(_dir)).Message);
    }

    [Fact]
    public void ManifestReportsEveryDifferenceByName()
    {
        using WeightStore store = WriteStore("model.safetensors", Tensor("a", [1f, 2f]), Tensor("b", [1f]), Tensor("extra", [0f]),
            new TensorData("ids", DType.I32, new Shape(1), new byte[4]));
        var manifest = new WeightsManifest("tiny/test", ["model.safetensors"], new SortedDictionary<string, ManifestTensor>
        {
            ["a"] = new([2], "F16"),
            ["b"] = new([2], "F32"),
            ["ids"] = new([1], "I64"),
            ["gone"] = new([1], "F32"),
        });
        ManifestReport report = manifest.Check(store);
        Assert.Equal(["gone"], report.Missing);
        Assert.Equal(["extra"], report.Unexpected);
        Assert.Equal(["b: [1], expected [2]"], report.Misshaped);
        Assert.Equal(["ids: I32, expected I64"], report.WrongDType);
        string message = Assert.Throws<WeightsException>(report.ThrowIfInvalid).Message;
        Assert.Contains("missing (1):", message);
        Assert.False(manifest.Check(store, anyFloatDType: false).WrongDType.Count == 1);
    }

    [Fact]
    public void ManifestRoundTripsThroughJsonAndDescribesAStore()
    {
        using WeightStore store = WriteStore("model.safetensors", Tensor("a", [1f, 2f]));
        WeightsManifest described = WeightsManifest.Describe("tiny/test", store);
        string path = Path.Combine(_dir, "tiny.json");
        File.WriteAllText(path, described.ToJson());
        WeightsManifest loaded = WeightsManifest.Load(path);
        Assert.True(loaded.Check(store).IsValid);
        File.WriteAllText(path, "{\"checkpoint\":\"x\",\"files\":[],\"tensors\":{\"a\":{\"shape\":[1],\"dtype\":\"F64\"}}}");
        Assert.Contains("'a' needs a shape and a safetensors dtype", Assert.Throws<WeightsException>(() => WeightsManifest.Load(path)).Message);
        File.WriteAllText(path, "{oops");
        Assert.Contains("not valid JSON", Assert.Throws<WeightsException>(() => WeightsManifest.Load(path)).Message);
    }

    private WeightStore WriteStore(string file, params TensorData[] tensors)
    {
        string path = Path.Combine(_dir, file);
        SafeTensorsWriter.Write(path, tensors);
        return WeightStore.Open(path);
    }

    private static TensorData Tensor(string name, float[] values, params int[] dims) =>
        new(name, DType.F32, new Shape(dims.Length == 0 ? [values.Length] : dims), MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
}
