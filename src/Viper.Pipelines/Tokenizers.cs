using System.Text.Json.Nodes;

namespace Viper.Pipelines;

/// <summary>Writes a pipeline's CLIP tokenizer folder from the CLIP tokenizer files.</summary>
internal static class Tokenizers
{
    /// <summary>Copies the four tokenizer files; OpenCLIP towers' tokenizers (SD2.x, SDXL's tokenizer_2) pad with "!" (id 0) instead of the end-of-text token.</summary>
    public static void Copy(string source, string target, string? pad)
    {
        Directory.CreateDirectory(target);
        foreach (string file in new[] { "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json" })
        {
            string from = Path.Combine(source, file);
            if (!File.Exists(from))
            {
                throw new FileNotFoundException($"the CLIP tokenizer file {from} is missing", from);
            }

            File.Copy(from, Path.Combine(target, file), overwrite: true);
        }

        if (pad is not null)
        {
            foreach (string file in new[] { "special_tokens_map.json", "tokenizer_config.json" })
            {
                string path = Path.Combine(target, file);
                JsonObject json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
                json["pad_token"] = pad;
                File.WriteAllText(path, json.ToJsonString(DiffusersConfigFile.Json));
            }
        }
    }
}
