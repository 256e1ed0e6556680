using System.Text.Json;
using Viper.Engine.Tests.Support;
using Viper.Models.Clip;
using Viper.Models.Training;
using Viper.Pipelines.Aesthetic;
using Viper.Runtime;
using Xunit.Abstractions;

namespace Viper.Engine.Tests.Aesthetic;

/// <summary>
/// The bigG text path aesthetic gradients train on SDXL (exact gelu, argmax pooling, text_projection) against PyTorch
/// autograd in f64 and central finite differences (tests/fixtures/openclip-text, tools/refs/make_openclip_text_refs.py):
/// the loss within 1e-6, every text_model gradient within 1e-6 + 1e-4·|ref| of autograd, and each sampled coordinate
/// within 1e-6 + 1e-4·|ref| of its f64 finite difference — on each backend.
/// </summary>
public class OpenClipTextGradientTests(ITestOutputHelper output)
{
    private static string Folder => RepoPaths.Fixtures("openclip-text");

    [Theory]
    [MemberData(nameof(TestBackends.Names), MemberType = typeof(TestBackends))]
    public void GradientsMatchAutogradAndFiniteDifferences(string backend)
    {
        using IBackend b = TestBackends.Create(backend);
        using var inputs = new RefTensors(Path.Combine(Folder, "inputs.safetensors"));
        using var outputs = new RefTensors(Path.Combine(Folder, "outputs.safetensors"));
        using ClipTextModel clip = ClipTextModel.Load(Folder, b, DType.F32);
        Assert.True(clip.HasProjection);
        int[] ids = inputs.Longs("ids").Select(v => (int)v).ToArray();
        using var trainer = new AestheticTrainer(clip, ids, inputs.Floats("aesthetic_embedding"), 1e-3);
        Assert.Equal(outputs.Doubles("loss_f64")[0], trainer.Loss, 1e-6);
        Tolerance.CloseF32(outputs.Floats("last_hidden_state"), trainer.LastHiddenState.ToFloats(), "last_hidden_state");

        Gradients grads = trainer.Gradients();
        var ours = new Dictionary<string, float[]>();
        double worst = 0;
        foreach (string name in trainer.ParameterNames)
        {
            double[] reference = outputs.Doubles("grad_f64." + name);
            float[] g = grads[name].ToFloats();
            ours[name] = g.Length == reference.Length ? g : Scatter(g, trainer.TokenIds, reference.Length);
            for (int i = 0; i < reference.Length; i++)
            {
                double error = Math.Abs(ours[name][i] - reference[i]);
                Assert.True(error <= 1e-6 + (1e-4 * Math.Abs(reference[i])), $"d loss / d {name}[{i}] on {backend}: {ours[name][i]:g6} vs autograd {reference[i]:g6}");
                worst = Math.Max(worst, error);
            }
        }

        JsonElement[] picks = JsonDocument.Parse(Metadata(Path.Combine(Folder, "outputs.safetensors"), "fd_coordinates")).RootElement.EnumerateArray().ToArray();
        double[] fd = outputs.Doubles("fd_f64");
        for (int k = 0; k < picks.Length; k++)
        {
            string name = picks[k][0].GetString()!;
            int j = picks[k][1].GetInt32();
            Assert.True(Math.Abs(ours[name][j] - fd[k]) <= 1e-6 + (1e-4 * Math.Abs(fd[k])), $"{name}[{j}] on {backend}: {ours[name][j]:g6} vs finite difference {fd[k]:g6}");
        }

        output.WriteLine($"{backend}: {ours.Count} gradients, largest difference from f64 autograd {worst:g3}; {picks.Length} finite-difference coordinates agree");
    }

    // The header's __metadata__ entry (the engine's reader refuses the F64 tensors the reference keeps in full precision).
    private static string Metadata(string path, string key)
    {
        byte[] bytes = File.ReadAllBytes(path);
        int length = (int)BitConverter.ToUInt64(bytes, 0);
        using JsonDocument header = JsonDocument.Parse(bytes.AsMemory(8, length));
        return header.RootElement.GetProperty("__metadata__").GetProperty(key).GetString()!;
    }

    // The trainer's token gradient covers the prompt's distinct ids; the reference's is the whole table.
    private static float[] Scatter(float[] rows, IReadOnlyList<int> ids, int length)
    {
        float[] table = new float[length];
        int c = rows.Length / ids.Count;
        for (int r = 0; r < ids.Count; r++)
        {
            Array.Copy(rows, r * c, table, ids[r] * c, c);
        }

        return table;
    }
}
