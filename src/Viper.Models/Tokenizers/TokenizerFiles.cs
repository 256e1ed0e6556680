using System.Text.Json;

namespace Viper.Models.Tokenizers;

/// <summary>The JSON side files of a Hugging Face tokenizer folder (tokenizer_config.json, special_tokens_map.json, added_tokens.json).</summary>
internal static class TokenizerFiles
{
    /// <summary>The file's root element, or null when the file is absent; malformed JSON names the file.</summary>
    public static JsonElement? ReadJson(string path, string tokenizer)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
            return doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{tokenizer} tokenizer: {path} is not valid JSON: {e.Message}", e);
        }
    }
}
