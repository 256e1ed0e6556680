using Viper.Engine.Tests.Support;
using Viper.Weights;
using Viper.Weights.Torch;

namespace Viper.Engine.Tests.SingleFile;

/// <summary>
/// .ckpt/.pt state dicts through the restricted unpickler, against the bytes torch itself saved
/// (tools/refs/make_torch_files.py, python3-torch 1.13): Lightning's nesting under "state_dict", f16, a view at an offset
/// into a shared storage, a 0-d tensor, an nn.Parameter, a module's state_dict() with its _metadata (BUILD). Files that
/// would run a command are refused with the global named, and the command never runs.
/// </summary>
public class TorchStateDictTests
{
    private static string Fixture(string name) => Path.Combine(RepoPaths.Root, "tests", "fixtures", "torch", name);

    [Theory]
    [InlineData("state_dict.ckpt", 6)]
    [InlineData("module_state_dict.pt", 2)]
    public void ReadsEveryTensorAsTorchSavedIt(string file, int count)
    {
        using TorchStateDict dict = TorchStateDict.Open(Fixture(file));
        using SafeTensorsFile expected = SafeTensorsFile.Open(Fixture(Path.GetFileNameWithoutExtension(file) + "_expected.safetensors"));
        Assert.Equal(count, dict.Names.Count);
        Assert.Equal(expected.Tensors.Select(t => t.Name).Order(), dict.Names.Order());
        foreach (TensorEntry e in expected.Tensors)
        {
            Assert.Equal(e.DType, dict.Entry(e.Name).DType);
            Assert.Equal(e.Shape, dict.Entry(e.Name).Shape);
            Assert.Equal(expected.Bytes(e).ToArray(), dict.Bytes(e.Name).ToArray());
        }
    }

    [Theory]
    [InlineData("evil_state_dict.ckpt")]
    [InlineData("evil_embedding.pt")]
    public void RefusesAFileThatWouldRunACommandNamingTheGlobal(string file)
    {
        string marker = "/tmp/viper-pwned";
        File.Delete(marker);
        var e = Assert.Throws<TorchSaveFormatException>(() => TorchStateDict.Open(Fixture(file)).Dispose());
        Assert.Contains("'posix.system'", e.Message, StringComparison.Ordinal);
        Assert.Contains("refused without running it", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public void RefusesWhatIsNotAStateDict()
    {
        string tensorOnly = Path.Combine(RepoPaths.Shared("refs", "singlefile"), "fox-style.pt");
        var noTensors = Assert.Throws<TorchSaveFormatException>(() => TorchStateDict.Open(tensorOnly).Dispose());
        Assert.Contains("no tensors", noTensors.Message, StringComparison.Ordinal);
        using var folder = new TempFolder();
        string notZip = Path.Combine(folder.Path, "model.ckpt");
        File.WriteAllBytes(notZip, [0x80, 0x02, (byte)'}', (byte)'.']);
        var legacy = Assert.Throws<TorchSaveFormatException>(() => TorchStateDict.Open(notZip).Dispose());
        Assert.Contains("not a zip archive", legacy.Message, StringComparison.Ordinal);
    }
}

/// <summary>The reference single file as a Lightning .ckpt (state_dict + global_step) generates the reference image through the unpickler.</summary>
public class CkptPipelineTests
{
    [Fact]
    public void ACkptSingleFileGivesTheReferenceImage()
    {
        using var temp = new TempFolder();
        string ckpt = Path.Combine(temp.Path, "model.ckpt");
        using (WeightStore store = WeightStore.Open(Path.Combine(SingleFileReferenceTests.Refs, "model.safetensors")))
        {
            TorchSaveWriter.WriteCheckpoint(ckpt, store.Entries.Select(e => new TensorData(e.Name, e.DType, e.Shape, store.Bytes(e.Name).ToArray())).ToList());
        }

        if (Environment.GetEnvironmentVariable("VIPER_KEEP_CKPT") is { } keep)
        {
            File.Copy(ckpt, keep, overwrite: true); // for a torch.load check by hand
        }

        using Viper.Runtime.IBackend b = TestBackends.Create("cpu");
        using Viper.Pipelines.ViperPipeline pipeline = Viper.Pipelines.ViperPipeline.Load(ckpt, b, new Viper.Pipelines.PipelineOptions { ConfigFolder = SingleFileReferenceTests.ConfigFolder });
        SingleFileReferenceTests.AssertImage("single_file_image_uint8_hwc", pipeline.Generate(SingleFileReferenceTests.Reference));
    }
}
