using System.Text.Json;

namespace Viper.Imaging;

/// <summary>
/// transformers' CLIPImageProcessor: shortest side resized to <see cref="ShortestEdge"/> (Pillow bicubic, the long
/// side int(edge·long/short)), centre crop to <see cref="CropSize"/> (offsets floor((size − crop)/2)), ×1/255 in f64
/// then f32, (x − mean)/std in f32. Output is NHWC (crop, crop, 3) f32.
/// </summary>
public sealed record ClipImageProcessor
{
    public int ShortestEdge { get; init; } = 224;

    public int CropSize { get; init; } = 224;

    public float[] Mean { get; init; } = [0.48145466f, 0.4578275f, 0.40821073f];

    public float[] Std { get; init; } = [0.26862954f, 0.26130258f, 0.27577711f];

    /// <summary>Reads a preprocessor_config.json (size.shortest_edge, crop_size, image_mean, image_std); absent fields keep CLIP's values.</summary>
    public static ClipImageProcessor Load(string path)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(path));
            JsonElement root = doc.RootElement;
            var p = new ClipImageProcessor();
            if (root.TryGetProperty("size", out JsonElement size))
            {
                p = p with { ShortestEdge = size.ValueKind == JsonValueKind.Object ? size.GetProperty("shortest_edge").GetInt32() : size.GetInt32() };
            }

            if (root.TryGetProperty("crop_size", out JsonElement crop))
            {
                p = p with { CropSize = crop.ValueKind == JsonValueKind.Object ? crop.GetProperty("height").GetInt32() : crop.GetInt32() };
            }

            if (root.TryGetProperty("image_mean", out JsonElement mean))
            {
                p = p with { Mean = mean.EnumerateArray().Select(e => e.GetSingle()).ToArray() };
            }

            if (root.TryGetProperty("image_std", out JsonElement std))
            {
                p = p with { Std = std.EnumerateArray().Select(e => e.GetSingle()).ToArray() };
            }

            return p.Validated(path);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new InvalidDataException($"{path}: not a CLIP preprocessor config: {e.Message}", e);
        }
    }

    public float[] Preprocess(RgbImage image)
    {
        Validated("CLIP image processor");
        (int width, int height) = image.Width <= image.Height
            ? (ShortestEdge, (int)((long)ShortestEdge * image.Height / image.Width))
            : ((int)((long)ShortestEdge * image.Width / image.Height), ShortestEdge);
        RgbImage resized = PilResize.Bicubic(image, width, height);
        int top = (height - CropSize) / 2, left = (width - CropSize) / 2;
        float[] output = new float[CropSize * CropSize * 3];
        for (int y = 0; y < CropSize; y++)
        {
            for (int x = 0; x < CropSize; x++)
            {
                for (int c = 0; c < 3; c++)
                {
                    float scaled = (float)(resized.Pixels[((((top + y) * width) + left + x) * 3) + c] * (1.0 / 255));
                    output[(((y * CropSize) + x) * 3) + c] = (scaled - Mean[c]) / Std[c];
                }
            }
        }

        return output;
    }

    private ClipImageProcessor Validated(string source)
    {
        if (ShortestEdge <= 0 || CropSize <= 0 || CropSize > ShortestEdge || Mean.Length != 3 || Std.Length != 3 || Std.Any(s => !(s > 0)))
        {
            throw new InvalidDataException($"{source}: needs 0 < crop ≤ shortest edge, three means and three positive stds");
        }

        return this;
    }
}
