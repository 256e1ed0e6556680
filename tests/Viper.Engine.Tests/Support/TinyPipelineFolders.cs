using Viper.Pipelines;
using Viper.Runtime;

namespace Viper.Engine.Tests.Support;

/// <summary>Tiny pipelines written once per test class: tiny-sd (DDIM), tiny-sdxl with its refiner, and both as fp16-only variants.</summary>
public sealed class TinyPipelineFolders : IDisposable
{
    private readonly TempFolder _root = new();

    public TinyPipelineFolders()
    {
        using IBackend cpu = TestBackends.Create("cpu");
        TinyPipeline.Write("tiny-sd", Sd, Tokenizer, cpu, seed: 1);
        TinyPipeline.Write("tiny-sdxl", Sdxl, Tokenizer, cpu, seed: 1);
        TinyPipeline.Write("tiny-sdxl-refiner", Refiner, Tokenizer, cpu, seed: 2);
        TinyPipeline.Write("tiny-sdxl", SdxlFp16, Tokenizer, cpu, seed: 1, variant: "fp16");
        TinyPipeline.Write("tiny-sdxl-refiner", RefinerFp16, Tokenizer, cpu, seed: 2, variant: "fp16");
    }

    public static string Tokenizer => System.IO.Path.Combine(RepoPaths.Root, "assets", "clip-tokenizer");

    public string Sd => System.IO.Path.Combine(_root.Path, "tiny-sd");

    public string Sdxl => System.IO.Path.Combine(_root.Path, "tiny-sdxl");

    public string Refiner => System.IO.Path.Combine(_root.Path, "tiny-sdxl-refiner");

    public string SdxlFp16 => System.IO.Path.Combine(_root.Path, "tiny-sdxl-fp16");

    public string RefinerFp16 => System.IO.Path.Combine(_root.Path, "tiny-sdxl-refiner-fp16");

    /// <summary>A copy of <paramref name="folder"/> under a new name, for tests that edit its files.</summary>
    public string Copy(string folder, string name)
    {
        string target = System.IO.Path.Combine(_root.Path, name);
        foreach (string file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
        {
            string to = System.IO.Path.Combine(target, System.IO.Path.GetRelativePath(folder, file));
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(to)!);
            File.Copy(file, to);
        }

        return target;
    }

    public void Dispose() => _root.Dispose();
}
