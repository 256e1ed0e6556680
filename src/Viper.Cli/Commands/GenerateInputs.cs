using System.CommandLine.Parsing;
using System.Globalization;
using System.Security.Cryptography;
using Viper.Cli.Terminal;
using Viper.Imaging;
using Viper.Pipelines;

namespace Viper.Cli.Commands;

/// <summary>
/// What `viper generate` reads and checks before any model loads: the model folders exist, the preference file and
/// initial image decode, the output can be written, the seed is resolved. Errors name the option as typed.
/// </summary>
internal sealed record GenerateInputs(string ModelFolder, string? RefinerFolder, VisualPreference? Preference, RgbImage? InitImage, string? InitImagePath,
    FileInfo Output, ulong Seed, bool RandomSeed)
{
    public static GenerateInputs Read(string model, string? refiner, FileInfo? preferences, string? likes, string? dislikes, FileInfo? initImage,
        FileInfo output, string seed, int? threads, string backend)
    {
        if (threads is not null && backend != "cpu")
        {
            throw new UsageException($"--threads sets the cpu backend's threads; --backend is {backend}");
        }

        string modelFolder = ModelFileArguments.ModelPath(model, "--model");
        string? refinerFolder = refiner is null ? null : ModelFileArguments.ModelPath(refiner, "--refiner");
        VisualPreference? preference = ReadPreference(preferences, likes, dislikes);
        RgbImage? image = initImage is null ? null : ReadImage(initImage);
        CheckWritable(output);
        (ulong value, bool random) = ParseSeed(seed);
        return new GenerateInputs(modelFolder, refinerFolder, preference, image, initImage?.FullName, output, value, random);
    }

    /// <summary>Before loading: an initial image defines the size, so a different --width/--height is a contradiction.</summary>
    public void CheckInitImageSize(int? width, int? height)
    {
        if (InitImage is { } image && ((width is { } w && w != image.Width) || (height is { } h && h != image.Height)))
        {
            throw new UsageException($"--init-image is {image.Width}×{image.Height}; --width/--height must match it or be left out");
        }
    }

    /// <summary>After loading: the size multiple comes from the model's config.</summary>
    public static void CheckSize(ViperPipeline pipeline, GenerationRequest request)
    {
        int factor = pipeline.SizeMultiple;
        foreach ((int? size, string option) in new[] { (request.Width, "--width"), (request.Height, "--height") })
        {
            if (size is { } s && s % factor != 0)
            {
                throw new UsageException($"{option}: {s} is not a multiple of {factor}, which this model needs (its VAE and UNet downsample by {factor})");
            }
        }

        if (request.InitImage is { } image && (image.Width % factor != 0 || image.Height % factor != 0) && request.Width is null && request.Height is null)
        {
            throw new UsageException($"--init-image: {image.Width}×{image.Height} is not a multiple of {factor} on each side, which this model needs");
        }
    }

    public static void ValidateSeed(OptionResult result)
    {
        if (result.Tokens.Count > 0)
        {
            try
            {
                ParseSeed(result.Tokens[0].Value);
            }
            catch (UsageException e)
            {
                result.AddError(e.Message);
            }
        }
    }

    public static void ValidateVariant(OptionResult result)
    {
        if (result.Tokens.Count > 0 && !result.Tokens[0].Value.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
        {
            result.AddError($"--variant: '{result.Tokens[0].Value}' is not a variant name (letters and digits, such as fp16)");
        }
    }

    private static (ulong Seed, bool Random) ParseSeed(string text)
    {
        if (text == "-1")
        {
            return (BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8)) >> 11, true); // 53 bits: exact in JSON and Python floats
        }

        return ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong seed)
            ? (seed, false)
            : throw new UsageException($"--seed: '{text}' is not a seed (a whole number from 0 to 18446744073709551615, or -1 for a random one)");
    }

    private static VisualPreference? ReadPreference(FileInfo? file, string? likes, string? dislikes)
    {
        if (file is null)
        {
            return likes is null && dislikes is null ? null : VisualPreference.FromLists(likes, dislikes);
        }

        if (likes is not null || dislikes is not null)
        {
            throw new UsageException("give either --preferences or --likes/--dislikes, not both");
        }

        string text;
        try
        {
            text = File.ReadAllText(file.FullName);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"--preferences {file.FullName}: cannot read it ({e.Message})", e);
        }

        try
        {
            return text.TrimStart().StartsWith('{') ? VisualPreference.Load(file.FullName) : VisualPreference.ParseExtractorOutput(text);
        }
        catch (FormatException e)
        {
            throw new FormatException($"--preferences: {e.Message}", e);
        }
    }

    private static RgbImage ReadImage(FileInfo file)
    {
        if (!file.Exists)
        {
            throw new FileNotFoundException($"--init-image {file.FullName}: the file does not exist");
        }

        try
        {
            return ImageFile.Load(file.FullName);
        }
        catch (ImageFormatException e)
        {
            throw new ImageFormatException($"--init-image: {e.Message}", e);
        }
    }

    // The PNG is written after minutes of work: find out now whether it can be.
    private static void CheckWritable(FileInfo output)
    {
        if (Directory.Exists(output.FullName))
        {
            throw new UsageException($"--out {output.FullName}: is a folder; give a file name such as {Path.Combine(output.FullName, "viper.png")}");
        }

        string folder = output.DirectoryName ?? ".";
        if (!Directory.Exists(folder))
        {
            throw new IOException($"--out {output.FullName}: the folder {folder} does not exist");
        }

        string probe = Path.Combine(folder, $".viper-write-check-{Guid.NewGuid():N}");
        try
        {
            using (File.Create(probe, 1, FileOptions.DeleteOnClose))
            {
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"--out {output.FullName}: cannot write to {folder} ({e.Message})", e);
        }
    }
}
