namespace Viper.Engine.Tests.Support;

/// <summary>../shared/refs/idefics2: transformers 4.42.4 on a tiny IDEFICS2 (README.json names every tensor and text).</summary>
public static class Idefics2Refs
{
    /// <summary>The prompts the references were made for.</summary>
    public static readonly string[] Prompts = ["chat", "vpe", "metric"];

    public static string Folder => RepoPaths.Shared("refs", "idefics2");

    public static RefTensors Inputs() => new(Path.Combine(Folder, "inputs.safetensors"));

    public static RefTensors Outputs() => new(Path.Combine(Folder, "outputs.safetensors"));

    /// <summary>Every backend crossed with every prompt.</summary>
    public static TheoryData<string, string> BackendsAndPrompts()
    {
        var data = new TheoryData<string, string>();
        foreach (string backend in TestBackends.Names)
        {
            foreach (string prompt in Prompts)
            {
                data.Add(backend, prompt);
            }
        }

        return data;
    }

    public static int[] InputIds(RefTensors inputs, string prompt) => [.. inputs.Longs($"{prompt}_input_ids").Select(id => (int)id)];
}
