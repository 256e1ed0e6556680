namespace Viper.Pipelines;

/// <summary>A LoRA file (kohya/A1111, LoCon, or diffusers/PEFT layout, .safetensors) and its weight — A1111's <c>&lt;lora:name:weight&gt;</c>.</summary>
public sealed record LoraWeight(string Path, float Weight = 1f)
{
    /// <summary>The name A1111 shows: the file name without its extension.</summary>
    public string Name => System.IO.Path.GetFileNameWithoutExtension(Path);
}
