using System.Text.Json;
using System.Text.Json.Serialization;

namespace Viper.Models.Unet;

/// <summary>diffusers configs give some per-block values as one number or a list (attention_head_dim: 8 or [5, 10, 20]).</summary>
public sealed class PerBlockConverter : JsonConverter<int[]>
{
    public override int[]? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Number:
                return [reader.GetInt32()];
            case JsonTokenType.StartArray:
                var values = new List<int>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    values.Add(reader.GetInt32());
                }

                return [.. values];
            default:
                throw new JsonException($"expected a number or a list of numbers, not {reader.TokenType}");
        }
    }

    public override void Write(Utf8JsonWriter writer, int[] value, JsonSerializerOptions options)
    {
        if (value.Length == 1)
        {
            writer.WriteNumberValue(value[0]);
            return;
        }

        writer.WriteStartArray();
        foreach (int v in value)
        {
            writer.WriteNumberValue(v);
        }

        writer.WriteEndArray();
    }
}
