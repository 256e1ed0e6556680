using Viper.Models.Loading;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Models.Checkpoints;

/// <summary>Writes random-weight checkpoints in the exact on-disk layout of the real ones (config.json + model.safetensors).</summary>
public static class TinyCheckpoint
{
    /// <summary>
    /// Builds <paramref name="component"/> on <paramref name="backend"/> from seeded random weights (System.Random's
    /// seeded sequence is fixed across .NET versions, so a seed names one checkpoint) and writes it to <paramref name="folder"/>.
    /// </summary>
    public static void Write(ClipComponent component, string folder, IBackend backend, int seed = 0)
    {
        var weights = new RandomWeights(backend, DType.F32, seed);
        using (component.Build(weights))
        {
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, "config.json"), component.ConfigJson());
            SafeTensorsWriter.Write(Path.Combine(folder, "model.safetensors"), weights.Recorded,
                new Dictionary<string, string> { ["format"] = "pt", ["viper"] = $"tiny {component.Name}, seed {seed}" });
        }
    }
}
