using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Viper.Imaging;
using Viper.Pipelines.Preferences;

namespace Viper.Studio.Library;

/// <summary>
/// The session's images under <c>workspace/images</c>: each a PNG we encoded ourselves (uploads are decoded and
/// re-encoded) plus a JSON sidecar with its origin and label. Ids are content hashes, so importing the same picture twice
/// gives the same entry.
/// </summary>
public sealed partial class ImageLibrary
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private static readonly string[] ImportedExtensions = [".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"];
    private readonly string _folder;
    private readonly ConcurrentDictionary<string, StoredImage> _images = new(StringComparer.Ordinal);

    public ImageLibrary(string workspace)
    {
        _folder = Path.Combine(workspace, "images");
        Directory.CreateDirectory(_folder);
        foreach (string sidecar in Directory.EnumerateFiles(_folder, "*.json"))
        {
            if (Read(sidecar) is { } image && IsId(image.Id) && File.Exists(PathOf(image.Id)))
            {
                _images[image.Id] = image;
            }
        }
    }

    public IReadOnlyList<StoredImage> All => [.. _images.Values.OrderBy(i => i.Origin == "generated").ThenBy(i => i.Label, StringComparer.Ordinal)];

    /// <summary>True for a well-formed id: anything else (a path, "..", an empty string) never names a file.</summary>
    public static bool IsId(string? id) => id is not null && IdPattern().IsMatch(id);

    public StoredImage? Find(string? id) => IsId(id) && _images.TryGetValue(id!, out StoredImage? image) ? image : null;

    /// <summary>The PNG file of a known image.</summary>
    public string PathOf(StoredImage image) => PathOf(image.Id);

    public RgbImage Load(StoredImage image) => ImageFile.Load(PathOf(image));

    /// <summary>Encodes <paramref name="image"/> as PNG and stores it (or returns the existing entry for the same pixels).</summary>
    public StoredImage Add(RgbImage image, string origin, string label, string? prompt = null, ulong? seed = null,
        IReadOnlyDictionary<string, string>? text = null)
    {
        using var stream = new MemoryStream();
        PngWriter.Write(stream, image, text);
        return Add(Encoded(stream.ToArray(), image.Width, image.Height, origin, label, prompt, seed));
    }

    /// <summary>
    /// A PNG we wrote (<see cref="UploadDecoder.Reencode"/>) with the entry it will have, named by the hash of its bytes:
    /// what an upload keeps of each file while it checks the rest, instead of the decoded pixels.
    /// </summary>
    public static EncodedImage Encoded(byte[] png, int width, int height, string origin, string label, string? prompt = null, ulong? seed = null)
    {
        string id = Convert.ToHexStringLower(SHA256.HashData(png))[..16];
        return new EncodedImage(png, new StoredImage(id, origin, Clean(label), width, height, prompt, seed));
    }

    /// <summary>Stores an encoded image (or returns the existing entry for the same file).</summary>
    public StoredImage Add(EncodedImage encoded)
    {
        (byte[] png, StoredImage stored) = encoded;
        string id = stored.Id;
        if (_images.TryGetValue(id, out StoredImage? existing))
        {
            return existing;
        }

        File.WriteAllBytes(PathOf(id), png);
        File.WriteAllText(Path.Combine(_folder, id + ".json"), JsonSerializer.Serialize(stored, Json));
        return _images[id] = stored;
    }

    /// <summary>
    /// Imports every image of <paramref name="folder"/> (decoded as uploads are); a starter set's <c>starter-set.json</c>
    /// labels them with their prompts. Returns what could not be imported, one message per file.
    /// </summary>
    public IReadOnlyList<string> Import(string folder, long maxPixels)
    {
        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"{folder}: the image folder does not exist");
        }

        IReadOnlyDictionary<string, StarterImage> starter = StarterSet.ReadManifest(folder);
        var problems = new List<string>();
        foreach (string file in Directory.EnumerateFiles(folder).Where(f => ImportedExtensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(file);
            try
            {
                RgbImage image = UploadDecoder.Decode(File.ReadAllBytes(file), name, maxPixels);
                StarterImage? entry = starter.GetValueOrDefault(name);
                Add(image, "starter", entry?.Prompt ?? Path.GetFileNameWithoutExtension(file), entry?.Prompt, entry?.Seed);
            }
            catch (ImageFormatException e)
            {
                problems.Add(e.Message);
            }
        }

        return problems;
    }

    /// <summary>A display label: the last path segment of what the client called it, printable characters only, at most 80.</summary>
    public static string Clean(string label)
    {
        string name = label.Split('/', '\\').LastOrDefault(s => s.Length > 0) ?? "";
        string printable = new([.. name.Where(c => !char.IsControl(c))]);
        return printable.Length > 80 ? printable[..80] : printable;
    }

    private string PathOf(string id) => Path.Combine(_folder, id + ".png");

    // A sidecar someone edited or a crash cut short: that image is left out of the session, not the whole studio.
    private static StoredImage? Read(string sidecar)
    {
        try
        {
            return JsonSerializer.Deserialize<StoredImage>(File.ReadAllText(sidecar), Json);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    [GeneratedRegex("^[0-9a-f]{16}$")]
    private static partial Regex IdPattern();
}
